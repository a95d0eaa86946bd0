//! The application services: one method per use case, each taking the authenticated caller.
//! Handlers translate the wire to these calls and back; storage sits behind the `Store` port.

mod accounts;
mod conversations;
mod events;
mod messages;

pub use messages::Page;
mod render;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use natter_core::Limits;
use tokio::sync::{Semaphore, watch};

use crate::{
    ServeError,
    config::Config,
    store::{Store, sqlite::SqliteStore},
};

pub use events::{Cursor, parse_cursor};

/// Who is calling: a user through one of its device sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub session_id: String,
}

/// The application: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Config,
    /// Bounds how many Argon2 hashes run at once: each takes ~19 MiB and tens of milliseconds
    /// of a core, so an unbounded burst of logins would starve everything else.
    hashing: Semaphore,
    /// Set when content was erased, so the eraser makes it unrecoverable at its next turn.
    erased: AtomicBool,
    /// Tells background tasks to stop.
    stop: watch::Sender<bool>,
}

impl App {
    /// Opens storage as configured and starts the background tasks.
    pub async fn open(config: Config) -> Result<App, ServeError> {
        let url = config.database_url();
        let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
            if config.database_url.is_none() {
                std::fs::create_dir_all(&config.data_dir).map_err(|source| {
                    ServeError::DataDir {
                        path: config.data_dir.display().to_string(),
                        source,
                    }
                })?;
            }
            Arc::new(SqliteStore::open(&url).await?)
        } else {
            return Err(ServeError::Config(format!(
                "database URL {url:?}: only sqlite:// is supported by this build"
            )));
        };
        if config.bus_url.is_some() {
            return Err(ServeError::Config(
                "--bus-url: fan-out between nodes is not supported by this build".into(),
            ));
        }
        let (stop, _) = watch::channel(false);
        let app = App {
            inner: Arc::new(Inner {
                store,
                hashing: Semaphore::new(config.max_concurrent_hashes.max(1)),
                config,
                erased: AtomicBool::new(false),
                stop,
            }),
        };
        app.spawn_eraser();
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

    /// Stops the background tasks, erases what is pending and closes storage.
    pub async fn close(&self) {
        let _ = self.inner.stop.send(true);
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

    /// Whether storage answers (for `/healthz`).
    pub async fn healthy(&self) -> bool {
        self.store().ping().await.is_ok()
    }
}

/// A new time-ordered id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
