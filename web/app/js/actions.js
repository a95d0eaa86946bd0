// @ts-check
// What the UI can do: session lifecycle, loading, sending, editing, groups.
// Wires the store to the API, the real-time connection, marks and the outbox.

import * as api from './api.js';
import { Realtime } from './realtime.js';
import { Marks } from './marks.js';
import { Outbox } from './outbox.js';
import { revokeAll } from './media.js';
import { state, notify, reset, applyEvent, putUser, putConversation, mergeMessages, showError, raiseMark, conversationTitle } from './store.js';
import { deviceName } from './util.js';
import { registerServiceWorker, loadNotificationSettings, forgetBrowserSubscription } from './notify.js';

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Conversation} Conversation */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Media} Media */
/** @typedef {import('./types.js').SearchHit} SearchHit */

/** @type {Realtime|null} */ let rt = null;
/** @type {Marks|null} */ let marks = null;
/** @type {Outbox|null} */ let outbox = null;
/** While polling, presence (never in `/sync`) is refetched on this timer. @type {ReturnType<typeof setInterval>|undefined} */
let presenceTimer;

const PRESENCE_POLL_MS = 30000;

const enc = encodeURIComponent;

// ---- session -------------------------------------------------------------------------------

/** @param {string} username @param {string} password */
export async function login(username, password) {
  const res = await api.request('POST', '/sessions', { username, password, device_name: deviceName() }, { auth: false });
  api.setSession({ token: res.token, user: res.user, session_id: res.session_id });
  startSession();
}

/**
 * Register (with an invite code, if given), then log in.
 * @param {string} username @param {string} password @param {string} displayName @param {string} [invite]
 */
export async function register(username, password, displayName, invite = '') {
  /** @type {{username: string, password: string, display_name?: string, invite?: string}} */
  const body = { username, password };
  if (displayName.trim()) body.display_name = displayName.trim();
  if (invite) body.invite = invite;
  await api.request('POST', '/users', body, { auth: false });
  await login(username, password);
}

export async function logout() {
  try {
    await api.request('DELETE', '/sessions/current', undefined, { timeout: 5000 });
  } catch { /* signed out locally anyway */ }
  endSession(null, true);
}

/** Back to the sign-in screen. @param {string|null} notice @param {boolean} [clearOutbox] */
function endSession(notice, clearOutbox = false) {
  if (!state.signedIn && !api.getSession()) return;
  rt?.stop();
  marks?.stop();
  pollPresence(false);
  if (clearOutbox) outbox?.clear();
  else outbox?.stop();
  rt = marks = outbox = null;
  const s = api.getSession();
  if (s) sessionStorage.removeItem(`natter.cursor.${s.user.id}`);
  // The server dropped this device's push subscription with the session.
  if (s) forgetBrowserSubscription();
  api.setSession(null);
  revokeAll();
  reset();
  state.notice = notice;
  notify();
}

api.setUnauthorizedHandler(() => endSession('Your session has ended. Please log in again.'));

/** The signed-in user changed (fetched, edited here, or on another device). @param {User} u */
function setMe(u) {
  const s = api.getSession();
  if (!s || s.user.id !== u.id) return;
  state.me = u;
  putUser(u);
  api.setSession({ ...s, user: u });
}

/** Start the signed-in app from the stored session (after login or on page load). */
export function startSession() {
  const s = api.getSession();
  if (!s) return;
  state.signedIn = true;
  state.notice = null;
  state.me = s.user;
  putUser(s.user);
  marks = new Marks((f) => rt?.send(f) ?? false);
  outbox = new Outbox(s.user.id, {
    onChange: (items) => { state.outbox = [...items]; notify(); },
    onAck: (_item, m) => { state.sendRefused.delete(m.conversation_id); applyEvent({ type: 'new_message', data: m }); },
    onFailed: (item, err) => {
      // 403 in a direct conversation: the other person blocked us. The composer says so.
      if (err.status === 403 && state.conversations.get(item.conversation_id)?.type === 'direct') {
        state.sendRefused.add(item.conversation_id);
        notify();
      }
    },
  });
  state.outbox = [...outbox.items];
  rt = new Realtime(s.token, s.user.id, {
    onEvent,
    onState: (st) => {
      state.connection = st;
      pollPresence(st === 'polling');
      notify();
    },
    onReady: () => {
      marks?.reset();
      outbox?.kick();
      loadConversations(true);
      loadNotificationSettings();
      if (state.openId && !state.timelines.has(state.openId)) loadTimeline(state.openId);
    },
    onResync: resync,
    onUnauthorized: () => endSession('Your session has ended. Please log in again.'),
  });
  notify();
  api.get('/users/me').then(setMe, () => {});
  loadConversations(false);
  loadBlocks();
  loadNotificationSettings();
  // Shows pushes also while no tab is open (a subscription made earlier keeps working).
  registerServiceWorker();
  rt.start();
  outbox.kick();
  openFromAddress();
}

