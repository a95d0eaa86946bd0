// @ts-check
// Notifications: the service worker (it shows Web Push notifications, also with no tab open),
// this device's push subscription, the notification settings (previews, mentions in muted
// conversations, do not disturb) and muting conversations. The server's settings are the truth:
// they are loaded at start, on reconnecting and after each change.

import * as api from './api.js';
import { state, notify } from './store.js';

/** @typedef {import('./types.js').NotificationSettings} NotificationSettings */
/** @typedef {import('./types.js').PushSubscriptionInfo} PushSubscriptionInfo */
/** @typedef {import('./types.js').Until} Until */

const enc = encodeURIComponent;

/** What the device switch says when the browser cannot subscribe (or has no Push API). */
export const CANNOT_PUSH = 'This browser cannot receive push notifications here.';

// ---- the service worker --------------------------------------------------------------------

/** @returns {Promise<ServiceWorkerRegistration|null>} */
export async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return null;
  try {
    return await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  } catch (e) {
    console.warn('natter: the service worker did not register', e);
    return null;
  }
}

/**
 * Listens to the service worker: a clicked notification asks this window to open its
 * conversation.
 * @param {(conversationId: string) => void} open
 */
export function listenServiceWorker(open) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    const d = e.data;
    if (d && d.type === 'open_conversation' && typeof d.conversation_id === 'string') open(d.conversation_id);
  });
  navigator.serviceWorker.startMessages();
}

// ---- settings and muting -------------------------------------------------------------------

/** (Re)load the settings and the muted conversations. */
export async function loadNotificationSettings() {
  try {
    state.notifications = await api.get('/users/me/notifications');
    notify();
  } catch (e) {
    if (!(e instanceof api.ApiError && (e.status === 0 || e.status === 401))) console.warn('natter: notification settings', e);
  }
}

/** @param {{previews?: boolean, mentions_when_muted?: boolean, dnd?: Until|null}} change */
export async function updateNotificationSettings(change) {
  /** @type {NotificationSettings} */
  const s = await api.request('PATCH', '/users/me/notifications', change);
  state.notifications = s;
  notify();
  await loadNotificationSettings();
}

/** Mute a conversation until a time (null: until unmuted). @param {string} id @param {string|null} until */
export async function mute(id, until) {
  await api.request('PUT', `/conversations/${enc(id)}/mute`, until ? { until } : {});
  await loadNotificationSettings();
}

/** @param {string} id */
export async function unmute(id) {
  await api.request('DELETE', `/conversations/${enc(id)}/mute`);
  await loadNotificationSettings();
}

// ---- push on this device -------------------------------------------------------------------

/** The browser has what Web Push needs (whether it works here shows on subscribing). */
export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** @param {string} s base64url @returns {Uint8Array<ArrayBuffer>} */
function fromBase64Url(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(b.length));
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

/** @param {ArrayBuffer|null} a @param {Uint8Array} b */
function sameBytes(a, b) {
  if (!a || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

/** The browser's push subscription on this origin, if any. */
async function browserSubscription() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

/**
 * Whether this device receives pushes: notifications are allowed, the browser has a
 * subscription, and the server has it for this session.
 */
export async function devicePushOn() {
  if (!pushSupported() || Notification.permission !== 'granted') return false;
  const sub = await browserSubscription();
  if (!sub) return false;
  /** @type {PushSubscriptionInfo[]} */
  const list = (await api.get('/push/subscriptions')).subscriptions;
  return list.some((s) => s.endpoint === sub.endpoint);
}

/** Asks for permission, subscribes with the server's key and registers the subscription. */
export async function enablePush() {
  if (!pushSupported()) throw new Error(CANNOT_PUSH);
  const permission = await Notification.requestPermission();
  if (permission === 'denied') throw new Error('Notifications are blocked for this site: allow them in the browser’s site settings, then try again.');
  if (permission !== 'granted') throw new Error('Notifications were not allowed.');
  if (!(await registerServiceWorker())) throw new Error(CANNOT_PUSH);
  const reg = await navigator.serviceWorker.ready;
  /** @type {{public_key: string}} */
  const vapid = await api.get('/push/vapid', { timeout: 10000 });
  const key = fromBase64Url(vapid.public_key);
  let sub = await reg.pushManager.getSubscription();
  // Made with another key (the server's changed): it cannot carry this server's pushes.
  if (sub && !sameBytes(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe().catch(() => false);
    sub = null;
  }
  if (!sub) {
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch (e) {
      console.warn('natter: push subscription refused', e);
      throw new Error(CANNOT_PUSH);
    }
  }
  const json = sub.toJSON();
  await api.request('POST', '/push/subscriptions', { endpoint: json.endpoint, keys: json.keys });
}

/** Stops pushes to this device: the server forgets the subscription, the browser drops it. */
export async function disablePush() {
  const sub = await browserSubscription();
  /** @type {PushSubscriptionInfo[]} */
  const list = (await api.get('/push/subscriptions')).subscriptions;
  const sid = api.getSession()?.session_id;
  for (const s of list.filter((s) => (sub && s.endpoint === sub.endpoint) || (sid && s.session_id === sid))) {
    try {
      await api.request('DELETE', `/push/subscriptions/${enc(s.id)}`);
    } catch (e) {
      if (!(e instanceof api.ApiError && e.status === 404)) throw e;
    }
  }
  await sub?.unsubscribe().catch(() => false);
}

/** On signing out: the browser drops its subscription too (the server already did). */
export async function forgetBrowserSubscription() {
  try {
    await (await browserSubscription())?.unsubscribe();
  } catch { /* nothing to drop */ }
}

// ---- times for the choices ----------------------------------------------------------------

/** @param {number} ms from now */
export const inFuture = (ms) => new Date(Date.now() + ms).toISOString();

/** Tomorrow at 8:00, local time. */
export function tomorrowAt8() {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  d.setHours(8, 0, 0, 0);
  return d.toISOString();
}
