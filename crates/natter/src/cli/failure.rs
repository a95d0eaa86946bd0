//! Why a client command failed, and the exit code that tells a script which way it failed.

use std::fmt;

/// A failed client command: what to tell the user, and how to exit.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The server answered with an error (or a lookup found nothing): exit 1.
    Refused,
    /// The command line or its input is wrong: exit 2, as clap exits on a bad flag.
    Usage,
    /// No token for this server, or the server no longer accepts it: exit 3.
    NotLoggedIn,
    /// No answer from the server: exit 4.
    Unreachable,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Refused => 1,
            Kind::Usage => 2,
            Kind::NotLoggedIn => 3,
            Kind::Unreachable => 4,
        }
    }
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A refusal with an API error code, printed as the server prints its own.
    pub fn refused(code: &str, message: impl fmt::Display) -> Self {
        Self::new(Kind::Refused, format!("{code}: {message}"))
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn not_logged_in(server: &str) -> Self {
        Self::new(
            Kind::NotLoggedIn,
            format!("not logged in to {server}: run `natter login --server {server} USERNAME`"),
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Maps an SDK error as seen from `server`. A `401` means the saved session is gone (revoked,
/// expired): the user must log in again, so it is "not logged in", not a refusal. `login`
/// maps its own `401` (a wrong password) before this.
pub fn from_sdk(server: &str, e: natter_client::Error) -> Failure {
    use natter_client::Error;
    match e {
        Error::Api { status: 401, .. } | Error::Closed { code: 4001, .. } => Failure::new(
            Kind::NotLoggedIn,
            format!(
                "not logged in to {server}: the session is no longer valid (revoked or expired); \
                 run `natter login --server {server} USERNAME`"
            ),
        ),
        Error::Api { code, message, .. } => Failure::refused(&code, message),
        Error::Transport(t) if t.is_connect() || t.is_timeout() || t.is_request() => Failure::new(
            Kind::Unreachable,
            format!("cannot reach the server at {server}: {}", root_cause(&t)),
        ),
        other => Failure::new(Kind::Refused, format!("{server}: {other}")),
    }
}

/// The innermost error, which names the actual problem ("Connection refused") where reqwest's
/// own message is only "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