/**
 * `/#/c/ID` (where a clicked notification opens the app) opens that conversation; the address
 * goes back to `/`.
 */
export function openFromAddress() {
  const m = /^#\/c\/([^/]+)$/.exec(location.hash);
  if (!m || !state.signedIn) return;
  history.replaceState(null, '', location.pathname + location.search);
  openConversationById(decodeURIComponent(m[1]));
}

// ---- loading -------------------------------------------------------------------------------

/** @type {Set<string>} */
const userRequests = new Set();

/** Fetch a user once (or again with force, e.g. presence after a reconnect). @param {string} id @param {boolean} [force] */
export async function ensureUser(id, force = false) {
  if ((!force && state.users.has(id)) || userRequests.has(id)) return;
  userRequests.add(id);
  try {
    putUser(await api.get(`/users/${enc(id)}`));
  } catch (e) {
    if (!state.users.has(id)) console.warn('natter: user', id, e);
  } finally {
    userRequests.delete(id);
  }
}

/**
 * Presence travels only over the WebSocket: while polling, refetch the people of direct
 * conversations now and then so that their dots and "last seen" stay right.
 * @param {boolean} on
 */
function pollPresence(on) {
  if (!on) { clearInterval(presenceTimer); presenceTimer = undefined; return; }
  if (presenceTimer !== undefined) return;
  presenceTimer = setInterval(() => {
    for (const c of state.conversations.values()) {
      if (c.type === 'direct') c.members.forEach((m) => { if (m.user_id !== state.me?.id) ensureUser(m.user_id, true); });
    }
  }, PRESENCE_POLL_MS);
}

/** @param {Conversation} c @param {boolean} force */
function ensureUsersOf(c, force) {
  if (c.type === 'direct') c.members.forEach((m) => ensureUser(m.user_id, force));
  else if (c.members.length <= 64) c.members.forEach((m) => ensureUser(m.user_id));
  const lm = c.last_message;
  if (lm) ensureUser(lm.sender_id);
}

/** Deliver the newest message of others in a conversation. @param {Conversation} c */
function deliverLatest(c) {
  const m = c.last_message;
  if (m && m.sender_id !== state.me?.id && m.seq > c.read_seq) marks?.delivered(c.id, m.seq, m.id);
}

/** (Re)load the conversation list. @param {boolean} refreshUsers refetch presence of direct partners */
export async function loadConversations(refreshUsers) {
  try {
    /** @type {Conversation[]} */
    const all = [];
    let before = '';
    for (let page = 0; page < 10; page++) {
      const res = await api.get(`/conversations?limit=200${before ? '&before=' + enc(before) : ''}`);
      all.push(...res.conversations);
      if (res.conversations.length < 200) break;
      before = res.conversations[res.conversations.length - 1].last_message_at;
    }
    const ids = new Set(all.map((c) => c.id));
    for (const id of [...state.conversations.keys()]) if (!ids.has(id)) state.conversations.delete(id);
    for (const c of all) putConversation(c, refreshUsers);
    state.conversationsLoaded = true;
    if (state.openId && !state.conversations.has(state.openId)) state.openId = null;
    for (const c of all) {
      ensureUsersOf(c, refreshUsers);
      deliverLatest(c);
    }
    notify();
  } catch (e) {
    // Offline shows in the connection banner; the list reloads on reconnecting.
    if (e instanceof api.ApiError && e.status !== 401 && e.status !== 0) showError(e);
  }
}

/** @type {Map<string, ReturnType<typeof setTimeout>>} */
const refreshTimers = new Map();

