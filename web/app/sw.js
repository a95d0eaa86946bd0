// @ts-check
// natter's service worker: shows Web Push notifications (also with no tab of the app open) and
// opens their conversation when one is clicked. It handles no fetches: the app loads as usual.

/** @type {any} */
const sw = self;

sw.addEventListener('install', () => sw.skipWaiting());
sw.addEventListener('activate', (/** @type {any} */ event) => event.waitUntil(sw.clients.claim()));

/**
 * What a push payload shows: `{title, options}`.
 * @param {any} p the decrypted payload (`type: "new_message"`)
 */
function notificationOf(p) {
  const sender = (p.sender && p.sender.display_name) || 'Someone';
  const title = p.conversation_kind === 'group' && p.conversation_name ? `${sender} in ${p.conversation_name}` : sender;
  const body = p.preview
    || (p.mention ? `${sender} mentioned you` : p.reply ? `${sender} replied to you` : 'New message');
  const options = {
    body,
    tag: p.conversation_id,
    renotify: true,
    data: { conversation_id: p.conversation_id, message_id: p.message_id },
    timestamp: Date.parse(p.sent_at) || Date.now(),
  };
  return { title, options };
}

/** The app's windows of this origin (not, say, a media file opened in a tab). */
async function appWindows() {
  const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return all.filter((/** @type {any} */ c) => {
    const path = new URL(c.url).pathname;
    return path === '/' || path === '/index.html';
  });
}

sw.addEventListener('push', (/** @type {any} */ event) => {
  let payload;
  try {
    payload = event.data ? event.data.json() : null;
  } catch {
    payload = null;
  }
  if (!payload || payload.type !== 'new_message' || !payload.conversation_id) return;
  event.waitUntil((async () => {
    // The server pushes only while no device is connected; a window that is visible all the
    // same (it just came back) shows the message itself.
    const windows = await appWindows();
    if (windows.some((/** @type {any} */ c) => c.visibilityState === 'visible')) return;
    const { title, options } = notificationOf(payload);
    await sw.registration.showNotification(title, options);
  })());
});

/**
 * What a click on a notification does: the app's open window (focused) is told to open the
 * conversation, or a new window opens at the conversation's address. Resolves with what it did.
 * @param {any} notification
 * @returns {Promise<{action: 'posted'|'opened', url: string}>}
 */
async function openFromNotification(notification) {
  notification.close();
  const id = notification.data && notification.data.conversation_id;
  const url = new URL(id ? `/#/c/${encodeURIComponent(id)}` : '/', sw.location.origin).href;
  const windows = await appWindows();
  const win = windows.find((/** @type {any} */ c) => c.focused)
    || windows.find((/** @type {any} */ c) => c.visibilityState === 'visible')
    || windows[0];
  if (win) {
    if (id) win.postMessage({ type: 'open_conversation', conversation_id: id });
    // Focusing is allowed in a click's handling only.
    try { await win.focus(); } catch { /* a click replayed by a page: the window stays as it is */ }
    return { action: 'posted', url: win.url };
  }
  await sw.clients.openWindow(url);
  return { action: 'opened', url };
}

sw.addEventListener('notificationclick', (/** @type {any} */ event) => {
  event.waitUntil(openFromNotification(event.notification));
});

// A page of the app may replay the click of one of the notifications it can see (the same
// handling as a click: tests drive it so, having no way to click a system notification). The
// answer says what was done.
sw.addEventListener('message', (/** @type {any} */ event) => {
  const d = event.data;
  if (!d || d.type !== 'notification_click' || typeof d.tag !== 'string') return;
  event.waitUntil((async () => {
    /** @type {{action: string, url: string}[]} */
    const done = [];
    let error = null;
    try {
      const list = await sw.registration.getNotifications({ tag: d.tag });
      for (const n of list) done.push(await openFromNotification(n));
    } catch (e) {
      error = String(e); // e.g. no window to tell, and opening one needs a real click
    }
    if (event.source) event.source.postMessage({ type: 'notification_click_done', tag: d.tag, done, error });
  })());
});
