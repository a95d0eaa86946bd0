//! Operations endpoints.

use axum::{Json, extract::State, http::StatusCode};
use natter_wire::Health;

use crate::app::App;

/// `GET /healthz`: `200 ok` when storage answers, else `503 unavailable` (a health body).
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
