// @ts-check
// The message composer: Enter sends, Shift+Enter breaks the line; reply and edit modes.

import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { state, userName, showError, myRole } from '../store.js';
import * as actions from '../actions.js';
import { messagePreview } from './sidebar.js';
import { useId } from './dialog.js';
import * as icons from './icons.js';

/** @typedef {import('../types.js').Conversation} Conversation */
/** @typedef {import('../types.js').Message} Message */

/** Unsent text per conversation, kept while switching. @type {Map<string, string>} */
const drafts = new Map();

/** @typedef {{id: string, username: string, name: string}} Candidate */

/** The mention (at sign and word) being typed just before the caret, if any. @param {string} text @param {number} caret */
function mentionAt(text, caret) {
  const m = /(^|[\s([{"'])@([a-z0-9_.-]*)$/i.exec(text.slice(0, caret));
  return m ? { start: caret - m[2].length - 1, query: m[2].toLowerCase() } : null;
}

/**
 * Who can be mentioned here, best matches first: the other members by username or display
 * name, and `@all` in a group for its owners and admins.
 * @param {Conversation} c @param {string} query
 * @returns {Candidate[]}
 */
function candidates(c, query) {
  /** @type {{cand: Candidate, rank: number}[]} */
  const found = [];
  for (const mem of c.members) {
    if (mem.user_id === state.me?.id) continue;
    const u = state.users.get(mem.user_id);
    if (!u || u.deleted) continue;
    const un = u.username.toLowerCase();
    const dn = u.display_name.toLowerCase();
    const rank = !query || un.startsWith(query) ? 0
      : dn.split(/\s+/).some((w) => w.startsWith(query)) ? 1 : -1;
    if (rank >= 0) found.push({ cand: { id: u.id, username: u.username, name: u.display_name }, rank });
  }
  found.sort((a, b) => a.rank - b.rank || a.cand.username.localeCompare(b.cand.username));
  const list = found.map((f) => f.cand).slice(0, 8);
  const role = myRole(c);
  if (c.type === 'group' && (role === 'owner' || role === 'admin') && 'all'.startsWith(query)) {
    list.push({ id: '@all', username: 'all', name: 'Everyone in this group' });
  }
  return list;
}

/**
 * @typedef {Object} ComposerProps
 * @property {Conversation} c
 * @property {Message|null} reply
 * @property {(m: Message|null) => void} setReply
 * @property {Message|null} editing
 * @property {(m: Message|null) => void} setEditing
 * @property {() => void} onSent
 * @property {(f: File) => void} onFile
 */

/** @param {ComposerProps} props */
export function Composer({ c, reply, setReply, editing, setEditing, onSent, onFile }) {
  const [text, setText] = useState(drafts.get(c.id) ?? '');
  const area = useRef(/** @type {HTMLTextAreaElement|null} */ (null));
  const fileId = useId('attach');
  const textId = useId('message');
  const listId = useId('mentions');
  /** The mention being completed: where its at sign is, what follows it, the highlighted option. */
  const [mention, setMention] = useState(/** @type {{start: number, query: string, index: number}|null} */ (null));
  const options = mention ? candidates(c, mention.query) : [];
  const listOpen = !!mention && options.length > 0;
  const active = listOpen && mention ? Math.min(mention.index, options.length - 1) : 0;

  /** Look for a mention being typed before the caret (after typing or moving the caret). */
  const findMention = () => {
    const el = area.current;
    if (!el || el.selectionStart !== el.selectionEnd) { setMention(null); return; }
    const at = mentionAt(el.value, el.selectionStart);
    if (!at) { if (mention) setMention(null); return; }
    if (mention && mention.start === at.start && mention.query === at.query) return;
    setMention({ ...at, index: 0 });
  };

  /** Put the username (with its at sign and a space) in place of the mention being typed. @param {Candidate} cand */
  const pickMention = (cand) => {
    const el = area.current;
    if (!el || !mention) return;
    const end = el.selectionStart;
    const insert = `@${cand.username} `;
    const t = el.value.slice(0, mention.start) + insert + el.value.slice(end);
    update(t);
    setMention(null);
    const caret = mention.start + insert.length;
    requestAnimationFrame(() => { el.focus(); el.setSelectionRange(caret, caret); });
  };

  /** @param {string} t */
  const update = (t) => {
    setText(t);
    if (!editing) drafts.set(c.id, t);
  };

  // Grow with the text (up to the CSS max-height).
  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = el.scrollHeight + 'px';
  }, [text]);

  useEffect(() => {
    if (editing) update(editing.text ?? '');
    if (editing || reply) area.current?.focus();
  }, [editing, reply]);

  useEffect(() => { if (matchMedia('(pointer: fine)').matches) area.current?.focus(); }, [c.id]);

  const cancel = () => {
    if (editing) {
      setEditing(null);
      setText(drafts.get(c.id) ?? ''); // back to the unsent draft
    } else if (reply) {
      setReply(null);
    }
  };

  const submit = () => {
    const t = text;
    if (!t.trim()) return;
    if (editing) {
      const m = editing;
      actions.editMessage(m, t).then(() => {
        setEditing(null);
        setText(drafts.get(c.id) ?? '');
      }, showError);
      return;
    }
    actions.sendText(c.id, t, reply?.id ?? null);
    update('');
    setReply(null);
    onSent();
    area.current?.focus();
  };

  /** @param {KeyboardEvent} e */
  const onKeyDown = (e) => {
    if (listOpen && mention && !e.isComposing) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = options.length;
        setMention({ ...mention, index: (active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pickMention(options[active]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        setMention(null);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && (editing || reply)) {
      e.preventDefault();
      cancel();
    }
  };
  /** @param {Event} e */
  const onInput = (e) => {
    const t = /** @type {HTMLTextAreaElement} */ (e.currentTarget).value;
    update(t);
    findMention();
    if (!editing) actions.typing(c.id, t.trim().length > 0);
  };
  /** @param {ClipboardEvent} e */
  const onPaste = (e) => {
    const data = e.clipboardData;
    // Rich text copied from other apps may carry a picture of itself: text wins then.
    const f = data?.files[0];
    if (f && !data?.types.includes('text/plain')) { e.preventDefault(); onFile(f); }
  };
  /** @param {Event} e */
  const onPick = (e) => {
    const input = /** @type {HTMLInputElement} */ (e.currentTarget);
    const f = input.files?.[0];
    input.value = '';
    if (f) onFile(f);
  };

  const bar = editing || reply;
  return html`
    <div class="composer-wrap">
      ${bar && html`
        <div class="composer-bar">
          <span class="bar-text">
            <span class="bar-title">${editing ? 'Editing message' : `Replying to ${userName(/** @type {Message} */ (reply).sender_id)}`}</span>
            <span class="bar-quote">${messagePreview(/** @type {Message} */ (bar))}</span>
          </span>
          <button type="button" class="icon-btn" aria-label=${editing ? 'Cancel edit' : 'Cancel reply'} onClick=${cancel}>${icons.close()}</button>
        </div>`}
      <form class="composer" onSubmit=${(/** @type {Event} */ e) => { e.preventDefault(); submit(); }}>
        <input id=${fileId} type="file" class="file-input" aria-label="Attach file" onChange=${onPick} disabled=${!!editing} />
        <label for=${fileId} class="attach-label" title="Attach file" aria-hidden="true">${icons.paperclip()}</label>
        <label for=${textId} class="sr-only">Message</label>
        ${listOpen && html`
          <ul class="mention-list" id=${listId} role="listbox" aria-label="Mention someone" data-testid="mention-list">
            ${options.map((o, i) => html`
              <li key=${o.id} id=${`${listId}-${i}`} role="option" aria-selected=${i === active ? 'true' : 'false'}
                class=${'mention-option' + (i === active ? ' active' : '')}
                onMouseDown=${(/** @type {MouseEvent} */ e) => { e.preventDefault(); pickMention(o); }}>
                <span class="mention-name">${o.name}</span> <span class="muted small">@${o.username}</span>
              </li>`)}
          </ul>`}
        <textarea id=${textId} ref=${area} rows="1" placeholder="Message" value=${text} maxlength="16384"
          aria-autocomplete="list" aria-controls=${listOpen ? listId : undefined}
          aria-activedescendant=${listOpen ? `${listId}-${active}` : undefined}
          onKeyDown=${onKeyDown} onInput=${onInput} onPaste=${onPaste} onClick=${findMention}
          onKeyUp=${(/** @type {KeyboardEvent} */ e) => { if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') findMention(); }}
          onBlur=${() => { actions.typing(c.id, false); setMention(null); }}></textarea>
        <button type="submit" class="primary send-btn" disabled=${!text.trim()}>${editing ? 'Save' : 'Send'}</button>
      </form>
    </div>`;
}
