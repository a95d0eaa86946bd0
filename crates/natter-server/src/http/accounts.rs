//! Accounts and sessions.

use axum::{
    Json as JsonOut,
    extract::{Path, State},
    http::StatusCode,
};
use natter_core::validate;
use natter_wire as wire;
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::{Json, Query},
};
use crate::app::{App, Caller};

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /api/v1/users`: register.
pub async fn register(
    State(app): State<App>,
    Json(req): Json<wire::RegisterRequest>,
) -> Result<(StatusCode, JsonOut<wire::User>)> {
    Ok((StatusCode::CREATED, JsonOut(app.register(req).await?)))
}

/// `POST /api/v1/sessions`: log in as a new device.
pub async fn login(
    State(app): State<App>,
    Json(req): Json<wire::LoginRequest>,
) -> Result<(StatusCode, JsonOut<wire::LoginResponse>)> {
    Ok((StatusCode::CREATED, JsonOut(app.login(req).await?)))
}

/// `GET /api/v1/sessions`
pub async fn sessions(
    State(app): State<App>,
    caller: Caller,
) -> Result<JsonOut<wire::SessionList>> {
    Ok(JsonOut(app.sessions(&caller).await?))
}

/// `DELETE /api/v1/sessions/{id}` (`current` for the caller's own).
pub async fn revoke(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.revoke_session(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me`
pub async fn me(State(app): State<App>, caller: Caller) -> Result<JsonOut<wire::User>> {
    Ok(JsonOut(app.user(&caller, &caller.user_id).await?))
}

/// `GET /api/v1/users/{id}`
pub async fn user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::User>> {
    Ok(JsonOut(app.user(&caller, &id).await?))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    query: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/users?query=<prefix>&limit=`
pub async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<JsonOut<wire::UserList>> {
    let query = q
        .query
        .ok_or_else(|| ApiError::invalid("query is required"))?;
    let limit =
        validate::page_limit(q.limit, app.limits()).map_err(crate::error::AppError::from)?;
    Ok(JsonOut(app.search_users(&caller, &query, limit).await?))
}
