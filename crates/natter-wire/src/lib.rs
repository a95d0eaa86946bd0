//! The JSON shapes of natter's public API (version 1), shared by the server and the Rust SDK so
//! that the two cannot drift apart. Field names and spellings are exactly those of API.md.
//!
//! Times are RFC 3339 strings with milliseconds; ids are opaque strings.

use serde::{Deserialize, Serialize};

mod notify;
pub use notify::*;

/// The closed sets of values that the wire types carry as strings, for the OpenAPI
/// description only (the types themselves keep `String`, so that a newer server's value does
/// not break an older client).
#[cfg(feature = "openapi")]
pub mod schema {
    use serde::Serialize;
    use utoipa::ToSchema;

    /// An error's `code`, one per status (see the errors table).
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ErrorCode {
        InvalidRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        RequestTimeout,
        ResyncRequired,
        PayloadTooLarge,
        UnsupportedMediaType,
        RangeNotSatisfiable,
        RateLimited,
        Internal,
    }

    /// A conversation's `type`.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ConversationType {
        Direct,
        Group,
    }

    /// A member's role.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Role {
        Owner,
        Admin,
        Member,
    }

    /// A role that can be given: `owner` passes only when the owner leaves.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum GrantedRole {
        Admin,
        Member,
    }

    /// A message's `kind`.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum MessageKind {
        Text,
        Image,
        File,
    }

    /// A message's aggregate status, or one recipient's.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum MessageStatus {
        Sent,
        Delivered,
        Read,
    }

    /// The mark that a `message_status` event reports.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum MarkStatus {
        Delivered,
        Read,
    }

    /// `/healthz`'s `status`.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum HealthStatus {
        Ok,
        Unavailable,
    }
}

/// `{"error": {"code", "message"}}`, the body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and explanation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::ErrorCode))]
    /// The machine-readable code, one per status (`not_found`, `rate_limited`, …).
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

/// A user account; presence shows only to the user and its contacts, media usage only to the user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The user's id.
    pub id: String,
    /// The unique login name: 3–32 of `a-z0-9_.-`.
    pub username: String,
    /// The name shown to others (the username unless set).
    pub display_name: String,
    /// Whether one of the user's devices holds a WebSocket (false to non-contacts).
    pub online: bool,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// When the user was last online (now while online; null if never, or to non-contacts).
    pub last_seen_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the account was created.
    pub created_at: String,
    /// A server admin.
    #[serde(default)]
    pub admin: bool,
    /// The account was deleted.
    #[serde(default)]
    pub deleted: bool,
    /// The bytes of the user's uploads still stored; only in the user's own view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_bytes: Option<i64>,
    /// The most bytes of uploads the user may have stored; only in the user's own view, and
    /// absent when the server sets no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_quota: Option<i64>,
    /// Whether an admin disabled the account; only in the admin endpoints' answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// A member of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// The member's user id.
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Role))]
    /// `owner`, `admin` or `member`.
    pub role: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the user joined.
    pub joined_at: String,
}

/// A conversation as the caller sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    /// The conversation's id.
    pub id: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = schema::ConversationType))]
    /// `direct` or `group` (the JSON field `type`).
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The group's name; null for a direct conversation.
    pub name: Option<String>,
    /// The members, in join order.
    pub members: Vec<Member>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the conversation was created.
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When its newest message was sent.
    pub last_message_at: String,
    /// The `seq` of its newest message.
    pub last_seq: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The newest message the caller can see.
    pub last_message: Option<Message>,
    /// Others' messages above the caller's `read_seq` not deleted for the caller.
    pub unread_count: i64,
    /// The caller's read watermark: the highest `seq` it has read.
    pub read_seq: i64,
    /// Every message at or below it that has recipients is delivered to all of them; the same
    /// for every member, never moving backwards.
    pub all_delivered_seq: i64,
    /// Every message at or below it that has recipients is read by all of them.
    pub all_read_seq: i64,
    /// The caller's unread messages that mention it.
    #[serde(default)]
    pub mention_count: i64,
}

