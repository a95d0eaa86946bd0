//! The world the tests build on: a server per test with its own temporary data directory, and
//! small helpers to create users and check error answers.

use std::sync::Arc;

use natter_client::{Client, Conversation, Error, LoginRequest, LoginResponse, RawResponse, User};
use natter_server::{Config, Server};
use tempfile::TempDir;

pub use crate::faulty_store::{FAN_OUT_VIEWER, FaultyStore};

/// Every test user's password.
pub const PASSWORD: &str = "correct horse";

/// A running server with a database of its own; it stops when dropped.
pub struct TestApp {
    pub url: String,
    server: Server,
    // Dropped after the server (field order), so the database outlives it.
    _data: TempDir,
    _schema: Option<crate::pg::Schema>,
    /// The database URL the server was given (none: SQLite in its data directory).
    database_url: Option<String>,
}

/// A stopped server's database, kept for the next server to open (`cfg.database_url =
/// kept.database_url.clone()`, with the same `data_dir`).
pub struct Kept {
    pub database_url: Option<String>,
    _schema: Option<crate::pg::Schema>,
}

/// Whether the suite runs on PostgreSQL (`NATTER_TEST_STORE=postgres`, with
/// `NATTER_TEST_POSTGRES_URL`) rather than on SQLite, the default. CI runs it on both.
pub fn on_postgres() -> bool {
    std::env::var("NATTER_TEST_STORE").is_ok_and(|s| s == "postgres")
}

/// For a test of what only the SQLite adapter has (its files): true, after saying so, when the
/// suite runs on PostgreSQL, where the test has nothing to check.
pub fn sqlite_only(what: &str) -> bool {
    if on_postgres() {
        eprintln!("SQLite only, not run on PostgreSQL: {what}");
    }
    on_postgres()
}

/// A server with the default configuration, rate limits off.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose configuration `tweak` adjusts first (small limits make limit tests cheap).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let (data, mut config) = test_config();
    let schema = if on_postgres() {
        let base = crate::pg::postgres_url()
            .expect("NATTER_TEST_STORE=postgres needs NATTER_TEST_POSTGRES_URL");
        let schema = crate::pg::Schema::create(&base).await;
        config.database_url = Some(schema.url.clone());
        Some(schema)
    } else {
        None
    };
    tweak(&mut config);
    let database_url = config.database_url.clone();
    let server = natter_server::start(config)
        .await
        .expect("the server starts");
    TestApp {
        url: server.url(),
        server,
        _data: data,
        _schema: schema,
        database_url,
    }
}

/// A server on a store that fails chosen reads on demand, and that store.
pub async fn spawn_app_on_faulty_store() -> (TestApp, Arc<FaultyStore>) {
    spawn_app_on_faulty_store_with(|_| {}).await
}

/// [`spawn_app_on_faulty_store`] with the configuration adjusted by `tweak` first.
pub async fn spawn_app_on_faulty_store_with(
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, Arc<FaultyStore>) {
    let (data, mut config) = test_config();
    tweak(&mut config);
    let store = FaultyStore::open(&config.database_url()).await;
    let server = natter_server::start_with_store(config, store.clone())
        .await
        .expect("the server starts");
    let app = TestApp {
        url: server.url(),
        server,
        _data: data,
        _schema: None,
        database_url: None,
    };
    (app, store)
}

/// The default configuration on a temporary data directory, rate limits off, and registration
/// open, so that tests register whom they need (the tests of the registration modes set theirs).
fn test_config() -> (TempDir, Config) {
    let data = tempfile::tempdir().expect("a temporary directory");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        rate_limit: false,
        registration: natter_server::config::Registration::Open,
        ..Config::default()
    };
    (data, config)
}

impl TestApp {
    /// A client without a session.
    pub fn anon(&self) -> Client {
        Client::new(&self.url)
    }

    /// Registers `username` (password [`PASSWORD`]) and logs it in as a new device.
    pub async fn user(&self, username: &str) -> (Client, User) {
        self.anon()
            .sign_up(username, PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("cannot sign up {username}: {e}"))
    }

    /// Logs an existing user in once more, as another device.
    pub async fn login(
        &self,
        username: &str,
        device_name: Option<&str>,
    ) -> (Client, LoginResponse) {
        self.anon()
            .login(&LoginRequest {
                username: username.into(),
                password: PASSWORD.into(),
                device_name: device_name.map(Into::into),
            })
            .await
            .unwrap_or_else(|e| panic!("cannot log {username} in: {e}"))
    }

