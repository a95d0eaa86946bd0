//! The bus port: how the nodes of a cluster tell each other what happened. One node uses the
//! in-process adapter; several nodes will share a NATS server.
//!
//! The port is deliberately narrow. Durable events are never carried on the bus: they are in the
//! event log, and the bus only says "the log grew", so a lost or late bus message delays
//! delivery but can never lose or reorder an event. Ephemeral frames (typing, presence) travel
//! already serialized, with the users they are for.

pub mod local;

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub enum BusMessage {
    /// New events were committed to the log: tail it.
    LogAppended,
    /// An ephemeral frame for every device of these users.
    Ephemeral { users: Arc<[String]>, frame: Bytes },
    /// A session was revoked: close its sockets (4001).
    SessionRevoked { session_id: String },
}

pub trait Bus: Send + Sync + 'static {
    /// Sends to every node, this one included. Never blocks.
    fn publish(&self, msg: BusMessage);
    /// Everything published from now on. A receiver that lags loses the oldest messages,
    /// which is safe: see the module comment.
    fn subscribe(&self) -> broadcast::Receiver<BusMessage>;
}