/// A message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The message's id.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Its position in the conversation: 1, 2, 3, … with no gaps.
    pub seq: i64,
    /// The id of the user who sent it.
    pub sender_id: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The sender's idempotency key, if it gave one.
    pub client_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageKind))]
    /// `text`, `image` or `file`.
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The text (a caption for media); null once deleted.
    pub text: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The attached upload; null once deleted.
    pub media: Option<Media>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The id of the message this one answers.
    pub reply_to: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When it was sent.
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// When it was last edited.
    pub edited_at: Option<String>,
    /// Whether it was deleted for everyone, or for the caller.
    pub deleted: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageStatus))]
    /// `sent`, `delivered` or `read`, aggregated over its recipients.
    pub status: String,
    /// Its reactions, one per emoji, in the order each emoji was first given; none once
    /// deleted.
    #[serde(default)]
    pub reactions: Vec<ReactionCount>,
    /// The ids of the members its text mentions (`@username`; `@all` in a group, from an
    /// owner or admin, mentions every member); none once deleted.
    #[serde(default)]
    pub mentions: Vec<String>,
}

/// How many reacted to a message with one emoji.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many members react with it.
    pub count: i64,
    /// Whether the caller is one of them.
    pub me: bool,
}

/// One member's reaction, in `GET /messages/{id}/reactions`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reaction {
    /// Who reacted.
    pub user_id: String,
    /// With what.
    pub emoji: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When.
    pub created_at: String,
}

/// `GET /messages/{id}/reactions`: who reacted with what, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionPage {
    pub reactions: Vec<Reaction>,
    /// Whether more follow.
    pub has_more: bool,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Pass as `after` for the next page; null when none follows.
    pub next_cursor: Option<String>,
}

/// A message that matches a search, with the piece of its text that matched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    #[serde(flatten)]
    pub message: Message,
    /// The text around the first match, HTML-escaped, each matching word in
    /// `<mark>`…`</mark>`, with `…` where text was left out.
    pub snippet: String,
}

/// `GET /search`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub messages: Vec<SearchHit>,
    /// Whether older matches remain (ask with `before` set to the last message's id).
    pub has_more: bool,
}

/// An uploaded file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Media {
    /// The upload's id.
    pub id: String,
    /// The content type, as detected from the bytes.
    pub content_type: String,
    /// The size in bytes.
    pub size: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The file name given at upload (control characters dropped).
    pub filename: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// An image's width as displayed (after EXIF orientation).
    pub width: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// An image's height as displayed (after EXIF orientation).
    pub height: Option<i64>,
    /// Whether `GET /media/{id}/thumbnail` has a thumbnail.
    pub has_thumbnail: bool,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    /// The SHA-256 of the bytes, in lowercase hex.
    pub sha256: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When it was uploaded.
    pub created_at: String,
}

// ---- Accounts and sessions ----

/// `POST /users`: a new account.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"username": "alice", "password": "correct horse battery", "display_name": "Alice"})))
)]
pub struct RegisterRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_.-]{3,32}$"))]
    /// 3–32 of `a-z0-9_.-`.
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    /// 8–1024 characters.
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    /// The name shown to others (default: the username).
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// An invite code: required when the server's registration mode is `invite` (and it
    /// already has users).
    pub invite: Option<String>,
}

/// `PATCH /users/me`: change the caller's profile.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateProfileRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    /// The name shown to others.
    pub display_name: String,
}

/// `DELETE /users/me`: delete the caller's account for good.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteAccountRequest {
    /// The caller's password, to confirm.
    pub password: String,
}

/// `POST /admin/users`: an admin creates an account (whatever the registration mode).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminCreateUserRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_.-]{3,32}$"))]
    /// 3–32 of `a-z0-9_.-`.
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    /// 8–1024 characters.
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    /// The name shown to others (default: the username).
    pub display_name: Option<String>,
    #[serde(default)]
    /// Whether the new account is an admin (default false).
    pub admin: bool,
}

/// `PATCH /admin/users/{id}`: what to change of an account; each field is optional.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUpdateUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Disable (every session is revoked, logins are refused with `401`) or enable.
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Make or unmake a server admin.
    pub admin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    /// A new password (every session is revoked).
    pub password: Option<String>,
}

/// `GET /admin/stats`: what the server holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminStats {
    /// Accounts not deleted (disabled ones included).
    pub users: i64,
    /// Conversations, direct and group.
    pub conversations: i64,
    /// Messages not deleted for everyone.
    pub messages: i64,
    /// The bytes of every upload stored.
    pub media_bytes: i64,
    /// WebSocket connections open on this node.
    pub connections: i64,
}

