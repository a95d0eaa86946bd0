//! Rate limits (on by default; `--rate-limit off` for load tests): registration and login per
//! client address; requests whose token is missing or invalid per client address; writes, once
//! authenticated, per session and per user. Over a limit: `429 rate_limited` with `Retry-After`.
//!
//! Every key is small and bounded in number: an address, or the id of a real session or user.
//! Nothing a client sends before it is authenticated becomes a key.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{
    app::{App, Caller},
    config::Config,
    error::AppError,
};

/// The limiters of one server.
pub struct Limiters {
    auth: DefaultKeyedRateLimiter<IpAddr>,
    unauthenticated: DefaultKeyedRateLimiter<IpAddr>,
    session_writes: DefaultKeyedRateLimiter<String>,
    user_writes: DefaultKeyedRateLimiter<String>,
}

/// Keys kept by a limiter before the idle ones are forgotten.
const KEYS_MAX: usize = 100_000;

/// The key a client address is limited by: an IPv6 address by its /64, which one subscriber
/// usually holds whole (so that it cannot take a fresh budget per address); an IPv4 address
/// mapped into IPv6 as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// The client address of a request (its limiting key), if the server recorded it.
pub fn client_of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| client_key(c.0.ip()))
}

impl Limiters {
    pub fn new(c: &Config) -> Arc<Self> {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_second = |rate: u32, burst: u32| Quota::per_second(nz(rate)).allow_burst(nz(burst));
        Arc::new(Self {
            auth: RateLimiter::keyed(Quota::per_minute(nz(c.auth_per_minute))),
            unauthenticated: RateLimiter::keyed(per_second(
                c.unauthenticated_per_second,
                c.unauthenticated_burst,
            )),
            session_writes: RateLimiter::keyed(per_second(c.writes_per_second, c.writes_burst)),
            user_writes: RateLimiter::keyed(per_second(
                c.user_writes_per_second,
                c.user_writes_burst,
            )),
        })
    }

    /// One write by `caller` (a REST write or a WebSocket frame that acts): it counts against
    /// its session's budget and its user's, so that more sessions do not give more.
    pub fn check_write(&self, caller: &Caller) -> Result<(), AppError> {
        Self::check(&self.session_writes, &caller.session_id)?;
        Self::check(&self.user_writes, &caller.user_id)
    }

    /// One request from `client` whose token was missing or invalid.
    pub fn check_unauthenticated(&self, client: IpAddr) -> Result<(), AppError> {
        Self::check(&self.unauthenticated, &client)
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
    // Writes are limited once their caller is known (see the `Caller` extractor).
    if let Some(limiters) = app.limiters() {
        let path = req.uri().path();
        let is_auth =
            req.method() == Method::POST && (path == "/api/v1/users" || path == "/api/v1/sessions");
        if is_auth
            && let Some(ip) = client_of(req.extensions())
            && let Err(e) = Limiters::check(&limiters.auth, &ip)
        {
            return e.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        assert_eq!(client_key("::ffff:192.0.2.7".parse().unwrap()), v4);
    }
}
