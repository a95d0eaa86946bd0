//! The durable event log as a user sees it: cursors, who may see an event, and rendering.
//!
//! A cursor is the position of the last event a device processed, written in decimal. Clients
//! treat it as opaque; the server parses it strictly, so a malformed cursor is a clear `400`.
//!
//! Whether a viewer may see an event is `natter_core::audience`'s rule, applied on every path:
//! the fan-out for the live stream, [`App::render_event`] for a resume's backlog and `/sync`.
//! An event withheld renders as nothing, and a reader's cursor moves past it all the same.

use natter_core::{
    ConversationId, MessageId, UserId,
    audience::{self, JoinPoint, Subject},
};
use natter_wire as wire;

use super::App;
use crate::{
    error::{AppError, AppResult},
    store::{EventKind, EventRow, MemberRow, MessageRow, ReactionCount, UserRow, payload},
};

/// A position in the event log.
pub type Cursor = i64;

/// Parses a cursor: a non-negative decimal integer.
pub fn parse_cursor(s: &str) -> AppResult<Cursor> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid("malformed cursor"));
    }
    s.parse().map_err(|_| AppError::invalid("malformed cursor"))
}

/// Read as this viewer, a message is hidden for no one: no user has the empty id.
pub(crate) const NO_VIEWER: &str = "";

/// What a logged event refers to, loaded once however many view it.
pub(crate) enum Content {
    /// `new_message` and `message_updated`: the message as read for one viewer (or none).
    Message(MessageRow),
    MessageDeleted(wire::MessageDeleted),
    MessageStatus(wire::MessageStatusEvent),
    ReactionChanged(wire::ReactionChanged),
    /// `conversation_status`: the conversation's watermarks moved.
    ConversationStatus(wire::ConversationStatus),
    /// `conversation_updated` and `conversation_removed`, rendered from the conversation.
    Conversation,
    /// `user_updated`: the user as it is now (addressed to one viewer, who shared a
    /// conversation with it or is it).
    User(UserRow),
}

impl Content {
    /// What the event is about, for the audience rule.
    pub(crate) fn subject(&self) -> Subject {
        match self {
            Content::Message(m) => Subject::Message { seq: m.seq },
            Content::MessageDeleted(d) => Subject::Message { seq: d.seq },
            Content::ReactionChanged(r) => Subject::Message { seq: r.seq },
            Content::MessageStatus(s) => Subject::MarkUpTo {
                up_to_seq: s.up_to_seq,
            },
            // Addressed to its viewer alone, member of nothing: like a removal, it needs no
            // membership.
            Content::Conversation | Content::ConversationStatus(_) | Content::User(_) => {
                Subject::Conversation
            }
        }
    }
}

/// A member's join point, as the audience rule takes it.
pub(crate) fn join_point(m: &MemberRow) -> JoinPoint {
    JoinPoint {
        seq: m.joined_seq,
        pos: m.joined_pos,
    }
}

impl App {
    /// Loads what `e` refers to, as `viewer` sees it; none when it is gone (a message deleted
    /// with its group).
    pub(crate) async fn load_event(
        &self,
        e: &EventRow,
        viewer: &str,
    ) -> AppResult<Option<Content>> {
        fn payload<T: serde::de::DeserializeOwned>(e: &EventRow) -> AppResult<T> {
            serde_json::from_str(e.data.as_deref().unwrap_or("null"))
                .map_err(|err| AppError::Internal(format!("event {}: {err}", e.pos)))
        }
        Ok(Some(match e.kind {
            EventKind::NewMessage | EventKind::MessageUpdated => {
                let Some(id) = &e.message_id else {
                    return Ok(None);
                };
                match self
                    .store()
                    .message(MessageId::new(id), UserId::new(viewer))
                    .await?
                {
                    Some(m) => Content::Message(m),
                    None => return Ok(None),
                }
            }
            EventKind::MessageDeleted => Content::MessageDeleted(payload(e)?),
            EventKind::ReactionChanged => Content::ReactionChanged(payload(e)?),
            EventKind::MessageStatus => Content::MessageStatus(payload(e)?),
            EventKind::ConversationStatus => Content::ConversationStatus(payload(e)?),
            EventKind::ConversationUpdated | EventKind::ConversationRemoved => {
                Content::Conversation
            }
            EventKind::UserUpdated => {
                let Some(id) = payload::user_updated_id(e.data.as_deref()) else {
                    return Ok(None);
                };
                match self.store().user_by_id(UserId::new(&id)).await? {
                    Some(u) => Content::User(u),
                    None => return Ok(None),
                }
            }
        }))
    }

