// @ts-check
// The admin page (a wide dialog, for server admins only): stats, accounts (search, load more,
// disable/enable, admin flag, set password), creating an account, and invites.

import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { state } from '../store.js';
import * as actions from '../actions.js';
import { formatDateTime, formatSize, inputValue } from '../util.js';
import { Dialog, ErrorLine, DoneLine, Avatar, useAction, useId } from './dialog.js';

/** @typedef {import('../types.js').AdminUser} AdminUser */
/** @typedef {import('../types.js').Invite} Invite */
/** @typedef {import('../types.js').Stats} Stats */

const PAGE = 20;

/** @param {{stats: Stats|null, error: string|null, onRefresh: () => void}} props */
function StatsPanel({ stats, error, onRefresh }) {
  const head = useId('stats-head');
  /** @type {[keyof Stats, string, (n: number) => string][]} */
  const rows = [
    ['users', 'Users', String], ['conversations', 'Conversations', String], ['messages', 'Messages', String],
    ['media_bytes', 'Media', formatSize], ['connections', 'Connections', String],
  ];
  return html`
    <section aria-labelledby=${head}>
      <div class="section-head">
        <h3 class="small-head" id=${head}>Server</h3>
        <button type="button" onClick=${onRefresh}>Refresh stats</button>
      </div>
      ${stats ? html`
        <dl class="stats" data-testid="stats">
          ${rows.map(([key, label, fmt]) => html`
            <div key=${key} class="stat" data-testid="stat" data-stat=${key}><dt>${label}</dt><dd>${fmt(stats[key])}</dd></div>`)}
        </dl>` : !error && html`<p class="muted">Loading…</p>`}
      <${ErrorLine} error=${error} />
    </section>`;
}

/** Set another password for an account (its sessions end). @param {{u: AdminUser, onClose: () => void}} props */
function SetPasswordDialog({ u, onClose }) {
  const [password, setPassword] = useState('');
  const { error, busy, run } = useAction();
  /** @param {Event} e */
  const save = async (e) => {
    e.preventDefault();
    if (await run(() => actions.adminUpdateUser(u.id, { password }))) onClose();
  };
  return html`
    <${Dialog} title=${`Set password for ${u.username}`} onClose=${onClose}>
      <form onSubmit=${save}>
        <p class="muted small">Every session of @${u.username} ends; they log in with the new password.</p>
        <label class="field"><span>New password</span>
          <input type="password" autocomplete="new-password" required minlength="8" autofocus value=${password}
            onInput=${(/** @type {Event} */ e) => setPassword(inputValue(e))} />
        </label>
        <${ErrorLine} error=${error} />
        <div class="row end">
          <button type="button" onClick=${onClose}>Cancel</button>
          <button type="submit" class="primary" disabled=${busy}>Set password</button>
        </div>
      </form>
    <//>`;
}

/** One account with its badges and actions; its errors (409 last admin) show in the row. */
function UserRow(/** @type {{u: AdminUser, onChange: (u: AdminUser) => void}} */ { u, onChange }) {
  const { error, busy, run } = useAction();
  const [setting, setSetting] = useState(false);
  const self = u.id === state.me?.id;
  /** @param {{disabled?: boolean, admin?: boolean}} patch */
  const update = (patch) => run(async () => {
    const r = await actions.adminUpdateUser(u.id, patch);
    // A server that answers a plain User: what was asked for is what holds now.
    onChange({ ...u, ...r, disabled: r.disabled ?? patch.disabled ?? u.disabled });
  });
  const who = html`<span class="sr-only"> ${u.username}</span>`;
  return html`
    <li class="admin-user" data-testid="admin-user" data-username=${u.username} data-user-id=${u.id}>
      <${Avatar} id=${u.id} name=${u.display_name} small />
      <span class="user-names grow">
        <span>${u.display_name}${self ? ' (you)' : ''}
          ${u.admin && html` <span class="tag" data-testid="badge">admin</span>`}
          ${u.disabled && html` <span class="tag warn" data-testid="badge">disabled</span>`}
          ${u.deleted && html` <span class="tag warn" data-testid="badge">deleted</span>`}
        </span>
        <span class="muted small">@${u.username} · joined ${formatDateTime(u.created_at)}</span>
      </span>
      ${!u.deleted && html`
        <span class="row-btns">
          ${!self && (u.disabled
            ? html`<button type="button" disabled=${busy} onClick=${() => update({ disabled: false })}>Enable${who}</button>`
            : html`<button type="button" class="danger" disabled=${busy} onClick=${() => update({ disabled: true })}>Disable${who}</button>`)}
          ${u.admin
            ? html`<button type="button" disabled=${busy} onClick=${() => update({ admin: false })}>Remove admin${who}</button>`
            : html`<button type="button" disabled=${busy} onClick=${() => update({ admin: true })}>Make admin${who}</button>`}
          <button type="button" disabled=${busy} onClick=${() => setSetting(true)}>Set password${who}</button>
        </span>`}
      ${error && html`<p class="error row-error" role="alert">${error}</p>`}
      ${setting && html`<${SetPasswordDialog} u=${u} onClose=${() => setSetting(false)} />`}
    </li>`;
}

