//! Extractors whose rejections are API errors with the standard body: JSON bodies, query
//! strings and the bearer token.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{Method, StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::{
    app::{App, Caller},
    error::AppError,
};

/// A JSON body. A `Content-Type` other than JSON is `415`; a body over the limit `413`;
/// malformed JSON or a missing field `400`. A request without `Content-Type` is read as JSON,
/// for clients such as `curl -d` that forget it.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or("").trim();
            if !(essence == "application/json" || essence.ends_with("+json")) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::from_status(r.status(), r.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
    }
}

/// A query string; anything that does not fit is `400`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| Query(t))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

/// Path parameters. An id that does not even decode (not UTF-8) names nothing: `404`, like any
/// unknown id.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(t)| Path(t))
            .map_err(|_| ApiError::not_found("no such resource"))
    }
}

/// The client's address as rate limits key it (see [`super::limits::client_key`]); the
/// unspecified address when the connection did not record one.
pub struct ClientAddr(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            super::limits::client_of(&parts.extensions)
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// The bearer token's caller. Missing or bad: `401`, counted against the client address's
/// budget of such requests (`429` past it). A write (any method but `GET` and `HEAD`) counts
/// against the caller's write limits.
impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty());
        let caller = match token {
            Some(t) => app.authenticate(t).await,
            None => Err(AppError::Unauthorized("missing bearer token")),
        };
        let limiters = app.limiters();
        match caller {
            Ok(caller) => {
                if let Some(l) = limiters
                    && parts.method != Method::GET
                    && parts.method != Method::HEAD
                {
                    l.check_write(&caller)?;
                }
                Ok(caller)
            }
            Err(e @ AppError::Unauthorized(_)) => {
                if let Some(l) = limiters
                    && let Some(client) = super::limits::client_of(&parts.extensions)
                {
                    l.check_unauthenticated(client)?;
                }
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}
