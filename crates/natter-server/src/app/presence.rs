//! Presence: a user is online while at least one of its devices holds a WebSocket, on any node.
//!
//! Going offline is debounced: when the last device on a node disconnects the user stays held
//! by that node for `presence_debounce`, and only if no device came back by then does the node
//! let it go (writing its `last_seen_at`). A device that reconnects within that time makes no
//! event at all.
//!
//! Several nodes: each node tells the others, over the bus, which users it holds (`Online`,
//! `Offline` as they change, and its whole list as a heartbeat), and keeps what each other node
//! said. A user is online while any node holds it. Each node tells only its own connections
//! when a user's presence changes as it sees it, so no node needs to agree with another on who
//! speaks. A node not heard from for three quarters of `presence_timeout` is taken for dead and
//! its users let go, so they show offline within `presence_timeout`.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use natter_core::{UserId, time};
use natter_wire as wire;
use tokio::{sync::broadcast::error::RecvError, time::Instant};

use super::App;
use crate::bus::{BusMessage, PresenceNews, PresenceNote};

/// Users in one `Full` part: well under NATS's default 1 MiB payload limit.
const FULL_PART: usize = 10_000;

/// Users whose last device left and who are waiting out the debounce, with the generation of
/// that wait (a newer disconnect supersedes an older wait), and what the other nodes hold.
#[derive(Default)]
pub(super) struct Presence {
    leaving: Mutex<HashMap<String, u64>>,
    generation: AtomicU64,
    remote: Mutex<Remote>,
    round: AtomicU64,
}

impl Presence {
    fn leaving(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.leaving.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remote(&self) -> std::sync::MutexGuard<'_, Remote> {
        self.remote.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the other nodes hold, as they said.
#[derive(Default)]
pub(crate) struct Remote {
    nodes: HashMap<String, NodeView>,
}

#[derive(Default)]
struct NodeView {
    users: HashSet<String>,
    /// When the node was last heard from.
    heard: Option<(Instant, i64)>,
    /// A `Full` round being received: its number and the users of its parts so far.
    partial: Option<(u64, Vec<String>)>,
}

/// A user that some other node began or ceased to hold, when no other node still does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flip {
    pub user: String,
    pub online: bool,
    pub at: i64,
}

impl Remote {
    /// Whether any other node holds `user`.
    pub(crate) fn holds(&self, user: &str) -> bool {
        self.nodes.values().any(|n| n.users.contains(user))
    }

    fn held_elsewhere(&self, node: &str, user: &str) -> bool {
        self.nodes
            .iter()
            .any(|(id, n)| id != node && n.users.contains(user))
    }

    /// Takes in another node's note, heard at `now` (`now_ms` on the wall clock). Returns the
    /// users other nodes now hold or no longer hold, and whether the node asked for this node's
    /// list (`Hello`).
    pub(crate) fn apply(
        &mut self,
        note: &PresenceNote,
        now: Instant,
        now_ms: i64,
    ) -> (Vec<Flip>, bool) {
        let node = note.node.as_str();
        let mut flips = Vec::new();
        let held_elsewhere = |this: &Self, user: &str| this.held_elsewhere(node, user);
        match &note.news {
            PresenceNews::Hello => {}
            PresenceNews::Online { user } => {
                let before = self.holds(user);
                self.view(node).users.insert(user.clone());
                if !before {
                    flips.push(Flip {
                        user: user.clone(),
                        online: true,
                        at: now_ms,
                    });
                }
            }
            PresenceNews::Offline { user, at } => {
                if self.view(node).users.remove(user) && !held_elsewhere(self, user) {
                    flips.push(Flip {
                        user: user.clone(),
                        online: false,
                        at: *at,
                    });
                }
            }
            PresenceNews::Full { round, users, last } => {
                let view = self.view(node);
                let mut parts = match view.partial.take() {
                    Some((r, parts)) if r == *round => parts,
                    _ => Vec::new(),
                };
                parts.extend(users.iter().cloned());
                if !*last {
                    view.partial = Some((*round, parts));
                } else {
                    let new: HashSet<String> = parts.into_iter().collect();
                    let old = std::mem::replace(&mut view.users, new.clone());
                    for user in new.difference(&old) {
                        if !held_elsewhere(self, user) {
                            flips.push(Flip {
                                user: user.clone(),
                                online: true,
                                at: now_ms,
                            });
                        }
                    }
                    for user in old.difference(&new) {
                        if !held_elsewhere(self, user) {
                            flips.push(Flip {
                                user: user.clone(),
                                online: false,
                                at: now_ms,
                            });
                        }
                    }
                }
            }
        }
        self.view(node).heard = Some((now, now_ms));
        (flips, note.news == PresenceNews::Hello)
    }

