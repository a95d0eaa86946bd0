//! The hub: this node's open WebSocket connections and long polls, by user.
//!
//! Each connection has a bounded outbound queue. Delivery never waits: a connection whose queue
//! is full is told to close with 4008 and resumes from its cursor, so nothing is lost and no
//! slow consumer holds up anyone else. The state sits behind a `std::sync::Mutex` that is held
//! only to look up or change the maps, never across an `.await`.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use tokio::sync::{Notify, watch};

/// Close codes of the API.
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    /// Over a connection limit: try again later.
    pub const TRY_LATER: u16 = 1013;
    /// The server failed (storage could not be read): reconnect later, from the same cursor,
    /// with the same token.
    pub const SERVER_ERROR: u16 = 1011;
    pub const AUTH: u16 = 4001;
    pub const TOO_SLOW: u16 = 4008;
}

/// A frame queued for one connection.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A durable event at log position `pos`: skipped if the connection already replayed it.
    Durable {
        pos: i64,
        frame: Frame,
    },
    Ephemeral(Bytes),
}

/// The bytes of a durable frame: whole, or in parts joined only when written.
///
/// A conversation's frames to its members differ in a few bytes each (the member's own counts)
/// and share the rest, the member list above all: parts let the fan-out queue a thousand such
/// frames without copying what they share, and keep one copy of it in the queues.
#[derive(Debug, Clone)]
pub enum Frame {
    Whole(Bytes),
    Parts(Arc<[Bytes]>),
}

impl Frame {
    /// The frame's bytes in one piece.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Frame::Whole(b) => b,
            Frame::Parts(parts) => {
                let mut out = Vec::with_capacity(parts.iter().map(Bytes::len).sum());
                for p in parts.iter() {
                    out.extend_from_slice(p);
                }
                out.into()
            }
        }
    }
}

struct Conn {
    id: u64,
    session_id: String,
    link: Arc<Link>,
}

/// What the hub and one connection share: its queue of frames and its close code, in one small
/// allocation. The queue holds memory only while frames wait in it, so an idle connection costs
/// a few dozen bytes here (a tokio `mpsc` channel pre-allocates a block of 32 slots, and a
/// `watch` channel eight `Notify`s).
struct Link {
    state: Mutex<LinkState>,
    /// Woken when a frame is queued or the hub lets go.
    frames: Notify,
    /// Woken when the close code is set or the hub lets go.
    closing: Notify,
}

#[derive(Default)]
struct LinkState {
    queue: VecDeque<Outbound>,
    /// Set when the hub wants the connection closed.
    close: Option<u16>,
    /// Bumped each time `close` is set, so that a receiver sees every change.
    close_version: u64,
    /// The hub has dropped the connection (unregistered).
    hub_gone: bool,
    /// The connection has dropped its queue's end: it takes nothing more.
    conn_gone: bool,
}

impl Link {
    fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the close code; with `only_first`, only if none is set yet. True if it was set.
    fn set_close(&self, code: u16, only_first: bool) -> bool {
        let mut st = self.state();
        let first = st.close.is_none();
        if only_first && !first {
            return false;
        }
        st.close = Some(code);
        st.close_version += 1;
        drop(st);
        self.closing.notify_one();
        true
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.link.state().hub_gone = true;
        self.link.frames.notify_one();
        self.link.closing.notify_one();
    }
}

/// Why a frame could not be taken from a connection's queue.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is queued now.
    Empty,
    /// Nothing is queued and the hub will queue nothing more.
    Disconnected,
}

/// A connection's end of its queue.
pub struct Queue {
    link: Arc<Link>,
}

/// Queues that grew past this many slots are given back once drained.
const KEEP_SLOTS: usize = 16;

impl Queue {
    /// The next frame; `None` once the queue is empty and the hub let the connection go.
    /// Cancel-safe: a frame is taken only when it is returned.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            match self.try_recv() {
                Ok(out) => return Some(out),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => self.link.frames.notified().await,
            }
        }
    }

    pub fn try_recv(&mut self) -> Result<Outbound, TryRecvError> {
        let mut st = self.link.state();
        match st.queue.pop_front() {
            Some(out) => {
                if st.queue.is_empty() && st.queue.capacity() > KEEP_SLOTS {
                    st.queue = VecDeque::new();
                }
                Ok(out)
            }
            None if st.hub_gone => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let mut st = self.link.state();
        st.conn_gone = true;
        st.queue = VecDeque::new();
    }
}

