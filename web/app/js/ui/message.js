// @ts-check
// One message in the timeline: text, media, reply quote, ticks, actions menu.

import { html, Component, useEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { state, userName, myRole, showError } from '../store.js';
import * as actions from '../actions.js';
import { formatTime, formatDateTime, formatSize } from '../util.js';
import { useBlobUrl, thumbPath, download } from '../media.js';
import { messagePreview } from './sidebar.js';
import * as icons from './icons.js';
import { useId } from './dialog.js';

/** @typedef {import('../types.js').Message} Message */
/** @typedef {import('../types.js').Media} Media */
/** @typedef {import('../types.js').Conversation} Conversation */
/** @typedef {'pending'|'sent'|'delivered'|'read'} TickStatus */

/** The tick of an own message from the conversation's watermarks. @param {Conversation} c @param {Message} m @returns {TickStatus} */
export function tickStatus(c, m) {
  if (m.seq <= c.all_read_seq || m.status === 'read') return 'read';
  if (m.seq <= c.all_delivered_seq || m.status === 'delivered') return 'delivered';
  return 'sent';
}

/** @type {Record<TickStatus, [() => any, string]>} */
const TICK = {
  pending: [icons.clock, 'Sending'], sent: [icons.check, 'Sent'], delivered: [icons.checks, 'Delivered'], read: [icons.checks, 'Read'],
};

/** @param {{status: TickStatus}} props */
export function Tick({ status }) {
  const [glyph, label] = TICK[status];
  return html`<span class=${'tick ' + status} data-testid="tick" data-status=${status} role="img" aria-label=${label} title=${label}>${glyph()}</span>`;
}

/**
 * The usernames a message mentions (lower case) → whether that is the signed-in user; `all`
 * when the message mentions everyone it reached (`@all`).
 * @param {Message} m @returns {Map<string, boolean>}
 */
function mentionNames(m) {
  /** @type {Map<string, boolean>} */
  const names = new Map();
  const ids = m.mentions ?? [];
  if (!ids.length) return names;
  const me = state.me?.id;
  for (const id of ids) {
    const u = state.users.get(id);
    if (u) names.set(u.username.toLowerCase(), id === me);
  }
  names.set('all', !!me && ids.includes(me));
  return names;
}

/** Plain text with the mentioned users' `@username` highlighted. @param {string} text @param {Map<string, boolean>} names */
function mentionify(text, names) {
  if (!names.size) return text;
  /** @type {any[]} */
  const out = [];
  let last = 0;
  for (const mt of text.matchAll(/(^|[^a-z0-9_.@-])@([a-z0-9_.-]*[a-z0-9_-])/gi)) {
    const name = mt[2].toLowerCase();
    if (!names.has(name)) continue;
    const start = (mt.index ?? 0) + mt[1].length;
    if (start > last) out.push(text.slice(last, start));
    const me = names.get(name);
    out.push(html`<span class=${'mention' + (me ? ' mention-me' : '')} data-testid="mention" data-me=${me ? 'true' : 'false'}>@${mt[2]}</span>`);
    last = start + 1 + mt[2].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Message text with http(s) links made clickable and mentions highlighted. @param {string} text @param {Map<string, boolean>} [names] */
function linkify(text, names = new Map()) {
  const parts = text.split(/(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])/g);
  return parts.map((p, i) => (i % 2
    ? html`<a href=${p} target="_blank" rel="noopener noreferrer">${p}</a>`
    : mentionify(p, names)));
}

/**
 * One reaction chip: "emoji count", pressed when the signed-in user reacted with it; a click
 * toggles that. Hovering, focusing or a long press shows who reacted.
 * @param {{m: Message, r: import('../types.js').Reaction}} props
 */
function ReactionChip({ m, r }) {
  const [who, setWho] = useState(/** @type {{key: string, text: string}|null} */ (null));
  const [show, setShow] = useState(false);
  const press = useRef(/** @type {ReturnType<typeof setTimeout>|undefined} */ (undefined));
  const longPressed = useRef(false);
  const tipId = useId('reactors');
  const key = `${r.count}:${r.me}`;
  const load = () => {
    setShow(true);
    if (who?.key === key) return;
    actions.reactionUsers(m.id, r.emoji).then(({ userIds, more }) => {
      const names = userIds.map((id) => (id === state.me?.id ? 'You' : userName(id)));
      setWho({ key, text: names.length ? names.join(', ') + (more ? ' and more' : '') : 'Nobody' });
    }, () => {});
  };
  useEffect(() => () => clearTimeout(press.current), []);
  useEffect(() => { if (show) load(); }, [key]); // the count changed while shown
  /** @param {PointerEvent} e */
  const onDown = (e) => {
    if (e.pointerType !== 'touch') return;
    longPressed.current = false;
    clearTimeout(press.current);
    press.current = setTimeout(() => { longPressed.current = true; load(); }, 500);
  };
  const onUp = () => clearTimeout(press.current);
  const toggle = () => {
    if (longPressed.current) { longPressed.current = false; return; } // a long press only shows who
    actions.react(m, r.emoji).catch(showError);
  };
  const whoText = who?.key === key ? `Reacted with ${r.emoji}: ${who.text}` : null;
  return html`
    <span class="reaction-wrap">
      <button type="button" class=${'reaction' + (r.me ? ' me' : '')} data-testid="reaction" data-emoji=${r.emoji}
        data-count=${r.count} aria-pressed=${r.me ? 'true' : 'false'} title=${whoText ?? undefined}
        aria-describedby=${show && whoText ? tipId : undefined}
        onClick=${toggle} onMouseEnter=${load} onMouseLeave=${() => setShow(false)} onFocus=${load} onBlur=${() => setShow(false)}
        onPointerDown=${onDown} onPointerUp=${onUp} onPointerCancel=${onUp} onContextMenu=${(/** @type {Event} */ e) => { if (longPressed.current) e.preventDefault(); }}>
        <span class="reaction-emoji">${r.emoji}</span> <span class="reaction-count">${r.count}</span>
      </button>
      ${show && whoText && html`<span class="reaction-tip" role="tooltip" id=${tipId} data-testid="reactors">${whoText}</span>`}
    </span>`;
}

/** The reaction chips under a message. @param {{m: Message}} props */
function ReactionBar({ m }) {
  const list = m.reactions ?? [];
  if (!list.length) return null;
  return html`
    <div class="reactions" role="group" aria-label="Reactions" data-testid="reactions">
      ${list.map((r) => html`<${ReactionChip} key=${r.emoji} m=${m} r=${r} />`)}
    </div>`;
}

/** @param {{media: Media, onOpen: (m: Media) => void}} props */
function Thumbnail({ media, onOpen }) {
  const { url, failed } = useBlobUrl(thumbPath(media));
  const name = media.filename || 'Image';
  // Reserve the thumbnail's size (≤ 320 px) so that loading does not shift the timeline.
  const scale = media.width && media.height ? Math.min(1, 320 / Math.max(media.width, media.height)) : 1;
  const w = media.width ? Math.round(media.width * scale) : 200;
  const h = media.height ? Math.round(media.height * scale) : 150;
  if (failed) return html`<div class="thumb-failed">Image unavailable</div>`;
  return html`
    <button type="button" class="thumb-btn" aria-label=${`Open image ${name}`} onClick=${() => onOpen(media)}>
      ${url ? html`<img data-testid="thumbnail" src=${url} alt=${name} width=${w} height=${h} />`
        : html`<span class="thumb-placeholder" ref=${(/** @type {HTMLElement|null} */ el) => { if (el) { el.style.width = w + 'px'; el.style.height = h + 'px'; } }}></span>`}
    </button>`;
}

/** @param {{media: Media}} props */
function FileCard({ media }) {
  const [busy, setBusy] = useState(false);
  const name = media.filename || 'file';
  const get = async () => {
    setBusy(true);
    try { await download(media); } catch (e) { showError(e); } finally { setBusy(false); }
  };
  return html`
    <div class="file-card" data-testid="file">
      <span class="file-icon">${icons.fileIcon()}</span>
      <span class="file-meta"><span class="file-name">${name}</span><span class="muted small">${formatSize(media.size)}</span></span>
      <button type="button" disabled=${busy} aria-label=${`Download ${name}`} onClick=${get}>Download</button>
    </div>`;
}

/** @param {{id: string}} props */
function ReplyQuote({ id }) {
  const q = actions.quotedMessage(id);
  /** @param {Event} e */
  const jump = (e) => {
    e.preventDefault();
    const el = document.querySelector(`[data-message-id="${CSS.escape(id)}"]`);
    if (el instanceof HTMLElement) { el.scrollIntoView({ block: 'center' }); el.classList.add('flash'); setTimeout(() => el.classList.remove('flash'), 1200); }
  };
  return html`
    <button type="button" class="reply-quote" data-testid="reply-quote" onClick=${jump}>
      <span class="quote-name">${q ? userName(q.sender_id) : 'Reply'}</span>
      <span class="quote-text">${q ? messagePreview(q) : '…'}</span>
    </button>`;
}

/**
 * @typedef {Object} MessageProps
 * @property {Conversation} c
 * @property {Message} m
 * @property {TickStatus|null} [pending]  set for an outbox item
 * @property {string|null} [failed]       a permanent send error
 * @property {string} [clientId]
 * @property {boolean} showSender
 * @property {string|null} [seenBy]       names for the "Seen by …" line
 * @property {(m: Message) => void} [onReply]
 * @property {(m: Message) => void} [onEdit]
 * @property {(m: Message) => void} [onInfo]
 * @property {(m: Media) => void} onOpenImage
 */

/** @param {MessageProps} props */
function MessageItem({ c, m, pending, failed, clientId, showSender, seenBy, onReply, onEdit, onInfo, onOpenImage }) {
  const me = state.me?.id;
  const mine = m.sender_id === me;
  const [menu, setMenu] = useState(false);
  const status = pending ? 'pending' : mine ? tickStatus(c, m) : null;
  const role = myRole(c);
  const canEveryone = mine || (c.type === 'group' && (role === 'owner' || role === 'admin'));
  /** @param {boolean} everyone */
  const del = (everyone) => { setMenu(false); actions.deleteMessage(m, everyone).catch(showError); };
  /** @param {string} emoji */
  const react = (emoji) => { setMenu(false); actions.react(m, emoji).catch(showError); };
  const reacted = new Set((m.reactions ?? []).filter((r) => r.me).map((r) => r.emoji));
  return html`
    <div class=${'msg' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : '') + (failed ? ' failed' : '')}
      data-testid="message" data-seq=${pending ? undefined : m.seq} data-mine=${mine ? 'true' : 'false'}
      data-message-id=${m.id} data-sender=${m.sender_id}>
      <div class="bubble">
        ${showSender && !mine && html`<div class="sender">${userName(m.sender_id)}</div>`}
        ${m.reply_to && !m.deleted && html`<${ReplyQuote} id=${m.reply_to} />`}
        ${!m.deleted && m.media && (m.kind === 'image'
          ? html`<${Thumbnail} media=${m.media} onOpen=${onOpenImage} />`
          : html`<${FileCard} media=${m.media} />`)}
        <div class="text" data-testid="message-text">${m.deleted ? 'This message was deleted' : linkify(m.text ?? '', mentionNames(m))}</div>
        <div class="meta">
          ${m.edited_at && !m.deleted && html`<span class="edited">edited</span>`}
          <time datetime=${m.created_at} title=${formatDateTime(m.created_at)}>${formatTime(m.created_at)}</time>
          ${status && html`<${Tick} status=${status} />`}
        </div>
        ${failed && html`
          <div class="send-failed" role="alert">Not sent: ${failed}
            <button type="button" onClick=${() => clientId && actions.retrySend(clientId)}>Retry</button>
            <button type="button" onClick=${() => clientId && actions.discardSend(clientId)}>Discard</button>
          </div>`}
      </div>
      ${!pending && !m.deleted && html`
        <${ActionsMenu} open=${menu} setOpen=${setMenu}>
          <div class="menu-emoji" role="group" aria-label="Add a reaction" data-testid="reaction-picker">
            ${actions.frequentEmoji().map((e) => html`
              <button type="button" class="emoji-btn" aria-label=${'React with ' + e}
                aria-pressed=${reacted.has(e) ? 'true' : 'false'} title=${(reacted.has(e) ? 'Remove your reaction ' : 'React with ') + e}
                onClick=${() => react(e)}>${e}</button>`)}
          </div>
          <button type="button" onClick=${() => { setMenu(false); onReply?.(m); }}>Reply</button>
          ${mine && m.kind === 'text' && html`<button type="button" onClick=${() => { setMenu(false); onEdit?.(m); }}>Edit</button>`}
          <button type="button" onClick=${() => del(false)}>Delete for me</button>
          ${canEveryone && html`<button type="button" onClick=${() => del(true)}>Delete for everyone</button>`}
          <button type="button" onClick=${() => { setMenu(false); onInfo?.(m); }}>Message info</button>
        <//>`}
      ${!pending && !m.deleted && html`<${ReactionBar} m=${m} />`}
      ${seenBy && html`<div class="seen-by" data-testid="seen-by">Seen by ${seenBy}</div>`}
    </div>`;
}

/** What a message shows, beyond the message object itself. @param {MessageProps} p */
function signature(p) {
  const { c, m } = p;
  const q = m.reply_to ? actions.quotedMessage(m.reply_to) : null;
  return [
    p.pending, p.failed, p.seenBy, p.showSender && userName(m.sender_id), m.sender_id === state.me?.id && tickStatus(c, m),
    c.type, myRole(c), q && `${userName(q.sender_id)}:${messagePreview(q)}`,
    (m.mentions ?? []).map((id) => state.users.get(id)?.username ?? '').join(' '),
  ].join('\u0001');
}

/**
 * A message that re-renders only when what it shows changed: the timeline re-renders on every
 * event, and a long one must stay cheap.
 * @extends {Component<MessageProps>}
 */
export class MessageRow extends Component {
  sig = '';
  /** @param {MessageProps} next */
  shouldComponentUpdate(next) {
    return next.m !== this.props.m || signature(next) !== this.sig;
  }
  /** @param {MessageProps} props */
  render(props) {
    this.sig = signature(props);
    return html`<${MessageItem} ...${props} />`;
  }
}

/** A "Message actions" button with a small menu of buttons; Escape or a click outside closes it. */
function ActionsMenu(/** @type {{open: boolean, setOpen: (o: boolean) => void, children?: any}} */ { open, setOpen, children }) {
  const wrap = useRef(/** @type {HTMLDivElement|null} */ (null));
  const btn = useRef(/** @type {HTMLButtonElement|null} */ (null));
  useEffect(() => {
    if (!open) return;
    // Open upwards when there is no room below in the timeline.
    const menu = wrap.current?.querySelector('.menu');
    const box = wrap.current?.closest('.timeline')?.getBoundingClientRect();
    if (menu && box && menu.getBoundingClientRect().bottom > box.bottom) menu.classList.add('up');
    /** @type {HTMLElement|null|undefined} */ (menu?.querySelector('button'))?.focus();
    /** @param {MouseEvent} e */
    const onDown = (e) => { if (!wrap.current?.contains(/** @type {Node} */ (e.target))) setOpen(false); };
    /** @param {KeyboardEvent} e */
    const onKey = (e) => {
      if (e.key === 'Escape') { e.stopPropagation(); setOpen(false); btn.current?.focus(); }
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        const items = [...(wrap.current?.querySelectorAll('.menu button') ?? [])];
        const i = items.indexOf(/** @type {Element} */ (document.activeElement));
        const next = items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length];
        if (next instanceof HTMLElement) { e.preventDefault(); next.focus(); }
      }
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey, true);
    return () => { document.removeEventListener('mousedown', onDown); document.removeEventListener('keydown', onKey, true); };
  }, [open]);
  const id = useId('menu');
  return html`
    <div class="msg-actions" ref=${wrap}>
      <button type="button" ref=${btn} class="icon-btn actions-btn" aria-label="Message actions"
        aria-expanded=${open ? 'true' : 'false'} aria-controls=${open ? id : undefined} onClick=${() => setOpen(!open)}>${icons.more()}</button>
      ${open && html`<div class="menu" id=${id}>${children}</div>`}
    </div>`;
}