    /// Forgets the nodes not heard from since `before`: their users are let go, shown last
    /// seen when their node was last heard from.
    pub(crate) fn expire(&mut self, before: Instant) -> Vec<Flip> {
        let dead: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.heard.is_none_or(|(at, _)| at < before))
            .map(|(id, _)| id.clone())
            .collect();
        let mut flips = Vec::new();
        for id in dead {
            let Some(view) = self.nodes.remove(&id) else {
                continue;
            };
            let at = view.heard.map_or_else(time::now, |(_, ms)| ms);
            for user in view.users {
                if !self.holds(&user) {
                    flips.push(Flip {
                        user,
                        online: false,
                        at,
                    });
                }
            }
        }
        flips
    }

    fn view(&mut self, node: &str) -> &mut NodeView {
        self.nodes.entry(node.to_owned()).or_default()
    }
}

impl App {
    /// Whether `user_id` counts as online: a node, this one or another, holds it.
    pub fn is_online(&self, user_id: &str) -> bool {
        self.held_here(user_id) || self.inner.presence.remote().holds(user_id)
    }

    /// Whether this node holds `user_id`: a device is connected, or left within the debounce.
    fn held_here(&self, user_id: &str) -> bool {
        self.hub().devices(user_id) > 0 || self.inner.presence.leaving().contains_key(user_id)
    }

    /// A device of `user_id` connected; `first` if it is the only one on this node.
    pub(crate) async fn device_connected(&self, user_id: &str, first: bool) {
        if !first {
            return;
        }
        let was_leaving = self.inner.presence.leaving().remove(user_id).is_some();
        if was_leaving {
            return;
        }
        self.tell_nodes(PresenceNews::Online {
            user: user_id.to_owned(),
        });
        if !self.inner.presence.remote().holds(user_id) {
            self.announce_presence(user_id, true, time::now()).await;
        }
    }

