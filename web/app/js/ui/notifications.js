// @ts-check
// Notifications: the settings dialog (this device's push switch, previews, mentions in muted
// conversations, do not disturb, the muted conversations), the mute control of a conversation's
// header and the muted icon of the list.

import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js';
import { state, mutedUntil, conversationTitle, showError } from '../store.js';
import * as n from '../notify.js';
import { formatDateTime } from '../util.js';
import * as icons from './icons.js';
import { Dialog, ErrorLine, useAction, useId } from './dialog.js';

/** @typedef {import('../types.js').Conversation} Conversation */

/** "until …" for a limit (null: until turned off). @param {string|null} until @param {string} forever */
function untilText(until, forever) {
  return until ? `until ${formatDateTime(until)}` : forever;
}

/**
 * A labelled on/off switch (a checkbox with the switch role).
 * @param {{label: string, checked: boolean, disabled?: boolean, onChange: (on: boolean) => void, hint?: string}} props
 */
function Switch({ label, checked, disabled = false, onChange, hint }) {
  const hintId = useId('switch-hint');
  return html`
    <div class="switch-row">
      <label class="switch">
        <input type="checkbox" role="switch" checked=${checked} disabled=${disabled} aria-describedby=${hint ? hintId : undefined}
          onChange=${(/** @type {Event} */ e) => onChange(/** @type {HTMLInputElement} */ (e.currentTarget).checked)} />
        <span>${label}</span>
      </label>
      ${hint && html`<p class="muted small switch-hint" id=${hintId}>${hint}</p>`}
    </div>`;
}

/** "Notifications on this device": permission, service worker, push subscription. */
function DeviceSwitch() {
  const supported = n.pushSupported();
  const [on, setOn] = useState(/** @type {boolean|null} */ (supported ? null : false));
  const { error, busy, run } = useAction();
  useEffect(() => {
    if (supported) n.devicePushOn().then(setOn, () => setOn(false));
  }, []);
  /** @param {boolean} want */
  const change = async (want) => {
    setOn(want);
    const ok = await run(() => (want ? n.enablePush() : n.disablePush()));
    setOn(ok ? want : await n.devicePushOn().catch(() => false));
  };
  return html`
    <${Switch} label="Notifications on this device" checked=${!!on} disabled=${!supported || on === null || busy}
      onChange=${change} hint="Messages that arrive while natter is closed here show as notifications." />
    ${!supported ? html`<p class="error" role="alert">${n.CANNOT_PUSH}</p>` : html`<${ErrorLine} error=${error} />`}`;
}

/** The do-not-disturb choices. */
const DND_CHOICES = [
  { value: 'off', label: 'Off' },
  { value: 'hour', label: 'For 1 hour' },
  { value: 'morning', label: 'Until tomorrow 8:00' },
  { value: 'forever', label: 'Until I turn it off' },
];

/** @param {string} value @returns {import('../types.js').Until|null} */
function dndOf(value) {
  if (value === 'hour') return { until: n.inFuture(3600e3) };
  if (value === 'morning') return { until: n.tomorrowAt8() };
  if (value === 'forever') return { until: null };
  return null;
}

/** Previews, mentions in muted conversations, do not disturb. */
function SettingsForm() {
  const s = state.notifications;
  const { error, busy, run } = useAction();
  const dndId = useId('dnd');
  const dnd = s?.dnd && (!s.dnd.until || Date.parse(s.dnd.until) > Date.now()) ? s.dnd : null;
  const dndValue = !dnd ? 'off' : dnd.until === null ? 'forever' : 'current';
  if (!s) return html`<p class="muted">Loading…</p><${ErrorLine} error=${error} />`;
  return html`
    <${Switch} label="Show message previews" checked=${s.previews} disabled=${busy}
      hint="Notifications show the start of the message, not only who wrote."
      onChange=${(/** @type {boolean} */ on) => run(() => n.updateNotificationSettings({ previews: on }))} />
    <${Switch} label="Notify me of mentions and replies in muted conversations" checked=${s.mentions_when_muted} disabled=${busy}
      onChange=${(/** @type {boolean} */ on) => run(() => n.updateNotificationSettings({ mentions_when_muted: on }))} />
    <div class="field dnd-field">
      <label for=${dndId}>Do not disturb</label>
      <select id=${dndId} disabled=${busy} value=${dndValue}
        onChange=${(/** @type {Event} */ e) => {
          const v = /** @type {HTMLSelectElement} */ (e.currentTarget).value;
          if (v !== 'current') run(() => n.updateNotificationSettings({ dnd: dndOf(v) }));
        }}>
        ${dndValue === 'current' && dnd?.until && html`<option value="current">${'Until ' + formatDateTime(dnd.until)}</option>`}
        ${DND_CHOICES.map((c) => html`<option value=${c.value}>${c.label}</option>`)}
      </select>
    </div>
    <p class="muted small" data-testid="dnd-state" role="status">
      ${dnd ? `Do not disturb is on ${untilText(dnd.until, 'until you turn it off')}: nothing is pushed.` : 'Do not disturb is off.'}</p>
    <${ErrorLine} error=${error} />`;
}

