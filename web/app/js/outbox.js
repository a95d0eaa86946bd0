// @ts-check
// The outbox: every send gets a client_id, is kept in localStorage and retried with the
// same client_id (so the server stores it once) until the server acknowledges it.

import { request, ApiError } from './api.js';
import { backoff } from './util.js';

/** @typedef {import('./types.js').OutboxItem} OutboxItem */
/** @typedef {import('./types.js').Message} Message */

export class Outbox {
  /**
   * @param {string} userId
   * @param {{onChange: (items: OutboxItem[]) => void, onAck: (item: OutboxItem, m: Message) => void,
   *   onFailed?: (item: OutboxItem, err: ApiError) => void}} h  onFailed: a permanent failure
   */
  constructor(userId, h) {
    this.key = `natter.outbox.${userId}`;
    this.h = h;
    /** @type {OutboxItem[]} */
    this.items = [];
    try {
      this.items = JSON.parse(localStorage.getItem(this.key) || '[]');
    } catch { /* start empty */ }
    /** client_ids this tab saw acknowledged or discarded @type {Set<string>} */
    this.done = new Set();
    this.running = false;
    this.stopped = false;
    /** @type {(() => void)|null} */
    this.wake = null;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.timer = undefined;
    this.onOnline = () => this.kick();
    window.addEventListener('online', this.onOnline);
  }

  save() {
    if (this.stopped) return;
    // Keep what another tab of this user queued meanwhile (never in this tab's list).
    /** @type {OutboxItem[]} */
    let stored = [];
    try { stored = JSON.parse(localStorage.getItem(this.key) || '[]'); } catch { /* replace it */ }
    const mine = new Set(this.items.map((i) => i.client_id));
    const all = [...stored.filter((i) => !mine.has(i.client_id) && !this.done.has(i.client_id)), ...this.items];
    if (all.length) localStorage.setItem(this.key, JSON.stringify(all));
    else localStorage.removeItem(this.key);
    this.h.onChange(this.items);
  }

  /** @param {Omit<OutboxItem, 'client_id'|'created_at'|'attempts'|'error'>} send */
  add(send) {
    /** @type {OutboxItem} */
    const item = { ...send, client_id: crypto.randomUUID(), created_at: new Date().toISOString(), attempts: 0, error: null };
    this.items.push(item);
    this.save();
    this.kick();
    return item;
  }

  /** The server has the message (acknowledged or seen as an event). @param {string} clientId */
  remove(clientId) {
    this.done.add(clientId);
    const before = this.items.length;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    if (this.items.length !== before) this.save();
  }

  /** @param {string} clientId */
  retry(clientId) {
    const it = this.items.find((i) => i.client_id === clientId);
    if (it) { it.error = null; it.attempts = 0; this.save(); this.kick(); }
  }

  /** Process now (network back, reconnected, new item). */
  kick() {
    clearTimeout(this.timer);
    if (this.wake) this.wake();
    else this.run();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
  }

  /** Clear everything (logout). */
  clear() {
    this.items = [];
    localStorage.removeItem(this.key);
    this.stop();
  }

  async run() {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        if (this.stopped) return;
        const item = this.items.find((i) => !i.error);
        if (!item) return;
        try {
          /** @type {Message} */
          const m = await request('POST', `/conversations/${encodeURIComponent(item.conversation_id)}/messages`, {
            client_id: item.client_id, kind: item.kind, text: item.text ?? undefined,
            media_id: item.media_id ?? undefined, reply_to: item.reply_to ?? undefined,
          }, { timeout: 15000 });
          this.remove(item.client_id);
          this.h.onAck(item, m);
        } catch (e) {
          const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
          if (err.status === 401 || this.stopped) return;
          if (err.transient) {
            item.attempts += 1;
            this.save();
            const wait = err.retryAfter ? err.retryAfter * 1000 : backoff(item.attempts - 1, 1000, 30000);
            await new Promise((resolve) => {
              this.wake = () => resolve(undefined);
              this.timer = setTimeout(resolve, wait);
            });
            this.wake = null;
          } else {
            item.error = err.message;
            this.save();
            this.h.onFailed?.(item, err);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
