//! Webhooks: a user's (a bot's) HTTP endpoint receives the durable events of its
//! conversations, signed, in log order, at least once.
//!
//! Each webhook is a follower of the event log with a stored position (`webhook:<id>`), held
//! by one node at a time under a lease. Its task replays the log as the webhook's user sees it
//! (what `/sync` would answer) and posts one event at a time, moving the stored position past
//! each only once the receiver answered `2xx`, or once it was given up on and kept as a dead
//! letter. Webhooks do not wait for one another: each has its own task.

use std::{collections::HashSet, sync::Arc, time::Duration};

use hmac::{Hmac, Mac};
use natter_core::{UserId, time};
use natter_wire as wire;
use sha2::Sha256;
use tokio::sync::Mutex;

use super::{App, Caller, Replay, new_id, outbound};
use crate::{
    error::{AppError, AppResult},
    store::{DeadLetterRow, WebhookRow, WebhookState},
};

/// Events replayed per read.
const PAGE: u32 = 100;

/// The webhook machinery of one node.
pub(super) struct Hooks {
    client: reqwest::Client,
    policy: Arc<outbound::UrlPolicy>,
    /// The webhooks this node delivers now.
    running: Mutex<HashSet<String>>,
    /// Wakes the tasks' manager: a webhook was created.
    created: tokio::sync::Notify,
}

impl Hooks {
    pub(super) fn new(config: &crate::Config) -> Result<Hooks, crate::ServeError> {
        let policy = Arc::new(
            outbound::UrlPolicy::new(&config.webhook_allow, false)
                .map_err(|e| crate::ServeError::Config(format!("webhook_allow: {e}")))?,
        );
        let client = outbound::client(policy.clone(), config.outbound_timeout)
            .map_err(crate::ServeError::Config)?;
        Ok(Hooks {
            client,
            policy,
            running: Default::default(),
            created: Default::default(),
        })
    }
}

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the `Natter-Signature` of a delivery.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn webhook_wire(s: WebhookState) -> wire::Webhook {
    wire::Webhook {
        id: s.webhook.id,
        url: s.webhook.url,
        conversation_id: s.webhook.conversation_id,
        created_at: time::format(s.webhook.created_at),
        cursor: s.pos.to_string(),
        delivered_at: s.delivered_at.map(time::format),
        last_error: s.last_error,
        dead_letters: s.dead_letters,
        secret: None,
    }
}

/// How one event's delivery ended.
enum Outcome {
    Delivered,
    /// Given up on: it is a dead letter now.
    Dead,
    /// The webhook is gone, or another node delivers it now: stop.
    Stop,
}

impl App {
    fn hooks(&self) -> &Hooks {
        &self.inner.hooks
    }

    /// Creates a webhook for the caller: every conversation of its, or one.
    pub async fn create_webhook(
        &self,
        caller: &Caller,
        new: wire::NewWebhook,
    ) -> AppResult<wire::Webhook> {
        if !self.hooks().policy.allows_any() {
            return Err(natter_core::Error::forbidden(
                "webhooks are off: the server's operator allows no URL for them",
            )
            .into());
        }
        self.hooks()
            .policy
            .check(&new.url)
            .map_err(|why| AppError::Rule(natter_core::Error::invalid(format!("url: {why}"))))?;
        let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
        let row = WebhookRow {
            id: new_id(),
            user_id: caller.user_id.clone(),
            conversation_id: new.conversation_id,
            url: new.url,
            secret: secret.clone(),
            created_at: time::now(),
        };
        self.store()
            .create_webhook(&row, self.config().webhooks_per_user)
            .await?;
        self.hooks().created.notify_one();
        let state = self
            .store()
            .webhook(&row.id)
            .await?
            .ok_or_else(|| AppError::Internal("a webhook vanished as it was made".into()))?;
        Ok(wire::Webhook {
            secret: Some(secret),
            ..webhook_wire(state)
        })
    }

    pub async fn webhooks(&self, caller: &Caller) -> AppResult<wire::Webhooks> {
        let hooks = self.store().webhooks_of(caller.user_id()).await?;
        Ok(wire::Webhooks {
            webhooks: hooks.into_iter().map(webhook_wire).collect(),
        })
    }

    /// One of the caller's webhooks; another's is `404`.
    async fn own_webhook(&self, caller: &Caller, id: &str) -> AppResult<WebhookState> {
        match self.store().webhook(id).await? {
            Some(w) if w.webhook.user_id == caller.user_id => Ok(w),
            _ => Err(natter_core::Error::not_found("webhook").into()),
        }
    }

    pub async fn webhook(&self, caller: &Caller, id: &str) -> AppResult<wire::Webhook> {
        Ok(webhook_wire(self.own_webhook(caller, id).await?))
    }

