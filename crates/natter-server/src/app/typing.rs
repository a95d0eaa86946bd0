//! Typing indicators: ephemeral, kept in memory, never in the event log.
//!
//! `typing: true` starts an indicator (one `typing_start`) or renews it silently; it ends with
//! `typing_stop` on `typing: false`, when the typer sends a message there, or `typing_timeout`
//! after the last renewal.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use bytes::Bytes;
use natter_core::{ConversationId, UserId};
use natter_wire as wire;
use tokio::time::Instant;

use super::{App, Caller};
use crate::{bus::BusMessage, error::AppResult};

/// (conversation, user) → when the indicator expires.
#[derive(Default)]
pub(super) struct Typing {
    active: Mutex<HashMap<(String, String), Instant>>,
}

impl Typing {
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Instant>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl App {
    /// `POST /conversations/{id}/typing` and the `typing` frame.
    pub async fn set_typing(
        &self,
        caller: &Caller,
        conversation_id: &str,
        typing: bool,
    ) -> AppResult<()> {
        let members = self
            .store()
            .members(ConversationId::new(conversation_id))
            .await?;
        if !members.iter().any(|m| m.user_id == caller.user_id) {
            return Err(crate::error::AppError::not_found("conversation"));
        }
        let key = (conversation_id.to_owned(), caller.user_id.clone());
        let started = {
            let mut active = self.inner.typing.active();
            if typing {
                let until = Instant::now() + self.config().typing_timeout;
                active.insert(key, until).is_none()
            } else {
                if active.remove(&key).is_none() {
                    // Perhaps started through another node: that node ends it.
                    self.typing_ended_elsewhere(
                        ConversationId::new(conversation_id),
                        caller.user_id(),
                    );
                    return Ok(());
                }
                false
            }
        };
        if typing && !started {
            return Ok(());
        }
        let others: Vec<String> = members
            .into_iter()
            .map(|m| m.user_id)
            .filter(|u| *u != caller.user_id)
            .collect();
        // Not to those the typer blocked, in groups too.
        let others = self.unblocked_among(caller.user_id(), others).await?;
        self.announce_typing(
            ConversationId::new(conversation_id),
            caller.user_id(),
            typing,
            others,
        );
        Ok(())
    }

    /// The typer sent a message: its indicator there ends at once.
    pub(crate) async fn typing_ended_by_send(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
    ) {
        let key = (
            conversation_id.as_str().to_owned(),
            user_id.as_str().to_owned(),
        );
        if self.inner.typing.active().remove(&key).is_none() {
            self.typing_ended_elsewhere(conversation_id, user_id);
            return;
        }
        self.stop_typing_for_all(conversation_id, user_id).await;
    }

    /// On several nodes, an indicator this node does not hold may be another node's (the
    /// typer's devices, or its requests, reached other nodes): tells them it ended.
    fn typing_ended_elsewhere(&self, conversation_id: &ConversationId, user_id: &UserId) {
        if self.bus().clustered() {
            self.bus().publish(BusMessage::TypingEnded {
                conversation_id: conversation_id.as_str().to_owned(),
                user_id: user_id.as_str().to_owned(),
            });
        }
    }

    /// Another node ended an indicator: if this node holds it, it ends here (with its
    /// `typing_stop`); else nothing.
    pub(super) async fn typing_ended_by_another_node(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
    ) {
        let key = (
            conversation_id.as_str().to_owned(),
            user_id.as_str().to_owned(),
        );
        if self.inner.typing.active().remove(&key).is_some() {
            self.stop_typing_for_all(conversation_id, user_id).await;
        }
    }

    async fn stop_typing_for_all(&self, conversation_id: &ConversationId, user_id: &UserId) {
        let others = async {
            let members = self.store().members(conversation_id).await?;
            let others = members
                .into_iter()
                .map(|m| m.user_id)
                .filter(|u| u != user_id.as_str())
                .collect();
            // Not to those the typer blocked, in groups too.
            self.unblocked_among(user_id, others).await
        };
        match others.await {
            Ok(others) => self.announce_typing(conversation_id, user_id, false, others),
            Err(e) => tracing::warn!(error = %e, "cannot announce typing_stop"),
        }
    }

    fn announce_typing(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        typing: bool,
        to: Vec<String>,
    ) {
        if to.is_empty() {
            return;
        }
        let data = wire::TypingData {
            conversation_id: conversation_id.as_str().to_owned(),
            user_id: user_id.as_str().to_owned(),
        };
        let frame = if typing {
            wire::Ephemeral::TypingStart(data)
        } else {
            wire::Ephemeral::TypingStop(data)
        };
        self.bus().publish(BusMessage::Ephemeral {
            users: to.into(),
            frame: Bytes::from(serde_json::to_vec(&frame).unwrap_or_default()),
        });
    }

    /// Ends indicators that were not renewed in time.
    pub(super) fn spawn_typing_expiry(&self) {
        let app = self.clone();
        let mut stop = self.inner.stop.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let now = Instant::now();
                let expired: Vec<(String, String)> = {
                    let mut active = app.inner.typing.active();
                    let keys: Vec<_> = active
                        .iter()
                        .filter(|(_, until)| **until <= now)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in &keys {
                        active.remove(k);
                    }
                    keys
                };
                for (conversation_id, user_id) in expired {
                    app.stop_typing_for_all(
                        ConversationId::new(&conversation_id),
                        UserId::new(&user_id),
                    )
                    .await;
                }
            }
        });
    }
}
