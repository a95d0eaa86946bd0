// @ts-check
// The conversation list with its actions.

import { html } from '../../vendor/preact-htm.js';
import { state, sortedConversations, conversationTitle, otherMember, userName } from '../store.js';
import { openConversation } from '../actions.js';
import { shortWhen } from '../util.js';
import { Avatar } from './dialog.js';
import { MessageSearch } from './search.js';
import { MutedIcon } from './notifications.js';

/** @typedef {import('../types.js').Conversation} Conversation */
/** @typedef {import('../types.js').Message} Message */

/** A one-line preview of a message. @param {Message} m */
export function messagePreview(m) {
  if (m.deleted) return 'Message deleted';
  if (m.kind === 'image') return m.text ? `Photo: ${m.text}` : 'Photo';
  if (m.kind === 'file') return `File: ${m.text || m.media?.filename || 'file'}`;
  return (m.text ?? '').replace(/\s+/g, ' ');
}

/** @param {{c: Conversation}} props */
function ConversationItem({ c }) {
  const title = conversationTitle(c);
  const other = otherMember(c);
  const user = other ? state.users.get(other) : null;
  const m = c.last_message;
  let preview = 'No messages yet';
  if (m) {
    const who = m.sender_id === state.me?.id ? 'You: ' : c.type === 'group' ? userName(m.sender_id) + ': ' : '';
    preview = who + messagePreview(m);
  }
  const active = state.openId === c.id;
  return html`
    <li class=${'conv-item' + (active ? ' active' : '')} data-testid="conversation-item" data-conversation-id=${c.id}>
      <button type="button" class="conv-btn" aria-current=${active ? 'true' : undefined} onClick=${() => openConversation(c.id)}>
        <${Avatar} id=${other ?? c.id} name=${title} />
        <span class="conv-body">
          <span class="conv-top">
            <span class="conv-title">${title}</span>
            <${MutedIcon} id=${c.id} />
            ${c.type === 'direct' && html`
              <span class="presence-dot" data-testid="presence-dot" data-online=${user?.online ? 'true' : 'false'}>
                <span class="sr-only">${user?.online ? ', online' : ', offline'}</span>
              </span>`}
            <span class="conv-time">${m ? shortWhen(c.last_message_at) : ''}</span>
          </span>
          <span class="conv-bottom">
            <span class="preview" data-testid="preview">${preview}</span>
            ${(c.mention_count ?? 0) > 0 && html`<span class="sr-only">, </span><span class="badge mention-badge" data-testid="mention-badge" role="img"
              aria-label=${`${c.mention_count} unread ${c.mention_count === 1 ? 'mention' : 'mentions'}`}
              title=${`${c.mention_count} unread ${c.mention_count === 1 ? 'mention' : 'mentions'}`}>@</span>`}
            ${c.unread_count > 0 && html`<span class="sr-only">, unread:</span><span class="badge" data-testid="unread-badge">${c.unread_count}</span>`}
          </span>
        </span>
      </button>
    </li>`;
}

/** @param {{onDialog: (d: 'account'|'admin'|'new-chat'|'new-group') => void}} props */
export function Sidebar({ onDialog }) {
  const list = sortedConversations();
  return html`
    <div class="sidebar">
      <header>
        <div class="side-head">
          <h1 class="brand">natter</h1>
          <span class="head-btns">
            ${state.me?.admin && html`<button type="button" class="account-btn" onClick=${() => onDialog('admin')}>Admin</button>`}
            <button type="button" class="account-btn" onClick=${() => onDialog('account')}>Account</button>
          </span>
        </div>
        <div class="side-actions">
          <button type="button" class="primary" onClick=${() => onDialog('new-chat')}>New chat</button>
          <button type="button" onClick=${() => onDialog('new-group')}>New group</button>
        </div>
      </header>
      <${MessageSearch} />
      <nav aria-label="Conversations" class="conv-nav">
        ${list.length
          ? html`<ul class="conv-list">${list.map((c) => html`<${ConversationItem} key=${c.id} c=${c} />`)}</ul>`
          : html`<p class="muted pad">${state.conversationsLoaded ? 'No conversations yet.' : 'Loading…'}</p>`}
      </nav>
    </div>`;
}
