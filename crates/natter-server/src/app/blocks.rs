//! Blocking: a user blocks another. The store refuses their direct conversation either way
//! (opening it, sending into it: `natter_core::decide::may_reach`), and leaves the blocker out
//! of the blocked one's user search. Here: what the blocked one no longer receives of the
//! blocker, which is ephemeral and so never in the store: its typing and its presence.
//!
//! Who a user blocked is read from the store when one of its typing or presence frames is
//! addressed (one range scan of the blocks' primary key), not cached: a cache would have to be
//! invalidated on every node through the bus, and typing already reads the conversation's
//! members from the store for each frame.

use bytes::Bytes;
use natter_core::{UserId, time};
use natter_wire as wire;

use super::{App, Caller};
use crate::{bus::BusMessage, error::AppResult};

impl App {
    /// `PUT /users/me/blocks/{user_id}`: idempotent.
    pub async fn block(&self, caller: &Caller, user_id: &str) -> AppResult<()> {
        let blocked = UserId::new(user_id);
        self.store()
            .block(caller.user_id(), blocked, time::now())
            .await?;
        // What a contact was shown of the caller's presence goes: from now on it sees the
        // caller as a stranger does.
        if self.is_contact(caller, user_id).await? {
            self.tell_presence(caller.user_id(), user_id, false, None);
        }
        Ok(())
    }

    /// `DELETE /users/me/blocks/{user_id}`: idempotent.
    pub async fn unblock(&self, caller: &Caller, user_id: &str) -> AppResult<()> {
        let blocked = UserId::new(user_id);
        self.store().unblock(caller.user_id(), blocked).await?;
        // Its presence is shown again to a contact, as it is now.
        if self.is_contact(caller, user_id).await? {
            let me = self.store().user_by_id(caller.user_id()).await?;
            if let Some(me) = me {
                let u = self.render_user(&me, true, None);
                self.tell_presence(caller.user_id(), user_id, u.online, u.last_seen_at);
            }
        }
        Ok(())
    }

    /// `GET /users/me/blocks`: the users the caller blocked, in username order, without
    /// presence (a blocked user may have blocked the caller too, and a list of blocked users
    /// has no use for it).
    pub async fn blocks(&self, caller: &Caller) -> AppResult<wire::UserList> {
        let rows = self.store().blocked_by(caller.user_id()).await?;
        Ok(wire::UserList {
            users: rows
                .iter()
                .map(|u| self.render_user(u, false, None))
                .collect(),
        })
    }

    /// Whether `user_id` shares a conversation with the caller.
    async fn is_contact(&self, caller: &Caller, user_id: &str) -> AppResult<bool> {
        Ok(!self
            .store()
            .contacts_among(caller.user_id(), &[user_id.to_owned()])
            .await?
            .is_empty())
    }

    /// Which of `to` may receive `user_id`'s typing and presence: those it did not block.
    pub(super) async fn unblocked_among(
        &self,
        user_id: &UserId,
        mut to: Vec<String>,
    ) -> AppResult<Vec<String>> {
        if to.is_empty() {
            return Ok(to);
        }
        let blocked = self.store().blocked_ids(user_id).await?;
        if !blocked.is_empty() {
            to.retain(|u| !blocked.contains(u));
        }
        Ok(to)
    }

    /// Sends `to`'s devices, on whichever node, a `presence_update` of `user_id`.
    fn tell_presence(
        &self,
        user_id: &UserId,
        to: &str,
        online: bool,
        last_seen_at: Option<String>,
    ) {
        let frame = wire::Ephemeral::PresenceUpdate(wire::PresenceData {
            user_id: user_id.as_str().to_owned(),
            online,
            last_seen_at,
        });
        self.bus().publish(BusMessage::Ephemeral {
            users: vec![to.to_owned()].into(),
            frame: Bytes::from(serde_json::to_vec(&frame).unwrap_or_default()),
        });
    }
}
