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
    /// A failure of ours. Logged in full; the client sees only `internal`.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(r) => AppError::Rule(r),
            other => AppError::Internal(other.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn not_found(what: &str) -> Self {
        AppError::Rule(natter_core::Error::not_found(what))
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Rule(natter_core::Error::invalid(msg))
    }
}