/** The accounts, newest first: a search box (`query`) and "Load more" (`before`). */
function UserList(/** @type {{fresh: AdminUser[]}} */ { fresh }) {
  const [query, setQuery] = useState('');
  const [users, setUsers] = useState(/** @type {AdminUser[]|null} */ (null));
  const [more, setMore] = useState(false);
  const { error, busy, run } = useAction();
  const head = useId('users-head');
  const searchId = useId('user-query');
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => run(async () => {
      const page = await actions.adminUsers(query, null, PAGE);
      if (!live) return;
      setUsers(page);
      setMore(page.length === PAGE);
    }), users === null ? 0 : 250);
    return () => { live = false; clearTimeout(t); };
  }, [query]);
  const loadMore = () => run(async () => {
    const last = users?.[users.length - 1];
    const page = await actions.adminUsers(query, last?.created_at ?? null, PAGE);
    setUsers([...(users ?? []), ...page.filter((u) => !users?.some((x) => x.id === u.id))]);
    setMore(page.length === PAGE);
  });
  // Accounts changed here since they were loaded, by id.
  const [changed, setChanged] = useState(/** @type {Map<string, AdminUser>} */ (new Map()));
  /** @param {AdminUser} u */
  const replace = (u) => setChanged(new Map(changed).set(u.id, u));
  // Accounts created in this dialog go on top (when they match the search).
  const q = query.trim().toLowerCase();
  const shown = [...fresh.filter((f) => !users?.some((u) => u.id === f.id) && f.username.startsWith(q)), ...(users ?? [])]
    .map((u) => ({ ...u, ...changed.get(u.id) }));
  return html`
    <section aria-labelledby=${head}>
      <h3 class="small-head" id=${head}>Accounts</h3>
      <label class="field" for=${searchId}><span>Search accounts</span></label>
      <input id=${searchId} type="search" autocomplete="off" autocapitalize="none" spellcheck=${false} placeholder="username"
        value=${query} onInput=${(/** @type {Event} */ e) => setQuery(inputValue(e))} />
      ${users === null ? (!error && html`<p class="muted">Loading…</p>`) : html`
        <ul class="members admin-users" aria-busy=${busy ? 'true' : 'false'}>
          ${shown.map((u) => html`<${UserRow} key=${u.id} u=${u} onChange=${replace} />`)}
        </ul>
        ${shown.length === 0 && html`<p class="muted small">No accounts found.</p>`}`}
      <${ErrorLine} error=${error} />
      ${more && html`<div class="row"><button type="button" disabled=${busy} onClick=${loadMore}>Load more</button></div>`}
    </section>`;
}

/** Create an account (whatever the registration mode). @param {{onCreated: (u: AdminUser) => void}} props */
function CreateUserForm({ onCreated }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [admin, setAdmin] = useState(false);
  const [done, setDone] = useState(/** @type {string|null} */ (null));
  const { error, busy, run } = useAction();
  const head = useId('create-head');
  /** @param {Event} e */
  const create = async (e) => {
    e.preventDefault();
    setDone(null);
    /** @type {{username: string, password: string, display_name?: string, admin?: boolean}} */
    const body = { username: username.trim(), password, admin };
    if (displayName.trim()) body.display_name = displayName.trim();
    await run(async () => {
      const u = await actions.adminCreateUser(body);
      onCreated(u);
      setDone(`Account @${u.username} created.`);
      setUsername('');
      setPassword('');
      setDisplayName('');
      setAdmin(false);
    });
  };
  return html`
    <section aria-labelledby=${head}>
      <h3 class="small-head" id=${head}>Create an account</h3>
      <form onSubmit=${create} class="grid-form">
        <label class="field"><span>Username</span>
          <input autocomplete="off" autocapitalize="none" spellcheck=${false} required value=${username}
            onInput=${(/** @type {Event} */ e) => setUsername(inputValue(e))} />
        </label>
        <label class="field"><span>Password</span>
          <input type="password" autocomplete="new-password" required minlength="8" value=${password}
            onInput=${(/** @type {Event} */ e) => setPassword(inputValue(e))} />
        </label>
        <label class="field"><span>Display name (optional)</span>
          <input autocomplete="off" maxlength="64" value=${displayName}
            onInput=${(/** @type {Event} */ e) => setDisplayName(inputValue(e))} />
        </label>
        <label class="check"><input type="checkbox" checked=${admin}
          onChange=${(/** @type {Event} */ e) => setAdmin(/** @type {HTMLInputElement} */ (e.currentTarget).checked)} /> Admin</label>
        <${ErrorLine} error=${error} />
        <${DoneLine} text=${done} />
        <div class="row end">
          <button type="submit" class="primary" disabled=${busy}>Create account</button>
        </div>
      </form>
    </section>`;
}