/** Refetch one conversation (debounced; unread counts after reads in another tab). @param {string} id @param {number} [delay] ms */
export function refreshConversation(id, delay = 300) {
  clearTimeout(refreshTimers.get(id));
  refreshTimers.set(id, setTimeout(async () => {
    refreshTimers.delete(id);
    try {
      const c = await api.get(`/conversations/${enc(id)}`);
      const isNew = !state.conversations.has(id);
      putConversation(c);
      ensureUsersOf(c, isNew);
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) applyEvent({ type: 'conversation_removed', data: { conversation_id: id } });
    }
  }, delay));
}

/** @param {import('./types.js').ServerEvent} ev */
function onEvent(ev) {
  const me = state.me?.id;
  if (ev.type === 'conversation_removed' && state.openId === ev.data.conversation_id) {
    const c = state.conversations.get(ev.data.conversation_id);
    if (c) showError(`You are no longer a member of “${conversationTitle(c)}”.`);
  }
  const newConv = ev.type === 'conversation_updated' && !state.conversations.has(ev.data.id);
  const out = applyEvent(ev);
  if (out.refresh) refreshConversation(out.refresh);
  switch (ev.type) {
    case 'new_message': {
      const m = ev.data;
      if (m.client_id && m.sender_id === me) outbox?.remove(m.client_id);
      ensureUser(m.sender_id);
      if (m.sender_id !== me) marks?.delivered(m.conversation_id, m.seq, m.id);
      break;
    }
    case 'conversation_updated':
      ensureUsersOf(ev.data, newConv); // newly shared: presence becomes visible
      break;
    case 'message_status':
    case 'typing_start':
      ensureUser(ev.data.user_id);
      break;
    case 'user_updated':
      if (ev.data.id === me) setMe(ev.data);
      break;
  }
}

/** The cursor was too old: reload conversations and the open timeline. */
async function resync() {
  state.timelines.clear();
  state.marks.clear();
  await loadConversations(true);
  if (state.openId) await loadTimeline(state.openId);
}

// ---- timeline ------------------------------------------------------------------------------

/** @param {string|null} id */
export function openConversation(id) {
  state.openId = id;
  notify();
  if (id && !state.timelines.has(id)) loadTimeline(id);
}

/**
 * Open a conversation by its id (a notification's), fetching it first if the list does not
 * have it (yet).
 * @param {string} id
 */
export async function openConversationById(id) {
  if (!state.conversations.has(id)) {
    try {
      const c = await api.get(`/conversations/${enc(id)}`);
      putConversation(c);
      ensureUsersOf(c, true);
    } catch (e) {
      showError(e instanceof api.ApiError && e.status === 404 ? 'That conversation is not open to you any more.' : e);
      return;
    }
  }
  openConversation(id);
}

/** Load the newest messages (enough to include the first unread). @param {string} id */
export async function loadTimeline(id) {
  const c = state.conversations.get(id);
  const limit = Math.min(200, Math.max(50, (c?.unread_count ?? 0) + 10));
  state.timelines.set(id, { messages: [], hasMore: false, loading: true });
  notify();
  try {
    const res = await api.get(`/conversations/${enc(id)}/messages?limit=${limit}`);
    /** @type {Message[]} */
    const msgs = res.messages;
    const tl = { messages: [], hasMore: res.has_more, loading: false };
    mergeMessages(tl, msgs);
    // Events may have arrived meanwhile into the placeholder.
    const cur = state.timelines.get(id);
    if (cur) mergeMessages(tl, cur.messages);
    state.timelines.set(id, tl);
    msgs.forEach((m) => ensureUser(m.sender_id));
    const lastOther = [...msgs].reverse().find((m) => m.sender_id !== state.me?.id);
    if (lastOther) marks?.delivered(id, lastOther.seq, lastOther.id);
    notify();
    seedSeenBy(id, msgs);
  } catch (e) {
    state.timelines.delete(id); // loaded again on opening or reconnecting
    if (!(e instanceof api.ApiError && e.status === 0)) showError(e);
    notify();
  }
}

/** Load older messages above the first one loaded. @param {string} id */
export async function loadOlder(id) {
  const tl = state.timelines.get(id);
  if (!tl || tl.loading || !tl.hasMore || !tl.messages.length) return;
  tl.loading = true;
  notify();
  try {
    const res = await api.get(`/conversations/${enc(id)}/messages?before=${tl.messages[0].seq}&limit=50`);
    mergeMessages(tl, res.messages);
    tl.hasMore = res.has_more;
    res.messages.forEach((/** @type {Message} */ m) => ensureUser(m.sender_id));
  } catch (e) {
    showError(e);
  } finally {
    tl.loading = false;
    notify();
  }
}

