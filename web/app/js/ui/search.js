// @ts-check
// Message search in the sidebar: a search box, then results (sender, conversation, time and a
// snippet with the matches marked); a result opens its conversation at the message.

import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { state, conversationTitle, userName } from '../store.js';
import * as actions from '../actions.js';
import { formatDateTime, inputValue, shortWhen } from '../util.js';
import { messagePreview } from './sidebar.js';
import { useId } from './dialog.js';
import * as icons from './icons.js';

/** @typedef {import('../types.js').SearchHit} SearchHit */

const PAGE = 20;

/** @type {Record<string, string>} */
const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text from HTML-escaped text (the server's snippet escapes &, <, >, quotes). @param {string} s */
export function unescapeHtml(s) {
  return s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(amp|lt|gt|quot|apos));/gi, (all, dec, hex, name) => {
    if (name) return ENTITIES[name.toLowerCase()] ?? all;
    const n = dec ? Number(dec) : parseInt(hex, 16);
    return Number.isInteger(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : all;
  });
}

/**
 * A snippet as text nodes and <mark> elements: it is split on the server's <mark> and </mark>
 * only, and every other part is shown as text (never parsed as HTML).
 * @param {string} snippet
 */
export function snippetParts(snippet) {
  /** @type {any[]} */
  const out = [];
  let marked = false;
  for (const part of snippet.split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') marked = true;
    else if (part === '</mark>') marked = false;
    else if (part) out.push(marked ? html`<mark>${unescapeHtml(part)}</mark>` : unescapeHtml(part));
  }
  return out;
}

/**
 * @typedef {Object} Results
 * @property {string} key      what was searched ("" before any search)
 * @property {SearchHit[]} hits
 * @property {boolean} hasMore
 * @property {boolean} loading
 * @property {string|null} error
 */

/** @type {Results} */
const NONE = { key: '', hits: [], hasMore: false, loading: false, error: null };

/** @param {{hit: SearchHit}} props */
function Hit({ hit }) {
  const c = state.conversations.get(hit.conversation_id);
  const where = c ? conversationTitle(c) : 'Conversation';
  const who = hit.sender_id === state.me?.id ? 'You' : userName(hit.sender_id);
  // The other person's own message in a direct chat: the chat's title would repeat its name.
  return html`
    <li class="hit" data-testid="search-result" data-message-id=${hit.id} data-conversation-id=${hit.conversation_id}>
      <button type="button" class="hit-btn" onClick=${() => actions.openMessage(hit)}>
        <span class="hit-top">
          <span class="hit-sender" data-testid="result-sender">${who}</span>
          ${where !== who && html`<span class="hit-conv" data-testid="result-conversation"><span class="sr-only">in </span>${where}</span>`}
          <time class="hit-time" datetime=${hit.created_at} title=${formatDateTime(hit.created_at)}>${shortWhen(hit.created_at)}</time>
        </span>
        <span class="hit-snippet" data-testid="snippet">${hit.snippet ? snippetParts(hit.snippet) : messagePreview(hit)}</span>
      </button>
    </li>`;
}

/** The sidebar's search box and, while it holds a query, the results. */
export function MessageSearch() {
  const [query, setQuery] = useState('');
  const [here, setHere] = useState(false);
  const [again, setAgain] = useState(0);
  const [res, setRes] = useState(/** @type {Results} */ (NONE));
  const inputId = useId('search-messages');
  const hereId = useId('search-here');
  const openId = state.openId;
  const convId = here && openId ? openId : null;
  const q = query.trim();
  const key = `${q}\u0001${convId ?? ''}\u0001${again}`;

  useEffect(() => {
    if (!q) { setRes(NONE); return; }
    let live = true;
    setRes((r) => ({ ...r, loading: true, error: null }));
    const t = setTimeout(() => {
      actions.searchMessages(q, { conversationId: convId, limit: PAGE }).then(
        (r) => { if (live) setRes({ key, hits: r.messages, hasMore: r.has_more, loading: false, error: null }); },
        (e) => { if (live) setRes({ ...NONE, key, error: e.message }); });
    }, 250);
    return () => { live = false; clearTimeout(t); };
  }, [key]);

  const more = () => {
    const last = res.hits[res.hits.length - 1];
    if (!last || res.loading) return;
    const at = res.key;
    setRes({ ...res, loading: true });
    actions.searchMessages(q, { conversationId: convId, limit: PAGE, before: last.id }).then(
      (r) => setRes((cur) => (cur.key !== at ? cur
        : { ...cur, hits: [...cur.hits, ...r.messages.filter((m) => !cur.hits.some((h) => h.id === m.id))], hasMore: r.has_more, loading: false })),
      (e) => setRes((cur) => (cur.key !== at ? cur : { ...cur, loading: false, error: e.message })));
  };
  const clear = () => {
    setQuery('');
    /** @type {HTMLElement|null} */ (document.getElementById(inputId))?.focus();
  };
  /** @param {KeyboardEvent} e */
  const onKey = (e) => {
    if (e.key === 'Escape' && query) { e.preventDefault(); setQuery(''); }
  };
  /** @param {Event} e */
  const submit = (e) => { e.preventDefault(); if (q) setAgain(again + 1); };

  const done = res.key === key && !res.loading;
  const status = !q ? '' : res.error ? '' : !done && !res.hits.length ? 'Searching…'
    : res.hits.length ? `${res.hits.length}${res.hasMore ? '+' : ''} ${res.hits.length === 1 ? 'message' : 'messages'} found`
    : 'No messages found.';
  return html`
    <form class="search-form" role="search" onSubmit=${submit}>
      <label for=${inputId} class="sr-only">Search messages</label>
      <input id=${inputId} type="search" enterkeyhint="search" autocomplete="off" spellcheck=${false} maxlength="256"
        placeholder="Search messages" value=${query} onKeyDown=${onKey} onInput=${(/** @type {Event} */ e) => setQuery(inputValue(e))} />
    </form>
    ${q && html`
      <section class="search-results" aria-label="Search results" data-testid="search-results">
        <div class="search-head">
          <span class="muted small" role="status">${status}</span>
          <button type="button" class="icon-btn" aria-label="Close search" onClick=${clear}>${icons.close()}</button>
        </div>
        ${openId && html`
          <label class="check small search-here" for=${hereId}>
            <input id=${hereId} type="checkbox" checked=${here} onChange=${(/** @type {Event} */ e) => setHere(/** @type {HTMLInputElement} */ (e.currentTarget).checked)} />
            In this conversation only
          </label>`}
        ${res.error && html`<p class="error" role="alert">${res.error}</p>`}
        ${res.hits.length > 0 && html`<ul class="hits">${res.hits.map((h) => html`<${Hit} key=${h.id} hit=${h} />`)}</ul>`}
        ${res.hasMore && html`<div class="row end"><button type="button" disabled=${res.loading} onClick=${more}>Load more</button></div>`}
      </section>`}`;
}
