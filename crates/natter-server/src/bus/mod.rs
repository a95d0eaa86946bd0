//! The bus port: how the nodes of a cluster tell each other what happened. One node uses the
//! in-process adapter; several nodes share a NATS server (`nats`).
//!
//! The port is deliberately narrow. Durable events are never carried on the bus: they are in the
//! event log, and the bus only says "the log grew", so a lost or late bus message delays
//! delivery but can never lose or reorder an event. Ephemeral frames (typing) travel already
//! serialized, with the users they are for; presence travels as each node's own list of the
//! users it holds (see `app::presence`).

pub mod local;
pub mod nats;

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub enum BusMessage {
    /// New events were committed to the log: tail it. `here` when this node committed them
    /// (its storage may already have handed them to the fan-out).
    LogAppended { here: bool },
    /// An ephemeral frame for every device of these users.
    Ephemeral { users: Arc<[String]>, frame: Bytes },
    /// A session was revoked: close its sockets (4001).
    SessionRevoked { session_id: String },
    /// A typing indicator ended through this node, which did not hold it: the node that holds
    /// it ends it.
    TypingEnded {
        conversation_id: String,
        user_id: String,
    },
    /// A node's presence news: which users it holds.
    Presence(Arc<PresenceNote>),
    /// The bus came back after an outage: whatever it carried meanwhile may be lost, so the
    /// log is read and presence is sent afresh.
    Reconnected,
}

/// What one node says about the users connected to it. Every node keeps, per other node, the
/// set of users it holds, and shows a user online while any node (itself included) holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceNote {
    /// The node that speaks.
    pub node: String,
    pub news: PresenceNews,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PresenceNews {
    /// The node started: every other node answers with its `Full` list at once.
    Hello,
    /// A user's first device connected to the node.
    Online { user: String },
    /// The node's last device of a user left (after the debounce), at `at` (ms).
    Offline { user: String, at: i64 },
    /// One part of the node's whole list, sent as a heartbeat. A list too long for one bus
    /// message is sent in parts; the receiver replaces its copy when the `last` part of a
    /// round arrives, so a lost part only delays the next round.
    Full {
        round: u64,
        users: Vec<String>,
        last: bool,
    },
}

pub trait Bus: Send + Sync + 'static {
    /// Sends to every node, this one included. Never blocks.
    fn publish(&self, msg: BusMessage);
    /// Everything published from now on. A receiver that lags loses the oldest messages,
    /// which is safe: see the module comment.
    fn subscribe(&self) -> broadcast::Receiver<BusMessage>;
    /// This node's name on the bus, unique among the nodes sharing it.
    fn node(&self) -> &str;
    /// Whether other nodes share this bus.
    fn clustered(&self) -> bool {
        false
    }
}
