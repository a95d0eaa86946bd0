//! The domain's errors. Each variant maps to exactly one API error code in the transport layer.

/// A rule the request broke. The message is for people and never contains internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A malformed, missing or out-of-range value (`400 invalid_request`).
    #[error("{0}")]
    Invalid(String),
    /// A value over its size limit (`413 payload_too_large`).
    #[error("{0}")]
    TooLarge(String),
    /// The caller can see the resource but may not do this (`403 forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or the caller may not see it (`404 not_found`).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (`409 conflict`).
    #[error("{0}")]
    Conflict(String),
    /// The media is not of a type this use accepts (`415 unsupported_media_type`).
    #[error("{0}")]
    Unsupported(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
}
