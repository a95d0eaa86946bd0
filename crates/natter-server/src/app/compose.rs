//! The composition root: the one place that decides which adapters a configuration selects
//! for the ports (storage, media bytes, the fan-out bus).

use std::sync::Arc;

use crate::{
    ServeError,
    blob::{BlobStore, local::LocalBlobs},
    bus::{Bus, local::LocalBus, nats::NatsBus},
    config::Config,
    store::{Store, sqlite::SqliteStore},
};

/// The adapters the application runs on.
pub struct Adapters {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub bus: Arc<dyn Bus>,
}

/// Opens the adapters `config` selects: the storage its database URL names (SQLite or PostgreSQL), media under the
/// media directory, and the in-process bus or, with `--bus-url`, NATS.
pub async fn adapters(config: &Config) -> Result<Adapters, ServeError> {
    let store = open_store(config).await?;
    adapters_on(config, store).await
}

/// The adapters `config` selects, around `store`, already open (tests wrap one to inject
/// faults).
pub async fn adapters_on(config: &Config, store: Arc<dyn Store>) -> Result<Adapters, ServeError> {
    Ok(Adapters {
        store,
        bus: bus(config).await?,
        blobs: blobs(config)?,
    })
}

/// Opens the storage adapter the database URL names.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    let url = config.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(crate::store::postgres::PgStore::open(&url).await?));
    }
    if !url.starts_with("sqlite:") {
        return Err(ServeError::Config(format!(
            "database URL {url:?}: sqlite://… and postgres://… are supported, nothing else"
        )));
    }
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    }
    Ok(Arc::new(SqliteStore::open(&url).await?))
}

/// The bus between nodes: NATS with `--bus-url`, else in-process (one node).
async fn bus(config: &Config) -> Result<Arc<dyn Bus>, ServeError> {
    match &config.bus_url {
        Some(url) => Ok(Arc::new(
            NatsBus::connect(url, &config.bus_prefix)
                .await
                .map_err(ServeError::Config)?,
        )),
        None => Ok(Arc::new(LocalBus::new())),
    }
}

/// Media bytes: files under the media directory.
fn blobs(config: &Config) -> Result<Arc<dyn BlobStore>, ServeError> {
    let media_dir = config.media_dir();
    let blobs = LocalBlobs::open(&media_dir).map_err(|source| ServeError::DataDir {
        path: media_dir.display().to_string(),
        source,
    })?;
    Ok(Arc::new(blobs))
}