/// `PUT /users/me/password`: change the caller's password.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current_password: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    /// The new password: 8–1024 characters.
    pub new_password: String,
}

/// `POST /invites`: a new invite.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateInviteRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    /// How many registrations it admits (default 1).
    pub uses: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 60, maximum = 7776000))]
    /// Seconds until it expires (default 604800, 7 days; at most 90 days).
    pub expires_in_s: Option<i64>,
}

/// An invite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invite {
    /// The code to register with (URL-safe, at least 128 random bits).
    pub code: String,
    /// Registrations it still admits.
    pub uses_left: i64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When it stops admitting anyone.
    pub expires_at: String,
}

/// `GET /invites`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteList {
    /// The caller's invites, newest first.
    pub invites: Vec<Invite>,
}

/// `POST /sessions`: log in as a new device session.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"username": "alice", "password": "correct horse battery", "device_name": "laptop"})))
)]
pub struct LoginRequest {
    /// The account's username.
    pub username: String,
    /// The account's password.
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    /// A name for the device, shown in the session list.
    pub device_name: Option<String>,
}

/// A new session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// The bearer token of the new session (keep it secret).
    pub token: String,
    /// The new session's id.
    pub session_id: String,
    /// The logged-in user, in its own view.
    pub user: User,
}

/// One device session of the caller.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// The session's id.
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The device name given at login.
    pub device_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the session was created (the login).
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the session was last used (updated at intervals).
    pub last_active_at: String,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// `GET /sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    /// The caller's sessions, oldest first.
    pub sessions: Vec<Session>,
}

/// `GET /users?query=`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    /// The users found, in username order.
    pub users: Vec<User>,
}

// ---- Conversations ----

/// `POST /conversations`: `{"type": "direct", "user_id"}` or `{"type": "group", "name", "member_ids"}`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"type": "group", "name": "Climbing", "member_ids": []}), json!({"type": "direct", "user_id": "0194b7a0-5c2e-7d3f-9a1b-2c3d4e5f6a7b"})))
)]
pub struct CreateConversationRequest {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = schema::ConversationType))]
    /// `direct` or `group` (the JSON field `type`).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A direct conversation's other user.
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    /// A group's name (1–128 characters).
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 1024))]
    /// A group's other members (the caller is its owner).
    pub member_ids: Option<Vec<String>>,
}

/// `GET /conversations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationList {
    /// The conversations, newest `last_message_at` first.
    pub conversations: Vec<Conversation>,
}

/// `PATCH /conversations/{id}`: rename a group.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"name": "Climbing (Saturdays)"})))
)]
pub struct RenameRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    /// The new name (1–128 characters).
    pub name: String,
}

/// `POST /conversations/{id}/members`: add a member to a group.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"user_id": "0194b7a0-5c2e-7d3f-9a1b-2c3d4e5f6a7b", "role": "member"})))
)]
pub struct AddMemberRequest {
    /// The user to add.
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::GrantedRole>))]
    /// `member` (default) or `admin`.
    pub role: Option<String>,
}

/// `PATCH /conversations/{id}/members/{user_id}`: change a member's role.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"role": "admin"})))
)]
pub struct SetRoleRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::GrantedRole))]
    /// `admin` or `member`.
    pub role: String,
}

// ---- Messages ----

/// `POST /conversations/{id}/messages`: send a message.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"text": "see you at 7"}), json!({"client_id": "7f0c2d9e-retry-1", "kind": "text", "text": "on my way"})))
)]
pub struct SendMessageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    /// An idempotency key (1–64 characters): sending again with it returns the first message.
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::MessageKind>))]
    /// `text` (default), `image` or `file`.
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 16384))]
    /// The text (required for `text`; a caption otherwise).
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The caller's upload to attach (required for `image` and `file`).
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The id of a message of the same conversation that this one answers.
    pub reply_to: Option<String>,
}

/// `GET /conversations/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePage {
    /// The messages, in ascending `seq`.
    pub messages: Vec<Message>,
    /// Whether more messages lie beyond this page.
    pub has_more: bool,
}

/// `PATCH /messages/{id}`: edit a message's text.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"text": "see you at 8"})))
)]
pub struct EditMessageRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384))]
    /// The new text.
    pub text: String,
}

