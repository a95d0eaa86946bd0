//! Operations endpoints.

use axum::{
    Json,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use natter_wire::Health;

use crate::app::App;

/// `GET /healthz`: `200 ok` when storage answers, else `503 unavailable` (a health body).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "operations",
    summary = "Whether the server can reach its storage",
    responses(
        (status = 200, description = "`ok`", body = Health),
        (status = 503, description = "`unavailable`: storage does not answer (a health body, not an error)", body = Health),
    ),
)]
pub async fn healthz(State(app): State<App>) -> (StatusCode, Json<Health>) {
    let ok = app.healthy().await;
    let body = Health {
        status: if ok { "ok" } else { "unavailable" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text format", content_type = "text/plain", body = String),
    ),
)]
pub async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics().render(),
    )
        .into_response()
}

/// Counts every request and times it, by route (the pattern, not the path, so that ids do not
/// make a series each).
pub async fn measure(State(app): State<App>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let began = std::time::Instant::now();
    let resp = next.run(req).await;
    let m = app.metrics();
    m.requests
        .get_or_create(&vec![
            ("method", method),
            ("route", route.clone()),
            ("status", resp.status().as_u16().to_string()),
        ])
        .inc();
    m.request_seconds
        .get_or_create(&vec![("route", route)])
        .observe(began.elapsed().as_secs_f64());
    resp
}
