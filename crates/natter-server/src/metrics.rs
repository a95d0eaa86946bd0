//! The server's metrics, served at `GET /metrics` in the Prometheus text format.
//!
//! Each server owns its registry (no global state), so several servers in one process, as in
//! the tests, keep separate counts.

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 100 µs to ~26 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0001, 2.0, 18,
    ))
}

pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub long_polls: Gauge,
    pub frames_delivered: Counter,
    pub events_fanned_out: Counter,
    pub messages_stored: Counter,
    pub slow_consumer_closes: Counter,
    /// Pushes by outcome: `sent`, `retried`, `gone`, `dropped`.
    pub pushes: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Webhook deliveries by outcome: `delivered`, `failed`, `dead_letter`.
    pub webhook_deliveries: Family<Vec<(&'static str, &'static str)>, Counter>,
    pub requests: Family<Labels, Counter>,
    pub request_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    pub store_seconds: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("natter");
        let m = Metrics {
            connections: Gauge::default(),
            long_polls: Gauge::default(),
            frames_delivered: Counter::default(),
            events_fanned_out: Counter::default(),
            messages_stored: Counter::default(),
            slow_consumer_closes: Counter::default(),
            pushes: Family::default(),
            webhook_deliveries: Family::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            store_seconds: Family::new_with_constructor(latency_histogram),
            registry: Registry::default(),
        };
        registry.register(
            "websocket_connections",
            "Open WebSocket connections",
            m.connections.clone(),
        );
        registry.register(
            "long_polls",
            "Long polls waiting for an event",
            m.long_polls.clone(),
        );
        registry.register(
            "frames_delivered",
            "Frames queued for WebSocket connections",
            m.frames_delivered.clone(),
        );
        registry.register(
            "events_fanned_out",
            "Durable events read from the log and fanned out",
            m.events_fanned_out.clone(),
        );
        registry.register(
            "messages_stored",
            "Messages stored",
            m.messages_stored.clone(),
        );
        registry.register(
            "slow_consumer_closes",
            "Connections closed because their outbound queue was full (4008)",
            m.slow_consumer_closes.clone(),
        );
        registry.register(
            "pushes",
            "Web Push requests by outcome (sent, retried, gone, dropped)",
            m.pushes.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, failed, dead_letter)",
            m.webhook_deliveries.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            m.request_seconds.clone(),
        );
        registry.register(
            "store_duration_seconds",
            "Storage operation latency by operation",
            m.store_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Counts a push's outcome.
    pub fn push(&self, outcome: &'static str) {
        self.pushes.get_or_create(&vec![("outcome", outcome)]).inc();
    }

    /// Counts a webhook delivery attempt's outcome.
    pub fn webhook(&self, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }

    pub fn observe_store(&self, op: &'static str, seconds: f64) {
        self.store_seconds
            .get_or_create(&vec![("op", op.to_owned())])
            .observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