/// The hub's end of a connection stopped listening.
#[derive(Debug)]
pub struct Closed;

/// A connection's view of the close code the hub sets.
pub struct CloseCode {
    link: Arc<Link>,
    seen: u64,
}

impl CloseCode {
    /// The code now: `Some` once the hub wants the connection closed.
    pub fn borrow(&self) -> Code {
        Code(self.link.state().close)
    }

    /// Waits until the code is set (or set again) after the last time this returned;
    /// `Err` if the hub let the connection go first. Cancel-safe.
    pub async fn changed(&mut self) -> Result<(), Closed> {
        loop {
            {
                let st = self.link.state();
                if st.close_version != self.seen {
                    self.seen = st.close_version;
                    return Ok(());
                }
                if st.hub_gone {
                    return Err(Closed);
                }
            }
            self.link.closing.notified().await;
        }
    }
}

/// A close code read from [`CloseCode::borrow`].
pub struct Code(Option<u16>);

impl std::ops::Deref for Code {
    type Target = Option<u16>;
    fn deref(&self) -> &Option<u16> {
        &self.0
    }
}

#[derive(Default)]
struct State {
    conns: HashMap<String, Vec<Conn>>,
    /// Long polls waiting for a user's next event: the newest log position delivered to the
    /// user since the first of them began, and how many wait. One change wakes them all, and
    /// each reads the log only if the position passed its cursor.
    polls: HashMap<String, (watch::Sender<i64>, usize)>,
}

pub struct Hub {
    state: Mutex<State>,
    next_id: AtomicU64,
    queue: usize,
}

/// A connection's end of the hub.
pub struct Registration {
    pub id: u64,
    pub rx: Queue,
    /// Becomes `Some(code)` when the hub wants the connection closed.
    pub close: CloseCode,
    /// This is the user's only connection on this node.
    pub first: bool,
}

