//! `GET /api/v1/sync`: the event log by polling, for clients that cannot hold a WebSocket.

use std::time::Duration;

use axum::{Json as JsonOut, extract::State, http::StatusCode};
use natter_core::validate;
use natter_wire as wire;
use serde::Deserialize;
use tokio::time::Instant;

use super::{error::ApiError, extract::Query};
use crate::{
    app::{App, Caller, Replay, parse_cursor},
    error::AppError,
};

/// The longest a long poll may wait.
const MAX_TIMEOUT_MS: u64 = 30_000;

#[derive(Deserialize)]
pub struct SyncQuery {
    since: Option<String>,
    limit: Option<i64>,
    timeout_ms: Option<u64>,
}

/// `GET /api/v1/sync?since=<cursor>&limit=&timeout_ms=`
#[utoipa::path(
    get,
    path = "/api/v1/sync",
    operation_id = "sync",
    tag = "realtime",
    summary = "The event log by polling",
    description = "Without `since`: no events and the current cursor. With `timeout_ms` it waits until an event exists (long poll); when the time runs out it answers with no events and `next_cursor` equal to `since`. Cursors are the WebSocket's.",
    params(
        ("since" = Option<String>, Query, example = "0", description = "The cursor of the last event processed (`0`: the start of the log)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many events (default 50)"),
        ("timeout_ms" = Option<i64>, Query, minimum = 0, maximum = 30000, description = "How long to wait for an event (default 0)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The events after `since`", body = wire::SyncResponse),
        (status = 400, description = "`invalid_request`: a malformed `since`, or `limit` / `timeout_ms` out of range", body = wire::ErrorBody),
        (status = 410, description = "`resync_required`: `since` is older than the retained log; reload with REST", body = wire::ErrorBody),
        (status = 429, description = "`rate_limited`: the user already has 32 long polls waiting (with `Retry-After`)", body = wire::ErrorBody),
        (status = 503, description = "`unavailable`: storage cannot be read now (with `Retry-After`); retry with the same `since`", body = wire::ErrorBody),
    ),
)]
pub async fn sync(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SyncQuery>,
) -> Result<JsonOut<wire::SyncResponse>, ApiError> {
    let limit = validate::page_limit(q.limit, app.limits()).map_err(AppError::from)?;
    let wait = match q.timeout_ms {
        Some(ms) if ms > MAX_TIMEOUT_MS => {
            return Err(ApiError::invalid("timeout_ms must be at most 30000"));
        }
        ms => Duration::from_millis(ms.unwrap_or(0)),
    };
    let Some(since) = q.since.as_deref().map(parse_cursor).transpose()? else {
        let head = app.store().head().await.map_err(AppError::from)?;
        return Ok(JsonOut(wire::SyncResponse {
            events: vec![],
            next_cursor: head.to_string(),
            has_more: false,
        }));
    };
    let deadline = Instant::now() + wait;
    let mut poll = PollGuard::new(&app, &caller.user_id, !wait.is_zero())?;
    loop {
        // Noted before the read, so that an event committed after it still moves the position
        // past what was noted.
        let noted = poll.head.as_mut().map(|h| *h.borrow_and_update());
        // Whether the cursor resumes is decided on the snapshot the events are read from.
        let page = match app.replay(&caller.user_id, since, limit).await? {
            Replay::Page(page) => page,
            Replay::ResyncRequired { .. } => {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    "resync_required",
                    "the cursor is older than the retained event log: reload with REST",
                ));
            }
        };
        let head = match (poll.head.as_mut(), noted) {
            (Some(h), Some(noted)) if page.events.is_empty() && Instant::now() < deadline => {
                Some((h, noted.max(since)))
            }
            _ => None,
        };
        let Some((head, read_up_to)) = head else {
            if let Some(err) = page.failed {
                return Err(err.into());
            }
            return Ok(JsonOut(wire::SyncResponse {
                events: page.events.into_iter().filter_map(|r| r.event).collect(),
                next_cursor: page.next_cursor.to_string(),
                has_more: page.has_more,
            }));
        };
        let mut stopping = app.stopping();
        if *stopping.borrow() {
            return Ok(JsonOut(wire::SyncResponse {
                events: vec![],
                next_cursor: since.to_string(),
                has_more: false,
            }));
        }
        // Waits on the position alone: the log is read again only once an event for this
        // user lies past what was read.
        tokio::select! {
            _ = tokio::time::timeout_at(deadline, head.wait_for(|p| *p > read_up_to)) => {}
            // The server is shutting down: answer at the next turn.
            _ = stopping.changed() => {}
        }
    }
}

/// Registers a long poll with the hub for as long as it waits.
struct PollGuard<'a> {
    app: &'a App,
    user_id: &'a str,
    /// The newest log position delivered to the user; none for a poll that does not wait.
    head: Option<tokio::sync::watch::Receiver<i64>>,
}

impl<'a> PollGuard<'a> {
    /// Past the per-user cap of waiting polls: `429` with `Retry-After`.
    fn new(app: &'a App, user_id: &'a str, waits: bool) -> Result<Self, AppError> {
        let head = if waits {
            let max = app.config().polls_max_per_user;
            let head = app
                .hub()
                .start_poll(user_id, max)
                .ok_or(AppError::RateLimited {
                    retry_after_secs: 1,
                })?;
            app.metrics().long_polls.inc();
            Some(head)
        } else {
            None
        };
        Ok(Self { app, user_id, head })
    }
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        if self.head.is_some() {
            self.app.hub().end_poll(self.user_id);
            self.app.metrics().long_polls.dec();
        }
    }
}
