//! The storage port: everything natter keeps, behind one trait, with one adapter per engine.
//!
//! Each method is one use case in one transaction. Where a change depends on what is stored
//! (a member's role, a message's sender) the adapter loads that state inside the transaction,
//! asks the domain's decision for it (`natter_core::decide`), and applies the changes and
//! events it returns, so no check can go stale before its write and no rule is decided in an
//! adapter. Every durable change appends its event to the event log in that same transaction.
//!
//! Times are milliseconds since the epoch; ids are strings the application generates. The rows
//! own them as `String`s; the methods take them as typed ids (`natter_core::ids`: `&UserId`,
//! `&ConversationId`, ...), so that passing one kind of id where another is expected does not
//! compile. Lists of ids stay `&[String]`.

pub(crate) mod marks;
pub mod notify;
pub mod payload;
pub mod postgres;
mod sql_errors;
pub mod sqlite;

use async_trait::async_trait;
use natter_core::{
    ConversationId, ConversationKind, MediaId, MessageId, MessageKind, Role, SessionId, UserId,
    decide::Registration, receipts::Marks,
};

pub use natter_core::decide::AccountUpdate;
pub use notify::{
    DeadLetterRow, FOREVER, NotificationSettings, Notify, PushSubscriptionRow, PushTarget,
    SettingsChange, WebhookRow, WebhookState,
};

/// What storage can fail with. No engine's types appear here: each adapter classifies its own
/// errors (see `sql_errors`), so the application never depends on an engine.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the domain refused the change (checked inside the transaction).
    #[error(transparent)]
    Rule(#[from] natter_core::Error),
    /// Storage cannot take the request now (disk full, an I/O error, the database locked or
    /// unreachable): nothing was stored, and the client may retry (`503 unavailable`).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: the engine failed unexpectedly, a migration failed, or a bug. Logged; the
    /// client sees only `internal`.
    #[error("{0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    /// A server admin.
    pub admin: bool,
    /// The account was deleted (its row stays, so that its name stays reserved).
    pub deleted: bool,
    /// An admin disabled the account: it cannot log in.
    pub disabled: bool,
}

impl UserRow {
    /// A new account, neither deleted nor disabled, never seen.
    pub fn new_account(
        id: String,
        username: String,
        display_name: String,
        password_hash: String,
        created_at: i64,
        admin: bool,
    ) -> Self {
        UserRow {
            id,
            username,
            display_name,
            password_hash,
            created_at,
            last_seen_at: None,
            admin,
            deleted: false,
            disabled: false,
        }
    }

    /// What the account decisions need of it.
    pub fn account(&self) -> natter_core::decide::Account<'_> {
        natter_core::decide::Account {
            id: &self.id,
            admin: self.admin,
            disabled: self.disabled,
            deleted: self.deleted,
        }
    }
}

/// What deleting an account left for the application to finish outside the transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountDeleted {
    /// The sessions deleted: their tokens and sockets are to be stopped.
    pub sessions: Vec<String>,
    /// The user's uploads no message carries: their records and bytes are to be erased.
    pub media: Vec<String>,
}

/// What the server holds, for its admins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Accounts not deleted.
    pub users: i64,
    pub conversations: i64,
    /// Messages not deleted for everyone.
    pub messages: i64,
    /// The bytes of every upload stored.
    pub media_bytes: i64,
}

/// An invite: lets `uses_left` more people register until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub code: String,
    pub creator_id: String,
    pub uses_left: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub device_name: Option<String>,
    pub created_at: i64,
    pub last_active_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: String,
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_message_at: i64,
    pub last_seq: i64,
    /// The conversation's status watermarks (see `natter_core::receipts::Watermarks`).
    pub all_delivered_seq: i64,
    pub all_read_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub user_id: String,
    pub role: Role,
    pub joined_at: i64,
    /// The conversation's `last_seq` when this member joined: it sees only later seqs.
    pub joined_seq: i64,
    /// The event log's head when this member joined: it receives later events only.
    pub joined_pos: i64,
    pub marks: Marks,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub media_id: Option<String>,
    pub reply_to: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// Deleted for everyone.
    pub deleted: bool,
    /// Hidden for the viewer it was read for (deleted `for=me`).
    pub hidden: bool,
    /// The members its text mentions; none once deleted for everyone.
    pub mentions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    pub id: String,
    pub uploader_id: String,
    pub content_type: String,
    pub size: i64,
    pub filename: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_thumbnail: bool,
    /// The thumbnail's content type, when there is one.
    pub thumbnail_type: Option<String>,
    pub sha256: String,
    pub is_image: bool,
    pub created_at: i64,
}

