// @ts-check
// Small helpers: formatting, device name, timers.

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A device name such as "Chrome on Linux" from the user agent. */
export function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /OPR\//.test(ua) ? 'Opera'
    : /Chrome\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android'
    : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux' : 'unknown OS';
  return `${browser} on ${os}`;
}

/** @param {string} iso */
export function formatTime(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** @param {string} iso */
export function formatDateTime(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** @param {string} iso */
export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday" or the date. @param {string} iso */
export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(iso) === dayKey(today.toISOString())) return 'Today';
  if (dayKey(iso) === dayKey(yesterday.toISOString())) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

/** Short time for lists: time today, else the date. @param {string} iso */
export function shortWhen(iso) {
  const d = new Date(iso);
  if (dayKey(iso) === dayKey(new Date().toISOString())) return formatTime(iso);
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** "last seen …" text for a user. @param {string|null} iso */
export function lastSeen(iso) {
  if (!iso) return 'last seen recently';
  const mins = Math.round((Date.now() - new Date(iso).getTime()) / 60000);
  if (mins < 1) return 'last seen just now';
  if (mins < 60) return `last seen ${mins} min ago`;
  if (dayKey(iso) === dayKey(new Date().toISOString())) return `last seen today at ${formatTime(iso)}`;
  return `last seen ${formatDateTime(iso)}`;
}

/** @param {number} n bytes */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The value of an input event's target. @param {Event} e */
export function inputValue(e) {
  return /** @type {HTMLInputElement} */ (e.currentTarget).value;
}

/** Backoff delay with jitter. @param {number} attempt from 0 @param {number} base ms @param {number} max ms */
export function backoff(attempt, base, max) {
  const d = Math.min(max, base * 2 ** attempt);
  return d / 2 + Math.random() * d / 2;
}
