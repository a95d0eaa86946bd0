// @ts-check
// Shared JSDoc types of the natter API objects and events (no runtime code).

/**
 * @typedef {Object} User
 * @property {string} id
 * @property {string} username
 * @property {string} display_name
 * @property {boolean} online
 * @property {string|null} last_seen_at
 * @property {string} created_at
 * @property {boolean} [admin]    a server admin (servers with accounts administration)
 * @property {boolean} [deleted]  the account was deleted (display name "Deleted account")
 */

/**
 * A user as an admin sees it: also whether the account is disabled.
 * @typedef {User & {disabled?: boolean}} AdminUser
 */

/**
 * @typedef {Object} Invite
 * @property {string} code
 * @property {number} uses_left
 * @property {string} expires_at
 */

/**
 * @typedef {Object} Stats
 * @property {number} users
 * @property {number} conversations
 * @property {number} messages
 * @property {number} media_bytes
 * @property {number} connections
 */

/**
 * @typedef {Object} Member
 * @property {string} user_id
 * @property {'owner'|'admin'|'member'} role
 * @property {string} joined_at
 */

/**
 * @typedef {Object} Media
 * @property {string} id
 * @property {string} content_type
 * @property {number} size
 * @property {string|null} filename
 * @property {number|null} width
 * @property {number|null} height
 * @property {boolean} has_thumbnail
 * @property {string} sha256
 * @property {string} created_at
 */

/**
 * @typedef {Object} Message
 * @property {string} id
 * @property {string} conversation_id
 * @property {number} seq
 * @property {string} sender_id
 * @property {string|null} client_id
 * @property {'text'|'image'|'file'} kind
 * @property {string|null} text
 * @property {Media|null} media
 * @property {string|null} reply_to
 * @property {string} created_at
 * @property {string|null} edited_at
 * @property {boolean} deleted
 * @property {'sent'|'delivered'|'read'} status
 * @property {Reaction[]} [reactions]  by each emoji's first reaction (servers with reactions)
 * @property {string[]} [mentions]     the ids of the users it mentions (servers with mentions)
 */

/**
 * One emoji's reactions on a message, as the caller sees them.
 * @typedef {Object} Reaction
 * @property {string} emoji
 * @property {number} count
 * @property {boolean} me  the caller reacted with it
 */

/**
 * Who reacted (GET /messages/{id}/reactions).
 * @typedef {{user_id: string, emoji: string, created_at: string}} ReactionEntry
 */

/**
 * A search result: the message and its text with the matches in `<mark>…</mark>` (HTML-escaped).
 * @typedef {Message & {snippet: string}} SearchHit
 */

/**
 * @typedef {Object} Conversation
 * @property {string} id
 * @property {'direct'|'group'} type
 * @property {string|null} name
 * @property {Member[]} members
 * @property {string} created_at
 * @property {string} last_message_at
 * @property {number} last_seq
 * @property {Message|null} last_message
 * @property {number} unread_count
 * @property {number} [mention_count]  the caller's unread messages that mention it
 * @property {number} read_seq
 * @property {number} all_delivered_seq
 * @property {number} all_read_seq
 */

/**
 * @typedef {Object} Session
 * @property {string} id
 * @property {string} device_name
 * @property {string} created_at
 * @property {string} last_active_at
 * @property {boolean} current
 */

/**
 * @typedef {Object} Receipt
 * @property {string} user_id
 * @property {'sent'|'delivered'|'read'} status
 * @property {string|null} delivered_at
 * @property {string|null} read_at
 */

/** @typedef {{conversation_id: string, message_id: string, seq: number, for_me: boolean}} MessageDeleted */
/** @typedef {{conversation_id: string, user_id: string, status: 'delivered'|'read', up_to_seq: number, at: string}} MessageStatus */
/** @typedef {{conversation_id: string, all_delivered_seq: number, all_read_seq: number, at: string}} ConversationStatus */
/** @typedef {{conversation_id: string, user_id: string}} Typing */
/** @typedef {{user_id: string, online: boolean, last_seen_at: string|null}} Presence */
/** @typedef {{conversation_id: string, message_id: string, seq: number, emoji: string, count: number, user_id: string, added: boolean}} ReactionChanged */

/**
 * A server event, durable (with cursor) or ephemeral.
 * @typedef {{type: 'new_message'|'message_updated', cursor?: string, data: Message}
 *   | {type: 'message_deleted', cursor?: string, data: MessageDeleted}
 *   | {type: 'message_status', cursor?: string, data: MessageStatus}
 *   | {type: 'reaction_changed', cursor?: string, data: ReactionChanged}
 *   | {type: 'conversation_status', cursor?: string, data: ConversationStatus}
 *   | {type: 'conversation_updated', cursor?: string, data: Conversation}
 *   | {type: 'conversation_removed', cursor?: string, data: {conversation_id: string}}
 *   | {type: 'typing_start'|'typing_stop', cursor?: string, data: Typing}
 *   | {type: 'presence_update', cursor?: string, data: Presence}
 *   | {type: 'user_updated', cursor?: string, data: User}} ServerEvent
 */

/**
 * The signed-in session kept in localStorage under `natter.session`.
 * @typedef {{token: string, user: User, session_id?: string}} StoredSession
 */

/**
 * A send waiting in the outbox.
 * @typedef {Object} OutboxItem
 * @property {string} client_id
 * @property {string} conversation_id
 * @property {'text'|'image'|'file'} kind
 * @property {string|null} text
 * @property {string|null} media_id
 * @property {Media|null} media
 * @property {string|null} reply_to
 * @property {string} created_at
 * @property {number} attempts
 * @property {string|null} error  a permanent failure (shown with Retry / Discard)
 */

/**
 * A time limit: until a time, or (null) until turned off.
 * @typedef {{until: string|null}} Until
 */

/**
 * A muted conversation (`until` null: until unmuted).
 * @typedef {{conversation_id: string, until: string|null}} Mute
 */

/**
 * `GET /users/me/notifications`.
 * @typedef {Object} NotificationSettings
 * @property {boolean} previews  pushes carry a preview of the message
 * @property {boolean} mentions_when_muted  muted conversations still push mentions
 * @property {Until|null} dnd  do not disturb (null: off)
 * @property {Mute[]} muted  the conversations muted now
 */

/**
 * A device's push subscription as the server keeps it.
 * @typedef {{id: string, endpoint: string, session_id: string, created_at: string}} PushSubscriptionInfo
 */

export {};
