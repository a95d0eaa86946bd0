//! The in-process bus of a single node: a broadcast channel.

use tokio::sync::broadcast;

use super::{Bus, BusMessage};

pub struct LocalBus {
    tx: broadcast::Sender<BusMessage>,
}

impl LocalBus {
    pub fn new() -> Self {
        // Large enough that the fan-out task never lags under a burst; if it does, it misses
        // wake-ups (harmless: it tails the log from where it was) or ephemeral frames.
        let (tx, _) = broadcast::channel(8192);
        Self { tx }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus for LocalBus {
    fn publish(&self, msg: BusMessage) {
        // No subscriber (during shutdown) is fine.
        let _ = self.tx.send(msg);
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    fn node(&self) -> &str {
        "local"
    }
}
