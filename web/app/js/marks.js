// @ts-check
// Delivered and read marks, debounced: at most one per conversation and kind per 250 ms,
// carrying the highest seq. Sent as WebSocket frames, or with REST while polling.

import { request } from './api.js';

const DEBOUNCE_MS = 250;

/** @typedef {'delivered'|'read'} MarkKind */

export class Marks {
  /** @param {(frame: object) => boolean} sendFrame  false when no WebSocket is ready */
  constructor(sendFrame) {
    this.sendFrame = sendFrame;
    /** highest seq already sent, per "kind:conversation" @type {Map<string, number>} */
    this.sent = new Map();
    /** @type {Map<string, {seq: number, id: string, timer: ReturnType<typeof setTimeout>}>} */
    this.pending = new Map();
  }

  /** @param {string} convId @param {number} seq @param {string} messageId */
  delivered(convId, seq, messageId) { this.mark('delivered', convId, seq, messageId); }

  /** @param {string} convId @param {number} seq @param {string} messageId */
  read(convId, seq, messageId) { this.mark('read', convId, seq, messageId); }

  /** Forget what was sent (after a reconnect, marks may need sending again). */
  reset() { this.sent.clear(); }

  stop() {
    this.pending.forEach((p) => clearTimeout(p.timer));
    this.pending.clear();
  }

  /** @param {MarkKind} kind @param {string} convId @param {number} seq @param {string} id */
  mark(kind, convId, seq, id) {
    const key = `${kind}:${convId}`;
    if ((this.sent.get(key) ?? 0) >= seq) return;
    const p = this.pending.get(key);
    if (p) {
      if (seq > p.seq) { p.seq = seq; p.id = id; }
      return;
    }
    this.pending.set(key, { seq, id, timer: setTimeout(() => this.flush(kind, convId), DEBOUNCE_MS) });
  }

  /** @param {MarkKind} kind @param {string} convId */
  async flush(kind, convId) {
    const key = `${kind}:${convId}`;
    const p = this.pending.get(key);
    this.pending.delete(key);
    if (!p || (this.sent.get(key) ?? 0) >= p.seq) return;
    this.sent.set(key, p.seq);
    if (kind === 'read') {
      const dk = `delivered:${convId}`;
      this.sent.set(dk, Math.max(this.sent.get(dk) ?? 0, p.seq));
    }
    if (this.sendFrame({ type: kind, conversation_id: convId, up_to_seq: p.seq })) return;
    try {
      await request('PUT', `/messages/${encodeURIComponent(p.id)}/${kind}`);
    } catch (e) {
      // Let a later mark try again.
      if ((this.sent.get(key) ?? 0) === p.seq) this.sent.delete(key);
      console.warn(`natter: ${kind} mark failed`, e);
    }
  }
}
