//! The one place where errors become HTTP: each maps to one status and one API error code,
//! with the body `{"error": {"code", "message"}}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use natter_wire::{ErrorBody, ErrorDetail};

use crate::error::AppError;

/// What `Retry-After` says when storage is unavailable: long enough for an operator's fix or a
/// failover to matter, short enough that a retrying client is back soon after.
const RETRY_UNAVAILABLE_SECS: u64 = 5;

/// An error response: a status, a code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The code that goes with a status, for rejections that only carry a status.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_server_error() => "internal",
            _ => "invalid_request",
        };
        Self::new(status, code, message)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use natter_core::Error as R;
        match e {
            AppError::Rule(r) => match r {
                R::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m),
                R::TooLarge(m) => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m)
                }
                R::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
                R::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
                R::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
                R::Unsupported(m) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    m,
                ),
            },
            AppError::Unauthorized(m) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m),
            AppError::RateLimited { retry_after_secs } => ApiError {
                retry_after_secs: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests",
                )
            },
            AppError::Unavailable(detail) => {
                // The detail may name paths: the log has it, the client a plain sentence.
                tracing::warn!(error = %detail, "storage unavailable");
                ApiError {
                    retry_after_secs: Some(RETRY_UNAVAILABLE_SECS),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "storage cannot take this request now; nothing was stored, retry later",
                    )
                }
            }
            AppError::Internal(detail) => {
                // The detail may hold SQL or paths: it goes to the log, never to the client.
                tracing::error!(error = %detail, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