/** Seed "seen by" from the receipts of the newest own message. @param {string} id @param {Message[]} msgs */
async function seedSeenBy(id, msgs) {
  const c = state.conversations.get(id);
  const mine = [...msgs].reverse().find((m) => m.sender_id === state.me?.id && !m.deleted);
  if (!c || !mine || c.members.length > 32) return;
  try {
    const r = await fetchReceipts(mine.id);
    for (const x of r.recipients) {
      if (x.read_at) raiseMark(id, x.user_id, 'read', mine.seq);
      else if (x.delivered_at) raiseMark(id, x.user_id, 'delivered', mine.seq);
    }
    notify();
  } catch { /* optional */ }
}

/** @param {string} messageId @returns {Promise<{message_id: string, status: string, recipients: import('./types.js').Receipt[]}>} */
export function fetchReceipts(messageId) {
  return api.get(`/messages/${enc(messageId)}/receipts`);
}

/** A message for a reply quote (from a timeline, or fetched once). @param {string} id */
export function quotedMessage(id) {
  for (const tl of state.timelines.values()) {
    const m = tl.messages.find((x) => x.id === id);
    if (m) return m;
  }
  if (!state.quoted.has(id)) {
    state.quoted.set(id, null);
    api.get(`/messages/${enc(id)}`).then((m) => { state.quoted.set(id, m); notify(); }, () => {});
  }
  return state.quoted.get(id) ?? null;
}

/** The user saw a message of others on screen. @param {string} convId @param {number} seq @param {string} msgId */
export function markRead(convId, seq, msgId) {
  const c = state.conversations.get(convId);
  if (!c || seq <= c.read_seq) return;
  marks?.read(convId, seq, msgId);
  const out = applyEvent({ type: 'message_status', data: { conversation_id: convId, user_id: state.me?.id ?? '', status: 'read', up_to_seq: seq, at: new Date().toISOString() } });
  if (out.refresh) refreshConversation(convId, 1500);
}

// ---- sending -------------------------------------------------------------------------------

/** @param {string} convId @param {string} text @param {string|null} replyTo */
export function sendText(convId, text, replyTo) {
  outbox?.add({ conversation_id: convId, kind: 'text', text, media_id: null, media: null, reply_to: replyTo });
  typing(convId, false);
}

/**
 * Upload a file, then send it as an image or file message. `abort` cancels the upload (the
 * promise then rejects with code `aborted`).
 * @param {string} convId @param {File} file @param {string} caption @param {string|null} replyTo
 * @param {(f: number) => void} onProgress
 */
export function sendFile(convId, file, caption, replyTo, onProgress) {
  const up = api.uploadMedia(file, onProgress);
  const promise = up.promise.then((/** @type {Media} */ media) => {
    const kind = media.content_type.startsWith('image/') && media.width ? 'image' : 'file';
    outbox?.add({ conversation_id: convId, kind, text: caption.trim() || null, media_id: media.id, media, reply_to: replyTo });
  });
  return { promise, abort: up.abort };
}

/** @param {string} clientId */
export function retrySend(clientId) { outbox?.retry(clientId); }
/** @param {string} clientId */
export function discardSend(clientId) { outbox?.remove(clientId); }

/** @param {Message} m @param {string} text */
export async function editMessage(m, text) {
  const updated = await api.request('PATCH', `/messages/${enc(m.id)}`, { text });
  applyEvent({ type: 'message_updated', data: updated });
}

/** @param {Message} m @param {boolean} forEveryone */
export async function deleteMessage(m, forEveryone) {
  await api.request('DELETE', `/messages/${enc(m.id)}${forEveryone ? '' : '?for=me'}`);
  applyEvent({ type: 'message_deleted', data: { conversation_id: m.conversation_id, message_id: m.id, seq: m.seq, for_me: !forEveryone } });
}

// ---- reactions -----------------------------------------------------------------------------

/** The picker's fixed set. */
export const DEFAULT_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🎉', '🙏', '👀'];
const EMOJI_KEY = 'natter.emoji';

