// @ts-check
// Real-time events: WebSocket with resume by cursor, long-poll fallback (/sync).

import { get, ApiError } from './api.js';
import { backoff, sleep } from './util.js';

/** @typedef {import('./types.js').ServerEvent} ServerEvent */
/** @typedef {import('./store.js').ConnState} ConnState */

/**
 * @typedef {Object} RealtimeHandlers
 * @property {(ev: ServerEvent) => void} onEvent
 * @property {(s: ConnState) => void} onState
 * @property {() => void} onReady         connected (again): refresh state
 * @property {() => void} onResync        the cursor is too old: reload everything with REST
 * @property {() => void} onUnauthorized
 */

const CURSOR_KEY = 'natter.cursor';

export class Realtime {
  /** @param {string} token @param {string} userId @param {RealtimeHandlers} h */
  constructor(token, userId, h) {
    this.token = token;
    this.h = h;
    this.cursorKey = `${CURSOR_KEY}.${userId}`;
    /** @type {string|null} */
    this.cursor = sessionStorage.getItem(this.cursorKey);
    /** @type {WebSocket|null} */
    this.ws = null;
    this.wsReady = false;
    this.stopped = false;
    this.failures = 0; // WebSocket attempts in a row that never reached `ready`
    this.httpUp = false; // the last fallback check found the server answering HTTP
    this.attempt = 0; // reconnect attempts since the last `ready` (for backoff)
    this.polling = false;
    this.pollGen = 0;
    /** @type {AbortController|null} */
    this.pollAbort = null;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval>|undefined} */ this.pingTimer = undefined;
    /** @type {ReturnType<typeof setTimeout>|undefined} */ this.pongTimer = undefined;
    /** @type {ReturnType<typeof setInterval>|undefined} */ this.probeTimer = undefined;
    this.kick = () => this.reconnectNow();
    this.onVisible = () => { if (document.visibilityState === 'visible') this.reconnectNow(); };
    window.addEventListener('online', this.kick);
    document.addEventListener('visibilitychange', this.onVisible);
  }

  start() {
    this.h.onState('reconnecting');
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.kick);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    clearInterval(this.probeTimer);
    this.pollAbort?.abort();
    this.dropSocket();
  }

  /** Send a client frame over the WebSocket. False if no ready socket. @param {object} frame */
  send(frame) {
    if (!this.ws || !this.wsReady || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** @param {string|null} c */
  setCursor(c) {
    this.cursor = c;
    if (c) sessionStorage.setItem(this.cursorKey, c);
    else sessionStorage.removeItem(this.cursorKey);
  }

  /** Network came back or the tab became visible: skip the backoff wait. */
  reconnectNow() {
    if (this.stopped) return;
    if (this.ws && this.wsReady) { this.ping(); return; }
    if (this.ws) return; // an attempt is under way
    if (this.polling) { this.probe(); return; }
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = this.cursor ? '?since=' + encodeURIComponent(this.cursor) : '';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/api/v1/ws${q}`);
    } catch {
      this.onSocketGone(null, 0);
      return;
    }
    this.ws = ws;
    this.wsReady = false;
    // A socket that does not reach `ready` within 10 s counts as failed.
    const openTimer = setTimeout(() => { if (this.ws === ws && !this.wsReady) this.onSocketGone(ws, 0); }, 10000);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.token }));
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      /** @type {any} */
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      this.onFrame(f);
    };
    ws.onclose = (e) => { clearTimeout(openTimer); if (this.ws === ws) this.onSocketGone(ws, e.code); };
    ws.onerror = () => { /* onclose follows */ };
  }

  /** @param {any} f */
  onFrame(f) {
    switch (f.type) {
      case 'ready':
        this.wsReady = true;
        this.failures = 0;
        this.httpUp = false;
        this.attempt = 0;
        if (!this.cursor) this.setCursor(f.cursor);
        this.stopPolling();
        this.startPing();
        this.h.onState('online');
        this.h.onReady();
        return;
      case 'pong':
        clearTimeout(this.pongTimer);
        return;
      case 'resync_required':
        this.setCursor(f.cursor || null);
        this.h.onResync();
        return;
      case 'error':
        console.warn('natter: server frame error', f.error);
        return;
      default:
        if (!f.data) return;
        this.h.onEvent(f);
        if (f.cursor) this.setCursor(f.cursor);
    }
  }

  startPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), 25000);
  }

  /** Ping; no pong within 10 s means the connection is dead. */
  ping() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: 'ping' }));
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => { if (this.ws === ws) this.onSocketGone(ws, 0); }, 10000);
  }

  dropSocket() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    const ws = this.ws;
    this.ws = null;
    this.wsReady = false;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      try { ws.close(); } catch { /* already closed */ }
    }
  }

  /** @param {WebSocket|null} ws @param {number} code */
  onSocketGone(ws, code) {
    const wasReady = this.wsReady;
    this.dropSocket();
    if (this.stopped) return;
    if (code === 4001) { this.h.onUnauthorized(); return; }
    if (!wasReady) this.failures += 1;
    if (this.polling) return; // a probe failed: polling goes on
    this.h.onState('reconnecting');
    if (this.failures >= 2) { this.checkFallback(); return; }
    this.retryLater();
  }

  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), backoff(this.attempt++, 500, 10000));
  }

  /**
   * WebSockets keep failing. A cursor the server refuses (too old or malformed): drop it and
   * retry. The server answers HTTP: try one more WebSocket at once (the failures may be from
   * while it was down, e.g. restarting), and poll if that fails too. Else it is down: keep
   * retrying.
   */
  async checkFallback() {
    try {
      const q = this.cursor ? `?since=${encodeURIComponent(this.cursor)}&limit=1&timeout_ms=0` : '';
      await get('/sync' + q, { timeout: 5000 });
      if (this.stopped || this.ws) return;
      if (this.httpUp) { this.startPolling(); return; }
      this.httpUp = true;
      this.failures = 1;
      this.connect();
    } catch (e) {
      if (this.stopped) return;
      this.httpUp = false;
      const status = e instanceof ApiError ? e.status : 0;
      if (status === 401) { this.h.onUnauthorized(); return; }
      if (status === 400 || status === 410) {
        this.setCursor(null);
        this.failures = 0;
        this.h.onResync();
        this.connect();
        return;
      }
      this.retryLater();
    }
  }

  startPolling() {
    if (this.polling) return;
    this.polling = true;
    this.h.onState('polling');
    // Try the WebSocket again every 30 s; its `ready` ends polling.
    clearInterval(this.probeTimer);
    this.probeTimer = setInterval(() => this.probe(), 30000);
    this.pollLoop();
  }

  stopPolling() {
    if (!this.polling) return;
    this.polling = false;
    clearInterval(this.probeTimer);
    this.pollAbort?.abort();
  }

  /** Pause polling, try a WebSocket from the same cursor (no event is processed twice). */
  probe() {
    if (!this.polling || this.ws) return;
    this.pollAbort?.abort();
    this.connect();
  }

  async pollLoop() {
    let errors = 0;
    let first = true; // a quick first poll, then refresh state (onReady)
    const gen = ++this.pollGen;
    while (this.polling && !this.stopped && gen === this.pollGen) {
      if (this.ws) { await sleep(500); continue; } // a WebSocket probe is under way
      const ctrl = new AbortController();
      this.pollAbort = ctrl;
      try {
        const q = this.cursor ? `?since=${encodeURIComponent(this.cursor)}&timeout_ms=${first ? 0 : 25000}` : '';
        const res = await get('/sync' + q, { timeout: 35000, signal: ctrl.signal });
        if (!this.polling || this.ws || gen !== this.pollGen) continue;
        errors = 0;
        this.h.onState('polling');
        if (!this.cursor) this.setCursor(res.next_cursor);
        for (const ev of res.events) {
          this.h.onEvent(ev);
          if (ev.cursor) this.setCursor(ev.cursor);
        }
        this.setCursor(res.next_cursor);
        if (first) { first = false; this.h.onReady(); }
      } catch (e) {
        if (ctrl.signal.aborted) continue; // a probe or stop() aborted it
        const err = e instanceof ApiError ? e : new ApiError(0, 'bad_response', String(e));
        if (err.status === 401) { this.h.onUnauthorized(); return; }
        if (err.status === 410 || err.status === 400) { this.setCursor(null); this.h.onResync(); continue; } // too old or malformed
        if (err.status === 0) {
          // The server is unreachable: back to the WebSocket cycle, which polls again if needed.
          this.stopPolling();
          this.failures = 0;
          this.h.onState('reconnecting');
          this.retryLater();
          return;
        }
        this.h.onState('reconnecting');
        first = true;
        await sleep(err.retryAfter ? err.retryAfter * 1000 : backoff(errors++, 1000, 10000));
      }
    }
  }
}
