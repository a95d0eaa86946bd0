//! The server's configuration: one struct, one place for the defaults.
//!
//! The `natter` binary fills it from flags, `NATTER_*` environment variables and a TOML file;
//! tests build it directly. Every default serves one machine with nothing else running.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use natter_core::Limits;
pub use natter_core::decide::{InvitePolicy, Registration};

#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where the embedded database and media live by default.
    pub data_dir: PathBuf,
    /// `sqlite://…` (default: `<data_dir>/natter.db`) or `postgres://…`.
    pub database_url: Option<String>,
    /// `nats://…` for fan-out between nodes; none means one node, in-process fan-out.
    pub bus_url: Option<String>,
    /// Prefix of NATS subjects and buckets, so that clusters can share a NATS server.
    pub bus_prefix: String,
    /// Where media bytes live (default: `<data_dir>/media`).
    pub media_dir: Option<PathBuf>,
    /// Web origins (`https://chat.example.com`) whose pages may call the API; none by default,
    /// which sends no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Whether the rate limits are on.
    pub rate_limit: bool,
    /// Registrations and logins per minute per IP address.
    pub auth_per_minute: u32,
    /// Writes (sends, edits, marks, uploads, typing…) per second per session, sustained…
    pub writes_per_second: u32,
    /// …and in a burst.
    pub writes_burst: u32,
    /// Writes per second per user, all its sessions together, sustained…
    pub user_writes_per_second: u32,
    /// …and in a burst.
    pub user_writes_burst: u32,
    /// Requests whose token is missing or invalid, per second per client address (an IPv6
    /// address counts by its /64), sustained…
    pub unauthenticated_per_second: u32,
    /// …and in a burst.
    pub unauthenticated_burst: u32,
    /// How long the durable event log is kept.
    pub event_retention: Duration,
    /// How soon the users of a node that died are shown offline.
    pub presence_timeout: Duration,
    /// A session unused for this long expires: its token stops working, it is deleted and its
    /// sockets close (4001).
    pub session_idle_timeout: Duration,
    /// How soon after a deletion its bytes are gone from the database's files (the interval of
    /// the eraser, which checkpoints and truncates SQLite's write-ahead log).
    pub erase_interval: Duration,
    /// How long a client may take to send a request's headers (against slowloris); it also
    /// ends idle keep-alive connections.
    pub header_read_timeout: Duration,
    /// How long a request body may stall between two pieces.
    pub request_body_timeout: Duration,
    /// WebSocket connections one user may hold at once (on this node).
    pub ws_max_per_user: usize,
    /// Long polls (`/sync` with `timeout_ms`) one user may have waiting at once (on this node).
    pub polls_max_per_user: usize,
    /// WebSocket connections this node holds at most.
    pub ws_max_total: usize,
    /// How often the server pings a WebSocket; a peer silent for two intervals is dropped.
    pub ws_ping_interval: Duration,
    /// How long a WebSocket may take to send its `auth` frame.
    pub ws_auth_timeout: Duration,
    /// Frames queued per connection before it counts as too slow and is closed (4008).
    pub ws_queue: usize,
    /// How long a user stays online after its last device disconnects, so that a reconnecting
    /// device does not make it flap offline and online.
    pub presence_debounce: Duration,
    /// A typing indicator ends this long after the last `typing: true`.
    pub typing_timeout: Duration,
    /// Uploads that no message refers to are collected once this old.
    pub media_orphan_age: Duration,
    /// How often unreferenced uploads are looked for.
    pub media_gc_interval: Duration,
    /// The most bytes of uploads one user may have stored; none for no quota.
    pub media_quota: Option<u64>,
    /// Images with more pixels than this are refused before decoding (decompression bombs).
    pub max_image_pixels: u64,
    /// At most this many images decoded at once on the blocking pool.
    pub max_concurrent_images: usize,
    /// Size and count limits.
    pub limits: Limits,
    /// At most this many password hashes (Argon2id) computed at once on the blocking pool.
    pub max_concurrent_hashes: usize,
    /// Who may register: anyone, invited people only (the default), or no one by themselves.
    /// The first user of an empty server registers freely whatever this says.
    pub registration: Registration,
    /// Who may create invites: admins (the default), or every user.
    pub invites: InvitePolicy,
    /// The contact the VAPID key's pushes name (`mailto:` or `https:`), for push services to
    /// reach the operator.
    pub vapid_subject: String,
    /// URL prefixes push endpoints may have besides public `https` ones (test push services).
    pub push_allow: Vec<String>,
    /// URL prefixes webhooks may point to; none allows no webhook.
    pub webhook_allow: Vec<String>,
    /// Tries at a push before it is dropped…
    pub push_attempts: u32,
    /// …waiting this long before the second, twice as long before the third, and so on.
    pub push_backoff: Duration,
    /// How long a push service may take to answer, and a webhook's receiver.
    pub outbound_timeout: Duration,
    /// Tries at delivering an event to a webhook before it becomes a dead letter…
    pub webhook_attempts: u32,
    /// …waiting this long before the second, twice as long before the third…
    pub webhook_backoff: Duration,
    /// …and never longer than this.
    pub webhook_backoff_max: Duration,
    /// Webhooks one user may have.
    pub webhooks_per_user: u32,
    /// How long a node keeps the right to deliver pushes or a webhook without renewing it:
    /// another node takes over this long after one dies.
    pub delivery_lease: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./natter-data"),
            database_url: None,
            bus_url: None,
            bus_prefix: "natter".into(),
            media_dir: None,
            cors_origins: Vec::new(),
            rate_limit: true,
            auth_per_minute: 30,
            writes_per_second: 20,
            writes_burst: 100,
            user_writes_per_second: 50,
            user_writes_burst: 200,
            unauthenticated_per_second: 10,
            unauthenticated_burst: 100,
            event_retention: Duration::from_secs(30 * 24 * 3600),
            presence_timeout: Duration::from_secs(30),
            session_idle_timeout: Duration::from_secs(90 * 24 * 3600),
            erase_interval: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(30),
            ws_max_per_user: 32,
            polls_max_per_user: 32,
            ws_max_total: 200_000,
            ws_ping_interval: Duration::from_secs(30),
            ws_auth_timeout: Duration::from_secs(10),
            ws_queue: 1024,
            presence_debounce: Duration::from_secs(5),
            typing_timeout: Duration::from_secs(5),
            media_orphan_age: Duration::from_secs(24 * 3600),
            media_gc_interval: Duration::from_secs(600),
            media_quota: Some(1 << 30),
            max_image_pixels: 50_000_000,
            max_concurrent_images: 2,
            limits: Limits::default(),
            max_concurrent_hashes: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            registration: Registration::Invite,
            invites: InvitePolicy::Admins,
            vapid_subject: "mailto:postmaster@localhost".into(),
            push_allow: Vec::new(),
            webhook_allow: Vec::new(),
            push_attempts: 5,
            push_backoff: Duration::from_secs(1),
            outbound_timeout: Duration::from_secs(10),
            webhook_attempts: 8,
            webhook_backoff: Duration::from_secs(1),
            webhook_backoff_max: Duration::from_secs(300),
            webhooks_per_user: 10,
            delivery_lease: Duration::from_secs(15),
        }
    }
}

impl Config {
    /// The database URL in force: the configured one, else SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("natter.db").display()),
        }
    }

    /// The media directory in force.
    pub fn media_dir(&self) -> PathBuf {
        self.media_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("media"))
    }
}