/** How often this browser reacted with each emoji. @returns {Record<string, number>} */
function emojiUse() {
  try {
    const v = JSON.parse(localStorage.getItem(EMOJI_KEY) || '{}');
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

/** @type {string[]|null} */
let frequent = null;

/** The picker's emoji: the most used here first, then the fixed set (eight in all). */
export function frequentEmoji() {
  if (frequent) return frequent;
  const use = emojiUse();
  const used = Object.keys(use).filter((e) => use[e] > 0).sort((a, b) => use[b] - use[a]);
  frequent = [...new Set([...used, ...DEFAULT_EMOJI])].slice(0, DEFAULT_EMOJI.length);
  return frequent;
}

/** @param {string} emoji */
function countUse(emoji) {
  const use = emojiUse();
  use[emoji] = (use[emoji] ?? 0) + 1;
  frequent = null;
  try { localStorage.setItem(EMOJI_KEY, JSON.stringify(use)); } catch { /* full or off: not kept */ }
}

/**
 * Add or remove the signed-in user's reaction (the one `me` says is there). The server's
 * `reaction_changed` event follows with the exact count; until then the count is ours.
 * @param {Message} m @param {string} emoji @param {boolean} [add] default: toggle
 */
export async function react(m, emoji, add) {
  const cur = m.reactions?.find((r) => r.emoji === emoji);
  const on = add ?? !cur?.me;
  if (on && cur?.me) return;
  await api.request(on ? 'PUT' : 'DELETE', `/messages/${enc(m.id)}/reactions/${enc(emoji)}`);
  if (on) countUse(emoji);
  // The message as it is now (an event may have changed it meanwhile).
  const now = state.timelines.get(m.conversation_id)?.messages.find((x) => x.id === m.id) ?? m;
  const r = now.reactions?.find((x) => x.emoji === emoji);
  if (!!r?.me === on) return; // the event came first
  const count = (r?.count ?? 0) + (on ? 1 : -1);
  applyEvent({
    type: 'reaction_changed',
    data: { conversation_id: m.conversation_id, message_id: m.id, seq: m.seq, emoji, count, user_id: state.me?.id ?? '', added: on },
  });
}

/**
 * Who reacted to a message with one emoji, oldest first (up to `max`); their users are fetched.
 * @param {string} messageId @param {string} emoji @param {number} [max]
 * @returns {Promise<{userIds: string[], more: boolean}>}
 */
export async function reactionUsers(messageId, emoji, max = 50) {
  /** @type {string[]} */
  const userIds = [];
  let after = '';
  let more = false;
  while (userIds.length < max) {
    const q = new URLSearchParams({ emoji, limit: String(Math.min(50, max - userIds.length)) });
    if (after) q.set('after', after);
    const res = await api.get(`/messages/${enc(messageId)}/reactions?${q}`);
    for (const r of /** @type {import('./types.js').ReactionEntry[]} */ (res.reactions)) {
      if (r.emoji === emoji) userIds.push(r.user_id);
    }
    more = !!res.has_more;
    if (!more || !res.next_cursor) break;
    after = res.next_cursor;
  }
  await Promise.all(userIds.map((id) => ensureUser(id)));
  return { userIds, more };
}

// ---- search --------------------------------------------------------------------------------

/**
 * Messages matching `query`, newest first (the last word matches as a prefix).
 * @param {string} query @param {{conversationId?: string|null, before?: string|null, limit?: number, signal?: AbortSignal}} [opts]
 * @returns {Promise<{messages: SearchHit[], has_more: boolean}>}
 */
export async function searchMessages(query, opts = {}) {
  const q = new URLSearchParams({ q: query.trim(), limit: String(opts.limit ?? 20) });
  if (opts.conversationId) q.set('conversation_id', opts.conversationId);
  if (opts.before) q.set('before', opts.before);
  const res = await api.get(`/search?${q}`, { signal: opts.signal });
  res.messages.forEach((/** @type {SearchHit} */ m) => ensureUser(m.sender_id));
  return res;
}

/**
 * Open a conversation at one message (a search result): its history is loaded back to the
 * message (the timeline stays one unbroken run up to the newest), then the timeline scrolls to
 * it and highlights it briefly.
 * @param {Message} m
 */
export async function openMessage(m) {
  const id = m.conversation_id;
  if (!state.conversations.has(id)) {
    try {
      putConversation(await api.get(`/conversations/${enc(id)}`));
    } catch (e) {
      showError(e);
      return;
    }
  }
  state.focus = { conversation_id: id, id: m.id };
  openConversation(id);
  // Wait for the first load (started by opening, or under way).
  for (let i = 0; i < 100 && state.timelines.get(id)?.loading; i++) await new Promise((r) => setTimeout(r, 50));
  if (!state.timelines.has(id)) await loadTimeline(id);
  for (let page = 0; page < 20; page++) {
    const tl = state.timelines.get(id);
    if (!tl || state.focus?.id !== m.id) return;
    const first = tl.messages[0];
    if (!first || first.seq <= m.seq || !tl.hasMore) break;
    tl.loading = true;
    notify();
    try {
      const limit = Math.min(200, first.seq - m.seq + 10);
      const res = await api.get(`/conversations/${enc(id)}/messages?before=${first.seq}&limit=${limit}`);
      mergeMessages(tl, res.messages);
      tl.hasMore = res.has_more;
      res.messages.forEach((/** @type {Message} */ x) => ensureUser(x.sender_id));
    } catch (e) {
      showError(e);
      break;
    } finally {
      tl.loading = false;
      notify();
    }
  }
  notify();
}

/** @type {Map<string, number>} */
const typingSent = new Map();

/** Typing on/off, throttled: one `true` per 3 s. @param {string} convId @param {boolean} on */
export function typing(convId, on) {
  const last = typingSent.get(convId) ?? 0;
  const now = Date.now();
  if (on ? now - last < 3000 : now - last > 6000) return;
  if (on) typingSent.set(convId, now);
  else typingSent.delete(convId);
  const frame = { type: 'typing', conversation_id: convId, typing: on };
  if (!rt?.send(frame)) api.request('POST', `/conversations/${enc(convId)}/typing`, { typing: on }).catch(() => {});
}

// ---- conversations and groups --------------------------------------------------------------

/** @param {string} query @returns {Promise<User[]>} */
export async function searchUsers(query) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const res = await api.get(`/users?query=${enc(q)}&limit=20`);
  // Search results show no presence for people one shares no conversation with: keep cached ones.
  res.users.forEach((/** @type {User} */ u) => { if (!state.users.has(u.id)) putUser(u); });
  return res.users;
}

/** Open (or create) the direct chat with a user. @param {string} userId */
export async function startDirect(userId) {
  const c = await api.request('POST', '/conversations', { type: 'direct', user_id: userId });
  putConversation(c);
  ensureUsersOf(c, true); // now shared: presence becomes visible
  openConversation(c.id);
}

/** @param {string} name @param {string[]} memberIds */
export async function createGroup(name, memberIds) {
  const c = await api.request('POST', '/conversations', { type: 'group', name, member_ids: memberIds });
  putConversation(c);
  ensureUsersOf(c, true);
  openConversation(c.id);
}

/** @param {string} id @param {string} name */
export async function renameGroup(id, name) {
  putConversation(await api.request('PATCH', `/conversations/${enc(id)}`, { name }));
}

/** @param {string} id @param {string} userId */
export async function addMember(id, userId) {
  putConversation(await api.request('POST', `/conversations/${enc(id)}/members`, { user_id: userId }));
  ensureUser(userId, true);
}

/** @param {string} id @param {string} userId */
export async function removeMember(id, userId) {
  await api.request('DELETE', `/conversations/${enc(id)}/members/${enc(userId)}`);
  const c = state.conversations.get(id);
  if (c) putConversation({ ...c, members: c.members.filter((m) => m.user_id !== userId) });
}

/** @param {string} id @param {string} userId @param {'admin'|'member'} role */
export async function setRole(id, userId, role) {
  putConversation(await api.request('PATCH', `/conversations/${enc(id)}/members/${enc(userId)}`, { role }));
}

/** @param {string} id */
export async function leaveGroup(id) {
  await api.request('DELETE', `/conversations/${enc(id)}/members/me`);
  applyEvent({ type: 'conversation_removed', data: { conversation_id: id } });
}

/** @returns {Promise<import('./types.js').Session[]>} */
export async function listSessions() {
  return (await api.get('/sessions')).sessions;
}

/** @param {string} id */
export async function revokeSession(id) {
  await api.request('DELETE', `/sessions/${enc(id)}`);
}

// ---- profile, password, account -----------------------------------------------------------

/** @param {string} displayName */
export async function updateProfile(displayName) {
  setMe(await api.request('PATCH', '/users/me', { display_name: displayName }));
}

/**
 * Change the password; the server signs out every other session.
 * @param {string} current @param {string} next
 */
export async function changePassword(current, next) {
  try {
    await api.request('PUT', '/users/me/password', { current_password: current, new_password: next });
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 403) throw new api.ApiError(403, e.code, 'Wrong current password.');
    throw e;
  }
}