    /// A device of `user_id` disconnected; `last` if no other remains on this node.
    pub(crate) fn device_disconnected(&self, user_id: &str, last: bool) {
        if !last {
            return;
        }
        let generation = self
            .inner
            .presence
            .generation
            .fetch_add(1, Ordering::Relaxed);
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
                app.tell_nodes(PresenceNews::Offline {
                    user: user.clone(),
                    at: left_at,
                });
                if !app.inner.presence.remote().holds(&user) {
                    app.announce_presence(&user, false, left_at).await;
                }
            }
        });
    }

    /// Tells the other nodes (if any) about this node's users.
    fn tell_nodes(&self, news: PresenceNews) {
        if !self.bus().clustered() {
            return;
        }
        self.bus()
            .publish(BusMessage::Presence(Arc::new(PresenceNote {
                node: self.bus().node().to_owned(),
                news,
            })));
    }

    /// Sends this node's whole list of users, in parts if long.
    fn tell_nodes_everyone(&self) {
        let mut users: Vec<String> = self.hub().users();
        users.extend(self.inner.presence.leaving().keys().cloned());
        users.sort_unstable();
        users.dedup();
        let round = self.inner.presence.round.fetch_add(1, Ordering::Relaxed);
        let parts: Vec<&[String]> = if users.is_empty() {
            vec![&[]]
        } else {
            users.chunks(FULL_PART).collect()
        };
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            self.tell_nodes(PresenceNews::Full {
                round,
                users: part.to_vec(),
                last: i + 1 == n,
            });
        }
    }

    /// On several nodes: listens to the other nodes' presence news, sends this node's list as
    /// a heartbeat, and lets go of the users of nodes that went silent.
    pub(super) fn spawn_cluster_presence(&self) {
        if !self.bus().clustered() {
            return;
        }
        let app = self.clone();
        let mut bus = self.bus().subscribe();
        let mut stop = self.inner.stop.subscribe();
        let timeout = self
            .config()
            .presence_timeout
            .max(Duration::from_millis(40));
        let silent_for = timeout * 3 / 4;
        self.tell_nodes(PresenceNews::Hello);
        self.tell_nodes_everyone();
        tokio::spawn(async move {
            let mut heartbeat = tokio::time::interval(timeout / 4);
            let mut sweep = tokio::time::interval(timeout / 8);
            loop {
                let flips = tokio::select! {
                    _ = heartbeat.tick() => {
                        app.tell_nodes_everyone();
                        continue;
                    }
                    _ = sweep.tick() => {
                        let before = Instant::now().checked_sub(silent_for);
                        match before {
                            Some(before) => app.inner.presence.remote().expire(before),
                            None => continue,
                        }
                    }
                    msg = bus.recv() => match msg {
                        Ok(BusMessage::Presence(note)) if note.node != app.bus().node() => {
                            let (flips, hello) =
                                app.inner.presence.remote().apply(&note, Instant::now(), time::now());
                            if hello {
                                app.tell_nodes_everyone();
                            }
                            flips
                        }
                        Ok(BusMessage::Reconnected) => {
                            app.tell_nodes(PresenceNews::Hello);
                            app.tell_nodes_everyone();
                            continue;
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return,
                    },
                    _ = stop.changed() => return,
                };
                for f in flips {
                    if app.held_here(&f.user) {
                        continue;
                    }
                    if !f.online
                        && let Err(e) = app.store().set_last_seen(UserId::new(&f.user), f.at).await
                    {
                        tracing::warn!(error = %e, "cannot record last_seen_at");
                    }
                    app.announce_presence(&f.user, f.online, f.at).await;
                }
            }
        });
    }

    /// Tells this node's connections of the users who share a conversation with `user_id`,
    /// but not of those it blocked.
    async fn announce_presence(&self, user_id: &str, online: bool, at: i64) {
        let contacts = async {
            let contacts = self.store().contacts_of(UserId::new(user_id)).await?;
            self.unblocked_among(UserId::new(user_id), contacts).await
        };
        let contacts = match contacts.await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot find whom to tell of a presence change");
                return;
            }
        };
        let here: Vec<&String> = contacts
            .iter()
            .filter(|c| self.hub().devices(c) > 0)
            .collect();
        if here.is_empty() {
            return;
        }
        let frame = wire::Ephemeral::PresenceUpdate(wire::PresenceData {
            user_id: user_id.to_owned(),
            online,
            last_seen_at: Some(time::format(at)),
        });
        let out = crate::hub::Outbound::Ephemeral(Bytes::from(
            serde_json::to_vec(&frame).unwrap_or_default(),
        ));
        for c in here {
            self.hub().deliver(c, &out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(node: &str, news: PresenceNews) -> PresenceNote {
        PresenceNote {
            node: node.into(),
            news,
        }
    }

    fn online(user: &str) -> PresenceNews {
        PresenceNews::Online { user: user.into() }
    }

    fn offline(user: &str, at: i64) -> PresenceNews {
        PresenceNews::Offline {
            user: user.into(),
            at,
        }
    }

    fn flip(user: &str, online: bool, at: i64) -> Flip {
        Flip {
            user: user.into(),
            online,
            at,
        }
    }

    #[test]
    fn a_user_on_two_nodes_goes_offline_only_when_both_let_it_go() {
        let mut r = Remote::default();
        let now = Instant::now();
        assert_eq!(
            r.apply(&note("a", online("u")), now, 1).0,
            [flip("u", true, 1)]
        );
        assert_eq!(r.apply(&note("b", online("u")), now, 2).0, []);
        assert_eq!(r.apply(&note("a", offline("u", 3)), now, 3).0, []);
        assert!(r.holds("u"));
        assert_eq!(
            r.apply(&note("b", offline("u", 4)), now, 4).0,
            [flip("u", false, 4)]
        );
        assert!(!r.holds("u"));
        // Letting go of a user the node did not hold changes nothing.
        assert_eq!(r.apply(&note("b", offline("u", 5)), now, 5).0, []);
    }

    #[test]
    fn a_full_list_replaces_the_nodes_users_and_tells_the_differences() {
        let mut r = Remote::default();
        let now = Instant::now();
        r.apply(&note("a", online("u")), now, 1);
        r.apply(&note("a", online("v")), now, 1);
        r.apply(&note("b", online("v")), now, 1);
        let full = |round, users: &[&str], last| PresenceNews::Full {
            round,
            users: users.iter().map(|u| u.to_string()).collect(),
            last,
        };
        // A round in two parts applies only when its last part arrives.
        assert_eq!(r.apply(&note("a", full(7, &["w"], false)), now, 9).0, []);
        assert!(!r.holds("w"));
        let (mut flips, _) = r.apply(&note("a", full(7, &["x"], true)), now, 10);
        flips.sort_by(|a, b| a.user.cmp(&b.user));
        // u is let go, v is still held by b, w and x come online.
        assert_eq!(
            flips,
            [
                flip("u", false, 10),
                flip("w", true, 10),
                flip("x", true, 10)
            ]
        );
        // A part of an older round is dropped when a newer round starts.
        r.apply(&note("a", full(8, &["y"], false)), now, 11);
        r.apply(&note("a", full(9, &["x"], true)), now, 12);
        assert!(!r.holds("y"));
    }

    #[test]
    fn a_silent_node_is_forgotten_and_its_users_let_go_when_last_heard() {
        let mut r = Remote::default();
        let t0 = Instant::now();
        r.apply(&note("a", online("u")), t0, 100);
        r.apply(&note("a", online("v")), t0, 100);
        let t1 = t0 + Duration::from_secs(5);
        r.apply(&note("b", online("v")), t1, 200);
        // Both heard since t0: nothing expires.
        assert_eq!(r.expire(t0), []);
        // a was last heard at t0: gone; v is still held by b.
        assert_eq!(
            r.expire(t0 + Duration::from_secs(1)),
            [flip("u", false, 100)]
        );
        assert!(r.holds("v"));
        assert!(!r.holds("u"));
    }

    #[test]
    fn hello_asks_for_this_nodes_list() {
        let mut r = Remote::default();
        let (flips, hello) = r.apply(&note("a", PresenceNews::Hello), Instant::now(), 1);
        assert!(flips.is_empty());
        assert!(hello);
        assert!(!r.apply(&note("a", online("u")), Instant::now(), 1).1);
    }
}
