//! The application's error: a rule the request broke, or a failure of ours. The HTTP layer maps
//! each variant to exactly one status and API error code (see `http::error`).

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A domain rule refused the request; its message is for the client.
    #[error(transparent)]
    Rule(#[from] natter_core::Error),
    /// A missing, unknown, expired or revoked token, or a wrong password.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Too many requests; the client may retry after this many seconds.
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// Storage cannot take the request now (disk full, database unreachable or locked):
    /// nothing was stored; the client may retry after this many seconds.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A failure of ours. Logged in full; the client sees only `internal`.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(r) => AppError::Rule(r),
            StoreError::Unavailable(why) => AppError::Unavailable(why),
            other => AppError::Internal(other.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn not_found(what: &str) -> Self {
        AppError::Rule(natter_core::Error::not_found(what))
    }
    /// A file operation that failed: a full, read-only or failing disk is `Unavailable` (the
    /// client retries later), anything else a failure of ours.
    pub fn io(context: &str, e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let detail = format!("{context}: {e}");
        let storage = matches!(
            e.kind(),
            K::StorageFull | K::QuotaExceeded | K::ReadOnlyFilesystem
        ) || e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error());
        if storage {
            AppError::Unavailable(detail)
        } else {
            AppError::Internal(detail)
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Rule(natter_core::Error::invalid(msg))
    }
}