/// `GET /messages/{id}/receipts`: how far a message got with each recipient.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipts {
    /// The message's id.
    pub message_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageStatus))]
    /// The aggregate status: `sent`, `delivered` or `read`.
    pub status: String,
    /// One entry per recipient.
    pub recipients: Vec<RecipientStatus>,
}

/// How far a message got with one recipient.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientStatus {
    /// The recipient.
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageStatus))]
    /// `sent`, `delivered` or `read`.
    pub status: String,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// When it was delivered to this recipient.
    pub delivered_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// When this recipient read it.
    pub read_at: Option<String>,
}

/// `POST /conversations/{id}/typing`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"typing": true})))
)]
pub struct TypingRequest {
    /// Whether the caller started (true) or stopped typing.
    pub typing: bool,
}

// ---- Operations ----

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::HealthStatus))]
    /// `ok`, or `unavailable` when storage does not answer or cannot take writes.
    pub status: String,
    /// The server's version.
    pub version: String,
}

// ---- Durable events (the event log; delivered over WebSocket and /sync) ----

/// `message_deleted`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageDeleted {
    /// The conversation of the deleted message.
    pub conversation_id: String,
    /// The deleted message.
    pub message_id: String,
    /// The deleted message's `seq`.
    pub seq: i64,
    /// Whether it was deleted only for the receiving user.
    pub for_me: bool,
}

/// `message_status`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageStatusEvent {
    /// The conversation concerned.
    pub conversation_id: String,
    /// The user who marked the messages.
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MarkStatus))]
    /// `delivered` or `read`.
    pub status: String,
    /// Every message up to this `seq` is marked.
    pub up_to_seq: i64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the mark was made.
    pub at: String,
}

/// `conversation_status`'s data: the conversation's status watermarks moved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationStatus {
    /// The conversation concerned.
    pub conversation_id: String,
    /// The new delivered-to-all watermark.
    pub all_delivered_seq: i64,
    /// The new read-by-all watermark.
    pub all_read_seq: i64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// When the watermarks moved.
    pub at: String,
}

/// `conversation_removed`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationRemoved {
    /// The conversation the user no longer belongs to.
    pub conversation_id: String,
}

/// `reaction_changed`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionChanged {
    /// The message's conversation.
    pub conversation_id: String,
    /// The message reacted to.
    pub message_id: String,
    /// The message's `seq`.
    pub seq: i64,
    /// The emoji.
    pub emoji: String,
    /// How many react with it now.
    pub count: i64,
    /// Who added or removed it.
    pub user_id: String,
    /// Added (else removed).
    pub added: bool,
}

/// A durable event as sent: `{"type", "cursor", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventData {
    /// A message was sent.
    NewMessage(Message),
    /// A message was edited.
    MessageUpdated(Message),
    /// A message was deleted.
    MessageDeleted(MessageDeleted),
    /// A member marked messages delivered or read.
    MessageStatus(MessageStatusEvent),
    /// A conversation was created or changed, as the receiving user sees it.
    ConversationUpdated(Conversation),
    /// The user left or was removed from a conversation.
    ConversationRemoved(ConversationRemoved),
    /// A conversation's status watermarks moved.
    ConversationStatus(ConversationStatus),
    /// A user sharing a conversation with the receiver (or the receiver itself) changed its
    /// profile.
    UserUpdated(User),
    /// A member added or removed a reaction.
    ReactionChanged(ReactionChanged),
}

/// A durable event of the user's log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The position to resume from (`since`) to get the events after this one.
    pub cursor: String,
    #[serde(flatten)]
    /// What happened.
    pub event: EventData,
}

/// `GET /sync`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    /// The events after `since`, oldest first.
    pub events: Vec<Event>,
    /// The cursor to ask from next time.
    pub next_cursor: String,
    /// Whether more events wait beyond `next_cursor`.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_event_has_type_cursor_and_data() {
        let e = Event {
            cursor: "7".into(),
            event: EventData::ConversationRemoved(ConversationRemoved {
                conversation_id: "c1".into(),
            }),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "conversation_removed", "cursor": "7", "data": {"conversation_id": "c1"}})
        );
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn conversation_type_field_is_named_type() {
        let req = CreateConversationRequest {
            kind: "direct".into(),
            user_id: Some("u".into()),
            ..Default::default()
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v, serde_json::json!({"type": "direct", "user_id": "u"}));
    }
}