/** The muted conversations, each with Unmute. */
function MutedList() {
  const { error, busy, run } = useAction();
  const muted = (state.notifications?.muted ?? []).filter((m) => mutedUntil(m.conversation_id) !== undefined);
  if (!muted.length) return html`<p class="muted small">No conversation is muted.</p>`;
  return html`
    <ul class="members" data-testid="muted-conversations">
      ${muted.map((m) => {
        const c = state.conversations.get(m.conversation_id);
        const title = c ? conversationTitle(c) : 'Conversation';
        return html`
          <li key=${m.conversation_id}>
            <span class="user-names"><span>${title}</span><span class="muted small">Muted ${untilText(m.until, 'until you unmute it')}</span></span>
            <button type="button" disabled=${busy} onClick=${() => run(() => n.unmute(m.conversation_id))}>Unmute<span class="sr-only"> ${title}</span></button>
          </li>`;
      })}
    </ul>
    <${ErrorLine} error=${error} />`;
}

/** @param {{onClose: () => void}} props */
export function NotificationsDialog({ onClose }) {
  useEffect(() => { n.loadNotificationSettings(); }, []);
  const device = useId('device-head');
  const messages = useId('messages-head');
  const muted = useId('muted-head');
  return html`
    <${Dialog} title="Notifications" onClose=${onClose}>
      <div data-testid="notification-settings">
        <section aria-labelledby=${device}>
          <h3 class="small-head" id=${device}>This device</h3>
          <${DeviceSwitch} />
        </section>
        <section aria-labelledby=${messages}>
          <h3 class="small-head" id=${messages}>Messages</h3>
          <${SettingsForm} />
        </section>
        <section aria-labelledby=${muted}>
          <h3 class="small-head" id=${muted}>Muted conversations</h3>
          <${MutedList} />
        </section>
      </div>
    <//>`;
}

/** The mute choices (ms; 0: until unmuted). */
const MUTE_CHOICES = [
  { label: '1 hour', ms: 3600e3 },
  { label: '8 hours', ms: 8 * 3600e3 },
  { label: '1 week', ms: 7 * 24 * 3600e3 },
  { label: 'Until I unmute', ms: 0 },
];

/** The header's control: "Mute notifications" with its choices, or "Unmute". @param {{c: Conversation}} props */
export function MuteControl({ c }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const wrap = useRef(/** @type {HTMLDivElement|null} */ (null));
  const btn = useRef(/** @type {HTMLButtonElement|null} */ (null));
  const menuId = useId('mute-menu');
  const until = mutedUntil(c.id);
  useEffect(() => {
    if (!open) return;
    /** @type {HTMLElement|null|undefined} */ (wrap.current?.querySelector('.menu button'))?.focus();
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
  /** @param {() => Promise<void>} fn */
  const act = async (fn) => {
    setOpen(false);
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
      btn.current?.focus();
    }
  };
  if (!state.notifications) return null;
  if (until !== undefined) {
    const when = untilText(until, 'until you unmute it');
    return html`
      <div class="mute-control">
        <button type="button" ref=${btn} class="icon-btn head-icon-btn" disabled=${busy} title=${`Muted ${when}: unmute`}
          onClick=${() => act(() => n.unmute(c.id))}>${icons.bellOff()}<span class="sr-only">Unmute</span></button>
      </div>`;
  }
  return html`
    <div class="mute-control" ref=${wrap}>
      <button type="button" ref=${btn} class="icon-btn head-icon-btn" disabled=${busy} title="Mute notifications"
        aria-expanded=${open ? 'true' : 'false'} aria-controls=${open ? menuId : undefined}
        onClick=${() => setOpen(!open)}>${icons.bell()}<span class="sr-only">Mute notifications</span></button>
      ${open && html`
        <div class="menu mute-menu" id=${menuId} role="group" aria-label="Mute notifications for">
          ${MUTE_CHOICES.map((x) => html`
            <button type="button" onClick=${() => act(() => n.mute(c.id, x.ms ? n.inFuture(x.ms) : null))}>${x.label}</button>`)}
        </div>`}
    </div>`;
}

/** The list's muted icon (accessible name "Muted"). @param {{id: string}} props */
export function MutedIcon({ id }) {
  const until = mutedUntil(id);
  if (until === undefined) return null;
  return html`<span class="muted-icon" data-testid="muted-icon" role="img" aria-label="Muted"
    title=${'Muted ' + untilText(until, 'until unmuted')}>${icons.bellOff('icon small-icon')}</span>`;
}