impl Hub {
    pub fn new(queue: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            queue: queue.max(1),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-changed in a way that
        // matters more than losing every connection, so a poisoned lock is still used.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(&self, user_id: &str, session_id: &str) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let link = Arc::new(Link {
            state: Mutex::new(LinkState::default()),
            frames: Notify::new(),
            closing: Notify::new(),
        });
        let mut st = self.state();
        let list = st.conns.entry(user_id.to_owned()).or_default();
        list.push(Conn {
            id,
            session_id: session_id.to_owned(),
            link: link.clone(),
        });
        Registration {
            id,
            rx: Queue { link: link.clone() },
            close: CloseCode { link, seen: 0 },
            first: list.len() == 1,
        }
    }

    /// Removes a connection; true if it was the user's last on this node.
    pub fn unregister(&self, user_id: &str, id: u64) -> bool {
        let mut st = self.state();
        let Some(list) = st.conns.get_mut(user_id) else {
            return false;
        };
        list.retain(|c| c.id != id);
        if list.is_empty() {
            st.conns.remove(user_id);
            true
        } else {
            false
        }
    }

    /// How many connections `user_id` has on this node.
    pub fn devices(&self, user_id: &str) -> usize {
        self.state().conns.get(user_id).map_or(0, Vec::len)
    }

    /// Whether anyone here waits for `user_id`'s events (a socket or a long poll).
    pub fn wants(&self, user_id: &str) -> bool {
        let st = self.state();
        st.conns.contains_key(user_id) || st.polls.contains_key(user_id)
    }

    /// Queues a frame for every connection of `user_id`; closes those too slow to take it.
    /// Returns how many connections took it and how many were closed for being too slow.
    pub fn deliver(&self, user_id: &str, out: &Outbound) -> (usize, usize) {
        let st = self.state();
        if let (Some((head, _)), Outbound::Durable { pos, .. }) = (st.polls.get(user_id), out) {
            advance(head, *pos);
        }
        let Some(list) = st.conns.get(user_id) else {
            return (0, 0);
        };
        let (mut took, mut slow) = (0, 0);
        for c in list {
            // A connection told to close takes nothing more: had it taken a later frame after
            // missing this one, its cursor would pass the gap and resuming would skip it.
            let mut q = c.link.state();
            if q.close.is_some() || q.conn_gone {
                continue;
            }
            if q.queue.len() < self.queue {
                q.queue.push_back(out.clone());
                drop(q);
                c.link.frames.notify_one();
                took += 1;
            } else {
                // Full. Counted once per connection, not once per frame it misses: it takes
                // nothing more once told to close.
                drop(q);
                if c.link.set_close(close::TOO_SLOW, true) {
                    slow += 1;
                }
            }
        }
        (took, slow)
    }

    /// The durable event at `pos` could not be queued for `users` (`None`: for anyone on this
    /// node): closes their connections with `code`, so that none takes a later frame and each
    /// resumes from before `pos`, and wakes their long polls, which read the log themselves.
    pub fn undeliverable(&self, users: Option<&[String]>, pos: i64, code: u16) {
        let st = self.state();
        let stop = |user_id: &str| {
            for c in st.conns.get(user_id).into_iter().flatten() {
                c.link.set_close(code, true);
            }
            if let Some((head, _)) = st.polls.get(user_id) {
                advance(head, pos);
            }
        };
        match users {
            Some(users) => users.iter().for_each(|u| stop(u)),
            None => st.conns.keys().chain(st.polls.keys()).for_each(|u| stop(u)),
        }
    }

    /// Closes every connection of a session.
    pub fn close_session(&self, session_id: &str, code: u16) {
        let st = self.state();
        for c in st.conns.values().flatten() {
            if c.session_id == session_id {
                c.link.set_close(code, false);
            }
        }
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&self, code: u16) {
        let st = self.state();
        for c in st.conns.values().flatten() {
            c.link.set_close(code, false);
        }
    }

    /// The position a long poll of `user_id` watches: the newest log position delivered to the
    /// user (0 until one is). `None` when the user already has `max` polls waiting. Call
    /// [`Hub::end_poll`] after.
    pub fn start_poll(&self, user_id: &str, max: usize) -> Option<watch::Receiver<i64>> {
        let mut st = self.state();
        let e = st
            .polls
            .entry(user_id.to_owned())
            .or_insert_with(|| (watch::Sender::new(0), 0));
        if e.1 >= max {
            return None;
        }
        e.1 += 1;
        Some(e.0.subscribe())
    }

    pub fn end_poll(&self, user_id: &str) {
        let mut st = self.state();
        if let Some(e) = st.polls.get_mut(user_id) {
            e.1 -= 1;
            if e.1 == 0 {
                st.polls.remove(user_id);
            }
        }
    }

    /// The users with at least one connection on this node.
    pub fn users(&self) -> Vec<String> {
        self.state().conns.keys().cloned().collect()
    }

    /// How many connections are open on this node.
    pub fn connections(&self) -> usize {
        self.state().conns.values().map(Vec::len).sum()
    }
}

