// @ts-check
// The account dialog: profile (display name), password, sessions, blocked users, log out, and
// the danger zone (deleting the account).

import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { state } from '../store.js';
import * as actions from '../actions.js';
import { formatDateTime, inputValue } from '../util.js';
import { Dialog, ErrorLine, DoneLine, Avatar, useAction, useId } from './dialog.js';
import { NotificationsDialog } from './notifications.js';

/** @typedef {import('../types.js').User} User */
/** @typedef {import('../types.js').Session} Session */

/** Change the display name; it shows at once here and, by `user_updated`, everywhere else. */
function ProfileForm() {
  const me = state.me;
  const [name, setName] = useState(me?.display_name ?? '');
  const [done, setDone] = useState(/** @type {string|null} */ (null));
  const { error, busy, run } = useAction();
  const head = useId('profile-head');
  /** @param {Event} e */
  const save = async (e) => {
    e.preventDefault();
    setDone(null);
    if (await run(() => actions.updateProfile(name.trim()))) setDone('Display name saved.');
  };
  return html`
    <section aria-labelledby=${head}>
      <h3 class="small-head" id=${head}>Profile</h3>
      <form class="row-form" onSubmit=${save}>
        <label class="field grow"><span>Display name</span>
          <input name="display_name" autocomplete="name" required maxlength="64" value=${name}
            onInput=${(/** @type {Event} */ e) => { setName(inputValue(e)); setDone(null); }} />
        </label>
        <button type="submit" disabled=${busy || !name.trim() || name.trim() === me?.display_name}>Save name</button>
      </form>
      <${ErrorLine} error=${error} />
      <${DoneLine} text=${done} />
    </section>`;
}

/** Change the password (current and new); the server signs out every other device. */
function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(/** @type {string|null} */ (null));
  const { error, busy, run } = useAction();
  const head = useId('password-head');
  /** @param {Event} e */
  const save = async (e) => {
    e.preventDefault();
    setDone(null);
    if (await run(() => actions.changePassword(current, next))) {
      setCurrent('');
      setNext('');
      setDone('Password changed. Your other devices were signed out.');
    }
  };
  return html`
    <section aria-labelledby=${head}>
      <h3 class="small-head" id=${head}>Password</h3>
      <form onSubmit=${save}>
        <label class="field"><span>Current password</span>
          <input type="password" name="current_password" autocomplete="current-password" required value=${current}
            onInput=${(/** @type {Event} */ e) => setCurrent(inputValue(e))} />
        </label>
        <label class="field"><span>New password</span>
          <input type="password" name="new_password" autocomplete="new-password" required minlength="8" value=${next}
            onInput=${(/** @type {Event} */ e) => setNext(inputValue(e))} />
        </label>
        <p class="muted small">At least 8 characters. Your other devices will be signed out.</p>
        <${ErrorLine} error=${error} />
        <${DoneLine} text=${done} />
        <div class="row end">
          <button type="submit" disabled=${busy}>Change password</button>
        </div>
      </form>
    </section>`;
}

/** The sessions (devices) of the account; another one can be logged out. */
function SessionList() {
  const [sessions, setSessions] = useState(/** @type {Session[]|null} */ (null));
  const { error, busy, run } = useAction();
  useEffect(() => { run(async () => setSessions(await actions.listSessions())); }, []);
  return html`
    <h3 class="small-head">Sessions</h3>
    ${sessions === null ? (!error && html`<p class="muted">Loading…</p>`) : html`
      <ul class="sessions">
        ${sessions.map((s) => html`
          <li key=${s.id} class="session" data-testid="session">
            <span class="grow">
              <strong>${s.device_name || 'Unknown device'}</strong>${s.current && html` <span class="tag">This device</span>`}<br />
              <span class="muted small">Signed in ${formatDateTime(s.created_at)} · active ${formatDateTime(s.last_active_at)}</span>
            </span>
            ${!s.current && html`<button type="button" disabled=${busy}
              onClick=${() => run(async () => { await actions.revokeSession(s.id); setSessions(await actions.listSessions()); })}>Log out this device</button>`}
          </li>`)}
      </ul>`}
    <${ErrorLine} error=${error} />`;
}

