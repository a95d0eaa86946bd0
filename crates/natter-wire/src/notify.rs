//! Reaching people who are not looking: Web Push subscriptions and their payload, notification
//! settings and muting, and webhooks.

use serde::{Deserialize, Deserializer, Serialize};

/// `GET /push/vapid`: the server's VAPID public key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VapidKey {
    /// Base64url (no padding) of the uncompressed P-256 point: `applicationServerKey`.
    pub public_key: String,
}

/// The keys of a browser's push subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushKeys {
    /// Base64url of the subscription's P-256 public key (65 bytes, uncompressed).
    pub p256dh: String,
    /// Base64url of its 16-byte authentication secret.
    pub auth: String,
}

/// `POST /push/subscriptions`: what `PushSubscription.toJSON()` gives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPushSubscription {
    /// The push service's URL for the subscription.
    pub endpoint: String,
    pub keys: PushKeys,
}

/// A device's push subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSubscription {
    pub id: String,
    pub endpoint: String,
    /// The session (device) it belongs to: it goes with it.
    pub session_id: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

/// `GET /push/subscriptions`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSubscriptions {
    pub subscriptions: Vec<PushSubscription>,
}

/// A time limit: `until` a time, or until turned off (`null`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Until {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// Null: until turned off.
    pub until: Option<String>,
}

/// A muted conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mute {
    pub conversation_id: String,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    /// Null: until unmuted.
    pub until: Option<String>,
}

/// `GET /users/me/notifications`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationSettings {
    /// Whether pushes carry a preview of the message.
    pub previews: bool,
    /// Whether muted conversations still push the messages that mention the user or reply to
    /// one of its messages.
    pub mentions_when_muted: bool,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Do not disturb: nothing is pushed while on. Null when off.
    pub dnd: Option<Until>,
    /// The conversations muted now.
    pub muted: Vec<Mute>,
}

/// `PATCH /users/me/notifications`: each field given is changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationSettingsChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previews: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions_when_muted: Option<bool>,
    /// Absent: unchanged; null: off; `{"until": null}`: on until turned off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Until>))]
    pub dnd: Option<Option<Until>>,
}

/// A field that may be absent (`None`), null (`Some(None)`) or a value.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PUT /conversations/{id}/mute`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MuteRequest {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    /// Absent or null: until unmuted.
    pub until: Option<String>,
}

/// Who sent a pushed message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSender {
    pub id: String,
    pub display_name: String,
}

/// The JSON a push carries, encrypted (RFC 8291) for the subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushPayload {
    /// `new_message`.
    #[serde(rename = "type")]
    pub kind: String,
    pub conversation_id: String,
    /// `direct` or `group`.
    pub conversation_kind: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// A group's name; null for a direct conversation.
    pub conversation_name: Option<String>,
    pub message_id: String,
    pub seq: i64,
    pub sender: PushSender,
    /// Whether the message mentions the receiver.
    pub mention: bool,
    /// Whether the message replies to one of the receiver's messages.
    #[serde(default)]
    pub reply: bool,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub sent_at: String,
    /// Only when the receiver allows previews: the start of the text or caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// `POST /webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    /// Where events are posted: it must start with a prefix the operator allows.
    pub url: String,
    /// One conversation of the caller's; absent or null: every conversation, present and future.
    #[serde(default)]
    pub conversation_id: Option<String>,
}

/// A webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub conversation_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// The last event delivered or given up on.
    pub cursor: String,
    #[cfg_attr(feature = "openapi", schema(required = true, format = DateTime))]
    pub delivered_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Why the last attempt failed, while the event is tried again.
    pub last_error: Option<String>,
    /// How many events were given up on.
    pub dead_letters: i64,
    /// The key deliveries are signed with: only in the answer to its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET /webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhooks {
    pub webhooks: Vec<Webhook>,
}

/// An event a webhook gave up delivering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub cursor: String,
    /// The event as it was posted.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event: serde_json::Value,
    pub attempts: i64,
    pub last_error: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub failed_at: String,
}

/// `GET /webhooks/{id}/dead-letters`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetters {
    pub dead_letters: Vec<DeadLetter>,
    pub has_more: bool,
}