/// A conversation as one member sees it.
#[derive(Debug, Clone)]
pub struct ConversationView {
    pub conversation: ConversationRow,
    /// In join order.
    pub members: Vec<MemberRow>,
    pub last_message: Option<MessageRow>,
    pub unread_count: i64,
    pub read_seq: i64,
    /// The viewer's unread messages that mention it.
    pub mention_count: i64,
}

/// A conversation as every member sees it at once, read in one transaction for the fan-out:
/// what the members share, and the little that differs between them.
#[derive(Debug, Clone)]
pub struct ConversationViews {
    pub conversation: ConversationRow,
    /// In join order.
    pub members: Vec<MemberRow>,
    /// The newest message as a member that did not hide it sees it.
    pub last_message: Option<MessageRow>,
    /// What differs per member, in the order of `members`.
    pub viewers: Vec<ViewerState>,
}

/// One member's own part of a conversation's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerState {
    pub unread_count: i64,
    pub mention_count: i64,
    /// It deleted the last message for itself.
    pub hid_last_message: bool,
}

/// A message to store.
pub use natter_core::decide::NewMessage;

/// What `send` did: stored a new message, or found the one stored under the same `client_id`.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: MessageRow,
    pub created: bool,
}

/// How many reacted to a message with one emoji, and whether the viewer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    pub message_id: String,
    pub emoji: String,
    pub count: i64,
    pub me: bool,
}

/// One member's reaction to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRow {
    pub emoji: String,
    pub user_id: String,
    pub created_at: i64,
}

/// Where a listing of reactions goes on from: after this one, in (`created_at`, `user_id`,
/// `emoji`) order.
pub type ReactionCursor = (i64, String, String);

/// Which messages a search looks through for `viewer`: those of the conversations it is a
/// member of (those sent after it joined), not deleted, not hidden for it.
#[derive(Debug, Clone)]
pub struct SearchScope<'a> {
    pub viewer: &'a UserId,
    /// One conversation only.
    pub conversation_id: Option<&'a ConversationId>,
    /// Older than this (`created_at`, `id`), for the next page.
    pub before: Option<(i64, String)>,
    pub limit: u32,
}

/// Which mark a member moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Delivered,
    Read,
}

/// When a recipient's marks first reached a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkTimes {
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
}

pub use natter_core::decide::Removed;

/// Kinds of durable event, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    NewMessage,
    MessageUpdated,
    MessageDeleted,
    MessageStatus,
    ConversationUpdated,
    ConversationRemoved,
    ConversationStatus,
    /// A user's profile changed; `data` holds `{"user_id"}`, the user is rendered as it is.
    UserUpdated,
    /// A reaction was added or removed; `data` holds the wire's `ReactionChanged`.
    ReactionChanged,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::NewMessage => "new_message",
            EventKind::MessageUpdated => "message_updated",
            EventKind::MessageDeleted => "message_deleted",
            EventKind::MessageStatus => "message_status",
            EventKind::ConversationUpdated => "conversation_updated",
            EventKind::ConversationRemoved => "conversation_removed",
            EventKind::ConversationStatus => "conversation_status",
            EventKind::UserUpdated => "user_updated",
            EventKind::ReactionChanged => "reaction_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new_message" => EventKind::NewMessage,
            "message_updated" => EventKind::MessageUpdated,
            "message_deleted" => EventKind::MessageDeleted,
            "message_status" => EventKind::MessageStatus,
            "conversation_updated" => EventKind::ConversationUpdated,
            "conversation_removed" => EventKind::ConversationRemoved,
            "conversation_status" => EventKind::ConversationStatus,
            "user_updated" => EventKind::UserUpdated,
            "reaction_changed" => EventKind::ReactionChanged,
            _ => return None,
        })
    }
}

