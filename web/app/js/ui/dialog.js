// @ts-check
// A modal dialog on <dialog>/showModal (focus trapped, Escape closes), and small shared parts.

import { html, useEffect, useRef, useMemo, useState } from '../../vendor/preact-htm.js';
import * as icons from './icons.js';

let nextId = 0;
/** A stable unique id for labelling. @param {string} prefix */
export function useId(prefix) {
  return useMemo(() => `${prefix}-${++nextId}`, []);
}

/**
 * @param {{title: string, onClose: () => void, children?: any, className?: string}} props
 */
export function Dialog({ title, onClose, children, className = '' }) {
  const ref = useRef(/** @type {HTMLDialogElement|null} */ (null));
  const id = useId('dialog-title');
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => { if (d?.open) d.close(); };
  }, []);
  /** @param {Event} e */
  const onCancel = (e) => { e.preventDefault(); onClose(); };
  /** Click on the backdrop closes. @param {MouseEvent} e */
  const onClick = (e) => { if (e.target === ref.current) onClose(); };
  return html`
    <dialog ref=${ref} class=${'dialog ' + className} aria-labelledby=${id} onCancel=${onCancel} onClick=${onClick}>
      <div class="dialog-inner">
        <div class="dialog-head">
          <h2 id=${id}>${title}</h2>
          <button type="button" class="icon-btn" aria-label="Close" onClick=${onClose}>${icons.close()}</button>
        </div>
        ${children}
      </div>
    </dialog>`;
}

/**
 * A question with a confirming button (e.g. "Block"), and Cancel. The dialog stays open with
 * the error when the action fails.
 * @param {{title: string, confirmLabel: string, danger?: boolean, onConfirm: () => Promise<unknown>, onClose: () => void, children?: any}} props
 */
export function ConfirmDialog({ title, confirmLabel, danger = false, onConfirm, onClose, children }) {
  const { error, busy, run } = useAction();
  const confirm = async () => { if (await run(onConfirm)) onClose(); };
  return html`
    <${Dialog} title=${title} onClose=${onClose}>
      ${children}
      <${ErrorLine} error=${error} />
      <div class="row end">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="button" class=${danger ? 'danger' : 'primary'} disabled=${busy} onClick=${confirm}>${confirmLabel}</button>
      </div>
    <//>`;
}

/** A line that says an action worked (read out by screen readers). @param {{text: string|null}} props */
export function DoneLine({ text }) {
  return html`<p class="done" role="status">${text ?? ''}</p>`;
}

/** An error line inside a form or dialog. @param {{error: string|null}} props */
export function ErrorLine({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

/** Initials for an avatar. @param {string} name */
export function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

/** A decorative avatar with initials and a colour from the id. @param {{id: string, name: string, small?: boolean}} props */
export function Avatar({ id, name, small }) {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) % 360;
  const ref = useRef(/** @type {HTMLSpanElement|null} */ (null));
  useEffect(() => { ref.current?.style.setProperty('--hue', String(h)); }, [h]);
  return html`<span ref=${ref} class=${'avatar' + (small ? ' small' : '')} aria-hidden="true">${initials(name)}</span>`;
}

/** Run an async action, keeping its error for an ErrorLine. */
export function useAction() {
  const [error, setError] = useState(/** @type {string|null} */ (null));
  const [busy, setBusy] = useState(false);
  /** @param {() => Promise<unknown>} fn @returns {Promise<boolean>} */
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run };
}
