//! Presence: a user is online while at least one of its devices holds a WebSocket.
//!
//! Going offline is debounced: when the last device disconnects the user stays online for
//! `presence_debounce`, and only if no device came back by then is it shown offline (and its
//! `last_seen_at` written). A device that reconnects within that time makes no event at all.

use std::{collections::HashMap, sync::Mutex};

use bytes::Bytes;
use natter_core::{UserId, time};
use natter_wire as wire;

use super::App;
use crate::bus::BusMessage;

/// Users whose last device left and who are waiting out the debounce, with the generation of
/// that wait (a newer disconnect supersedes an older wait).
#[derive(Default)]
pub(super) struct Presence {
    leaving: Mutex<HashMap<String, u64>>,
    generation: std::sync::atomic::AtomicU64,
}

impl Presence {
    fn leaving(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.leaving.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl App {
    /// Whether `user_id` counts as online.
    pub fn is_online(&self, user_id: &str) -> bool {
        self.hub().devices(user_id) > 0 || self.inner.presence.leaving().contains_key(user_id)
    }

    /// A device of `user_id` connected; `first` if it is the only one.
    pub(crate) async fn device_connected(&self, user_id: &str, first: bool) {
        if !first {
            return;
        }
        let was_leaving = self.inner.presence.leaving().remove(user_id).is_some();
        if !was_leaving {
            self.announce_presence(user_id, true, time::now()).await;
        }
    }

    /// A device of `user_id` disconnected; `last` if no other remains.
    pub(crate) fn device_disconnected(&self, user_id: &str, last: bool) {
        if !last {
            return;
        }
        let generation = self
            .inner
            .presence
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner
            .presence
            .leaving()
            .insert(user_id.to_owned(), generation);
        let app = self.clone();
        let user = user_id.to_owned();
        let wait = self.config().presence_debounce;
        // Last seen is when the last device left, not when the debounce ran out.
        let left_at = time::now();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let gone = {
                let mut leaving = app.inner.presence.leaving();
                let still =
                    leaving.get(&user) == Some(&generation) && app.hub().devices(&user) == 0;
                if still {
                    leaving.remove(&user);
                }
                still
            };
            if gone {
                if let Err(e) = app.store().set_last_seen(UserId::new(&user), left_at).await {
                    tracing::warn!(error = %e, "cannot record last_seen_at");
                }
                app.announce_presence(&user, false, left_at).await;
            }
        });
    }

    /// Tells the users who share a conversation with `user_id`.
    async fn announce_presence(&self, user_id: &str, online: bool, at: i64) {
        let contacts = match self.store().contacts_of(UserId::new(user_id)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot find whom to tell of a presence change");
                return;
            }
        };
        if contacts.is_empty() {
            return;
        }
        let frame = wire::Ephemeral::PresenceUpdate(wire::PresenceData {
            user_id: user_id.to_owned(),
            online,
            last_seen_at: Some(time::format(at)),
        });
        self.bus().publish(BusMessage::Ephemeral {
            users: contacts.into(),
            frame: Bytes::from(serde_json::to_vec(&frame).unwrap_or_default()),
        });
    }
}
