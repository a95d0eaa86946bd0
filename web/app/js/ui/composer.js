// @ts-check
// The message composer: Enter sends, Shift+Enter breaks the line; reply and edit modes.

import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { userName, showError } from '../store.js';
import * as actions from '../actions.js';
import { messagePreview } from './sidebar.js';
import { useId } from './dialog.js';
import * as icons from './icons.js';

/** @typedef {import('../types.js').Conversation} Conversation */
/** @typedef {import('../types.js').Message} Message */

/** Unsent text per conversation, kept while switching. @type {Map<string, string>} */
const drafts = new Map();

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
        <textarea id=${textId} ref=${area} rows="1" placeholder="Message" value=${text} maxlength="16384"
          onKeyDown=${onKeyDown} onInput=${onInput} onPaste=${onPaste} onBlur=${() => actions.typing(c.id, false)}></textarea>
        <button type="submit" class="primary send-btn" disabled=${!text.trim()}>${editing ? 'Save' : 'Send'}</button>
      </form>
    </div>`;
}
