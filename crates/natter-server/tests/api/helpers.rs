//! The world the tests build on: a server per test with its own temporary data directory, and
//! small helpers to create users and check error answers.

use natter_client::{Client, Conversation, Error, LoginRequest, LoginResponse, RawResponse, User};
use natter_server::{Config, Server};
use tempfile::TempDir;

/// Every test user's password.
pub const PASSWORD: &str = "correct horse";

/// A running server with a database of its own; it stops when dropped.
pub struct TestApp {
    pub url: String,
    server: Server,
    // Dropped after the server (field order), so the database outlives it.
    _data: TempDir,
}

/// A server with the default configuration, rate limits off.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose configuration `tweak` adjusts first (small limits make limit tests cheap).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        rate_limit: false,
        ..Config::default()
    };
    tweak(&mut config);
    let server = natter_server::start(config)
        .await
        .expect("the server starts");
    TestApp {
        url: server.url(),
        server,
        _data: data,
    }
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

    /// Stops the server gracefully; it must shut down without an error.
    pub async fn shutdown(self) {
        self.server.shutdown().await.expect("a clean shutdown");
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