    pub async fn delete_webhook(&self, caller: &Caller, id: &str) -> AppResult<()> {
        if !self.store().delete_webhook(caller.user_id(), id).await? {
            return Err(natter_core::Error::not_found("webhook").into());
        }
        Ok(())
    }

    pub async fn dead_letters(
        &self,
        caller: &Caller,
        id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<wire::DeadLetters> {
        self.own_webhook(caller, id).await?;
        let after = match after {
            Some(c) => super::parse_cursor(c)?,
            None => 0,
        };
        let mut rows = self.store().dead_letters(id, after, limit + 1).await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(wire::DeadLetters {
            dead_letters: rows
                .into_iter()
                .map(|d| wire::DeadLetter {
                    cursor: d.pos.to_string(),
                    event: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
                    attempts: d.attempts,
                    last_error: d.last_error,
                    failed_at: time::format(d.failed_at),
                })
                .collect(),
            has_more,
        })
    }

    /// Starts the manager of webhook tasks: at each turn (and when a webhook is created) it
    /// claims the webhooks no node delivers and starts a task for each.
    pub(super) fn spawn_webhooks(&self) {
        let app = self.clone();
        let mut stop = self.inner.stop.subscribe();
        let lease = self.config().delivery_lease;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(50)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = app.hooks().created.notified() => {}
                    _ = stop.changed() => return,
                }
                let all = match app.store().all_webhooks().await {
                    Ok(all) => all,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhooks: cannot list them");
                        continue;
                    }
                };
                for hook in all {
                    if app.hooks().running.lock().await.contains(&hook.id) {
                        continue;
                    }
                    app.start_webhook(hook).await;
                }
            }
        });
    }

    /// Claims `hook` and, if this node gets it, starts its task.
    async fn start_webhook(&self, hook: WebhookRow) {
        let node = self.bus().node().to_owned();
        let lease_ms = self.config().delivery_lease.as_millis() as i64;
        let name = format!("webhook:{}", hook.id);
        let pos = match self
            .store()
            .claim_follower(&name, &node, time::now(), lease_ms, 0)
            .await
        {
            Ok(Some(pos)) => pos,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, webhook = %hook.id, "webhooks: cannot claim one");
                return;
            }
        };
        self.hooks().running.lock().await.insert(hook.id.clone());
        let app = self.clone();
        tokio::spawn(async move {
            let id = hook.id.clone();
            app.run_webhook(hook, pos, &node).await;
            app.hooks().running.lock().await.remove(&id);
            let _ = app.store().release_follower(&name, &node).await;
        });
    }

    /// Delivers `hook`'s events after `pos` until it is deleted, another node takes it over,
    /// or the server stops.
    async fn run_webhook(&self, hook: WebhookRow, mut pos: i64, node: &str) {
        let mut stop = self.inner.stop.subscribe();
        let mut bus = self.bus().subscribe();
        let lease = self.config().delivery_lease;
        let lease_ms = lease.as_millis() as i64;
        let name = format!("webhook:{}", hook.id);
        let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *stop.borrow() {
                return;
            }
            // A disabled or deleted user's webhook delivers nothing (deletion removes it).
            let active = match self.store().user_by_id(UserId::new(&hook.user_id)).await {
                Ok(Some(u)) => !u.disabled && !u.deleted,
                Ok(None) => return,
                Err(_) => false,
            };
            let mut idle = true;
            if active {
                match self.replay(&hook.user_id, pos, PAGE).await {
                    Ok(Replay::ResyncRequired { head }) => {
                        // The events it missed were pruned from the log: say so, go on.
                        let _ = self
                            .store()
                            .webhook_failed(
                                &hook.id,
                                &format!("events up to {head} were pruned before delivery"),
                                time::now(),
                            )
                            .await;
                        match self
                            .store()
                            .advance_follower(&name, node, head, time::now(), lease_ms)
                            .await
                        {
                            Ok(true) => pos = head,
                            Ok(false) => return,
                            Err(_) => {}
                        }
                    }
                    Ok(Replay::Page(page)) => {
                        idle = !page.has_more && page.failed.is_none();
                        // How far the page takes it: past every event it holds, delivered,
                        // given up on or not for this webhook; to the page's end if whole.
                        let mut reached = pos;
                        for r in page.events {
                            let wanted = r.event.filter(|_| {
                                !r.conversation_id.is_empty()
                                    && hook
                                        .conversation_id
                                        .as_ref()
                                        .is_none_or(|c| *c == r.conversation_id)
                            });
                            if let Some(event) = wanted {
                                match self
                                    .deliver_event(&hook, &event, r.pos, pos, node, &mut stop)
                                    .await
                                {
                                    Outcome::Delivered | Outcome::Dead => pos = r.pos,
                                    Outcome::Stop => return,
                                }
                            }
                            reached = r.pos;
                        }
                        if page.failed.is_none() {
                            reached = reached.max(page.next_cursor);
                        }
                        if reached > pos {
                            match self
                                .store()
                                .advance_follower(&name, node, reached, time::now(), lease_ms)
                                .await
                            {
                                Ok(true) => pos = reached,
                                Ok(false) => return,
                                Err(_) => {}
                            }
                        }
                        if let Some(e) = page.failed {
                            tracing::warn!(error = %e, webhook = %hook.id, "webhooks: an event cannot be rendered");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, webhook = %hook.id, "webhooks: cannot read the log");
                    }
                }
            }
            if !idle {
                continue;
            }
            // Wait for the log to grow, renewing the lease meanwhile.
            loop {
                use tokio::sync::broadcast::error::RecvError;
                tokio::select! {
                    msg = bus.recv() => match msg {
                        Ok(crate::bus::BusMessage::LogAppended { .. }) | Err(RecvError::Lagged(_)) => {
                            // One read of the log serves every wake-up that came meanwhile.
                            while bus.try_recv().is_ok() {}
                            break;
                        }
                        Err(RecvError::Closed) => return,
                        // Presence, typing…: nothing was logged.
                        Ok(_) => {}
                    },
                    _ = tick.tick() => {
                        if let Ok(false) = self
                            .store()
                            .advance_follower(&name, node, pos, time::now(), lease_ms)
                            .await
                        {
                            return;
                        }
                        break;
                    }
                    _ = stop.changed() => return,
                }
            }
        }
    }

    /// Posts one event until it is answered `2xx` or given up on.
    async fn deliver_event(
        &self,
        hook: &WebhookRow,
        event: &wire::Event,
        pos: i64,
        saved: i64,
        node: &str,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Outcome {
        let config = self.config();
        let lease_ms = config.delivery_lease.as_millis() as i64;
        let body = match serde_json::to_vec(event) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot serialize an event");
                return Outcome::Stop;
            }
        };
        let cursor = pos.to_string();
        let mut wait = config.webhook_backoff;
        let attempts = config.webhook_attempts.max(1);
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            match self.post_event(hook, &cursor, &body).await {
                Ok(()) => {
                    self.metrics().webhook("delivered");
                    return match self
                        .store()
                        .webhook_delivered(&hook.id, node, pos, time::now(), lease_ms)
                        .await
                    {
                        Ok(true) => Outcome::Delivered,
                        Ok(false) => Outcome::Stop,
                        // Delivered but not saved: it will be posted again (at least once).
                        Err(_) => Outcome::Stop,
                    };
                }
                Err(why) => {
                    self.metrics().webhook("failed");
                    last_error = why;
                }
            }
            let _ = self
                .store()
                .webhook_failed(&hook.id, &last_error, time::now())
                .await;
            if attempt == attempts {
                break;
            }
            // Keep the lease through long waits.
            let _ = self
                .store()
                .advance_follower(
                    &format!("webhook:{}", hook.id),
                    node,
                    saved,
                    time::now(),
                    lease_ms.max(wait.as_millis() as i64 * 2),
                )
                .await;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return Outcome::Stop,
            }
            wait = (wait * 2).min(config.webhook_backoff_max);
        }
        let letter = DeadLetterRow {
            webhook_id: hook.id.clone(),
            pos,
            body: String::from_utf8_lossy(&body).into_owned(),
            attempts: attempts as i64,
            last_error,
            failed_at: time::now(),
        };
        match self
            .store()
            .webhook_dead_letter(&letter, node, time::now(), lease_ms)
            .await
        {
            Ok(true) => {
                self.metrics().webhook("dead_letter");
                Outcome::Dead
            }
            _ => Outcome::Stop,
        }
    }

    /// One attempt at posting an event.
    async fn post_event(&self, hook: &WebhookRow, cursor: &str, body: &[u8]) -> Result<(), String> {
        let url = self.hooks().policy.check(&hook.url)?;
        let timestamp = time::now() / 1000;
        let answer = self
            .hooks()
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Natter-Webhook-Id", &hook.id)
            .header("Natter-Event-Cursor", cursor)
            .header("Idempotency-Key", cursor)
            .header("Natter-Timestamp", timestamp)
            .header("Natter-Signature", signature(&hook.secret, timestamp, body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| outbound::describe(&e))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: python3 -c 'import hmac,hashlib;
        // print(hmac.new(b"whsec_test", b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
