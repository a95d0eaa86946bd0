//! The fan-out: one task per node tails the event log in position order and queues each event
//! for every connected device of its audience.
//!
//! Tailing the log, rather than forwarding what writers announce, is what keeps delivery in
//! order and complete: announcements only wake the tail. Each event is rendered and serialized
//! once and the bytes shared among its recipients, except the kinds whose content depends on
//! the viewer (`conversation_updated` carries the viewer's unread count; `message_updated`
//! respects what the viewer deleted for itself).

use std::{collections::HashMap, sync::Arc, time::Duration};

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;

use super::App;
use crate::{
    bus::BusMessage,
    hub::{Outbound, close},
    store::{EventKind, EventRow, MemberRow},
};

/// Events read from the log per query.
const BATCH: u32 = 512;
/// Conversations whose members are cached before the cache is cleared.
const CACHE_MAX: usize = 10_000;

impl App {
    pub(super) fn spawn_fanout(&self) {
        let app = self.clone();
        let mut bus = self.bus().subscribe();
        let mut stop = self.inner.stop.subscribe();
        tokio::spawn(async move {
            let mut last = match app.store().head().await {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(error = %e, "fan-out cannot read the log head");
                    0
                }
            };
            let mut members: HashMap<String, Arc<Vec<MemberRow>>> = HashMap::new();
            // A safety net: if a wake-up were ever missed, the tail still moves within a second.
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    msg = bus.recv() => match msg {
                        Ok(BusMessage::LogAppended) | Err(RecvError::Lagged(_)) => {}
                        Ok(BusMessage::Ephemeral { users, frame }) => {
                            let out = Outbound::Ephemeral(frame);
                            for u in users.iter() {
                                app.deliver(u, &out);
                            }
                            continue;
                        }
                        Ok(BusMessage::SessionRevoked { session_id }) => {
                            app.inner.sessions.evict(&session_id);
                            app.hub().close_session(&session_id, close::AUTH);
                            continue;
                        }
                        Err(RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                last = app.tail(last, &mut members).await;
            }
        });
    }

    /// Queues a frame for a user's connections, counting what happened.
    fn deliver(&self, user_id: &str, out: &Outbound) {
        let (took, slow) = self.hub().deliver(user_id, out);
        let m = self.metrics();
        m.frames_delivered.inc_by(took as u64);
        if slow > 0 {
            m.slow_consumer_closes.inc_by(slow as u64);
        }
    }

    /// Delivers every event after `last`; returns the new last position.
    async fn tail(&self, mut last: i64, cache: &mut HashMap<String, Arc<Vec<MemberRow>>>) -> i64 {
        loop {
            let rows = match self.store().events_after(last, BATCH).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "fan-out cannot read the log");
                    return last;
                }
            };
            self.metrics().events_fanned_out.inc_by(rows.len() as u64);
            for e in &rows {
                if let Err(err) = self.fan_out(e, cache).await {
                    // The devices that missed it get it when they resume from their cursor.
                    tracing::error!(error = %err, pos = e.pos, "fan-out of an event failed");
                }
                last = e.pos;
            }
            if rows.len() < BATCH as usize {
                return last;
            }
        }
    }

    async fn fan_out(
        &self,
        e: &EventRow,
        cache: &mut HashMap<String, Arc<Vec<MemberRow>>>,
    ) -> Result<(), crate::error::AppError> {
        if matches!(
            e.kind,
            EventKind::ConversationUpdated | EventKind::ConversationRemoved
        ) {
            cache.remove(&e.conversation_id);
        }
        let mut cached: Option<Arc<Vec<MemberRow>>> = None;
        let audience: Vec<String> = match &e.user_id {
            Some(u) => vec![u.clone()],
            None => {
                let members = match cache.get(&e.conversation_id) {
                    Some(m) => m.clone(),
                    None => {
                        let m = Arc::new(self.store().members(&e.conversation_id).await?);
                        if cache.len() >= CACHE_MAX {
                            cache.clear();
                        }
                        cache.insert(e.conversation_id.clone(), m.clone());
                        m
                    }
                };
                let audience = members
                    .iter()
                    .filter(|m| m.joined_pos < e.pos)
                    .map(|m| m.user_id.clone())
                    .collect();
                cached = Some(members);
                audience
            }
        };
        let audience: Vec<String> = audience
            .into_iter()
            .filter(|u| self.hub().wants(u))
            .collect();
        let Some(first) = audience.first() else {
            return Ok(());
        };
        let per_viewer = matches!(
            e.kind,
            EventKind::ConversationUpdated | EventKind::MessageUpdated
        );
        if per_viewer {
            for u in &audience {
                if let Some(ev) = self.render_event(u, e).await? {
                    let frame = Bytes::from(serde_json::to_vec(&ev).unwrap_or_default());
                    self.hub()
                        .deliver(u, &Outbound::Durable { pos: e.pos, frame });
                }
            }
        } else if let Some(ev) = self
            .render_event_with(first, e, cached.as_deref().map(Vec::as_slice))
            .await?
        {
            let frame = Bytes::from(serde_json::to_vec(&ev).unwrap_or_default());
            let out = Outbound::Durable { pos: e.pos, frame };
            for u in &audience {
                self.deliver(u, &out);
            }
        }
        Ok(())
    }
}
