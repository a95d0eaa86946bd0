// @ts-check
// An open conversation: header, timeline, typing line, composer, image preview and upload.

import { html, useEffect, useLayoutEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { state, notify, conversationTitle, otherMember, userName, typingUsers, showError } from '../store.js';
import * as actions from '../actions.js';
import { ApiError } from '../api.js';
import { dayKey, dayLabel, lastSeen, formatSize } from '../util.js';
import { MessageRow } from './message.js';
import { Composer } from './composer.js';
import { Avatar, useId } from './dialog.js';
import { MuteControl } from './notifications.js';
import { GroupSettingsDialog, MessageInfoDialog, ImageDialog, UserProfileDialog } from './dialogs.js';

/** @typedef {import('../types.js').Conversation} Conversation */
/** @typedef {import('../types.js').Message} Message */
/** @typedef {import('../types.js').Media} Media */
/** @typedef {import('../types.js').OutboxItem} OutboxItem */

/** Back to the list (narrow screens), focusing this conversation's entry. @param {string} id */
function back(id) {
  actions.openConversation(null);
  requestAnimationFrame(() => {
    /** @type {HTMLElement|null} */ (document.querySelector(`[data-conversation-id="${CSS.escape(id)}"] button`))?.focus();
  });
}

/** @param {{c: Conversation, onSettings: () => void, onProfile: () => void}} props */
function Header({ c, onSettings, onProfile }) {
  const other = otherMember(c);
  const user = other ? state.users.get(other) : null;
  const presence = c.type === 'group' ? `${c.members.length} members`
    : user?.deleted ? 'deleted account'
    : other && state.blocked.has(other) ? 'blocked'
    : user?.online ? 'online' : lastSeen(user?.last_seen_at ?? null);
  const title = conversationTitle(c);
  return html`
    <header class="conv-head">
      <h1 class="sr-only narrow-only">natter</h1>
      <button type="button" class="back-btn" onClick=${() => back(c.id)}>Back</button>
      <${Avatar} id=${other ?? c.id} name=${title} />
      <div class="conv-head-text">
        <h2 id="conversation-title">${title}</h2>
        <span class=${'header-presence' + (user?.online ? ' online' : '')} data-testid="header-presence">${presence}</span>
      </div>
      <${MuteControl} c=${c} />
      ${c.type === 'group' && html`<button type="button" onClick=${onSettings}>Group settings</button>`}
      ${c.type === 'direct' && other && html`<button type="button" onClick=${onProfile}>Profile</button>`}
    </header>`;
}

/** An outbox item shown as a message. @param {OutboxItem} o @returns {Message} */
function pendingMessage(o) {
  return {
    id: 'pending-' + o.client_id, conversation_id: o.conversation_id, seq: 0, sender_id: state.me?.id ?? '',
    client_id: o.client_id, kind: o.kind, text: o.text, media: o.media, reply_to: o.reply_to,
    created_at: o.created_at, edited_at: null, deleted: false, status: 'sent',
  };
}

/** Who has read the newest own message, for its "Seen by …" line. @param {Conversation} c @param {Message} m */
function seenBy(c, m) {
  const me = state.me?.id;
  const marks = state.marks.get(c.id);
  const all = m.seq <= c.all_read_seq;
  const readers = c.members.filter((x) => x.user_id !== me && (all || (marks?.get(x.user_id)?.read ?? 0) >= m.seq));
  if (!readers.length) return null;
  const names = readers.map((x) => userName(x.user_id));
  return names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
}

/**
 * @typedef {Object} TimelineProps
 * @property {Conversation} c
 * @property {{current: boolean}} stick  scroll to the bottom after the next render
 * @property {(m: Message) => void} onReply
 * @property {(m: Message) => void} onEdit
 * @property {(m: Message) => void} onInfo
 * @property {(m: Media) => void} onOpenImage
 */

/** @param {TimelineProps} props */
function Timeline({ c, stick, onReply, onEdit, onInfo, onOpenImage }) {
  const tl = state.timelines.get(c.id);
  const me = state.me?.id;
  const scroller = useRef(/** @type {HTMLDivElement|null} */ (null));
  const initialized = useRef(false);
  const firstUnread = useRef(/** @type {number|null} */ (null));
  const anchor = useRef(/** @type {{id: string, offset: number}|null} */ (null));
  const io = useRef(/** @type {IntersectionObserver|null} */ (null));
  const checkRead = useRef(() => {});
  const ready = !!tl && !(tl.loading && tl.messages.length === 0);

  // The unread marker sits above the first unread message as it was on opening, and moves to
  // the first of those that arrive while the tab is hidden once the earlier ones were read.
  if (ready && tl && (firstUnread.current === null || (document.visibilityState !== 'visible' && firstUnread.current <= c.read_seq))) {
    const m = tl.messages.find((x) => x.seq > c.read_seq && x.sender_id !== me && !x.deleted);
    if (m || firstUnread.current === null) firstUnread.current = m ? m.seq : -1;
  }

  // Read marks: others' messages on screen while the tab is visible.
  useLayoutEffect(() => {
    const root = scroller.current;
    if (!root) return;
    /** @type {Set<HTMLElement>} */
    const visible = new Set();
    const check = () => {
      if (document.visibilityState !== 'visible') return;
      let best = null;
      for (const el of visible) {
        const seq = Number(el.dataset.seq);
        if (el.isConnected && (!best || seq > best.seq)) best = { seq, id: el.dataset.messageId ?? '' };
      }
      if (best) actions.markRead(c.id, best.seq, best.id);
    };
    const obs = new IntersectionObserver((entries) => {
      const half = root.clientHeight / 2;
      for (const e of entries) {
        const el = /** @type {HTMLElement} */ (e.target);
        if (e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= half)) visible.add(el);
        else visible.delete(el);
      }
      check();
    }, { root, threshold: [0, 0.5, 1] });
    io.current = obs;
    checkRead.current = check;
    document.addEventListener('visibilitychange', check);
    window.addEventListener('focus', check);
    return () => {
      obs.disconnect();
      document.removeEventListener('visibilitychange', check);
      window.removeEventListener('focus', check);
    };
  }, [c.id]);

  // After each render: observe new messages, set or keep the scroll position.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !tl) return;
    el.querySelectorAll('[data-mine="false"][data-seq]').forEach((m) => io.current?.observe(m));
    if (!ready) return;
    if (!initialized.current) {
      initialized.current = true;
      const marker = /** @type {HTMLElement|null} */ (el.querySelector('[data-testid="unread-marker"]'));
      el.scrollTop = marker ? marker.offsetTop - 8 : el.scrollHeight;
      stick.current = !marker || el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    } else if (anchor.current && !tl.loading) {
      const a = anchor.current;
      anchor.current = null;
      const node = /** @type {HTMLElement|null} */ (el.querySelector(`[data-message-id="${CSS.escape(a.id)}"]`));
      if (node) el.scrollTop = node.offsetTop - a.offset;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
    // A message to show (a search result): scroll it to the middle and highlight it briefly.
    const focus = state.focus;
    if (focus && focus.conversation_id === c.id && !tl.loading) {
      const node = /** @type {HTMLElement|null} */ (el.querySelector(`[data-message-id="${CSS.escape(focus.id)}"]`));
      if (node) {
        state.focus = null;
        el.scrollTop = Math.max(0, node.offsetTop - (el.clientHeight - node.offsetHeight) / 2);
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
        node.classList.add('flash');
        node.dataset.highlight = 'true';
        setTimeout(() => { node.classList.remove('flash'); delete node.dataset.highlight; }, 2500);
      }
    }
    checkRead.current();
    // Fill the view: load more while there is no scrollbar yet.
    if (tl.hasMore && !tl.loading && el.scrollHeight <= el.clientHeight) loadOlder();
  });

  const loadOlder = () => {
    const el = scroller.current;
    if (!el || !tl || tl.loading || !tl.hasMore || !tl.messages.length) return;
    const first = tl.messages[0];
    const node = /** @type {HTMLElement|null} */ (el.querySelector(`[data-message-id="${CSS.escape(first.id)}"]`));
    anchor.current = { id: first.id, offset: node ? node.offsetTop - el.scrollTop : 0 };
    actions.loadOlder(c.id);
  };

  const [away, setAway] = useState(false); // scrolled up from the newest messages
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (away !== (el.scrollHeight - el.scrollTop - el.clientHeight > 400)) setAway(!away);
    if (el.scrollTop < 200) loadOlder();
  };
  const toBottom = () => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  };

  /** @type {any[]} */
  const rows = [];
  if (tl) {
    const pending = state.outbox.filter((o) => o.conversation_id === c.id && !tl.messages.some((m) => m.client_id === o.client_id));
    const lastOwn = c.members.length <= 32 ? [...tl.messages].reverse().find((m) => m.sender_id === me && !m.deleted) : undefined;
    let prevDay = '';
    let prevSender = '';
    /** @param {Message} m @param {OutboxItem|null} o */
    const add = (m, o) => {
      const day = dayKey(m.created_at);
      if (day !== prevDay) {
        rows.push(html`<div class="day-separator" data-testid="day-separator" key=${'day-' + day}><span>${dayLabel(m.created_at)}</span></div>`);
        prevDay = day;
        prevSender = '';
      }
      if (!o && m.seq === firstUnread.current) {
        rows.push(html`<div class="unread-marker" data-testid="unread-marker" key="unread"><span>Unread messages</span></div>`);
        prevSender = '';
      }
      rows.push(html`<${MessageRow} key=${m.id} c=${c} m=${m} showSender=${c.type === 'group' && m.sender_id !== prevSender}
        pending=${o ? 'pending' : null} failed=${o?.error ?? null} clientId=${o?.client_id}
        seenBy=${lastOwn && m.id === lastOwn.id ? seenBy(c, m) : null}
        onReply=${onReply} onEdit=${onEdit} onInfo=${onInfo} onOpenImage=${onOpenImage} />`);
      prevSender = m.sender_id;
    };
    tl.messages.forEach((m) => add(m, null));
    pending.forEach((o) => add(pendingMessage(o), o));
  }

  return html`
    <div class="timeline-wrap">
      ${tl?.loading && html`<div class="loading-older" role="status">Loading messages…</div>`}
      <div class="timeline" ref=${scroller} role="log" aria-label="Messages" aria-busy=${tl?.loading ? 'true' : 'false'} tabindex="0" onScroll=${onScroll}>
        ${!tl && html`<p class="timeline-start muted small">The messages load when the connection is back.</p>`}
        ${tl && !tl.hasMore && ready && html`<p class="timeline-start muted small">${tl.messages.length ? 'Start of the conversation' : 'No messages yet. Say hello!'}</p>`}
        ${rows}
      </div>
      ${away && html`<button type="button" class="jump-btn" onClick=${toBottom}>Jump to latest</button>`}
    </div>`;
}