// ---- Real time: WebSocket frames ----

/// `typing_start` / `typing_stop`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypingData {
    /// The conversation concerned.
    pub conversation_id: String,
    /// The user typing.
    pub user_id: String,
}

/// `presence_update`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceData {
    /// The user whose presence changed.
    pub user_id: String,
    /// Whether the user is online.
    pub online: bool,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// When the user was last seen online.
    pub last_seen_at: Option<String>,
}

/// An ephemeral frame as sent: `{"type", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Ephemeral {
    /// A user started typing.
    TypingStart(TypingData),
    /// A user stopped typing, or its indicator ran out.
    TypingStop(TypingData),
    /// A user sharing a conversation came online or went offline.
    PresenceUpdate(PresenceData),
}

/// A frame from client to server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Authenticates the connection (the first frame, when no header carries the token).
    Auth {
        /// The session's bearer token.
        token: String,
    },
    /// The user started or stopped typing.
    Typing {
        /// The conversation typed in.
        conversation_id: String,
        /// Whether typing started (true) or stopped.
        typing: bool,
    },
    /// Marks messages delivered to the user.
    Delivered {
        /// The conversation concerned.
        conversation_id: String,
        /// Every message up to this `seq` is delivered.
        up_to_seq: i64,
    },
    /// Marks messages read by the user.
    Read {
        /// The conversation concerned.
        conversation_id: String,
        /// Every message up to this `seq` is read.
        up_to_seq: i64,
    },
    /// Asks for a `pong`.
    Ping,
    /// Sends a message, exactly like `POST /conversations/{id}/messages` (the same validation,
    /// limits, rate limit, idempotency by `client_id` and error codes). Answered with `sent`
    /// once the message is durably stored, or with an `error`; both echo `ref`.
    Send {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(max_length = 64))]
        /// The client's own label for this frame (at most 64 characters), echoed in its answer.
        reference: Option<String>,
        /// The conversation to send into.
        conversation_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
        /// An idempotency key (1–64 characters): sending again with it returns the first message.
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::MessageKind>))]
        /// `text` (default), `image` or `file`.
        kind: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(max_length = 16384))]
        /// The text (required for `text`; a caption otherwise).
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// The caller's upload to attach (required for `image` and `file`).
        media_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// The id of a message of the same conversation that this one answers.
        reply_to: Option<String>,
    },
}

/// The longest `ref` a `send` frame may carry.
pub const MAX_REF_CHARS: usize = 64;

impl ClientFrame {
    /// A `send` frame for `conversation_id` with the body of a REST send.
    pub fn send(
        reference: Option<String>,
        conversation_id: impl Into<String>,
        req: SendMessageRequest,
    ) -> Self {
        ClientFrame::Send {
            reference,
            conversation_id: conversation_id.into(),
            client_id: req.client_id,
            kind: req.kind,
            text: req.text,
            media_id: req.media_id,
            reply_to: req.reply_to,
        }
    }
}

/// The control frames from server to client that are neither durable nor ephemeral events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlFrame {
    /// Sent once authenticated.
    Ready {
        /// Where the stream starts: the `since` given, or the head of the user's log.
        cursor: String,
        /// The session the connection is authenticated as.
        session_id: String,
        /// The user the connection is authenticated as.
        user_id: String,
    },
    /// The answer to a `ping`.
    Pong,
    /// The answer to an invalid frame, or to a `send` that failed; the connection stays open.
    Error {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        /// The `ref` of the `send` frame answered, if it had one.
        reference: Option<String>,
        /// What was wrong with the frame.
        error: ErrorDetail,
    },
    /// The answer to a `send` frame: its message is durably stored. It also arrives, as on
    /// every device of the sender, as a `new_message` event (before or after this frame).
    Sent {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        /// The `ref` of the `send` frame answered, if it had one.
        reference: Option<String>,
        /// Whether it was stored now (`false`: its `client_id` was sent before, and `message`
        /// is the one stored then, as REST answers `200`).
        created: bool,
        /// The message stored.
        message: Box<Message>,
    },
    /// The `since` cursor is older than the retained log: reload with REST. `cursor` is where
    /// the live stream that follows starts.
    ResyncRequired {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// Where the live stream after this frame starts.
        cursor: Option<String>,
    },
}