/// Moves a user's poll position up to `pos`, waking its polls if it moved.
fn advance(head: &watch::Sender<i64>, pos: i64) {
    head.send_if_modified(|h| {
        let newer = pos > *h;
        if newer {
            *h = pos;
        }
        newer
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(pos: i64) -> Outbound {
        Outbound::Durable {
            pos,
            frame: Frame::Whole(Bytes::from_static(b"{}")),
        }
    }

    #[test]
    fn a_frame_in_parts_is_written_joined() {
        let parts: Arc<[Bytes]> = Arc::new([
            Bytes::from_static(b"{\"a\":"),
            Bytes::from_static(b"[1,2]"),
            Bytes::from_static(b"}"),
        ]);
        assert_eq!(Frame::Parts(parts).into_bytes(), &b"{\"a\":[1,2]}"[..]);
        assert_eq!(
            Frame::Whole(Bytes::from_static(b"{}")).into_bytes(),
            &b"{}"[..]
        );
    }

    #[test]
    fn every_device_of_a_user_gets_the_frame() {
        let hub = Hub::new(8);
        let mut a = hub.register("u", "s1");
        let mut b = hub.register("u", "s2");
        assert!(a.first && !b.first);
        assert_eq!(hub.deliver("u", &frame(1)), (2, 0));
        assert!(a.rx.try_recv().is_ok());
        assert!(b.rx.try_recv().is_ok());
        assert_eq!(hub.deliver("nobody", &frame(2)), (0, 0));
    }

    #[test]
    fn a_full_queue_closes_only_that_connection_with_4008() {
        let hub = Hub::new(2);
        let slow = hub.register("u", "s1");
        let mut fast = hub.register("u", "s2");
        for pos in 1..=3 {
            hub.deliver("u", &frame(pos));
            while fast.rx.try_recv().is_ok() {}
        }
        assert_eq!(*slow.close.borrow(), Some(close::TOO_SLOW));
        assert_eq!(*fast.close.borrow(), None);
    }

    #[test]
    fn a_connection_told_to_close_takes_no_later_frame() {
        let hub = Hub::new(1);
        let mut slow = hub.register("u", "s1");
        hub.deliver("u", &frame(1));
        // Full: frame 2 is missed and the connection is told to close.
        assert_eq!(hub.deliver("u", &frame(2)), (0, 1));
        // Even once its queue drains, frame 3 must not follow the gap.
        assert!(slow.rx.try_recv().is_ok());
        assert_eq!(hub.deliver("u", &frame(3)), (0, 0));
        assert!(slow.rx.try_recv().is_err());
    }

    #[test]
    fn the_last_device_leaving_is_reported() {
        let hub = Hub::new(2);
        let a = hub.register("u", "s1");
        let b = hub.register("u", "s2");
        assert!(!hub.unregister("u", a.id));
        assert_eq!(hub.devices("u"), 1);
        assert!(hub.unregister("u", b.id));
        assert_eq!(hub.devices("u"), 0);
    }

    #[test]
    fn polls_are_capped_per_user_and_one_delivery_moves_every_one() {
        let hub = Hub::new(2);
        let mut a = hub.start_poll("u", 2).unwrap();
        let mut b = hub.start_poll("u", 2).unwrap();
        assert!(hub.start_poll("u", 2).is_none());
        assert!(hub.start_poll("v", 2).is_some());
        hub.deliver("u", &frame(7));
        assert!(a.has_changed().unwrap() && b.has_changed().unwrap());
        assert_eq!((*a.borrow_and_update(), *b.borrow_and_update()), (7, 7));
        // An ephemeral frame or an older position wakes nobody.
        hub.deliver("u", &Outbound::Ephemeral(Bytes::from_static(b"{}")));
        hub.deliver("u", &frame(5));
        assert!(!a.has_changed().unwrap());
        hub.end_poll("u");
        assert!(hub.start_poll("u", 2).is_some());
    }

    #[test]
    fn an_undeliverable_event_closes_its_users_connections_and_wakes_their_polls() {
        let hub = Hub::new(8);
        let mut owed = hub.register("u", "s1");
        let other = hub.register("v", "s2");
        let mut poll = hub.start_poll("u", 1).unwrap();
        hub.undeliverable(Some(&["u".to_owned()]), 7, close::TOO_SLOW);
        assert_eq!(*owed.close.borrow(), Some(close::TOO_SLOW));
        assert_eq!(*other.close.borrow(), None);
        assert_eq!(*poll.borrow_and_update(), 7);
        // Closed, it takes no later frame: its cursor cannot pass the event it missed.
        assert_eq!(hub.deliver("u", &frame(8)), (0, 0));
        assert!(owed.rx.try_recv().is_err());

        // Not knowing whom the event was for, every connection is closed; a code set before
        // stays.
        hub.undeliverable(None, 9, close::AUTH);
        assert_eq!(*owed.close.borrow(), Some(close::TOO_SLOW));
        assert_eq!(*other.close.borrow(), Some(close::AUTH));
    }

    #[test]
    fn revoking_a_session_closes_its_sockets_only() {
        let hub = Hub::new(2);
        let a = hub.register("u", "s1");
        let b = hub.register("u", "s2");
        hub.close_session("s1", close::AUTH);
        assert_eq!(*a.close.borrow(), Some(close::AUTH));
        assert_eq!(*b.close.borrow(), None);
    }
}