    /// Renders one logged event for `viewer`; none when it may not see it, or when nothing is
    /// left to show (the message or conversation it refers to is gone).
    pub async fn render_event(&self, viewer: &str, e: &EventRow) -> AppResult<Option<wire::Event>> {
        let Some(content) = self.load_event(e, viewer).await? else {
            return Ok(None);
        };
        // A message's status needs every member; the viewer's join point is among them.
        let members = match content {
            Content::Message(_) => {
                self.store()
                    .members(ConversationId::new(&e.conversation_id))
                    .await?
            }
            _ => Vec::new(),
        };
        let joined = match content {
            Content::Message(_) => members.iter().find(|m| m.user_id == viewer).map(join_point),
            _ => self
                .store()
                .member(ConversationId::new(&e.conversation_id), UserId::new(viewer))
                .await?
                .as_ref()
                .map(join_point),
        };
        if !audience::receives(joined, e.user_id.is_some(), e.pos, content.subject()) {
            return Ok(None);
        }
        self.render_content(viewer, e, content, &members, None)
            .await
    }

    /// Renders `e`'s content for `viewer`, who may see it; `members` are the conversation's,
    /// read only for a message's status; `reactions` a message's reactions as the viewer sees
    /// them, when in hand (else they are read).
    pub(crate) async fn render_content(
        &self,
        viewer: &str,
        e: &EventRow,
        content: Content,
        members: &[MemberRow],
        reactions: Option<&[ReactionCount]>,
    ) -> AppResult<Option<wire::Event>> {
        let event = match content {
            Content::Message(msg) => {
                let read;
                let reactions = match reactions {
                    Some(r) => r,
                    None => {
                        read = self.reactions_of_one(&msg, viewer).await?;
                        &read
                    }
                };
                let m = self.render_message(&msg, members, reactions).await?;
                if e.kind == EventKind::NewMessage {
                    wire::EventData::NewMessage(m)
                } else {
                    wire::EventData::MessageUpdated(m)
                }
            }
            Content::MessageDeleted(d) => wire::EventData::MessageDeleted(d),
            Content::MessageStatus(s) => wire::EventData::MessageStatus(s),
            Content::ReactionChanged(r) => wire::EventData::ReactionChanged(r),
            Content::ConversationStatus(s) => wire::EventData::ConversationStatus(s),
            // Its receivers share a conversation with it (or are it): presence shown, but not
            // to one it blocked (each `user_updated` is addressed to one user).
            Content::User(u) => {
                let hidden = match &e.user_id {
                    Some(to) if *to != u.id => {
                        self.store()
                            .has_blocked(UserId::new(&u.id), UserId::new(to))
                            .await?
                    }
                    _ => false,
                };
                wire::EventData::UserUpdated(self.render_user(&u, !hidden, None))
            }
            Content::Conversation if e.kind == EventKind::ConversationRemoved => {
                wire::EventData::ConversationRemoved(wire::ConversationRemoved {
                    conversation_id: e.conversation_id.clone(),
                })
            }
            Content::Conversation => {
                match self
                    .store()
                    .conversation_view(ConversationId::new(&e.conversation_id), UserId::new(viewer))
                    .await?
                {
                    Some(v) => wire::EventData::ConversationUpdated(
                        self.render_conversation(&v, viewer).await?,
                    ),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(wire::Event {
            cursor: e.pos.to_string(),
            event,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_strict_decimal() {
        assert_eq!(parse_cursor("0").unwrap(), 0);
        assert_eq!(parse_cursor("12345").unwrap(), 12345);
        for bad in ["", "-1", "1a", " 1", "99999999999999999999", "0x10"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