/// Any frame from server to client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// A durable event (`new_message`, …), with its cursor.
    Event(Box<Event>),
    /// An ephemeral frame (typing, presence), never replayed.
    Ephemeral(Ephemeral),
    /// A control frame (`ready`, `pong`, `error`, `sent`, `resync_required`).
    Control(ControlFrame),
}

impl ServerFrame {
    /// Parses a server text frame; an unknown `type` is an error, so that a client can log it
    /// and go on.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "type")]
            kind: String,
        }
        let probe: Probe = serde_json::from_str(text)?;
        match probe.kind.as_str() {
            "typing_start" | "typing_stop" | "presence_update" => {
                serde_json::from_str(text).map(ServerFrame::Ephemeral)
            }
            "ready" | "pong" | "error" | "sent" | "resync_required" => {
                serde_json::from_str(text).map(ServerFrame::Control)
            }
            _ => serde_json::from_str(text).map(|e| ServerFrame::Event(Box::new(e))),
        }
    }
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn server_frames_parse_by_type() {
        let f =
            ServerFrame::parse(r#"{"type":"ready","cursor":"4","session_id":"s","user_id":"u"}"#)
                .unwrap();
        assert!(matches!(
            f,
            ServerFrame::Control(ControlFrame::Ready { .. })
        ));
        let f = ServerFrame::parse(
            r#"{"type":"typing_start","data":{"conversation_id":"c","user_id":"u"}}"#,
        )
        .unwrap();
        assert!(matches!(
            f,
            ServerFrame::Ephemeral(Ephemeral::TypingStart(_))
        ));
        let f = ServerFrame::parse(
            r#"{"type":"conversation_removed","cursor":"9","data":{"conversation_id":"c"}}"#,
        )
        .unwrap();
        assert!(matches!(f, ServerFrame::Event(_)));
        assert!(ServerFrame::parse(r#"{"type":"pong"}"#).is_ok());
        assert!(ServerFrame::parse(r#"{"type":"nonsense"}"#).is_err());
    }

    #[test]
    fn client_frames_have_the_documented_shape() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"read","conversation_id":"c","up_to_seq":3}"#).unwrap();
        assert_eq!(
            f,
            ClientFrame::Read {
                conversation_id: "c".into(),
                up_to_seq: 3
            }
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Ping).unwrap(),
            r#"{"type":"ping"}"#
        );
    }

    #[test]
    fn send_frames_carry_ref_as_ref() {
        let f: ClientFrame = serde_json::from_str(
            r#"{"type":"send","ref":"r1","conversation_id":"c","client_id":"k","text":"hi"}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            ClientFrame::send(
                Some("r1".into()),
                "c",
                SendMessageRequest {
                    client_id: Some("k".into()),
                    text: Some("hi".into()),
                    ..Default::default()
                }
            )
        );
        let minimal = ClientFrame::send(None, "c", SendMessageRequest::default());
        assert_eq!(
            serde_json::to_string(&minimal).unwrap(),
            r#"{"type":"send","conversation_id":"c"}"#
        );
        let err = ControlFrame::Error {
            reference: Some("r1".into()),
            error: ErrorDetail {
                code: "not_found".into(),
                message: "m".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"type":"error","ref":"r1","error":{"code":"not_found","message":"m"}}"#
        );
        let sent = r#"{"type":"sent","ref":"r1","created":true,"message":{"id":"m","conversation_id":"c","seq":1,"sender_id":"u","client_id":null,"kind":"text","text":"hi","media":null,"reply_to":null,"created_at":"2026-11-27T23:59:59.123Z","edited_at":null,"deleted":false,"status":"sent"}}"#;
        assert!(matches!(
            ServerFrame::parse(sent).unwrap(),
            ServerFrame::Control(ControlFrame::Sent { created: true, .. })
        ));
        // An error without a ref reads as before.
        let old: ControlFrame =
            serde_json::from_str(r#"{"type":"error","error":{"code":"c","message":"m"}}"#).unwrap();
        assert!(matches!(
            old,
            ControlFrame::Error {
                reference: None,
                ..
            }
        ));
    }
}