/// One entry of the durable event log.
///
/// Events about messages and conversations hold references, not copies: a replay renders the
/// message or conversation as it is now, so a deleted message replays as its tombstone and no
/// old text survives in the log. `data` holds the small payloads that are not rendered
/// (`message_deleted`, `message_status`, `conversation_removed`, `conversation_status`), never
/// message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub pos: i64,
    pub kind: EventKind,
    pub conversation_id: String,
    /// Set when only this user receives the event; else every member of the conversation.
    pub user_id: Option<String>,
    pub message_id: Option<String>,
    pub data: Option<String>,
    pub created_at: i64,
}

/// A user's events after a cursor, with the log's bounds, all read from one snapshot: whether
/// the cursor can resume is decided on the very state the events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The position of the newest event (0 if none).
    pub head: i64,
    /// The highest position pruned so far (0 if none).
    pub pruned_up_to: i64,
    /// The user's events after the cursor, oldest first, at most the limit asked for.
    pub events: Vec<EventRow>,
}

impl Backlog {
    /// Whether a client at `cursor` can resume from this backlog: nothing it has not seen was
    /// pruned, and the cursor is one this log has issued.
    pub fn resumes(&self, cursor: i64) -> bool {
        cursor >= self.pruned_up_to && cursor <= self.head
    }
}

/// What one commit appended to the event log, in position order, with the messages it stored,
/// as the writer had them in hand: the node that committed them fans them out from this,
/// without reading them back.
#[derive(Debug, Default)]
pub struct Committed {
    pub events: Vec<EventRow>,
    pub messages: Vec<MessageRow>,
}