/** Delete the account for good, then back to the sign-in screen. @param {string} password */
export async function deleteAccount(password) {
  try {
    await api.request('DELETE', '/users/me', { password });
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 403) throw new api.ApiError(403, e.code, 'Wrong password.');
    if (e instanceof api.ApiError && e.status === 409) {
      throw new api.ApiError(409, e.code, `${e.message} (You are the last admin: make someone else an admin first.)`);
    }
    throw e;
  }
  // The server closed this session's socket too: whichever came first, the notice is this one.
  endSession(null, true);
  state.notice = 'Your account has been deleted.';
  notify();
}

// ---- blocking ------------------------------------------------------------------------------

/** The users the signed-in user blocked. */
export async function loadBlocks() {
  try {
    const res = await api.get('/users/me/blocks');
    state.canBlock = true;
    state.blocked = new Set(res.users.map((/** @type {User} */ u) => u.id));
    res.users.forEach((/** @type {User} */ u) => { if (!state.users.has(u.id)) putUser(u); });
    notify();
  } catch { /* not loaded (offline): blocking is offered once it is */ }
}

/** @returns {Promise<User[]>} */
export async function listBlocks() {
  const res = await api.get('/users/me/blocks');
  state.blocked = new Set(res.users.map((/** @type {User} */ u) => u.id));
  notify();
  return res.users;
}

