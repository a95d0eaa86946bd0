//! The durable event log as a user sees it: cursors and rendering.
//!
//! A cursor is the position of the last event a device processed, written in decimal. Clients
//! treat it as opaque; the server parses it strictly, so a malformed cursor is a clear `400`.

use natter_wire as wire;

use super::App;
use crate::{
    error::{AppError, AppResult},
    store::{EventKind, EventRow},
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

impl App {
    /// Renders one logged event for `caller`; none when there is nothing left to show (the
    /// message or conversation it refers to is gone).
    pub async fn render_event(&self, viewer: &str, e: &EventRow) -> AppResult<Option<wire::Event>> {
        self.render_event_with(viewer, e, None).await
    }

    /// Like [`App::render_event`], with the conversation's members if the caller has them
    /// (they are only read for a message's status).
    pub(crate) async fn render_event_with(
        &self,
        viewer: &str,
        e: &EventRow,
        members: Option<&[crate::store::MemberRow]>,
    ) -> AppResult<Option<wire::Event>> {
        let cursor = e.pos.to_string();
        let data = |e: &EventRow| -> AppResult<serde_json::Value> {
            serde_json::from_str(e.data.as_deref().unwrap_or("null"))
                .map_err(|err| AppError::Internal(format!("event {}: {err}", e.pos)))
        };
        let event = match e.kind {
            EventKind::NewMessage | EventKind::MessageUpdated => {
                let Some(id) = &e.message_id else {
                    return Ok(None);
                };
                let Some(msg) = self.store().message(id, viewer).await? else {
                    return Ok(None);
                };
                let m = match members {
                    Some(members) => self.render_message(&msg, members).await?,
                    None => {
                        let members = self.store().members(&msg.conversation_id).await?;
                        self.render_message(&msg, &members).await?
                    }
                };
                if e.kind == EventKind::NewMessage {
                    wire::EventData::NewMessage(m)
                } else {
                    wire::EventData::MessageUpdated(m)
                }
            }
            EventKind::MessageDeleted => wire::EventData::MessageDeleted(
                serde_json::from_value(data(e)?)
                    .map_err(|err| AppError::Internal(err.to_string()))?,
            ),
            EventKind::MessageStatus => wire::EventData::MessageStatus(
                serde_json::from_value(data(e)?)
                    .map_err(|err| AppError::Internal(err.to_string()))?,
            ),
            EventKind::ConversationStatus => wire::EventData::ConversationStatus(
                serde_json::from_value(data(e)?)
                    .map_err(|err| AppError::Internal(err.to_string()))?,
            ),
            EventKind::ConversationRemoved => {
                wire::EventData::ConversationRemoved(wire::ConversationRemoved {
                    conversation_id: e.conversation_id.clone(),
                })
            }
            EventKind::ConversationUpdated => {
                match self
                    .store()
                    .conversation_view(&e.conversation_id, viewer)
                    .await?
                {
                    Some(v) => {
                        wire::EventData::ConversationUpdated(self.render_conversation(&v).await?)
                    }
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(wire::Event { cursor, event }))
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
