//! The JSON shapes of natter's public API (version 1), shared by the server and the Rust SDK so
//! that the two cannot drift apart. Field names and spellings are exactly those of API.md.
//!
//! Times are RFC 3339 strings with milliseconds; ids are opaque strings.

use serde::{Deserialize, Serialize};

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
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::ErrorCode))]
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub online: bool,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub last_seen_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// The bytes of the user's uploads still stored; only in the user's own view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_bytes: Option<i64>,
    /// The most bytes of uploads the user may have stored; only in the user's own view, and
    /// absent when the server sets no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_quota: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Role))]
    pub role: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = schema::ConversationType))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub name: Option<String>,
    pub members: Vec<Member>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub last_message_at: String,
    pub last_seq: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub read_seq: i64,
    /// Every message at or below it that has recipients is delivered to all of them; the same
    /// for every member, never moving backwards.
    pub all_delivered_seq: i64,
    /// Every message at or below it that has recipients is read by all of them.
    pub all_read_seq: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub client_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageKind))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub text: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub media: Option<Media>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reply_to: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub edited_at: Option<String>,
    pub deleted: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageStatus))]
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Media {
    pub id: String,
    pub content_type: String,
    pub size: i64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub filename: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub width: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub height: Option<i64>,
    pub has_thumbnail: bool,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub sha256: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

// ---- Accounts and sessions ----

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"username": "alice", "password": "correct horse battery", "display_name": "Alice"})))
)]
pub struct RegisterRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_.-]{3,32}$"))]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"username": "alice", "password": "correct horse battery", "device_name": "laptop"})))
)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub device_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub token: String,
    pub session_id: String,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub device_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub last_active_at: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
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
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 1024))]
    pub member_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"name": "Climbing (Saturdays)"})))
)]
pub struct RenameRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"user_id": "0194b7a0-5c2e-7d3f-9a1b-2c3d4e5f6a7b", "role": "member"})))
)]
pub struct AddMemberRequest {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::GrantedRole>))]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"role": "admin"})))
)]
pub struct SetRoleRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::GrantedRole))]
    pub role: String,
}

// ---- Messages ----

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"text": "see you at 7"}), json!({"client_id": "7f0c2d9e-retry-1", "kind": "text", "text": "on my way"})))
)]
pub struct SendMessageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::MessageKind>))]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 16384))]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"text": "see you at 8"})))
)]
pub struct EditMessageRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384))]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipts {
    pub message_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageStatus))]
    pub status: String,
    pub recipients: Vec<RecipientStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientStatus {
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MessageStatus))]
    pub status: String,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub delivered_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub read_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"typing": true})))
)]
pub struct TypingRequest {
    pub typing: bool,
}

// ---- Operations ----

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::HealthStatus))]
    pub status: String,
    pub version: String,
}

// ---- Durable events (the event log; delivered over WebSocket and /sync) ----

/// `message_deleted`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageDeleted {
    pub conversation_id: String,
    pub message_id: String,
    pub seq: i64,
    pub for_me: bool,
}

/// `message_status`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageStatusEvent {
    pub conversation_id: String,
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::MarkStatus))]
    pub status: String,
    pub up_to_seq: i64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub at: String,
}

/// `conversation_status`'s data: the conversation's status watermarks moved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationStatus {
    pub conversation_id: String,
    pub all_delivered_seq: i64,
    pub all_read_seq: i64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub at: String,
}

/// `conversation_removed`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationRemoved {
    pub conversation_id: String,
}

/// A durable event as sent: `{"type", "cursor", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventData {
    NewMessage(Message),
    MessageUpdated(Message),
    MessageDeleted(MessageDeleted),
    MessageStatus(MessageStatusEvent),
    ConversationUpdated(Conversation),
    ConversationRemoved(ConversationRemoved),
    ConversationStatus(ConversationStatus),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub cursor: String,
    #[serde(flatten)]
    pub event: EventData,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    pub events: Vec<Event>,
    pub next_cursor: String,
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
    pub conversation_id: String,
    pub user_id: String,
}

/// `presence_update`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceData {
    pub user_id: String,
    pub online: bool,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub last_seen_at: Option<String>,
}

/// An ephemeral frame as sent: `{"type", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Ephemeral {
    TypingStart(TypingData),
    TypingStop(TypingData),
    PresenceUpdate(PresenceData),
}

/// A frame from client to server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Auth {
        token: String,
    },
    Typing {
        conversation_id: String,
        typing: bool,
    },
    Delivered {
        conversation_id: String,
        up_to_seq: i64,
    },
    Read {
        conversation_id: String,
        up_to_seq: i64,
    },
    Ping,
}

/// The control frames from server to client that are neither durable nor ephemeral events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlFrame {
    /// Sent once authenticated.
    Ready {
        cursor: String,
        session_id: String,
        user_id: String,
    },
    Pong,
    /// The answer to an invalid frame; the connection stays open.
    Error {
        error: ErrorDetail,
    },
    /// The `since` cursor is older than the retained log: reload with REST. `cursor` is where
    /// the live stream that follows starts.
    ResyncRequired {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
}

/// Any frame from server to client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    Event(Box<Event>),
    Ephemeral(Ephemeral),
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
            "ready" | "pong" | "error" | "resync_required" => {
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
}