    /// The server's data directory (its database, and media under `media/` by default).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// A second handle on the server's database, for what a test must arrange that the API
    /// cannot (an invite that has already expired). Dropped before the server stops.
    pub async fn store(&self) -> Arc<dyn natter_server::store::Store> {
        match &self.database_url {
            Some(url) if url.starts_with("postgres") => Arc::new(
                natter_server::store::postgres::PgStore::open(url)
                    .await
                    .expect("the database opens"),
            ),
            _ => Arc::new(
                natter_server::store::sqlite::SqliteStore::open(&format!(
                    "sqlite://{}",
                    self.data_dir().join("natter.db").display()
                ))
                .await
                .expect("the database opens"),
            ),
        }
    }

    /// Runs one SQL statement on the server's database behind its back, for a state the API
    /// cannot make yet (an account marked deleted).
    pub async fn raw_sql(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.database_url {
            Some(url) if url.starts_with("postgres") => {
                let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .expect("raw SQL runs");
                conn.close().await.expect("close");
            }
            _ => {
                let url = format!("sqlite://{}", self.data_dir().join("natter.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open");
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .expect("raw SQL runs");
                conn.close().await.expect("close");
            }
        }
    }

    /// Stops the server gracefully; it must shut down without an error.
    pub async fn shutdown(self) {
        self.server.shutdown().await.expect("a clean shutdown");
    }

    /// Stops the server gracefully and keeps its database for a server started next.
    pub async fn shutdown_keeping_database(self) -> Kept {
        self.server.shutdown().await.expect("a clean shutdown");
        Kept {
            database_url: self.database_url,
            _schema: self._schema,
        }
    }
}

/// Asserts that `result` is the API error `status` with `code`.
#[track_caller]
pub fn assert_api_error<T: std::fmt::Debug>(result: Result<T, Error>, status: u16, code: &str) {
    match &result {
        Err(Error::Api {
            status: s, code: c, ..
        }) if *s == status && c == code => {}
        _ => panic!("expected {status} {code}, got {result:?}"),
    }
}

/// Asserts that `resp` is an error answer as API.md defines it: `status`, the content type
/// `application/json` and the body `{"error": {"code": code, "message": <text>}}`.
#[track_caller]
pub fn assert_error_response(resp: &RawResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "status of {resp:?} ({})", resp.text());
    assert_json_content_type(resp);
    let body = resp.json();
    assert_eq!(body["error"]["code"], code, "error code in {}", resp.text());
    let message = body["error"]["message"].as_str();
    assert!(
        message.is_some_and(|m| !m.is_empty()),
        "error message in {}",
        resp.text()
    );
}

/// Asserts that `resp` is declared as JSON.
#[track_caller]
pub fn assert_json_content_type(resp: &RawResponse) {
    let ct = resp.content_type.as_deref().unwrap_or_default();
    assert!(
        ct.to_ascii_lowercase().starts_with("application/json"),
        "content type of {resp:?} is {ct:?}"
    );
}

/// Asserts that `resp` is `204 No Content`.
#[track_caller]
pub fn assert_no_content(resp: &RawResponse) {
    assert_eq!(
        resp.status,
        204,
        "expected 204, got {resp:?} ({})",
        resp.text()
    );
    assert!(resp.body.is_empty(), "a 204 has no body: {}", resp.text());
}

/// Asserts that `s` is an RFC 3339 UTC time with milliseconds: `2026-11-27T23:59:59.123Z`.
#[track_caller]
pub fn assert_timestamp(s: &str) {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    let ok = s.len() == shape.len()
        && s.bytes().zip(shape.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == p,
        });
    assert!(ok, "{s:?} is not an RFC 3339 UTC time with milliseconds");
}

/// The role of `user_id` in `conv`, if it is a member.
pub fn role_of<'a>(conv: &'a Conversation, user_id: &str) -> Option<&'a str> {
    conv.members
        .iter()
        .find(|m| m.user_id == user_id)
        .map(|m| m.role.as_str())
}

/// The ids of `conv`'s members, sorted.
pub fn member_ids(conv: &Conversation) -> Vec<String> {
    let mut ids: Vec<String> = conv.members.iter().map(|m| m.user_id.clone()).collect();
    ids.sort();
    ids
}

/// `ids`, sorted, as owned strings.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Lets the server's millisecond clock move on, so that two changes get distinct times and an
/// order by time is defined. Nothing here measures time.
pub async fn next_millisecond() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

// ---- Real time ----

