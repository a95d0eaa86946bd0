// @ts-check
// Dialogs: new chat, new group, group settings, a person's profile, message info, image.

import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import * as icons from './icons.js';
import { state, userName, myRole } from '../store.js';
import * as actions from '../actions.js';
import { formatDateTime, inputValue, lastSeen } from '../util.js';
import { useBlobUrl, fullPath } from '../media.js';
import { Dialog, ConfirmDialog, ErrorLine, Avatar, useId, useAction } from './dialog.js';

/** @typedef {import('../types.js').User} User */
/** @typedef {import('../types.js').Conversation} Conversation */
/** @typedef {import('../types.js').Message} Message */
/** @typedef {import('../types.js').Receipt} Receipt */

/**
 * A user search box with a result list; each result gets one action button.
 * @param {{label: (u: User) => string, onPick: (u: User) => void, exclude?: string[], autoFocus?: boolean}} props
 */
function UserSearch({ label, onPick, exclude = [], autoFocus = false }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState(/** @type {{query: string, users: User[]}} */ ({ query: '', users: [] }));
  const [error, setError] = useState(/** @type {string|null} */ (null));
  const id = useId('search');
  /** @param {User} u */
  const pick = (u) => {
    setQuery('');
    onPick(u);
    /** @type {HTMLInputElement|null} */ (document.getElementById(id))?.focus();
  };
  useEffect(() => {
    if (!query.trim()) { setResults({ query: '', users: [] }); return; }
    let live = true;
    const t = setTimeout(() => {
      actions.searchUsers(query).then(
        (us) => { if (live) { setResults({ query, users: us }); setError(null); } },
        (e) => { if (live) setError(e.message); });
    }, 200);
    return () => { live = false; clearTimeout(t); };
  }, [query]);
  const shown = results.users.filter((u) => u.id !== state.me?.id && !exclude.includes(u.id));
  return html`
    <div class="user-search">
      <label class="field" for=${id}><span>Search users</span></label>
      <input id=${id} type="text" enterkeyhint="search" autofocus=${autoFocus} autocomplete="off" autocapitalize="none" spellcheck=${false}
        placeholder="username" value=${query} onInput=${(/** @type {Event} */ e) => setQuery(inputValue(e))} />
      <${ErrorLine} error=${error} />
      ${shown.length > 0 && html`
        <ul class="user-results">
          ${shown.map((u) => html`
            <li key=${u.id}>
              <${Avatar} id=${u.id} name=${u.display_name} small />
              <span class="user-names"><span>${u.display_name}</span><span class="muted small">@${u.username}</span></span>
              <button type="button" onClick=${() => pick(u)}>${label(u)}</button>
            </li>`)}
        </ul>`}
      ${query.trim() && results.query === query && !shown.length && !error && html`<p class="muted small">No users found.</p>`}
    </div>`;
}

/** After a dialog that opened a conversation: close it and go to the composer. @param {() => void} onClose */
function closeToComposer(onClose) {
  onClose();
  requestAnimationFrame(() => /** @type {HTMLElement|null} */ (document.querySelector('main textarea'))?.focus());
}

/** @param {{onClose: () => void}} props */
export function NewChatDialog({ onClose }) {
  const { error, run } = useAction();
  /** @param {User} u */
  const pick = async (u) => { if (await run(() => actions.startDirect(u.id))) closeToComposer(onClose); };
  return html`
    <${Dialog} title="New chat" onClose=${onClose}>
      <${UserSearch} label=${(/** @type {User} */ u) => `Chat with ${u.username}`} onPick=${pick} autoFocus />
      <${ErrorLine} error=${error} />
    <//>`;
}

