// @ts-check
// Client state and the reducer that applies server events to it.
// State is mutated in place; notify() schedules one re-render of the app.

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Conversation} Conversation */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').ServerEvent} ServerEvent */
/** @typedef {import('./types.js').OutboxItem} OutboxItem */
/** @typedef {import('./types.js').Reaction} Reaction */

/**
 * @typedef {Object} Timeline
 * @property {Message[]} messages  ascending seq
 * @property {boolean} hasMore     older messages exist on the server
 * @property {boolean} loading
 */

/** @typedef {'online'|'reconnecting'|'polling'} ConnState */

export const state = {
  /** @type {boolean} */ signedIn: false,
  /** message for the sign-in screen @type {string|null} */ notice: null,
  /** @type {User|null} */ me: null,
  /** @type {Map<string, User>} */ users: new Map(),
  /** @type {Map<string, Conversation>} */ conversations: new Map(),
  /** @type {boolean} */ conversationsLoaded: false,
  /** @type {Map<string, Timeline>} */ timelines: new Map(),
  /** @type {string|null} */ openId: null,
  /** @type {ConnState} */ connection: 'reconnecting',
  /** @type {string|null} */ error: null,
  /** conversation → user → expiry time (ms) @type {Map<string, Map<string, number>>} */ typing: new Map(),
  /** conversation → user → marks, for "seen by" @type {Map<string, Map<string, {delivered: number, read: number}>>} */ marks: new Map(),
  /** @type {OutboxItem[]} */ outbox: [],
  /** messages fetched for reply quotes @type {Map<string, Message|null>} */ quoted: new Map(),
  /** the blocked users were loaded, so blocking can be offered @type {boolean} */ canBlock: false,
  /** the users the signed-in user blocked @type {Set<string>} */ blocked: new Set(),
  /** direct conversations whose last send was refused (403: the other blocked us) @type {Set<string>} */ sendRefused: new Set(),
  /** a message to scroll to and highlight once its timeline shows it (from a search result) @type {{conversation_id: string, id: string}|null} */ focus: null,
  /** notification settings and mutes, as the server last said (null: not loaded) @type {import('./types.js').NotificationSettings|null} */ notifications: null,
};

/** @type {Set<() => void>} */
const listeners = new Set();
let scheduled = false;

/** @param {() => void} fn */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Schedule a re-render. */
export function notify() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    listeners.forEach((fn) => fn());
  });
}

/** Show an error in the app's alert. @param {unknown} err */
export function showError(err) {
  state.error = err instanceof Error ? err.message : String(err);
  notify();
}

export function reset() {
  state.signedIn = false;
  state.me = null;
  state.users.clear();
  state.conversations.clear();
  state.conversationsLoaded = false;
  state.timelines.clear();
  state.openId = null;
  state.connection = 'reconnecting';
  state.error = null;
  state.typing.clear();
  state.marks.clear();
  state.outbox = [];
  state.quoted.clear();
  state.blocked.clear();
  state.sendRefused.clear();
  state.focus = null;
  state.notifications = null;
  notify();
}

/**
 * Whether a conversation is muted now: undefined if not, else until when (null: until unmuted).
 * @param {string} id @returns {string|null|undefined}
 */
export function mutedUntil(id) {
  const m = state.notifications?.muted.find((x) => x.conversation_id === id);
  if (!m) return undefined;
  if (m.until && Date.parse(m.until) <= Date.now()) return undefined;
  return m.until;
}

/** Conversations, newest activity first. */
export function sortedConversations() {
  return [...state.conversations.values()].sort((a, b) =>
    a.last_message_at < b.last_message_at ? 1 : a.last_message_at > b.last_message_at ? -1 : 0);
}

/** @param {User} u */
export function putUser(u) {
  state.users.set(u.id, u);
  notify();
}

/** @param {string} id */
export function userName(id) {
  const u = state.users.get(id);
  return u ? u.display_name : '…';
}

/** The other member of a direct conversation. @param {Conversation} c */
export function otherMember(c) {
  if (c.type !== 'direct') return null;
  const m = c.members.find((m) => m.user_id !== state.me?.id);
  return m ? m.user_id : state.me?.id ?? null;
}

/** @param {Conversation} c */
export function conversationTitle(c) {
  if (c.type === 'group') return c.name || 'Group';
  const other = otherMember(c);
  return other ? userName(other) : 'Chat';
}

/** @param {Conversation} c */
export function myRole(c) {
  return c.members.find((m) => m.user_id === state.me?.id)?.role ?? 'member';
}

