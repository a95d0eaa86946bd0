// @ts-check
// The signed-in app: connection banner, conversation list, open conversation, dialogs.

import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import * as icons from './icons.js';
import { state, notify } from '../store.js';
import { Sidebar } from './sidebar.js';
import { ConversationView } from './conversation.js';
import { NewChatDialog, NewGroupDialog } from './dialogs.js';
import { AccountDialog } from './account.js';
import { AdminDialog } from './admin.js';

/** @typedef {'account'|'admin'|'new-chat'|'new-group'|null} ShellDialog */

function ConnectionBanner() {
  const s = state.connection;
  const text = s === 'online' ? '' : s === 'polling' ? 'Reconnecting… (live updates by polling)' : 'Reconnecting…';
  return html`
    <div class=${'connection ' + s} data-testid="connection" data-state=${s} role="status">
      ${s === 'online' ? html`<span class="sr-only">Connected</span>` : html`<span class="spinner" aria-hidden="true"></span>${text}`}
    </div>`;
}

function ErrorBanner() {
  const err = state.error;
  useEffect(() => {
    if (!err) return;
    const t = setTimeout(() => { if (state.error === err) { state.error = null; notify(); } }, 10000);
    return () => clearTimeout(t);
  }, [err]);
  if (!err) return null;
  return html`
    <div class="error-banner" role="alert">
      <span>${err}</span>
      <button type="button" class="icon-btn" aria-label="Dismiss error" onClick=${() => { state.error = null; notify(); }}>${icons.close()}</button>
    </div>`;
}

export function Shell() {
  const [dialog, setDialog] = useState(/** @type {ShellDialog} */ (null));
  let unread = 0;
  state.conversations.forEach((c) => { unread += c.unread_count; });
  // Re-render each minute so that "last seen …" and times stay current.
  useEffect(() => {
    const t = setInterval(notify, 60000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    document.title = unread ? `(${unread}) natter` : 'natter';
    return () => { document.title = 'natter'; };
  }, [unread]);
  const open = state.openId ? state.conversations.get(state.openId) : null;
  const close = () => setDialog(null);
  return html`
    <div class=${'shell' + (open ? ' has-open' : '')}>
      <${ConnectionBanner} />
      <${ErrorBanner} />
      <div class="columns">
        <${Sidebar} onDialog=${setDialog} />
        ${open
          ? html`<${ConversationView} key=${open.id} c=${open} />`
          : html`<main class="empty-main"><div class="empty-state">
              <h2>${state.conversationsLoaded && state.conversations.size === 0 ? 'No conversations yet' : 'Pick a conversation'}</h2>
              <p class="muted">Choose a chat on the left, or start one with “New chat”.</p>
            </div></main>`}
      </div>
      ${dialog === 'account' && html`<${AccountDialog} onClose=${close} />`}
      ${dialog === 'admin' && state.me?.admin && html`<${AdminDialog} onClose=${close} />`}
      ${dialog === 'new-chat' && html`<${NewChatDialog} onClose=${close} />`}
      ${dialog === 'new-group' && html`<${NewGroupDialog} onClose=${close} />`}
    </div>`;
}
