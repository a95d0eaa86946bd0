//! The bus between nodes over NATS (core subjects; nothing of it needs to be durable, see the
//! port's comment). Every node publishes to, and subscribes to, `<prefix>.*`, so clusters
//! with different prefixes share a NATS server without hearing each other.
//!
//! A message is given to this node's own subscribers at once and queued for NATS; the
//! connection is opened with `no_echo`, so a node never hears its own messages twice. While
//! NATS is unreachable the node goes on serving its own connections: its queue of outgoing
//! messages is bounded and drops what is cheap to lose (wake-ups, typing, presence, which the
//! next heartbeat repeats), never a revocation. When the connection comes back the node is
//! told (`Reconnected`) and reads the log, since another node's wake-ups may have been lost.
//!
//! Core NATS delivers at most once: what a node wrote just before it noticed that the
//! connection broke is lost, and a node that was away missed what the others said. So each
//! node keeps the revocations it made in the last [`KEEP_REVOCATIONS`], and when a node
//! reconnects it asks every node (itself included) to say them again; closing a session twice
//! does nothing.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::{sync::broadcast, sync::mpsc, task::JoinHandle, time::Instant};

use super::{Bus, BusMessage, PresenceNote};

/// Outgoing messages waiting for NATS, beyond which the cheap ones are dropped.
const QUEUE: usize = 4096;
/// How long a node repeats its revocations on request: as long as a session read before its
/// revocation can stay cached anywhere (see `app::accounts`), and more.
pub const KEEP_REVOCATIONS: Duration = Duration::from_secs(600);
/// Revocations kept at most.
const KEEP_REVOCATIONS_MAX: usize = 10_000;

/// The subjects under the prefix.
const LOG: &str = "log";
const EPHEMERAL: &str = "ephemeral";
const REVOKED: &str = "revoked";
const PRESENCE: &str = "presence";
const TYPING_ENDED: &str = "typing_ended";
/// "Say your revocations again": a node came back.
const REPEAT: &str = "repeat";