/** @param {{c: Conversation}} props */
function TypingLine({ c }) {
  const users = typingUsers(c.id);
  useEffect(() => {
    if (!users.length) return;
    const t = setTimeout(notify, 1000); // expire indicators without a typing_stop
    return () => clearTimeout(t);
  });
  if (!users.length) return null;
  const names = users.map(userName);
  const text = names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
  return html`<div class="typing" data-testid="typing" role="status">${text}</div>`;
}

/** Preview of a staged image with Send / Cancel. @param {{file: File, onSend: (caption: string) => void, onCancel: () => void}} props */
function ImagePreview({ file, onSend, onCancel }) {
  const [url, setUrl] = useState('');
  const [caption, setCaption] = useState('');
  const capId = useId('caption');
  const ref = useRef(/** @type {HTMLDivElement|null} */ (null));
  useEffect(() => {
    const u = URL.createObjectURL(file);
    setUrl(u);
    ref.current?.querySelector('input')?.focus();
    return () => URL.revokeObjectURL(u);
  }, [file]);
  /** @param {KeyboardEvent} e */
  const onKey = (e) => {
    if (e.key === 'Escape') { e.preventDefault(); onCancel(); }
    if (e.key === 'Enter') { e.preventDefault(); onSend(caption); }
  };
  return html`
    <div class="image-preview" ref=${ref} role="group" aria-label="Image preview">
      ${url && html`<img src=${url} alt=${'Preview of ' + (file.name || 'image')} />`}
      <div class="preview-side">
        <span class="file-name">${file.name || 'image'}</span>
        <span class="muted small">${formatSize(file.size)}</span>
        <label class="field" for=${capId}><span>Caption</span></label>
        <input id=${capId} value=${caption} placeholder="Add a caption (optional)" onKeyDown=${onKey}
          onInput=${(/** @type {Event} */ e) => setCaption(/** @type {HTMLInputElement} */ (e.currentTarget).value)} />
        <div class="row">
          <button type="button" class="primary" onClick=${() => onSend(caption)}>Send</button>
          <button type="button" onClick=${onCancel}>Cancel</button>
        </div>
      </div>
    </div>`;
}

