//! Replaying the event log after a cursor, as a user sees it: what `/sync` answers and what a
//! resuming WebSocket sends before the live stream.

use natter_core::UserId;
use natter_wire as wire;

use super::{App, Cursor};
use crate::error::{AppError, AppResult};

/// What a reader at a cursor gets.
pub enum Replay {
    /// The cursor is older than the retained log, or one the log never issued: the reader
    /// reloads with REST and goes on from `head`, the log's newest position.
    ResyncRequired { head: Cursor },
    /// The events after the cursor.
    Page(ReplayPage),
}

/// A page of the log after a cursor, for one user.
pub struct ReplayPage {
    /// One per event read, oldest first, each rendered as the user sees it.
    pub events: Vec<Replayed>,
    /// The position of the last event read; the cursor itself when none was.
    pub next_cursor: Cursor,
    /// Whether the page was full, so more may remain.
    pub has_more: bool,
    /// Rendering stopped at an event that could not be rendered: `events` are those before it.
    pub failed: Option<AppError>,
}

/// One event of a page.
pub struct Replayed {
    /// Its position: a reader's cursor moves past it whether it is shown or not.
    pub pos: Cursor,
    /// The conversation it is about; empty for an event about no conversation.
    pub conversation_id: String,
    /// None when the user may not see it, or nothing is left to show.
    pub event: Option<wire::Event>,
}

impl App {
    /// `user_id`'s events after `after`, at most `limit`, rendered; whether the cursor resumes
    /// is decided on the snapshot the events are read from. A failed read is an error; a
    /// failed rendering ends the page early (see [`ReplayPage::failed`]).
    pub async fn replay(&self, user_id: &str, after: Cursor, limit: u32) -> AppResult<Replay> {
        let backlog = self
            .store()
            .backlog(UserId::new(user_id), after, limit)
            .await?;
        if !backlog.resumes(after) {
            return Ok(Replay::ResyncRequired { head: backlog.head });
        }
        let rows = backlog.events;
        let has_more = rows.len() == limit as usize;
        let next_cursor = rows.last().map_or(after, |e| e.pos);
        let mut events = Vec::with_capacity(rows.len());
        let mut failed = None;
        for e in &rows {
            match self.render_event(user_id, e).await {
                Ok(event) => events.push(Replayed {
                    pos: e.pos,
                    conversation_id: e.conversation_id.clone(),
                    event,
                }),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        Ok(Replay::Page(ReplayPage {
            events,
            next_cursor,
            has_more,
            failed,
        }))
    }
}
