//! Rate limits (on by default; `--rate-limit off` for load tests): registration and login per
//! IP address, writes per session token. Over a limit: `429 rate_limited` with `Retry-After`.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{app::App, error::AppError};

/// The limiters of one server.
pub struct Limiters {
    auth: DefaultKeyedRateLimiter<IpAddr>,
    writes: DefaultKeyedRateLimiter<String>,
}

/// Keys kept by a limiter before the idle ones are forgotten.
const KEYS_MAX: usize = 100_000;

impl Limiters {
    pub fn new(auth_per_minute: u32, writes_per_second: u32, writes_burst: u32) -> Arc<Self> {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self {
            auth: RateLimiter::keyed(Quota::per_minute(nz(auth_per_minute))),
            writes: RateLimiter::keyed(
                Quota::per_second(nz(writes_per_second)).allow_burst(nz(writes_burst)),
            ),
        })
    }

    /// One write by the session holding `token` (a REST write or a WebSocket frame that acts).
    pub fn check_write(&self, token: &str) -> Result<(), AppError> {
        Self::check(&self.writes, &token.to_owned())
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), AppError> {
        if limiter.len() > KEYS_MAX {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

/// The request head may hold at most this many bytes of header names and values. hyper bounds
/// its read buffer, but a head read in one piece is not measured, so it is measured here.
const HEADERS_MAX: usize = 32 * 1024;

/// Applies the limits that fit the request, before it reaches its handler.
pub async fn limit(State(app): State<App>, req: Request, next: Next) -> Response {
    let head: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + req.uri().to_string().len();
    if head > HEADERS_MAX {
        return super::error::ApiError::from_status(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request head is over {HEADERS_MAX} bytes"),
        )
        .into_response();
    }
    if let Some(limiters) = app.limiters() {
        let path = req.uri().path();
        let is_auth =
            req.method() == Method::POST && (path == "/api/v1/users" || path == "/api/v1/sessions");
        let verdict = if is_auth {
            let ip = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            match ip {
                Some(ip) => Limiters::check(&limiters.auth, &ip),
                None => Ok(()),
            }
        } else if req.method() != Method::GET && req.method() != Method::HEAD {
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .map(|(_, t)| t.trim().to_owned());
            match token {
                Some(t) => limiters.check_write(&t),
                None => Ok(()),
            }
        } else {
            Ok(())
        };
        if let Err(e) = verdict {
            return e.into_response();
        }
    }
    next.run(req).await
}