/// How long a frame that must arrive may take (generous: the machine may be busy).
pub const ARRIVES: std::time::Duration = std::time::Duration::from_secs(5);
/// How long to listen for a frame that must not arrive.
pub const QUIET: std::time::Duration = std::time::Duration::from_millis(400);

/// The next frame on `socket`, whatever it is; panics if none arrives within [`ARRIVES`] or
/// the socket fails.
pub async fn next_any(socket: &mut natter_client::Socket) -> natter_client::ServerFrame {
    match socket.next_within(ARRIVES).await {
        Ok(Some(f)) => f,
        Ok(None) => panic!("no frame within {ARRIVES:?}"),
        Err(e) => panic!("the socket failed while a frame was expected: {e}"),
    }
}

/// The next frame on `socket` that is not a `presence_update` (presence comes and goes as
/// contacts connect), within [`ARRIVES`].
pub async fn next_frame(socket: &mut natter_client::Socket) -> natter_client::ServerFrame {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(left).await {
            Ok(Some(natter_client::ServerFrame::Ephemeral(
                natter_client::Ephemeral::PresenceUpdate(_),
            ))) => continue,
            Ok(Some(f)) => return f,
            Ok(None) => panic!("no frame within {ARRIVES:?}"),
            Err(e) => panic!("the socket failed while a frame was expected: {e}"),
        }
    }
}

/// The next frame on `socket` must be a durable event (presence aside); returns it.
pub async fn next_event(socket: &mut natter_client::Socket) -> natter_client::Event {
    match next_frame(socket).await {
        natter_client::ServerFrame::Event(e) => *e,
        other => panic!("expected a durable event, got {other:?}"),
    }
}

/// Asserts that no frame other than `presence_update` arrives on `socket` within [`QUIET`].
pub async fn assert_quiet(socket: &mut natter_client::Socket) {
    let deadline = tokio::time::Instant::now() + QUIET;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(left).await {
            Ok(Some(natter_client::ServerFrame::Ephemeral(
                natter_client::Ephemeral::PresenceUpdate(_),
            ))) => continue,
            Ok(Some(f)) => panic!("expected nothing, got {f:?}"),
            Ok(None) => return,
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
}

/// Asserts that nothing at all arrives on `socket` within `wait`.
pub async fn assert_silent(socket: &mut natter_client::Socket, wait: std::time::Duration) {
    match socket.next_within(wait).await {
        Ok(None) => {}
        Ok(Some(f)) => panic!("expected nothing, got {f:?}"),
        Err(e) => panic!("the socket failed: {e}"),
    }
}

/// Sends a ping and asserts that a pong comes back (presence aside): the connection is usable.
pub async fn assert_pong(socket: &mut natter_client::Socket) {
    socket.ping().await.expect("a ping is sent");
    match next_frame(socket).await {
        natter_client::ServerFrame::Control(natter_client::ControlFrame::Pong) => {}
        other => panic!("expected pong, got {other:?}"),
    }
}

/// Reads `socket` until the server closes it and returns the close code; panics if it does
/// not within [`ARRIVES`]. Frames before the close are skipped.
pub async fn closed_code(socket: &mut natter_client::Socket) -> u16 {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(left).await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the socket was not closed within {ARRIVES:?}"),
            Err(Error::Closed { code, .. }) => return code,
            Err(e) => panic!("the socket failed without a close frame: {e}"),
        }
    }
}

/// The log position a cursor stands for. Clients treat cursors as opaque; the tests know that
/// this server writes them in decimal, so that they can check that cursors only move forward.
#[track_caller]
pub fn cursor_pos(cursor: &str) -> u64 {
    cursor
        .parse()
        .unwrap_or_else(|_| panic!("cursor {cursor:?} is not a decimal position"))
}

/// Asserts that `seqs` is exactly `1..=n`: every seq once, in order. Says what is wrong if not.
#[track_caller]
pub fn assert_exactly_once_in_order(seqs: &[i64], n: i64) {
    if seqs.iter().copied().eq(1..=n) {
        return;
    }
    let mut counts = std::collections::BTreeMap::new();
    for s in seqs {
        *counts.entry(*s).or_insert(0usize) += 1;
    }
    let missing: Vec<i64> = (1..=n).filter(|s| !counts.contains_key(s)).collect();
    let repeated: Vec<i64> = counts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(s, _)| *s)
        .collect();
    let out_of_order = seqs.windows(2).position(|w| w[1] <= w[0]);
    panic!(
        "expected seqs 1..={n} once each in order; got {} seqs, missing {missing:?}, repeated \
         {repeated:?}, first out of order at index {out_of_order:?}",
        seqs.len()
    );
}
