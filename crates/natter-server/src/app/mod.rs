//! The application services: one method per use case, each taking the authenticated caller.
//! Handlers translate the wire to these calls and back; storage sits behind the `Store` port.

mod accounts;
mod admin;
mod blocks;
mod compose;
mod conversations;
mod events;
mod fanout;
mod media;
mod messages;
pub mod outbound;
mod presence;
mod push;
mod reactions;
mod render;
mod replay;
mod typing;
mod webhooks;

pub use accounts::hash_password_blocking;
pub use compose::{Adapters, adapters, adapters_on, open_store};
pub use messages::Page;
pub use reactions::{ReactionQuery, SearchQuery};
pub use webhooks::signature as webhook_signature;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use natter_core::{Limits, SessionId, UserId};
use tokio::sync::watch;

use crate::{
    ServeError,
    blob::BlobStore,
    bus::{Bus, BusMessage},
    config::Config,
    cpu::CpuPool,
    hub::Hub,
    store::Store,
};

pub use events::{Cursor, parse_cursor};
pub use replay::{Replay, ReplayPage, Replayed};

/// Who is calling: a user through one of its device sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub session_id: String,
}

impl Caller {
    /// The caller's user id, as the store takes it.
    pub fn user_id(&self) -> &UserId {
        UserId::new(&self.user_id)
    }

    /// The caller's session id, as the store takes it.
    pub fn session_id(&self) -> &SessionId {
        SessionId::new(&self.session_id)
    }
}

/// The application: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Config,
    /// Argon2 runs here, a few at once: each takes ~19 MiB and tens of milliseconds of a core,
    /// so an unbounded burst of logins would starve everything else.
    hashing: CpuPool,
    /// Set when content was erased, so the eraser makes it unrecoverable at its next turn.
    erased: AtomicBool,
    /// Tells background tasks to stop.
    stop: watch::Sender<bool>,
    bus: Arc<dyn Bus>,
    hub: Hub,
    presence: presence::Presence,
    typing: typing::Typing,
    sessions: accounts::Sessions,
    metrics: Arc<crate::metrics::Metrics>,
    /// None when rate limits are off.
    limiters: Option<Arc<crate::http::limits::Limiters>>,
    blobs: Arc<dyn BlobStore>,
    /// Images are decoded here, a few at once: each may take hundreds of MiB.
    images: CpuPool,
    /// Serializes storing and erasing media bytes, which are shared by content.
    media_lock: tokio::sync::Mutex<()>,
    push: push::Pusher,
    hooks: webhooks::Hooks,
}

impl App {
    /// Opens the adapters the configuration selects and starts the background tasks.
    pub async fn open(config: Config) -> Result<App, ServeError> {
        let adapters = compose::adapters(&config).await?;
        Self::open_with(config, adapters).await
    }

    /// Starts the background tasks on `store`, already open (tests wrap one to inject faults),
    /// with the other adapters the configuration selects.
    pub async fn open_on(config: Config, store: Arc<dyn Store>) -> Result<App, ServeError> {
        let adapters = compose::adapters_on(&config, store).await?;
        Self::open_with(config, adapters).await
    }

