//! natter's server: the HTTP transport, the application services and the storage adapters.
//!
//! The server is a library: [`run`] serves on a listener until a shutdown signal, and [`start`]
//! does the same in the background for tests and embedding. `main` only wires configuration.

pub mod app;
pub mod blob;
pub mod bus;
pub mod config;
pub mod cpu;
pub mod error;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod operator;
pub mod store;
pub mod webpush;

use std::{future::Future, net::SocketAddr};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use config::Config;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("backup refused or failed: {0}")]
    Backup(store::StoreError),
    #[error("unsupported configuration: {0}")]
    Config(String),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens storage and serves on `listener` until `shutdown` completes; then stops accepting,
/// lets in-flight requests finish and closes the database cleanly.
/// `ready` is called once storage is open and the listener accepts connections.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(),
) -> Result<(), ServeError> {
    let app = app::App::open(config).await?;
    ready();
    serve_app(app, listener, shutdown).await
}

/// hyper's read buffer per connection, which bounds the request head it accepts; smaller heads
/// are held to a tighter limit by the router (see `http::limits`).
const HEAD_BUFFER: usize = 64 * 1024;

async fn serve_app(
    app: app::App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use hyper_util::{
        rt::{TokioIo, TokioTimer},
        service::TowerToHyperService,
    };

    let router = http::router(app.clone());
    let header_timeout = app.config().header_read_timeout;
    let connections = tokio_util::task::TaskTracker::new();
    let (draining, drain) = tokio::sync::watch::channel(false);
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    // hyper's connection loop rather than `axum::serve`, for the limits axum does not expose:
    // the time to send headers (slowloris) and the size of a request head.
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = tower::ServiceExt::map_request(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(HEAD_BUFFER)
            .serve_connection(
                TokioIo::new(http::head_refusals::HeadRefusals::new(stream, HEAD_BUFFER)),
                TowerToHyperService::new(svc),
            )
            .with_upgrades();
        let mut drain = drain.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = drain.changed() => {
                    // Finish the request in flight, if any, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
        });
    }
    drop(listener);
    // Sockets close with 1001 and long polls answer now; in-flight requests finish.
    app.stop();
    let _ = draining.send(true);
    connections.close();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(35), connections.wait()).await;
    app.close().await;
    Ok(())
}

/// Writes a consistent copy of the database of `config` to `path`, whether or not a server
/// is running on it, without changing the database (see [`store::sqlite::backup`]).
pub async fn backup(config: &Config, path: &std::path::Path) -> Result<(), ServeError> {
    let url = config.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(ServeError::Config(
            "natter backup copies SQLite databases; back a PostgreSQL database up with its own \
             tools, e.g. `pg_dump --format=custom`, which takes a consistent snapshot while \
             natter runs"
                .into(),
        ));
    }
    if !url.starts_with("sqlite:") {
        return Err(ServeError::Config(format!(
            "natter backup copies SQLite databases; {url:?} is not one"
        )));
    }
    store::sqlite::backup(&url, path)
        .await
        .map_err(ServeError::Backup)
}

/// Binds `config.listen`, the port 0 included.
pub async fn bind(config: &Config) -> Result<TcpListener, ServeError> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })
}

/// A server running in the background.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

/// Binds and starts a server in the background; it accepts connections once this returns.
pub async fn start(config: Config) -> Result<Server, ServeError> {
    let listener = bind(&config).await?;
    // Open storage before returning so that a bad configuration fails here, not in the task.
    let app = app::App::open(config).await?;
    start_app(app, listener)
}

/// [`start`] on a store already open, instead of the one `config` names: tests pass a wrapper
/// that makes chosen reads fail.
pub async fn start_with_store(
    config: Config,
    store: std::sync::Arc<dyn store::Store>,
) -> Result<Server, ServeError> {
    let listener = bind(&config).await?;
    let app = app::App::open_on(config, store).await?;
    start_app(app, listener)
}

fn start_app(app: app::App, listener: TcpListener) -> Result<Server, ServeError> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_app(app, listener, async {
        let _ = stopped.await;
    }));
    Ok(Server {
        addr,
        stop: Some(stop),
        task,
    })
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully and waits until the database is closed.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Io(std::io::Error::other(e))),
        }
    }
}