const EXPIRIES = /** @type {const} */ ([[3600, '1 hour'], [86400, '1 day'], [604800, '7 days'], [2592000, '30 days']]);

/** One invite: its link, Copy link, Revoke. @param {{inv: Invite, onRevoke: () => Promise<void>}} props */
function InviteRow({ inv, onRevoke }) {
  const { error, busy, run } = useAction();
  const [copied, setCopied] = useState(/** @type {string|null} */ (null));
  const link = actions.inviteLink(inv.code);
  const linkId = useId('invite-link');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied('Link copied.');
    } catch {
      // No clipboard (permissions, plain http): select the link for a manual copy.
      const el = /** @type {HTMLInputElement|null} */ (document.getElementById(linkId));
      el?.focus();
      el?.select();
      setCopied('Press Ctrl+C (⌘C) to copy the selected link.');
    }
  };
  return html`
    <li class="invite" data-testid="invite" data-code=${inv.code}>
      <span class="grow invite-body">
        <label class="sr-only" for=${linkId}>Invite link</label>
        <input id=${linkId} class="invite-link" readonly value=${link} data-testid="invite-link"
          onFocus=${(/** @type {Event} */ e) => /** @type {HTMLInputElement} */ (e.currentTarget).select()} />
        <span class="muted small">${inv.uses_left} ${inv.uses_left === 1 ? 'use' : 'uses'} left · expires ${formatDateTime(inv.expires_at)}</span>
      </span>
      <span class="row-btns">
        <button type="button" onClick=${copy}>Copy link</button>
        <button type="button" class="danger" disabled=${busy} onClick=${() => run(onRevoke)}>Revoke</button>
      </span>
      <${DoneLine} text=${copied} />
      <${ErrorLine} error=${error} />
    </li>`;
}

/** Invites: create (uses, expiry), list, copy link, revoke. */
function Invites() {
  const [invites, setInvites] = useState(/** @type {Invite[]|null} */ (null));
  const [uses, setUses] = useState('1');
  const [expiry, setExpiry] = useState('604800');
  const { error, busy, run } = useAction();
  const head = useId('invites-head');
  const expiryId = useId('invite-expiry');
  useEffect(() => { run(async () => setInvites(await actions.listInvites())); }, []);
  /** @param {Event} e */
  const create = (e) => {
    e.preventDefault();
    run(async () => {
      const inv = await actions.createInvite(Number(uses), Number(expiry));
      setInvites([inv, ...(invites ?? [])]);
    });
  };
  /** @param {Invite} inv */
  const revoke = async (inv) => {
    await actions.revokeInvite(inv.code);
    setInvites((invites ?? []).filter((x) => x.code !== inv.code));
  };
  return html`
    <section aria-labelledby=${head}>
      <h3 class="small-head" id=${head}>Invites</h3>
      <form class="row-form" onSubmit=${create}>
        <label class="field"><span>Uses</span>
          <input type="number" min="1" max="1000" required value=${uses} onInput=${(/** @type {Event} */ e) => setUses(inputValue(e))} />
        </label>
        <span class="field"><label for=${expiryId}>Expires in</label>
          <select id=${expiryId} value=${expiry} onChange=${(/** @type {Event} */ e) => setExpiry(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
            ${EXPIRIES.map(([s, label]) => html`<option key=${s} value=${String(s)}>${label}</option>`)}
          </select>
        </span>
        <button type="submit" disabled=${busy}>Create invite</button>
      </form>
      <${ErrorLine} error=${error} />
      ${invites === null ? (!error && html`<p class="muted">Loading…</p>`) : invites.length === 0
        ? html`<p class="muted small">No open invites.</p>`
        : html`<ul class="members invites">
            ${invites.map((inv) => html`<${InviteRow} key=${inv.code} inv=${inv} onRevoke=${() => revoke(inv)} />`)}
          </ul>`}
    </section>`;
}

/** @param {{onClose: () => void}} props */
export function AdminDialog({ onClose }) {
  const [stats, setStats] = useState(/** @type {Stats|null} */ (null));
  const [fresh, setFresh] = useState(/** @type {AdminUser[]} */ ([]));
  const stat = useAction();
  const refresh = () => stat.run(async () => setStats(await actions.adminStats()));
  useEffect(() => { refresh(); }, []);
  /** @param {AdminUser} u */
  const onCreated = (u) => { setFresh([u, ...fresh]); refresh(); };
  return html`
    <${Dialog} title="Admin" onClose=${onClose} className="wide-dialog">
      <${StatsPanel} stats=${stats} error=${stat.error} onRefresh=${refresh} />
      <${UserList} fresh=${fresh} />
      <${CreateUserForm} onCreated=${onCreated} />
      <${Invites} />
    <//>`;
}