/**
 * Why a direct conversation takes no messages now, in place of the composer: the other person
 * is blocked (by us), refused our last send (403: they blocked us), or deleted the account.
 * @param {{c: Conversation}} props
 */
function SendBlocked({ c }) {
  const [error, setError] = useState(/** @type {string|null} */ (null));
  const other = otherMember(c);
  if (c.type !== 'direct' || !other) return null;
  const name = userName(other);
  const unblock = () => actions.unblock(other).then(() => setError(null), (e) => setError(e.message));
  let note = null;
  if (state.users.get(other)?.deleted) note = html`<span>This account was deleted: messages cannot be sent here.</span>`;
  else if (state.blocked.has(other)) {
    note = html`<span>You blocked ${name}: you cannot send messages here.</span>
      <button type="button" onClick=${unblock}>Unblock</button>`;
  } else if (state.sendRefused.has(c.id)) {
    note = html`<span>You cannot send messages to ${name}: they are not accepting your messages.</span>
      <button type="button" onClick=${() => actions.retryRefused(c.id)}>Try again</button>`;
  }
  if (!note) return null;
  return html`
    <div class="composer-note" data-testid="composer-note" role="status">
      ${note}
      ${error && html`<span class="error" role="alert">${error}</span>`}
    </div>`;
}

