//! Accounts and sessions.

use axum::{
    Json as JsonOut,
    extract::State,
    http::{HeaderName, StatusCode, header},
};
use natter_core::validate;
use natter_wire as wire;
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::{ClientAddr, Json, Path, Query},
};
use crate::app::{App, Caller};

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /api/v1/users`: register.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "register",
    tag = "accounts",
    summary = "Register a user",
    request_body = wire::RegisterRequest,
    description = "Whatever the registration mode, the first user of a server with no user registers freely and is its first admin. Then `open` lets anyone register, `invite` needs `invite` (a valid code: not expired, not used up, not revoked; one use is consumed), `closed` lets no one register.",
    responses(
        (status = 201, description = "The new user", body = wire::User),
        (status = 403, description = "`forbidden`: registration is closed, or the invite is missing or not valid", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: the username is taken", body = wire::ErrorBody),
    ),
)]
pub async fn register(
    State(app): State<App>,
    Json(req): Json<wire::RegisterRequest>,
) -> Result<(StatusCode, JsonOut<wire::User>)> {
    Ok((StatusCode::CREATED, JsonOut(app.register(req).await?)))
}

/// `POST /api/v1/sessions`: log in as a new device.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    operation_id = "login",
    tag = "accounts",
    summary = "Log in as a new device session",
    request_body = wire::LoginRequest,
    responses(
        (status = 201, description = "The session and its token", body = wire::LoginResponse,
            headers(("Cache-Control" = String, description = "`no-store`: no cache keeps the token"))),
        (status = 401, description = "`unauthorized`: an unknown username or a wrong password (indistinguishable)", body = wire::ErrorBody),
    ),
)]
pub async fn login(
    State(app): State<App>,
    ClientAddr(from): ClientAddr,
    Json(req): Json<wire::LoginRequest>,
) -> Result<(
    StatusCode,
    [(HeaderName, &'static str); 1],
    JsonOut<wire::LoginResponse>,
)> {
    // The answer holds the token: no browser or proxy cache may keep a copy.
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        JsonOut(app.login(req, from).await?),
    ))
}

/// `GET /api/v1/sessions`
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    operation_id = "listSessions",
    tag = "accounts",
    summary = "The caller's device sessions, oldest first",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sessions", body = wire::SessionList),
    ),
)]
pub async fn sessions(
    State(app): State<App>,
    caller: Caller,
) -> Result<JsonOut<wire::SessionList>> {
    Ok(JsonOut(app.sessions(&caller).await?))
}

/// `DELETE /api/v1/sessions/{id}` (`current` for the caller's own).
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}",
    operation_id = "revokeSession",
    tag = "accounts",
    summary = "Revoke a session (`current` for the caller's own)",
    description = "The token stops working at once and that device's WebSocket closes with 4001.",
    params(("id" = String, Path, description = "A session id of the caller's, or `current`")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "`not_found`: no such session of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn revoke(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.revoke_session(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me`
#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    operation_id = "me",
    tag = "accounts",
    summary = "The caller",
    description = "The caller's own view: with its presence, and with `media_bytes` (the bytes of its uploads still stored) and `media_quota` (absent when the server sets none).",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's user", body = wire::User),
    ),
)]
pub async fn me(State(app): State<App>, caller: Caller) -> Result<JsonOut<wire::User>> {
    Ok(JsonOut(app.user(&caller, &caller.user_id).await?))
}

/// `PATCH /api/v1/users/me`: change the caller's profile.
#[utoipa::path(
    patch,
    path = "/api/v1/users/me",
    operation_id = "updateProfile",
    tag = "accounts",
    summary = "Change the caller's display name",
    description = "Everyone sharing a conversation with the caller, and the caller's own devices, get a durable `user_updated` event with the User.",
    request_body = wire::UpdateProfileRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's user", body = wire::User),
        (status = 400, description = "`invalid_request`: the display name is blank or too long", body = wire::ErrorBody),
    ),
)]
pub async fn update_profile(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::UpdateProfileRequest>,
) -> Result<JsonOut<wire::User>> {
    Ok(JsonOut(app.update_profile(&caller, req).await?))
}