    /// Starts the background tasks on `adapters`, already open.
    async fn open_with(config: Config, adapters: Adapters) -> Result<App, ServeError> {
        let Adapters { store, blobs, bus } = adapters;
        let push = push::Pusher::open(&*store, &config).await?;
        let hooks = webhooks::Hooks::new(&config)?;
        // Read before any connection can exist, so the fan-out starts at no position a
        // connection is already past: starting later would skip what was logged meanwhile.
        let head = store.head().await?;
        let (stop, _) = watch::channel(false);
        let config_queue = config.ws_queue;
        let limiters = config
            .rate_limit
            .then(|| crate::http::limits::Limiters::new(&config));
        let config_images = config.max_concurrent_images.max(1);
        let sessions = accounts::Sessions::new(config.session_idle_timeout);
        let app = App {
            inner: Arc::new(Inner {
                store,
                hashing: CpuPool::new("natter-hash", config.max_concurrent_hashes)?,
                config,
                erased: AtomicBool::new(false),
                stop,
                bus,
                hub: Hub::new(config_queue),
                presence: Default::default(),
                typing: Default::default(),
                sessions,
                metrics: Default::default(),
                limiters,
                blobs,
                images: CpuPool::new("natter-image", config_images)?,
                media_lock: Default::default(),
                push,
                hooks,
            }),
        };
        app.spawn_eraser();
        app.spawn_fanout(head);
        app.spawn_cluster_presence();
        app.spawn_typing_expiry();
        app.spawn_pruner();
        app.spawn_session_expiry();
        app.spawn_media_gc();
        app.spawn_push();
        app.spawn_webhooks();
        Ok(app)
    }

    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    pub fn limiters(&self) -> Option<&crate::http::limits::Limiters> {
        self.inner.limiters.as_deref()
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.inner.blobs
    }

    pub fn bus(&self) -> &dyn Bus {
        &*self.inner.bus
    }

    /// Wakes the fan-out: the event log grew.
    fn log_appended(&self) {
        self.bus().publish(BusMessage::LogAppended { here: true });
    }

    /// A receiver that sees `true` once the server shuts down.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Begins the shutdown: background tasks stop, sockets close with 1001, long polls answer.
    pub fn stop(&self) {
        let _ = self.inner.stop.send(true);
        self.hub().close_all(crate::hub::close::GOING_AWAY);
    }

    /// Stops everything, erases what is pending and closes storage.
    pub async fn close(&self) {
        self.stop();
        // Give the sockets a moment to send their close frames before storage goes.
        for _ in 0..100 {
            if self.hub().connections() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.inner.erased.swap(false, Ordering::AcqRel)
            && let Err(e) = self.store().purge().await
        {
            tracing::warn!(error = %e, "final purge failed");
        }
        self.store().close().await;
    }

    /// Notes that content was erased; within `erase_interval` no copy remains in the files.
    fn erased(&self) {
        self.inner.erased.store(true, Ordering::Release);
    }

    fn spawn_eraser(&self) {
        let app = self.clone();
        let mut stop = self.inner.stop.subscribe();
        let every = self
            .inner
            .config
            .erase_interval
            .max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                if app.inner.erased.swap(false, Ordering::AcqRel)
                    && let Err(e) = app.store().purge().await
                {
                    // Try again at the next turn.
                    app.erased();
                    tracing::warn!(error = %e, "purge of erased content failed");
                }
            }
        });
    }

    /// Deletes events older than the retention, hourly.
    fn spawn_pruner(&self) {
        let app = self.clone();
        let mut stop = self.inner.stop.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                if let Err(e) = app.prune_events().await {
                    tracing::warn!(error = %e, "pruning the event log failed");
                }
            }
        });
    }

    /// Deletes the sessions that expired, at a tenth of the idle timeout (at most hourly).
    fn spawn_session_expiry(&self) {
        let app = self.clone();
        let mut stop = self.inner.stop.subscribe();
        let every = self.inner.sessions.sweep_every();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                if let Err(e) = app.expire_sessions().await {
                    tracing::warn!(error = %e, "deleting expired sessions failed");
                }
            }
        });
    }

    /// Deletes the events older than the configured retention; a cursor from before them then
    /// gets `resync_required`.
    pub async fn prune_events(&self) -> crate::error::AppResult<()> {
        let keep = i64::try_from(self.config().event_retention.as_millis()).unwrap_or(i64::MAX);
        let before = natter_core::time::now().saturating_sub(keep);
        self.store().prune_events(before).await?;
        Ok(())
    }

    /// Whether storage answers (for `/healthz`).
    pub async fn healthy(&self) -> bool {
        self.store().ping().await.is_ok()
    }
}

/// A new time-ordered id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