/** @param {{onClose: () => void}} props */
export function NewGroupDialog({ onClose }) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState(/** @type {User[]} */ ([]));
  const { error, busy, run } = useAction();
  /** @param {Event} e */
  const create = async (e) => {
    e.preventDefault();
    if (await run(() => actions.createGroup(name.trim(), members.map((m) => m.id)))) closeToComposer(onClose);
  };
  return html`
    <${Dialog} title="New group" onClose=${onClose}>
      <form onSubmit=${create}>
        <label class="field"><span>Group name</span>
          <input required autofocus maxlength="128" value=${name} onInput=${(/** @type {Event} */ e) => setName(inputValue(e))} />
        </label>
        <${UserSearch} label=${(/** @type {User} */ u) => `Add ${u.username}`} exclude=${members.map((m) => m.id)}
          onPick=${(/** @type {User} */ u) => setMembers([...members, u])} />
        ${members.length > 0 && html`
          <h3 class="small-head">Members</h3>
          <ul class="chips">
            ${members.map((u) => html`
              <li key=${u.id} class="chip">${u.display_name}
                <button type="button" class="icon-btn" aria-label=${`Remove ${u.username}`}
                  onClick=${() => setMembers(members.filter((m) => m.id !== u.id))}>${icons.close()}</button>
              </li>`)}
          </ul>`}
        <${ErrorLine} error=${error} />
        <div class="row end">
          <button type="submit" class="primary" disabled=${busy}>Create group</button>
        </div>
      </form>
    <//>`;
}

/** @param {{c: Conversation, onClose: () => void}} props */
export function GroupSettingsDialog({ c, onClose }) {
  const role = myRole(c);
  const manager = role === 'owner' || role === 'admin';
  const [name, setName] = useState(c.name ?? '');
  const { error, busy, run } = useAction();
  const me = state.me?.id;
  /** @param {Event} e */
  const rename = (e) => { e.preventDefault(); run(() => actions.renameGroup(c.id, name.trim())); };
  const leave = async () => { if (await run(() => actions.leaveGroup(c.id))) onClose(); };
  return html`
    <${Dialog} title="Group settings" onClose=${onClose}>
      ${manager && html`
        <form class="row-form" onSubmit=${rename}>
          <label class="field grow"><span>Group name</span>
            <input required maxlength="128" value=${name} onInput=${(/** @type {Event} */ e) => setName(inputValue(e))} />
          </label>
          <button type="submit" disabled=${busy}>Rename</button>
        </form>
        <${UserSearch} label=${(/** @type {User} */ u) => `Add ${u.username}`} exclude=${c.members.map((m) => m.user_id)}
          onPick=${(/** @type {User} */ u) => run(() => actions.addMember(c.id, u.id))} />`}
      <h3 class="small-head">${c.members.length} members</h3>
      <ul class="members">
        ${c.members.map((m) => {
          const u = state.users.get(m.user_id);
          const uname = u?.username ?? m.user_id;
          const canRemove = m.user_id !== me && m.role !== 'owner' && manager;
          const canRole = role === 'owner' && m.user_id !== me && m.role !== 'owner';
          return html`
            <li key=${m.user_id} class="member" data-testid="member" data-user-id=${m.user_id}>
              <${Avatar} id=${m.user_id} name=${userName(m.user_id)} small />
              <span class="user-names grow">
                <span>${userName(m.user_id)}${m.user_id === me ? ' (you)' : ''}</span>
                <span class="muted small">@${uname} · ${m.role}</span>
              </span>
              ${canRole && (m.role === 'admin'
                ? html`<button type="button" disabled=${busy} onClick=${() => run(() => actions.setRole(c.id, m.user_id, 'member'))}>Make member</button>`
                : html`<button type="button" disabled=${busy} onClick=${() => run(() => actions.setRole(c.id, m.user_id, 'admin'))}>Make admin</button>`)}
              ${canRemove && html`<button type="button" class="danger" disabled=${busy} onClick=${() => run(() => actions.removeMember(c.id, m.user_id))}>Remove ${uname}</button>`}
            </li>`;
        })}
      </ul>
      <${ErrorLine} error=${error} />
      <div class="row end">
        <button type="button" class="danger" disabled=${busy} onClick=${leave}>Leave group</button>
      </div>
    <//>`;
}

/**
 * A person's profile (from a direct conversation's header): names, presence, and Block /
 * Unblock (blocking asks first).
 * @param {{userId: string, onClose: () => void}} props
 */