/**
 * Put a fetched conversation in, keeping what events taught us since it was read on the server
 * (a newer last message, higher watermarks; the local read_seq unless `serverRead`).
 * @param {Conversation} c @param {boolean} [serverRead]
 */
export function putConversation(c, serverRead = false) {
  const old = state.conversations.get(c.id);
  if (old) {
    if (old.last_seq > c.last_seq) {
      c.last_seq = old.last_seq;
      c.last_message = old.last_message;
      c.last_message_at = old.last_message_at;
      c.unread_count = old.unread_count;
      c.mention_count = old.mention_count;
    }
    c.all_delivered_seq = Math.max(c.all_delivered_seq, old.all_delivered_seq);
    c.all_read_seq = Math.max(c.all_read_seq, old.all_read_seq);
    if (!serverRead && old.read_seq > c.read_seq) {
      c.read_seq = old.read_seq;
      c.unread_count = Math.min(c.unread_count, old.unread_count);
      c.mention_count = Math.min(c.mention_count ?? 0, old.mention_count ?? 0);
    }
  }
  state.conversations.set(c.id, c);
  notify();
}

/** Insert or replace messages in a loaded timeline (by id; sorted by seq). @param {Message[]} msgs */
export function mergeMessages(/** @type {Timeline} */ tl, msgs) {
  const byId = new Map(tl.messages.map((m) => [m.id, m]));
  for (const m of msgs) byId.set(m.id, m);
  tl.messages = [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/** @param {Message} m */
function upsertMessage(m) {
  const tl = state.timelines.get(m.conversation_id);
  if (tl) mergeMessages(tl, [m]);
  const c = state.conversations.get(m.conversation_id);
  if (c && c.last_message?.id === m.id) c.last_message = m;
}

/** The message mentions the signed-in user. @param {Message} m */
export function mentionsMe(m) {
  const me = state.me?.id;
  return !!me && !m.deleted && !!m.mentions?.includes(me);
}

/**
 * Recompute unread_count (and mention_count) locally after read_seq moved (exact when the
 * timeline is loaded). @param {Conversation} c
 */
function recountUnread(c) {
  if (c.read_seq >= c.last_seq) { c.unread_count = 0; c.mention_count = 0; return true; }
  const tl = state.timelines.get(c.id);
  // Exact when every message above read_seq is loaded.
  if (tl && !tl.loading && (!tl.hasMore || (tl.messages[0]?.seq ?? Infinity) <= c.read_seq + 1)) {
    const unread = tl.messages.filter((m) => m.seq > c.read_seq && !m.deleted && m.sender_id !== state.me?.id);
    c.unread_count = unread.length;
    c.mention_count = unread.filter(mentionsMe).length;
    return true;
  }
  return false;
}

/**
 * A message's reactions after one emoji's count changed (`mine`: whether the signed-in user's
 * own reaction is now there; undefined: unchanged).
 * @param {Reaction[]} list @param {string} emoji @param {number} count @param {boolean|undefined} mine
 * @returns {Reaction[]}
 */
export function withReaction(list, emoji, count, mine) {
  const i = list.findIndex((r) => r.emoji === emoji);
  if (count <= 0) return i < 0 ? list : list.filter((r) => r.emoji !== emoji);
  if (i < 0) return [...list, { emoji, count, me: !!mine }];
  return list.map((r) => (r.emoji === emoji ? { emoji, count, me: mine ?? r.me } : r));
}

/** Raise a member's mark (for "seen by"). @param {string} convId @param {string} userId @param {'delivered'|'read'} kind @param {number} seq */
export function raiseMark(convId, userId, kind, seq) {
  let m = state.marks.get(convId);
  if (!m) state.marks.set(convId, (m = new Map()));
  const cur = m.get(userId) || { delivered: 0, read: 0 };
  if (kind === 'read') cur.read = Math.max(cur.read, seq);
  cur.delivered = Math.max(cur.delivered, seq, cur.read);
  m.set(userId, cur);
}

/** @param {string} convId @param {string} userId @param {boolean} on */
function setTyping(convId, userId, on) {
  let m = state.typing.get(convId);
  if (!m) state.typing.set(convId, (m = new Map()));
  if (on) m.set(userId, Date.now() + 6000);
  else m.delete(userId);
}

/** Users typing now in a conversation. @param {string} convId */
export function typingUsers(convId) {
  const m = state.typing.get(convId);
  if (!m) return [];
  const now = Date.now();
  return [...m.entries()].filter(([, exp]) => exp > now).map(([id]) => id);
}

/**
 * Apply one server event. Returns what the caller should follow up on:
 * `refresh` a conversation id to refetch (unknown, or its unread count is unknown).
 * @param {ServerEvent} ev
 * @returns {{refresh?: string}}
 */
export function applyEvent(ev) {
  const me = state.me?.id;
  /** @type {{refresh?: string}} */
  const out = {};
  switch (ev.type) {
    case 'new_message': {
      const m = ev.data;
      const c = state.conversations.get(m.conversation_id);
      const tl = state.timelines.get(m.conversation_id);
      const known = tl?.messages.some((x) => x.id === m.id);
      upsertMessage(m);
      setTyping(m.conversation_id, m.sender_id, false);
      if (!c) { out.refresh = m.conversation_id; break; }
      const isNew = m.seq > c.last_seq && !known;
      if (m.seq >= c.last_seq) {
        c.last_seq = m.seq;
        c.last_message = m;
        if (m.created_at > c.last_message_at) c.last_message_at = m.created_at;
      }
      // The other person wrote: whatever refused our sends there may be over.
      if (m.sender_id !== me) state.sendRefused.delete(m.conversation_id);
      if (m.sender_id === me) {
        c.read_seq = Math.max(c.read_seq, m.seq);
        recountUnread(c);
      } else if (isNew && m.seq > c.read_seq && !m.deleted) {
        c.unread_count += 1;
        if (mentionsMe(m)) c.mention_count = (c.mention_count ?? 0) + 1;
      }
      break;
    }
    case 'reaction_changed': {
      const d = ev.data;
      const mine = d.user_id === me ? d.added : undefined;
      /** @param {Message} m */
      const change = (m) => ({ ...m, reactions: withReaction(m.reactions ?? [], d.emoji, d.count, mine) });
      const old = state.timelines.get(d.conversation_id)?.messages.find((m) => m.id === d.message_id);
      if (old && !old.deleted) upsertMessage(change(old));
      const q = state.quoted.get(d.message_id);
      if (q) state.quoted.set(d.message_id, change(q));
      break;
    }
    case 'message_updated':
      upsertMessage(ev.data);
      break;
    case 'message_deleted': {
      const d = ev.data;
      const tl = state.timelines.get(d.conversation_id);
      const old = tl?.messages.find((m) => m.id === d.message_id);
      const gone = { deleted: true, text: null, media: null, reactions: [], mentions: [] };
      if (old) upsertMessage({ ...old, ...gone });
      const c = state.conversations.get(d.conversation_id);
      if (c?.last_message?.id === d.message_id) c.last_message = { ...c.last_message, ...gone };
      if (c && d.seq > c.read_seq) out.refresh = c.id;
      break;
    }
    case 'message_status': {
      const d = ev.data;
      const c = state.conversations.get(d.conversation_id);
      if (d.user_id === me) {
        if (c && d.status === 'read' && d.up_to_seq > c.read_seq) {
          c.read_seq = d.up_to_seq;
          if (!recountUnread(c)) out.refresh = c.id;
        }
      } else {
        raiseMark(d.conversation_id, d.user_id, d.status, d.up_to_seq);
      }
      break;
    }
    case 'conversation_status': {
      const c = state.conversations.get(ev.data.conversation_id);
      if (c) {
        c.all_delivered_seq = Math.max(c.all_delivered_seq, ev.data.all_delivered_seq);
        c.all_read_seq = Math.max(c.all_read_seq, ev.data.all_read_seq);
      }
      break;
    }
    case 'conversation_updated':
      putConversation(ev.data);
      break;
    case 'conversation_removed': {
      const id = ev.data.conversation_id;
      state.conversations.delete(id);
      state.timelines.delete(id);
      if (state.openId === id) state.openId = null;
      break;
    }
    case 'typing_start':
    case 'typing_stop':
      if (ev.data.user_id !== me) setTyping(ev.data.conversation_id, ev.data.user_id, ev.type === 'typing_start');
      break;
    case 'user_updated': // a profile change (servers that have it); also one's own, from another device
      state.users.set(ev.data.id, ev.data);
      if (ev.data.id === me) state.me = ev.data;
      break;
    case 'presence_update': {
      const u = state.users.get(ev.data.user_id);
      if (u) state.users.set(u.id, { ...u, online: ev.data.online, last_seen_at: ev.data.last_seen_at });
      break;
    }
  }
  notify();
  return out;
}