pub struct NatsBus {
    node: String,
    local: broadcast::Sender<BusMessage>,
    out: mpsc::Sender<BusMessage>,
    /// Revocations are never dropped: they wait for NATS however long it takes.
    revocations: mpsc::UnboundedSender<BusMessage>,
    /// A wake-up is queued and not yet sent: later ones add nothing.
    log_queued: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// An ended typing indicator as it crosses NATS.
#[derive(Serialize, Deserialize)]
struct TypingEndedWire {
    conversation_id: String,
    user_id: String,
}

/// An ephemeral frame as it crosses NATS.
#[derive(Serialize, Deserialize)]
struct EphemeralWire {
    users: Vec<String>,
    frame: String,
}

impl NatsBus {
    /// Connects to the NATS server at `url`. Fails if it cannot be reached now; once
    /// connected, outages are ridden out (the client reconnects by itself).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        if prefix.is_empty() || prefix.contains(['.', '*', '>', ' ']) {
            return Err(format!(
                "--bus-prefix {prefix:?}: one NATS subject token (no '.', '*', '>' or spaces)"
            ));
        }
        let node = uuid::Uuid::now_v7().to_string();
        let (local, _) = broadcast::channel(8192);
        let events_local = local.clone();
        // Connection news for the sending task, which then asks for the revocations again.
        let (repeat, repeat_rx) = mpsc::unbounded_channel();
        let events_repeat = repeat.clone();
        let client = async_nats::ConnectOptions::new()
            .name(format!("natter {node}"))
            .no_echo()
            .event_callback(move |event| {
                let local = events_local.clone();
                let repeat = events_repeat.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("bus: connected to NATS");
                            let _ = repeat.send(Repeat::AskEveryone);
                            let _ = local.send(BusMessage::Reconnected);
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("bus: lost NATS; serving this node's connections only until it returns");
                        }
                        other => tracing::debug!(event = %other, "bus: NATS event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| format!("--bus-url {url}: cannot connect to NATS: {e}"))?;
        let subscriber = client
            .subscribe(format!("{prefix}.*"))
            .await
            .map_err(|e| format!("--bus-url {url}: cannot subscribe: {e}"))?;
        // A round trip: the server handles a connection's commands in order, so once it has
        // answered a request sent after the subscription (that nobody serves), it has taken the
        // subscription, and nothing another node publishes after `connect` returns is missed.
        match client
            .request(format!("{prefix}.probe.{node}"), Bytes::new())
            .await
        {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
            Ok(_) => {}
            Err(e) => return Err(format!("--bus-url {url}: cannot subscribe: {e}")),
        }

        let (out, out_rx) = mpsc::channel(QUEUE);
        let (revocations, revocations_rx) = mpsc::unbounded_channel();
        let log_queued = Arc::new(AtomicBool::new(false));
        let tasks = vec![
            tokio::spawn(receive(subscriber, local.clone(), repeat)),
            tokio::spawn(send(
                client,
                prefix.to_owned(),
                Queues {
                    out: out_rx,
                    revocations: revocations_rx,
                    repeat: repeat_rx,
                },
                log_queued.clone(),
            )),
        ];
        Ok(Self {
            node,
            local,
            out,
            revocations,
            log_queued,
            tasks,
        })
    }
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Bus for NatsBus {
    fn publish(&self, msg: BusMessage) {
        let _ = self.local.send(msg.clone());
        match msg {
            BusMessage::LogAppended { .. } => {
                if !self.log_queued.swap(true, Ordering::AcqRel)
                    && self
                        .out
                        .try_send(BusMessage::LogAppended { here: false })
                        .is_err()
                {
                    // Dropped: the other nodes' ticks read the log within a second.
                    self.log_queued.store(false, Ordering::Release);
                }
            }
            BusMessage::SessionRevoked { .. } => {
                let _ = self.revocations.send(msg);
            }
            BusMessage::Ephemeral { .. }
            | BusMessage::Presence(_)
            | BusMessage::TypingEnded { .. } => {
                if self.out.try_send(msg).is_err() {
                    tracing::debug!("bus: NATS queue full, an ephemeral frame is dropped");
                }
            }
            // Only this node's own business.
            BusMessage::Reconnected => {}
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.local.subscribe()
    }

    fn node(&self) -> &str {
        &self.node
    }

    fn clustered(&self) -> bool {
        true
    }
}

/// What the sending task takes from.
struct Queues {
    out: mpsc::Receiver<BusMessage>,
    revocations: mpsc::UnboundedReceiver<BusMessage>,
    repeat: mpsc::UnboundedReceiver<Repeat>,
}

/// Why the revocations are said again.
enum Repeat {
    /// This node (re)connected: ask every node.
    AskEveryone,
    /// A node asked.
    Asked,
}

/// Publishes the queued messages to NATS, revocations first, and keeps this node's recent
/// revocations to say them again on request.
async fn send(
    client: async_nats::Client,
    prefix: String,
    mut queues: Queues,
    log_queued: Arc<AtomicBool>,
) {
    let mut recent: VecDeque<(Instant, String)> = VecDeque::new();
    loop {
        let msg = tokio::select! {
            biased;
            Some(r) = queues.repeat.recv() => {
                if matches!(r, Repeat::AskEveryone) {
                    publish(&client, &prefix, REPEAT, Bytes::new()).await;
                }
                while recent
                    .front()
                    .is_some_and(|(at, _)| at.elapsed() > KEEP_REVOCATIONS)
                {
                    recent.pop_front();
                }
                for (_, session_id) in &recent {
                    publish(&client, &prefix, REVOKED, Bytes::from(session_id.clone())).await;
                }
                continue;
            }
            Some(m) = queues.revocations.recv() => m,
            Some(m) = queues.out.recv() => m,
            else => return,
        };
        let (subject, payload) = match msg {
            BusMessage::LogAppended { .. } => {
                log_queued.store(false, Ordering::Release);
                (LOG, Bytes::new())
            }
            BusMessage::SessionRevoked { session_id } => {
                if recent.len() == KEEP_REVOCATIONS_MAX {
                    recent.pop_front();
                }
                recent.push_back((Instant::now(), session_id.clone()));
                (REVOKED, Bytes::from(session_id))
            }
            BusMessage::Ephemeral { users, frame } => {
                let wire = EphemeralWire {
                    users: users.to_vec(),
                    frame: String::from_utf8_lossy(&frame).into_owned(),
                };
                match serde_json::to_vec(&wire) {
                    Ok(b) => (EPHEMERAL, Bytes::from(b)),
                    Err(_) => continue,
                }
            }
            BusMessage::Presence(note) => match serde_json::to_vec(&*note) {
                Ok(b) => (PRESENCE, Bytes::from(b)),
                Err(_) => continue,
            },
            BusMessage::TypingEnded {
                conversation_id,
                user_id,
            } => match serde_json::to_vec(&TypingEndedWire {
                conversation_id,
                user_id,
            }) {
                Ok(b) => (TYPING_ENDED, Bytes::from(b)),
                Err(_) => continue,
            },
            BusMessage::Reconnected => continue,
        };
        publish(&client, &prefix, subject, payload).await;
    }
}

async fn publish(client: &async_nats::Client, prefix: &str, subject: &str, payload: Bytes) {
    // The client queues while it reconnects; this waits only when its own queue is full.
    if let Err(e) = client.publish(format!("{prefix}.{subject}"), payload).await {
        tracing::warn!(error = %e, subject, "bus: cannot publish to NATS");
    }
}

/// Hands what the other nodes publish to this node's subscribers.
async fn receive(
    mut subscriber: async_nats::Subscriber,
    local: broadcast::Sender<BusMessage>,
    repeat: mpsc::UnboundedSender<Repeat>,
) {
    while let Some(m) = subscriber.next().await {
        let kind = m.subject.rsplit('.').next().unwrap_or_default();
        let msg = match kind {
            REPEAT => {
                let _ = repeat.send(Repeat::Asked);
                continue;
            }
            LOG => BusMessage::LogAppended { here: false },
            REVOKED => match String::from_utf8(m.payload.to_vec()) {
                Ok(session_id) => BusMessage::SessionRevoked { session_id },
                Err(_) => continue,
            },
            EPHEMERAL => match serde_json::from_slice::<EphemeralWire>(&m.payload) {
                Ok(w) => BusMessage::Ephemeral {
                    users: w.users.into(),
                    frame: Bytes::from(w.frame),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "bus: unreadable ephemeral message");
                    continue;
                }
            },
            TYPING_ENDED => match serde_json::from_slice::<TypingEndedWire>(&m.payload) {
                Ok(w) => BusMessage::TypingEnded {
                    conversation_id: w.conversation_id,
                    user_id: w.user_id,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "bus: unreadable typing message");
                    continue;
                }
            },
            PRESENCE => match serde_json::from_slice::<PresenceNote>(&m.payload) {
                Ok(note) => BusMessage::Presence(Arc::new(note)),
                Err(e) => {
                    tracing::warn!(error = %e, "bus: unreadable presence message");
                    continue;
                }
            },
            _ => continue,
        };
        let _ = local.send(msg);
    }
}