export function UserProfileDialog({ userId, onClose }) {
  const [confirming, setConfirming] = useState(false);
  const { error, busy, run } = useAction();
  const u = state.users.get(userId);
  const name = u?.display_name ?? userName(userId);
  const blocked = state.blocked.has(userId);
  const self = userId === state.me?.id;
  return html`
    <${Dialog} title=${name} onClose=${onClose}>
      <p class="account-who"><${Avatar} id=${userId} name=${name} />
        <span><strong>${name}</strong>${u && html`<br /><span class="muted">@${u.username}</span>`}
          ${u?.admin && html` <span class="tag">admin</span>`}${blocked && html` <span class="tag" data-testid="blocked-tag">blocked</span>`}<br />
          <span class="muted small">${u?.deleted ? 'This account was deleted.' : u?.online ? 'online' : lastSeen(u?.last_seen_at ?? null)}</span>
        </span></p>
      ${!self && !u?.deleted && (state.canBlock || blocked) && html`
        <p class="muted small">${blocked
          ? 'You blocked this person: they cannot message you or see when you are online.'
          : 'Blocking stops their messages to you and hides your presence and typing from them.'}</p>
        <${ErrorLine} error=${error} />
        <div class="row end">
          ${blocked
            ? html`<button type="button" disabled=${busy} onClick=${() => run(() => actions.unblock(userId))}>Unblock</button>`
            : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Block</button>`}
        </div>`}
      ${confirming && html`
        <${ConfirmDialog} title=${`Block ${name}?`} confirmLabel="Block" danger
          onConfirm=${() => actions.block(userId)} onClose=${() => setConfirming(false)}>
          <p>${name} will not be able to message you in your direct chat, see when you are online, or find you in search.
            Groups you share are not affected. You can unblock at any time.</p>
        <//>`}
    <//>`;
}

/** @param {{m: Message, c: Conversation, onClose: () => void}} props */
export function MessageInfoDialog({ m, c, onClose }) {
  const [receipts, setReceipts] = useState(/** @type {Receipt[]|null} */ (null));
  const { error, run } = useAction();
  useEffect(() => { run(async () => setReceipts((await actions.fetchReceipts(m.id)).recipients)); }, [m.id]);
  /** @param {string|null} t */
  const when = (t) => (t ? formatDateTime(t) : '—');
  return html`
    <${Dialog} title="Message info" onClose=${onClose}>
      <p class="muted small">Sent ${formatDateTime(m.created_at)}${m.edited_at ? ` · edited ${formatDateTime(m.edited_at)}` : ''}</p>
      ${receipts === null ? (!error && html`<p class="muted">Loading…</p>`) : receipts.length === 0
        ? html`<p class="muted">No recipients.</p>`
        : html`
          <table class="receipts">
            <caption class="sr-only">Delivery and read times per recipient</caption>
            <thead><tr><th scope="col">Recipient</th><th scope="col">Delivered</th><th scope="col">Read</th></tr></thead>
            <tbody>
              ${receipts.map((r) => html`
                <tr key=${r.user_id} data-testid="receipt">
                  <th scope="row">${userName(r.user_id)}</th>
                  <td>${when(r.delivered_at)}</td>
                  <td>${when(r.read_at)}</td>
                </tr>`)}
            </tbody>
          </table>`}
      ${c.members.length > 32 && html`<p class="muted small">Large group: times are per recipient on request.</p>`}
      <${ErrorLine} error=${error} />
    <//>`;
}

/** @param {{media: import('../types.js').Media, onClose: () => void}} props */
export function ImageDialog({ media, onClose }) {
  const { url, failed } = useBlobUrl(fullPath(media), false);
  const name = media.filename || 'Image';
  return html`
    <${Dialog} title=${name} onClose=${onClose} className="image-dialog">
      ${url ? html`<img class="full-image" src=${url} alt=${name} />`
        : failed ? html`<p class="error" role="alert">The image could not be loaded.</p>` : html`<p class="muted">Loading…</p>`}
    <//>`;
}