/// `PUT /api/v1/users/me/password`: change the caller's password.
#[utoipa::path(
    put,
    path = "/api/v1/users/me/password",
    operation_id = "changePassword",
    tag = "accounts",
    summary = "Change the caller's password",
    description = "Every other session of the caller is revoked (their tokens stop working and their WebSockets close with 4001); the caller's own session stays.",
    request_body = wire::ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`invalid_request`: the new password is too short or too long", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the current password is wrong", body = wire::ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong passwords (counted with failed logins); see `Retry-After`", body = wire::ErrorBody),
    ),
)]
pub async fn change_password(
    State(app): State<App>,
    caller: Caller,
    ClientAddr(from): ClientAddr,
    Json(req): Json<wire::ChangePasswordRequest>,
) -> Result<StatusCode> {
    app.change_password(&caller, req, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/me`: delete the caller's account.
#[utoipa::path(
    delete,
    path = "/api/v1/users/me",
    operation_id = "deleteAccount",
    tag = "accounts",
    summary = "Delete the caller's account for good",
    description = "Every session is revoked (WebSockets close with 4001); the user leaves every group (the owner's succession applies); its uploads that no message carries are erased. Its messages remain for the others; the User shows `deleted: true` and the display name \"Deleted account\"; the username stays reserved. The last admin cannot leave (`409`).",
    request_body = wire::DeleteAccountRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`: the password is wrong", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: the caller is the server's last admin", body = wire::ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong passwords (counted with failed logins); see `Retry-After`", body = wire::ErrorBody),
    ),
)]
pub async fn delete_account(
    State(app): State<App>,
    caller: Caller,
    ClientAddr(from): ClientAddr,
    Json(req): Json<wire::DeleteAccountRequest>,
) -> Result<StatusCode> {
    app.delete_account(&caller, req, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/invites`: a new invite.
#[utoipa::path(
    post,
    path = "/api/v1/invites",
    operation_id = "createInvite",
    tag = "accounts",
    summary = "Create an invite",
    description = "Admins always may; other users only when the server runs with `--invites members`.",
    request_body = wire::CreateInviteRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The invite", body = wire::Invite),
        (status = 400, description = "`invalid_request`: `uses` or `expires_in_s` out of range", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the caller may not create invites", body = wire::ErrorBody),
    ),
)]
pub async fn create_invite(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::CreateInviteRequest>,
) -> Result<(StatusCode, JsonOut<wire::Invite>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(app.create_invite(&caller, req).await?),
    ))
}

/// `GET /api/v1/invites`: the caller's invites.
#[utoipa::path(
    get,
    path = "/api/v1/invites",
    operation_id = "listInvites",
    tag = "accounts",
    summary = "The caller's invites, newest first",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The invites", body = wire::InviteList),
    ),
)]
pub async fn invites(State(app): State<App>, caller: Caller) -> Result<JsonOut<wire::InviteList>> {
    Ok(JsonOut(app.invites(&caller).await?))
}

/// `DELETE /api/v1/invites/{code}`: revoke an invite.
#[utoipa::path(
    delete,
    path = "/api/v1/invites/{code}",
    operation_id = "revokeInvite",
    tag = "accounts",
    summary = "Revoke an invite",
    description = "Its creator or an admin. A revoked invite admits no one.",
    params(("code" = String, Path, description = "The invite's code")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "`forbidden`: neither its creator nor an admin", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such invite", body = wire::ErrorBody),
    ),
)]
pub async fn revoke_invite(
    State(app): State<App>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<StatusCode> {
    app.revoke_invite(&caller, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    operation_id = "getUser",
    tag = "accounts",
    summary = "A user",
    description = "`online` and `last_seen_at` are shown only to the user itself and to users who share a conversation with it, but not to a user it blocked; others get `online: false` and `last_seen_at: null`. `media_bytes` and `media_quota` appear only in the user's own view.",
    params(("id" = String, Path, description = "A user id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = wire::User),
        (status = 404, description = "`not_found`: no such user", body = wire::ErrorBody),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "searchUsers",
    tag = "accounts",
    summary = "Search users by username prefix, in username order",
    description = "Presence (`online`, `last_seen_at`) as for `GET /users/{id}`: only of the caller and of users who share a conversation with it. Users who blocked the caller are not found.",
    params(
        ("query" = String, Query, description = "A username prefix (required, not empty)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The matching users", body = wire::UserList),
        (status = 400, description = "`invalid_request`: no `query` or an empty one, or `limit` out of range", body = wire::ErrorBody),
    ),
)]
pub async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<JsonOut<wire::UserList>> {
    // An empty prefix would match everyone: the directory is not for listing.
    let query = q
        .query
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::invalid("query is required and may not be empty"))?;
    let limit =
        validate::page_limit(q.limit, app.limits()).map_err(crate::error::AppError::from)?;
    Ok(JsonOut(app.search_users(&caller, &query, limit).await?))
}

/// `PUT /api/v1/users/me/blocks/{user_id}`: block a user.
#[utoipa::path(
    put,
    path = "/api/v1/users/me/blocks/{user_id}",
    operation_id = "blockUser",
    tag = "accounts",
    summary = "Block a user",
    description = "Idempotent. Neither the caller nor the blocked user can then open or send into their direct conversation (`403`; its history stays readable); the blocked user receives none of the caller's typing and presence (in groups too), sees no presence of it, and does not find it in user search. Group conversations are otherwise unaffected.",
    params(("user_id" = String, Path, description = "The user to block")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Blocked (or already blocked)"),
        (status = 400, description = "`invalid_request`: the caller itself", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = wire::ErrorBody),
    ),
)]
pub async fn block(
    State(app): State<App>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    app.block(&caller, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/me/blocks/{user_id}`: unblock a user.
#[utoipa::path(
    delete,
    path = "/api/v1/users/me/blocks/{user_id}",
    operation_id = "unblockUser",
    tag = "accounts",
    summary = "Unblock a user",
    description = "Idempotent: unblocking a user not blocked changes nothing.",
    params(("user_id" = String, Path, description = "The user to unblock")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Not blocked (any more)"),
        (status = 400, description = "`invalid_request`: the caller itself", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = wire::ErrorBody),
    ),
)]
pub async fn unblock(
    State(app): State<App>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    app.unblock(&caller, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/blocks`: the users the caller blocked.
#[utoipa::path(
    get,
    path = "/api/v1/users/me/blocks",
    operation_id = "listBlocks",
    tag = "accounts",
    summary = "The users the caller blocked, in username order",
    description = "Without presence (`online: false`, `last_seen_at: null`).",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The blocked users", body = wire::UserList),
    ),
)]
pub async fn blocks(State(app): State<App>, caller: Caller) -> Result<JsonOut<wire::UserList>> {
    Ok(JsonOut(app.blocks(&caller).await?))
}