/** @param {string} userId */
export async function block(userId) {
  await api.request('PUT', `/users/me/blocks/${enc(userId)}`);
  state.blocked.add(userId);
  notify();
}

/** @param {string} userId */
export async function unblock(userId) {
  await api.request('DELETE', `/users/me/blocks/${enc(userId)}`);
  state.blocked.delete(userId);
  notify();
}

/** Try the refused sends of a conversation again (the other person may have unblocked us). @param {string} convId */
export function retryRefused(convId) {
  state.sendRefused.delete(convId);
  for (const o of state.outbox) if (o.conversation_id === convId && o.error) outbox?.retry(o.client_id);
  notify();
}

// ---- administration (admins only) ----------------------------------------------------------

/** @typedef {import('./types.js').AdminUser} AdminUser */

/**
 * A page of accounts, newest first (disabled and deleted ones too).
 * @param {string} query @param {string|null} before a created_at @param {number} limit
 * @returns {Promise<AdminUser[]>}
 */
export async function adminUsers(query, before, limit) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (query.trim()) q.set('query', query.trim().toLowerCase());
  if (before) q.set('before', before);
  return (await api.get(`/admin/users?${q}`)).users;
}

/**
 * @param {{username: string, password: string, display_name?: string, admin?: boolean}} body
 * @returns {Promise<AdminUser>}
 */
export function adminCreateUser(body) {
  return api.request('POST', '/admin/users', body);
}

/**
 * @param {string} id @param {{disabled?: boolean, admin?: boolean, password?: string}} patch
 * @returns {Promise<AdminUser>}
 */
export async function adminUpdateUser(id, patch) {
  /** @type {AdminUser} */
  const u = await api.request('PATCH', `/admin/users/${enc(id)}`, patch);
  if (u.id === state.me?.id) setMe(u);
  else if (state.users.has(u.id)) putUser(u);
  return u;
}

/** @returns {Promise<import('./types.js').Stats>} */
export function adminStats() {
  return api.get('/admin/stats');
}

/** @returns {Promise<import('./types.js').Invite[]>} */
export async function listInvites() {
  return (await api.get('/invites')).invites;
}

/** @param {number} uses @param {number} expiresInS @returns {Promise<import('./types.js').Invite>} */
export function createInvite(uses, expiresInS) {
  return api.request('POST', '/invites', { uses, expires_in_s: expiresInS });
}

/** @param {string} code */
export async function revokeInvite(code) {
  await api.request('DELETE', `/invites/${enc(code)}`);
}

/** The link that opens the sign-in screen with an invite code filled in. @param {string} code */
export function inviteLink(code) {
  return `${location.origin}/#/invite/${code}`;
}
