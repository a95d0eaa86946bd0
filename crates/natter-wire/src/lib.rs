//! The JSON shapes of natter's public API (version 1), shared by the server and the Rust SDK so
//! that the two cannot drift apart. Field names and spellings are exactly those of API.md.
//!
//! Times are RFC 3339 strings with milliseconds; ids are opaque strings.

use serde::{Deserialize, Serialize};

/// `{"error": {"code", "message"}}`, the body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub online: bool,
    pub last_seen_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub role: String,
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Conversation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub members: Vec<Member>,
    pub created_at: String,
    pub last_message_at: String,
    pub last_seq: i64,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub read_seq: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: String,
    pub text: Option<String>,
    pub media: Option<Media>,
    pub reply_to: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub deleted: bool,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Media {
    pub id: String,
    pub content_type: String,
    pub size: i64,
    pub filename: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_thumbnail: bool,
    pub sha256: String,
    pub created_at: String,
}

// ---- Accounts and sessions ----

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginResponse {
    pub token: String,
    pub session_id: String,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub device_name: Option<String>,
    pub created_at: String,
    pub last_active_at: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionList {
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserList {
    pub users: Vec<User>,
}

// ---- Conversations ----

/// `POST /conversations`: `{"type": "direct", "user_id"}` or `{"type": "group", "name", "member_ids"}`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CreateConversationRequest {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RenameRequest {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AddMemberRequest {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SetRoleRequest {
    pub role: String,
}

// ---- Messages ----

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SendMessageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct EditMessageRequest {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipts {
    pub message_id: String,
    pub status: String,
    pub recipients: Vec<RecipientStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecipientStatus {
    pub user_id: String,
    pub status: String,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TypingRequest {
    pub typing: bool,
}

// ---- Operations ----

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    pub status: String,
    pub version: String,
}

// ---- Durable events (the event log; delivered over WebSocket and /sync) ----

/// `message_deleted`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageDeleted {
    pub conversation_id: String,
    pub message_id: String,
    pub seq: i64,
    pub for_me: bool,
}

/// `message_status`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageStatusEvent {
    pub conversation_id: String,
    pub user_id: String,
    pub status: String,
    pub up_to_seq: i64,
    pub at: String,
}

/// `conversation_removed`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConversationRemoved {
    pub conversation_id: String,
}

/// A durable event as sent: `{"type", "cursor", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventData {
    NewMessage(Message),
    MessageUpdated(Message),
    MessageDeleted(MessageDeleted),
    MessageStatus(MessageStatusEvent),
    ConversationUpdated(Conversation),
    ConversationRemoved(ConversationRemoved),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub cursor: String,
    #[serde(flatten)]
    pub event: EventData,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
pub struct TypingData {
    pub conversation_id: String,
    pub user_id: String,
}

/// `presence_update`'s data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PresenceData {
    pub user_id: String,
    pub online: bool,
    pub last_seen_at: Option<String>,
}

/// An ephemeral frame as sent: `{"type", "data"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Ephemeral {
    TypingStart(TypingData),
    TypingStop(TypingData),
    PresenceUpdate(PresenceData),
}

/// A frame from client to server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
