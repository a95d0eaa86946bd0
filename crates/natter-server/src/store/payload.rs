//! The data that durable events keep in the log, typed with the wire's own shapes and
//! serialised in one place, so that every adapter writes exactly what a replay renders. Only the
//! small payloads live here: messages and conversations are rendered from their rows.

use natter_core::decide::{EventData, NewEvent};
use natter_wire as wire;

use super::EventKind;

fn json<T: serde::Serialize>(v: &T) -> String {
    // These are plain structs of strings and numbers: serialising them cannot fail.
    serde_json::to_string(v).expect("an event payload serialises")
}

/// `message_deleted`: for everyone, or (`for_me`) for one user's devices.
pub fn message_deleted(conversation_id: &str, message_id: &str, seq: i64, for_me: bool) -> String {
    json(&wire::MessageDeleted {
        conversation_id: conversation_id.to_owned(),
        message_id: message_id.to_owned(),
        seq,
        for_me,
    })
}

/// `message_status`: one member's delivered or read mark moved up to `up_to_seq`.
pub fn message_status(
    conversation_id: &str,
    user_id: &str,
    read: bool,
    up_to_seq: i64,
    at: i64,
) -> String {
    json(&wire::MessageStatusEvent {
        conversation_id: conversation_id.to_owned(),
        user_id: user_id.to_owned(),
        status: if read { "read" } else { "delivered" }.to_owned(),
        up_to_seq,
        at: natter_core::time::format(at),
    })
}

/// `conversation_status`: the conversation's status watermarks moved.
pub fn conversation_status(
    conversation_id: &str,
    all_delivered_seq: i64,
    all_read_seq: i64,
    at: i64,
) -> String {
    json(&wire::ConversationStatus {
        conversation_id: conversation_id.to_owned(),
        all_delivered_seq,
        all_read_seq,
        at: natter_core::time::format(at),
    })
}

/// `conversation_removed`: the user left or was removed.
pub fn conversation_removed(conversation_id: &str) -> String {
    json(&wire::ConversationRemoved {
        conversation_id: conversation_id.to_owned(),
    })
}

/// `user_updated`: which user; it is rendered as it is when read.
pub fn user_updated(user_id: &str) -> String {
    json(&serde_json::json!({ "user_id": user_id }))
}

/// The user a `user_updated` event's payload names.
pub fn user_updated_id(data: Option<&str>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(data?).ok()?;
    v.get("user_id")?.as_str().map(str::to_owned)
}

/// How an adapter stores a decided event: its kind, the message it refers to, and its payload.
pub fn encode(e: &NewEvent) -> (EventKind, Option<&str>, Option<String>) {
    let c = e.conversation_id.as_str();
    match &e.data {
        EventData::NewMessage { message_id } => (EventKind::NewMessage, Some(message_id), None),
        EventData::MessageUpdated { message_id } => {
            (EventKind::MessageUpdated, Some(message_id), None)
        }
        EventData::MessageDeleted {
            message_id,
            seq,
            for_me,
        } => (
            EventKind::MessageDeleted,
            Some(message_id),
            Some(message_deleted(c, message_id, *seq, *for_me)),
        ),
        EventData::MessageStatus {
            user_id,
            read,
            up_to_seq,
        } => (
            EventKind::MessageStatus,
            None,
            Some(message_status(c, user_id, *read, *up_to_seq, e.at)),
        ),
        EventData::ReactionChanged {
            message_id,
            seq,
            emoji,
            count,
            user_id,
            added,
        } => (
            EventKind::ReactionChanged,
            Some(message_id),
            Some(json(&wire::ReactionChanged {
                conversation_id: c.to_owned(),
                message_id: message_id.clone(),
                seq: *seq,
                emoji: emoji.clone(),
                count: *count,
                user_id: user_id.clone(),
                added: *added,
            })),
        ),
        EventData::ConversationUpdated => (EventKind::ConversationUpdated, None, None),
        EventData::UserUpdated { user_id } => {
            (EventKind::UserUpdated, None, Some(user_updated(user_id)))
        }
        EventData::ConversationRemoved => (
            EventKind::ConversationRemoved,
            None,
            Some(conversation_removed(c)),
        ),
        EventData::ConversationStatus(w) => (
            EventKind::ConversationStatus,
            None,
            Some(conversation_status(
                c,
                w.all_delivered_seq,
                w.all_read_seq,
                e.at,
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_fields_of_the_contract() {
        let v: serde_json::Value =
            serde_json::from_str(&message_status("c", "u", true, 7, 1_764_547_200_123)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"conversation_id": "c", "user_id": "u", "status": "read",
                "up_to_seq": 7, "at": "2025-12-01T00:00:00.123Z"})
        );
        let v: serde_json::Value =
            serde_json::from_str(&message_deleted("c", "m", 3, false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"conversation_id": "c", "message_id": "m", "seq": 3, "for_me": false})
        );
        let v: serde_json::Value =
            serde_json::from_str(&conversation_status("c", 4, 2, 0)).unwrap();
        assert_eq!(v["all_delivered_seq"], 4);
        assert_eq!(v["all_read_seq"], 2);
        assert_eq!(v["at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(conversation_removed("c"), r#"{"conversation_id":"c"}"#);
    }
}