/** The users one blocked, each with Unblock (hidden on servers without blocking). */
function BlockedList() {
  const [users, setUsers] = useState(/** @type {User[]|null} */ (null));
  const [unsupported, setUnsupported] = useState(false);
  const { error, busy, run } = useAction();
  useEffect(() => {
    if (state.canBlock) actions.listBlocks().then(setUsers, () => setUnsupported(true));
  }, [state.canBlock]);
  if (unsupported || !state.canBlock) return null;
  // Blocked elsewhere (a profile) while this is open: the list follows the store.
  const shown = users?.filter((u) => state.blocked.has(u.id));
  return html`
    <h3 class="small-head">Blocked users</h3>
    ${!shown ? html`<p class="muted">Loading…</p>` : shown.length === 0 ? html`<p class="muted small">You have blocked nobody.</p>` : html`
      <ul class="members" data-testid="blocked-users">
        ${shown.map((u) => html`
          <li key=${u.id} data-testid="blocked-user">
            <${Avatar} id=${u.id} name=${u.display_name} small />
            <span class="user-names"><span>${u.display_name}</span><span class="muted small">@${u.username}</span></span>
            <button type="button" disabled=${busy} onClick=${() => run(() => actions.unblock(u.id))}>Unblock<span class="sr-only"> ${u.username}</span></button>
          </li>`)}
      </ul>`}
    <${ErrorLine} error=${error} />`;
}

/** Deleting the account asks for the password. @param {{onClose: () => void}} props */
function DeleteAccountDialog({ onClose }) {
  const [password, setPassword] = useState('');
  const { error, busy, run } = useAction();
  /** @param {Event} e */
  const del = (e) => { e.preventDefault(); run(() => actions.deleteAccount(password)); };
  return html`
    <${Dialog} title="Delete account" onClose=${onClose}>
      <form onSubmit=${del}>
        <p>This deletes your account for good: you leave every group, you are signed out everywhere, and
          others see “Deleted account” beside your messages. Your username stays taken.</p>
        <label class="field"><span>Password</span>
          <input type="password" name="password" autocomplete="current-password" required autofocus value=${password}
            onInput=${(/** @type {Event} */ e) => setPassword(inputValue(e))} />
        </label>
        <${ErrorLine} error=${error} />
        <div class="row end">
          <button type="button" onClick=${onClose}>Cancel</button>
          <button type="submit" class="danger" disabled=${busy}>Delete my account</button>
        </div>
      </form>
    <//>`;
}

/** @param {{onClose: () => void}} props */
export function AccountDialog({ onClose }) {
  const [deleting, setDeleting] = useState(false);
  const [notifications, setNotifications] = useState(false);
  const me = state.me;
  const danger = useId('danger-head');
  const notifyHead = useId('notify-head');
  return html`
    <${Dialog} title="Account" onClose=${onClose}>
      ${me && html`<p class="account-who"><${Avatar} id=${me.id} name=${me.display_name} />
        <span><strong data-testid="my-name">${me.display_name}</strong><br /><span class="muted">@${me.username}</span>
        ${me.admin && html` <span class="tag">admin</span>`}</span></p>`}
      <${ProfileForm} />
      <section aria-labelledby=${notifyHead}>
        <h3 class="small-head" id=${notifyHead}>Notifications</h3>
        <div class="row">
          <span class="grow small">Push notifications on this device, previews, do not disturb and muted conversations.</span>
          <button type="button" onClick=${() => setNotifications(true)}>Notifications</button>
        </div>
      </section>
      <${PasswordForm} />
      <${SessionList} />
      <${BlockedList} />
      <div class="row end">
        <button type="button" class="danger" onClick=${() => actions.logout()}>Log out</button>
      </div>
      <section class="danger-zone" aria-labelledby=${danger}>
        <h3 class="small-head" id=${danger}>Danger zone</h3>
        <div class="row">
          <span class="grow small">Delete your account and sign out everywhere.</span>
          <button type="button" class="danger" onClick=${() => setDeleting(true)}>Delete account</button>
        </div>
      </section>
      ${deleting && html`<${DeleteAccountDialog} onClose=${() => setDeleting(false)} />`}
      ${notifications && html`<${NotificationsDialog} onClose=${() => setNotifications(false)} />`}
    <//>`;
}
