//! The HTTP transport: routes, extractors and the error mapping. Handlers only translate
//! between the wire and the application services.

mod accounts;
mod admin;
mod conversations;
pub mod error;
pub mod extract;
pub mod head_refusals;
pub mod limits;
mod media;
mod messages;
mod notify;
pub mod openapi;
mod ops;
mod reactions;
mod sync;
mod web;
mod ws;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::http::{HeaderName, HeaderValue, header};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};
use tower_http::{
    catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use self::error::ApiError;
use crate::app::App;

/// Every route of the server.
pub fn router(app: App) -> Router {
    let body_limit = app.limits().json_body_max_bytes;
    let cors = cors(&app.config().cors_origins);
    let api = Router::new()
        .route("/users", post(accounts::register).get(accounts::search))
        .route(
            "/users/me",
            get(accounts::me)
                .patch(accounts::update_profile)
                .delete(accounts::delete_account),
        )
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}", patch(admin::update_user))
        .route("/admin/stats", get(admin::stats))
        .route("/users/me/password", put(accounts::change_password))
        .route("/users/me/blocks", get(accounts::blocks))
        .route(
            "/users/me/blocks/{user_id}",
            put(accounts::block).delete(accounts::unblock),
        )
        .route(
            "/invites",
            post(accounts::create_invite).get(accounts::invites),
        )
        .route(
            "/invites/{code}",
            axum::routing::delete(accounts::revoke_invite),
        )
        .route("/users/{id}", get(accounts::user))
        .route("/sessions", post(accounts::login).get(accounts::sessions))
        .route("/sessions/{id}", axum::routing::delete(accounts::revoke))
        .route(
            "/conversations",
            post(conversations::create).get(conversations::list),
        )
        .route(
            "/conversations/{id}",
            get(conversations::get).patch(conversations::rename),
        )
        .route(
            "/conversations/{id}/members",
            post(conversations::add_member),
        )
        .route("/conversations/{id}/typing", post(conversations::typing))
        .route(
            "/conversations/{id}/members/{user_id}",
            axum::routing::delete(conversations::remove_member).patch(conversations::set_role),
        )
        .route(
            "/conversations/{id}/messages",
            post(messages::send).get(messages::list),
        )
        .route(
            "/messages/{id}",
            get(messages::get)
                .patch(messages::edit)
                .delete(messages::delete),
        )
        .route("/messages/{id}/delivered", put(messages::delivered))
        .route("/messages/{id}/read", put(messages::read))
        .route("/messages/{id}/receipts", get(messages::receipts))
        .route("/messages/{id}/reactions", get(reactions::list))
        .route(
            "/messages/{id}/reactions/{emoji}",
            put(reactions::add).delete(reactions::remove),
        )
        .route("/search", get(reactions::search))
        .route("/push/vapid", get(notify::vapid))
        .route(
            "/push/subscriptions",
            post(notify::subscribe).get(notify::subscriptions),
        )
        .route(
            "/push/subscriptions/{id}",
            axum::routing::delete(notify::unsubscribe),
        )
        .route(
            "/users/me/notifications",
            get(notify::settings).patch(notify::update_settings),
        )
        .route(
            "/conversations/{id}/mute",
            put(notify::mute).delete(notify::unmute),
        )
        .route(
            "/webhooks",
            post(notify::create_webhook).get(notify::webhooks),
        )
        .route(
            "/webhooks/{id}",
            get(notify::webhook).delete(notify::delete_webhook),
        )
        .route("/webhooks/{id}/dead-letters", get(notify::dead_letters))
        .route(
            "/media",
            post(media::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/media/{id}", get(media::download))
        .route("/media/{id}/thumbnail", get(media::thumbnail))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/sync", get(sync::sync))
        .route("/ws", get(ws::upgrade));

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        // After routing, so that each request is counted under its route's pattern.
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            ops::measure,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limits::limit,
        ))
        .fallback(web::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        // Inside the timeout, so that it sees the timeout's error pass through the body.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            refuse_stalled_body,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            app.config().request_body_timeout,
        ))
        .layer(axum::middleware::from_fn(close_after_refused_body))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(tower::util::option_layer(cors))
        // On every response: no content sniffing, no referrer leaks, no framing.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// CORS for the configured origins only; none configured, no CORS headers.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::PUT,
                axum::http::Method::PATCH,
                axum::http::Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::RANGE,
                header::IF_NONE_MATCH,
                header::IF_RANGE,
            ])
            .expose_headers([
                header::CONTENT_DISPOSITION,
                header::CONTENT_RANGE,
                header::ETAG,
                header::RETRY_AFTER,
            ])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

/// An error answer to a request whose body the handler may not have read (refused before it
/// got that far) closes the connection: the unread bytes would otherwise be taken for the next
/// request on it.
async fn close_after_refused_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut resp = next.run(req).await;
    if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A request body that stalls past the body timeout is `408 request_timeout`, whichever
/// handler was reading it: each would otherwise report what it saw, a malformed or cut-off body.
async fn refuse_stalled_body(
    State(app): State<App>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let stalled = Arc::new(AtomicBool::new(false));
    let seen = stalled.clone();
    let body = std::mem::take(req.body_mut());
    *req.body_mut() = axum::body::Body::new(http_body_util::BodyExt::map_err(
        body,
        move |e: axum::Error| {
            if is_timeout(&e) {
                seen.store(true, Ordering::Relaxed);
            }
            e
        },
    ));
    let resp = next.run(req).await;
    if stalled.load(Ordering::Relaxed) && resp.status().is_client_error() {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body stalled: no bytes for {:?}",
                app.config().request_body_timeout
            ),
        )
        .into_response();
    }
    resp
}

/// Whether `e`, or an error it wraps, is the body timeout's.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "method not allowed on this route",
    )
}

/// A panic in a handler is a bug: logged, and answered `500 internal` with the standard body.
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = %detail, "handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_a_500_with_the_standard_body_and_no_detail() {
        let resp = panicked(Box::new("secret detail: SELECT * FROM users".to_owned()));
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal");
        assert!(!String::from_utf8_lossy(&body).contains("SELECT"));
    }
}