/** @param {{c: Conversation}} props */
export function ConversationView({ c }) {
  const [reply, setReply] = useState(/** @type {Message|null} */ (null));
  const [editing, setEditing] = useState(/** @type {Message|null} */ (null));
  const [info, setInfo] = useState(/** @type {Message|null} */ (null));
  const [image, setImage] = useState(/** @type {Media|null} */ (null));
  const [settings, setSettings] = useState(false);
  const [profile, setProfile] = useState(false);
  const [staged, setStaged] = useState(/** @type {File|null} */ (null));
  const [upload, setUpload] = useState(/** @type {{name: string, progress: number}|null} */ (null));
  const [dragging, setDragging] = useState(false);
  const stick = useRef(true);
  const abortUpload = useRef(/** @type {(() => void)|null} */ (null));

  /** Upload and send a file (images after their preview). @param {File} file @param {string} caption */
  const sendFile = async (file, caption) => {
    setStaged(null);
    const name = file.name || 'file';
    setUpload({ name, progress: 0 });
    stick.current = true;
    const up = actions.sendFile(c.id, file, caption, reply?.id ?? null, (p) => setUpload({ name, progress: p }));
    abortUpload.current = up.abort;
    try {
      await up.promise;
      setReply(null);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'aborted')) showError(e);
    } finally {
      abortUpload.current = null;
      setUpload(null);
    }
  };
  /** A picked, pasted or dropped file: images get a preview first. @param {File} file */
  const stage = (file) => {
    if (file.type.startsWith('image/')) setStaged(file);
    else sendFile(file, '');
  };
  /** @param {DragEvent} e */
  const onDragOver = (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    setDragging(true);
  };
  /** @param {DragEvent} e */
  const onDrop = (e) => {
    setDragging(false);
    const f = e.dataTransfer?.files[0];
    if (!f) return;
    e.preventDefault();
    stage(f);
  };
  const otherId = otherMember(c);
  const cannotSend = c.type === 'direct' && !!otherId && otherId !== state.me?.id
    && (state.blocked.has(otherId) || state.sendRefused.has(c.id) || !!state.users.get(otherId)?.deleted);
  /** @param {Message} m */
  const onEdit = (m) => { setReply(null); setEditing(m); };
  /** @param {Message} m */
  const onReply = (m) => { setEditing(null); setReply(m); };

  return html`
    <main class=${'conversation' + (dragging ? ' dragging' : '')} aria-labelledby="conversation-title"
      onDragOver=${onDragOver} onDragLeave=${() => setDragging(false)} onDrop=${onDrop}>
      <${Header} c=${c} onSettings=${() => setSettings(true)} onProfile=${() => setProfile(true)} />
      <${Timeline} c=${c} stick=${stick} onReply=${onReply} onEdit=${onEdit} onInfo=${setInfo} onOpenImage=${setImage} />
      <${TypingLine} c=${c} />
      ${upload && html`
        <div class="upload">
          <span class="small">Uploading ${upload.name}…</span>
          <progress max="100" value=${Math.round(upload.progress * 100)} aria-label=${'Uploading ' + upload.name}></progress>
          <button type="button" onClick=${() => abortUpload.current?.()}>Cancel upload</button>
        </div>`}
      ${cannotSend
        ? html`<${SendBlocked} c=${c} />`
        : staged
        ? html`<${ImagePreview} file=${staged} onSend=${(/** @type {string} */ cap) => sendFile(staged, cap)} onCancel=${() => setStaged(null)} />`
        : html`<${Composer} c=${c} reply=${reply} setReply=${setReply} editing=${editing} setEditing=${setEditing}
            onSent=${() => { stick.current = true; }} onFile=${stage} />`}
      ${dragging && html`<div class="drop-hint" aria-hidden="true">Drop to send</div>`}
      ${settings && html`<${GroupSettingsDialog} c=${c} onClose=${() => setSettings(false)} />`}
      ${profile && otherId && html`<${UserProfileDialog} userId=${otherId} onClose=${() => setProfile(false)} />`}
      ${info && html`<${MessageInfoDialog} m=${info} c=${c} onClose=${() => setInfo(null)} />`}
      ${image && html`<${ImageDialog} media=${image} onClose=${() => setImage(null)} />`}
    </main>`;
}