/// Persistence port: users and their device sessions.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Stores a new user as given (its `admin` flag included); a taken username is a
    /// `Conflict`.
    async fn create_user(&self, user: &UserRow) -> StoreResult<()>;
    /// Registers a user under the registration `mode`, with the invite `code` if one was
    /// given, as `natter_core::decide::admit` decides on the number of users and the invite
    /// read in the same transaction, serialised with every other registration: one use of the
    /// invite is consumed with the user's creation, and only one registration can be the
    /// first (which makes an admin). Refused: `Forbidden`; a taken username: `Conflict`.
    /// Returns the user as stored (`admin` decided).
    async fn register(
        &self,
        user: &UserRow,
        mode: Registration,
        invite: Option<&str>,
    ) -> StoreResult<UserRow>;
    /// How many users exist.
    async fn count_users(&self) -> StoreResult<i64>;
    /// Changes a user's display name, with a `user_updated` event for it and each user
    /// sharing a conversation with it.
    async fn set_display_name(&self, user_id: &UserId, name: &str, at: i64) -> StoreResult<()>;
    /// Replaces a user's password hash and deletes every session of it but `keep`; returns
    /// the ids of the sessions deleted.
    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep: &SessionId,
    ) -> StoreResult<Vec<String>>;

    /// An admin (or, from the shell, the operator) changes an account, as
    /// `natter_core::decide::update_account` decides on the number of admins read in the same
    /// transaction. Returns the account as stored and the ids of the sessions deleted.
    async fn update_account(
        &self,
        manager: Option<&UserId>,
        target: &UserId,
        update: &AccountUpdate,
        at: i64,
    ) -> StoreResult<(UserRow, Vec<String>)>;
    /// Deletes `user_id`'s account (`natter_core::decide::delete_account`): it leaves every
    /// group (each as `decide::remove_member` decides, the owner's succession included), its
    /// sessions and invites go, its row stays with its name reserved. Its messages remain.
    async fn delete_account(&self, user_id: &UserId, at: i64) -> StoreResult<AccountDeleted>;
    /// Every account (disabled and deleted ones too) whose username starts with `prefix`,
    /// newest first, created before `before` if given.
    async fn list_users(
        &self,
        prefix: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>>;
    async fn stats(&self) -> StoreResult<StoreStats>;

    async fn create_invite(&self, invite: &InviteRow) -> StoreResult<()>;
    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>>;
    /// `creator_id`'s invites, newest first.
    async fn invites_of(&self, creator_id: &UserId) -> StoreResult<Vec<InviteRow>>;
    /// Revokes (deletes) an invite, if `actor` may (`decide::may_revoke_invite`: its creator
    /// or an admin); none such is `NotFound`.
    async fn delete_invite(&self, code: &str, actor: &UserId) -> StoreResult<()>;
    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRow>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>>;
    /// Users whose username starts with `prefix`, in username order, as `viewer` may find
    /// them: those who blocked `viewer` are left out.
    async fn search_users(
        &self,
        viewer: &UserId,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>>;
    /// Records when a user was last seen (its last device went offline).
    async fn set_last_seen(&self, user_id: &UserId, at: i64) -> StoreResult<()>;
    /// The users who share at least one conversation with `user_id`, itself excluded.
    async fn contacts_of(&self, user_id: &UserId) -> StoreResult<Vec<String>>;
    /// Which of `ids` share at least one conversation with `user_id`.
    async fn contacts_among(&self, user_id: &UserId, ids: &[String]) -> StoreResult<Vec<String>>;
    /// Which of `ids` exist.
    async fn existing_users(&self, ids: &[String]) -> StoreResult<Vec<String>>;

    /// `blocker` blocks `blocked` (as `natter_core::decide::may_block` allows: not itself,
    /// `Invalid`; a user that exists, else `NotFound`). Blocking again changes nothing.
    async fn block(&self, blocker: &UserId, blocked: &UserId, at: i64) -> StoreResult<()>;
    /// `blocker` unblocks `blocked` (the same rule as [`Accounts::block`]); unblocking one not
    /// blocked changes nothing.
    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<()>;
    /// The users `blocker` blocked, in username order.
    async fn blocked_by(&self, blocker: &UserId) -> StoreResult<Vec<UserRow>>;
    /// The ids of the users `blocker` blocked: whom its typing and presence are withheld from.
    /// One range scan of the blocks' primary key.
    async fn blocked_ids(&self, blocker: &UserId) -> StoreResult<Vec<String>>;
    /// Whether `blocker` blocked `blocked`: one look-up of the blocks' primary key.
    async fn has_blocked(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<bool>;

    /// Stores a session, unless its user is disabled or deleted (`Forbidden`), checked in the
    /// same transaction so that no login can outlast a disabling that committed first.
    async fn create_session(&self, session: &SessionRow) -> StoreResult<()>;
    async fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRow>>;
    async fn touch_session(&self, id: &SessionId, at: i64) -> StoreResult<()>;
    async fn sessions_of(&self, user_id: &UserId) -> StoreResult<Vec<SessionRow>>;
    /// Deletes `user_id`'s session `id`; false if it has none such.
    async fn delete_session(&self, user_id: &UserId, id: &SessionId) -> StoreResult<bool>;
    /// Deletes every session last active before `before`; returns their ids.
    async fn delete_idle_sessions(&self, before: i64) -> StoreResult<Vec<String>>;
}

/// Persistence port: conversations and their members.
#[async_trait]
pub trait Conversations: Send + Sync + 'static {
    /// The direct conversation of the pair, created (with its event) if it does not exist.
    /// Returns its id and whether it was created. `a` opens it: refused (`Forbidden`, as
    /// `natter_core::decide::create_direct` decides) when either blocked the other or `b`'s
    /// account was deleted.
    async fn create_direct(
        &self,
        new_id: &ConversationId,
        a: &UserId,
        b: &UserId,
        at: i64,
    ) -> StoreResult<(String, bool)>;
    /// A new group owned by `owner` with `members` (which exclude the owner).
    async fn create_group(
        &self,
        id: &ConversationId,
        owner: &UserId,
        name: &str,
        members: &[String],
        at: i64,
    ) -> StoreResult<()>;
    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<ConversationRow>>;
    /// `user_id`'s membership of `conversation_id`.
    async fn member(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
    ) -> StoreResult<Option<MemberRow>>;
    /// All members, in join order.
    async fn members(&self, conversation_id: &ConversationId) -> StoreResult<Vec<MemberRow>>;
    /// The members' ids and usernames, in join order: whom a message's `@username` can name.
    async fn member_usernames(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Vec<(String, String)>>;
    /// The conversation as `viewer` sees it; none if it is not a member.
    async fn conversation_view(
        &self,
        conversation_id: &ConversationId,
        viewer: &UserId,
    ) -> StoreResult<Option<ConversationView>>;
    /// The conversation as each of its members sees it; none if it does not exist.
    async fn conversation_views(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Option<ConversationViews>>;
    /// `viewer`'s conversations, newest activity first, older than `before` if given.
    async fn conversations_of(
        &self,
        viewer: &UserId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationView>>;
    async fn rename(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        name: &str,
        at: i64,
    ) -> StoreResult<()>;
    async fn add_member(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        role: Role,
        max_members: usize,
        at: i64,
    ) -> StoreResult<()>;
    async fn remove_member(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        at: i64,
    ) -> StoreResult<Removed>;
    async fn set_role(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        role: Role,
        at: i64,
    ) -> StoreResult<()>;
}

/// Persistence port: messages, and the members' read and delivery marks.
#[async_trait]
pub trait Messages: Send + Sync + 'static {
    /// Stores a message with the next seq, or returns the one the sender already stored under
    /// the same `client_id` in that conversation. The sender must be a member; in a direct
    /// conversation, refused (`Forbidden`) when either member blocked the other or the other's
    /// account was deleted.
    async fn send(&self, msg: &NewMessage) -> StoreResult<Sent>;
    /// The message `sender` stored under `client_id` in the conversation, if any.
    async fn message_by_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &UserId,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>>;
    /// A message as `viewer` sees it (hidden for it or not).
    async fn message(&self, id: &MessageId, viewer: &UserId) -> StoreResult<Option<MessageRow>>;
    /// Messages of a conversation with `after < seq < before` and `seq > min_seq`, as `viewer`
    /// sees them, ascending. With `after` set, the oldest `limit`; else the newest `limit`.
    /// Returns whether more lie beyond the page in the direction read.
    async fn messages(
        &self,
        conversation_id: &ConversationId,
        viewer: &UserId,
        min_seq: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<(Vec<MessageRow>, bool)>;
    /// The messages with these ids as stored, hidden for no one, in no particular order;
    /// unknown ids are left out. What the fan-out renders a page of the log from in one read.
    async fn messages_by_id(&self, ids: &[String]) -> StoreResult<Vec<MessageRow>>;
    /// The current members of a message's conversation who deleted it for themselves.
    async fn hidden_by(&self, message_id: &MessageId) -> StoreResult<Vec<String>>;
    /// Replaces the text of `actor`'s message, its mentions with `mentions`, and what search
    /// finds it by.
    async fn edit(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        text: &str,
        mentions: &[String],
        at: i64,
    ) -> StoreResult<()>;
    /// `user_id` adds (`add`) or removes its reaction `emoji` to a message, as
    /// `natter_core::decide::react` decides on the message's reactions read in the same
    /// transaction. Returns whether anything changed.
    async fn react(
        &self,
        user_id: &UserId,
        message_id: &MessageId,
        emoji: &str,
        add: bool,
        max_distinct: usize,
        at: i64,
    ) -> StoreResult<bool>;
    /// The reactions of these messages, one per (message, emoji), each message's in the order
    /// its emoji were first given, with whether `viewer` reacted (none reacted as the empty
    /// id).
    async fn reaction_counts(
        &self,
        message_ids: &[String],
        viewer: &UserId,
    ) -> StoreResult<Vec<ReactionCount>>;
    /// Who reacted to a message with what (only `emoji`, if given), oldest first, after
    /// `after`.
    async fn reactions(
        &self,
        message_id: &MessageId,
        emoji: Option<&str>,
        after: Option<&ReactionCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ReactionRow>>;
    /// The messages `scope` may see whose text matches `query`, newest first (`created_at`,
    /// then `id`), at most `scope.limit`.
    async fn search(
        &self,
        query: &natter_core::search::Query,
        scope: &SearchScope<'_>,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Deletes for everyone: erases text and media reference, keeps the tombstone. Returns the
    /// media the message carried, now perhaps referred to by nothing.
    async fn delete_for_everyone(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        at: i64,
    ) -> StoreResult<Option<String>>;
    /// Hides a message for `user_id` only.
    async fn hide(&self, user_id: &UserId, message_id: &MessageId, at: i64) -> StoreResult<()>;
    /// Moves `user_id`'s mark in a conversation up to `seq` (capped at the last seq). Returns
    /// whether anything moved.
    async fn mark(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        kind: MarkKind,
        seq: i64,
        at: i64,
    ) -> StoreResult<bool>;
    /// When `user_id`'s marks first reached `seq`.
    async fn mark_times(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        seq: i64,
    ) -> StoreResult<MarkTimes>;
}

/// Persistence port: the records of uploaded media (the bytes themselves are the blob store's).
#[async_trait]
pub trait MediaRecords: Send + Sync + 'static {
    async fn media(&self, id: &MediaId) -> StoreResult<Option<MediaRow>>;
    async fn insert_media(&self, media: &MediaRow) -> StoreResult<()>;
    /// Whether `user_id` may fetch the media: its uploader, or a member of a conversation in
    /// which a message it can see carries it.
    async fn media_visible_to(&self, media_id: &MediaId, user_id: &UserId) -> StoreResult<bool>;
    /// Deletes the media record if no message refers to it. Returns its SHA-256 if the bytes
    /// are now unused (no other record shares them), so the caller can delete them.
    async fn delete_media_if_unused(&self, id: &MediaId) -> StoreResult<Option<String>>;
    /// The bytes of `user_id`'s uploads still stored (each upload counted, shared bytes or not).
    async fn media_bytes_of(&self, user_id: &UserId) -> StoreResult<i64>;
    /// Media created before `before` that no message refers to.
    async fn orphan_media(&self, before: i64, limit: u32) -> StoreResult<Vec<String>>;
}

/// Persistence port: the durable event log: what the fan-out tails and what readers resume from.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// The position of the newest event (0 if none).
    async fn head(&self) -> StoreResult<i64>;
    /// Every event after `after`, oldest first, at most `limit`: what the fan-out tails.
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<EventRow>>;
    /// Deletes the events created before `before`; returns the highest position ever pruned.
    async fn prune_events(&self, before: i64) -> StoreResult<i64>;
    /// The highest position pruned so far (0 if none): a cursor below it cannot resume.
    async fn pruned_up_to(&self) -> StoreResult<i64>;
    /// `user_id`'s events after `after`, oldest first, at most `limit`: those addressed to it,
    /// and those of the conversations it is a member of logged after it joined. Whether it
    /// may see one about a message is decided on top (`natter_core::audience`), since that
    /// needs the message's seq; a page may so hold events the user is then not shown, and a
    /// reader's cursor moves past them all the same.
    async fn events_for(
        &self,
        user_id: &UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<EventRow>>;
    /// [`EventLog::events_for`] with the log's head and how far it was pruned, in one read
    /// transaction: what resuming from a cursor needs.
    async fn backlog(&self, user_id: &UserId, after: i64, limit: u32) -> StoreResult<Backlog>;
    /// What every commit of this process appends from now on, in position order; none if the
    /// adapter cannot tell (the fan-out then reads the log). A receiver that lags is told so.
    fn committed(&self) -> Option<tokio::sync::broadcast::Receiver<std::sync::Arc<Committed>>> {
        None
    }
}

/// Persistence port: health, fault injection, erasure and shutdown.
#[async_trait]
pub trait Operations: Send + Sync + 'static {
    /// Whether the database answers, and, after writes failed for want of storage, whether
    /// one can commit again (`Unavailable` until it can).
    async fn ping(&self) -> StoreResult<()>;
    /// Fault injection for the conformance suite: the next write transaction's commit fails,
    /// after the engine has rolled it back, as a full disk makes it fail. No caller may be
    /// told that anything of it was stored, and later writes must commit for real.
    #[doc(hidden)]
    async fn fail_next_commit(&self) -> StoreResult<()>;
    /// Makes erased content unrecoverable from the database's files (for SQLite: checkpoints
    /// and truncates the write-ahead log, whose old frames may still hold it).
    async fn purge(&self) -> StoreResult<()>;
    async fn close(&self);
}

/// The persistence port: every aggregate's. Implement the parts; this follows.
pub trait Store:
    Accounts + Conversations + Messages + MediaRecords + EventLog + Notify + Operations
{
}

impl<T: Accounts + Conversations + Messages + MediaRecords + EventLog + Notify + Operations> Store
    for T
{
}
