//! The admin endpoints (`/api/v1/admin/...`): `403` for everyone but the server's admins.

use axum::{Json as JsonOut, extract::State, http::StatusCode};
use natter_core::validate;
use natter_wire as wire;
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::{Json, Path, Query},
};
use crate::{
    app::{App, Caller},
    error::AppError,
};

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Deserialize)]
pub struct UsersQuery {
    query: Option<String>,
    limit: Option<i64>,
    before: Option<String>,
}

/// `GET /api/v1/admin/users?query=&limit=&before=<time>`
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    operation_id = "adminListUsers",
    tag = "admin",
    summary = "Every account, newest first (disabled and deleted ones included)",
    params(
        ("query" = Option<String>, Query, description = "Only usernames that start with it"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
        ("before" = Option<String>, Query, format = DateTime, description = "Only accounts created strictly earlier (the last one's `created_at` gives the next page)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The accounts, each with `disabled`", body = wire::UserList),
        (status = 400, description = "`invalid_request`: a bad `limit` or `before`", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = wire::ErrorBody),
    ),
)]
pub async fn users(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<UsersQuery>,
) -> Result<JsonOut<wire::UserList>> {
    let limit = validate::page_limit(q.limit, app.limits()).map_err(AppError::from)?;
    let before = match q.before.as_deref() {
        None => None,
        Some(t) => Some(
            natter_core::time::parse(t)
                .ok_or_else(|| ApiError::invalid("before must be an RFC 3339 time"))?,
        ),
    };
    let query = q.query.unwrap_or_default();
    Ok(JsonOut(
        app.admin_users(&caller, &query, before, limit).await?,
    ))
}

/// `POST /api/v1/admin/users`
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    operation_id = "adminCreateUser",
    tag = "admin",
    summary = "Create an account (whatever the registration mode)",
    request_body = wire::AdminCreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new account", body = wire::User),
        (status = 400, description = "`invalid_request`: a bad username, password or display name", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: the username is taken (deleted accounts keep theirs)", body = wire::ErrorBody),
    ),
)]
pub async fn create_user(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::AdminCreateUserRequest>,
) -> Result<(StatusCode, JsonOut<wire::User>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(app.admin_create_user(&caller, req).await?),
    ))
}

/// `PATCH /api/v1/admin/users/{id}`
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{id}",
    operation_id = "adminUpdateUser",
    tag = "admin",
    summary = "Disable or enable an account, make or unmake an admin, set a password",
    description = "Disabling and setting a password revoke every session of the account (its WebSockets close with 4001); a disabled account's logins are refused with `401`. An admin cannot disable itself, nor remove its own admin flag while it is the last admin (`409`).",
    params(("id" = String, Path, description = "The user's id")),
    request_body = wire::AdminUpdateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account as changed, with `disabled`", body = wire::User),
        (status = 400, description = "`invalid_request`: a bad password", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: the last admin would go, an admin would disable itself, or the account was deleted", body = wire::ErrorBody),
    ),
)]
pub async fn update_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::AdminUpdateUserRequest>,
) -> Result<JsonOut<wire::User>> {
    Ok(JsonOut(app.admin_update_user(&caller, &id, req).await?))
}

/// `GET /api/v1/admin/stats`
#[utoipa::path(
    get,
    path = "/api/v1/admin/stats",
    operation_id = "adminStats",
    tag = "admin",
    summary = "What the server holds",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts and bytes", body = wire::AdminStats),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = wire::ErrorBody),
    ),
)]
pub async fn stats(State(app): State<App>, caller: Caller) -> Result<JsonOut<wire::AdminStats>> {
    Ok(JsonOut(app.admin_stats(&caller).await?))
}
