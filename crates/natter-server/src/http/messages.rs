//! Messages, marks and receipts.

use axum::{Json as JsonOut, extract::State, http::StatusCode};
use natter_core::validate;
use natter_wire as wire;
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::{Json, Path, Query},
};
use crate::{
    app::{App, Caller, Page},
    error::AppError,
    store::MarkKind,
};

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /api/v1/conversations/{id}/messages`: `201` when stored, `200` for a retried `client_id`.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/messages",
    operation_id = "sendMessage",
    tag = "messages",
    summary = "Send a message",
    description = "Returns once the message is durably stored. A `client_id` makes the send idempotent: the same sender sending it again into the same conversation gets `200` and the message stored the first time.",
    params(("id" = String, Path, description = "A conversation id")),
    request_body = wire::SendMessageRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = wire::Message),
        (status = 200, description = "The message stored earlier under this `client_id`", body = wire::Message),
        (status = 400, description = "`invalid_request`: no text for `kind: text`, no `media_id` for media, a bad `reply_to`", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: a direct conversation in which either member blocked the other (the blocker must unblock to send), or whose other member's account was deleted", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's, or media that is not the caller's", body = wire::ErrorBody),
        (status = 413, description = "`payload_too_large`: the text or the body is over its limit", body = wire::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: `kind: image` with media that is not an image, or a body that is not JSON", body = wire::ErrorBody),
    ),
)]
pub async fn send(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::SendMessageRequest>,
) -> Result<(StatusCode, JsonOut<wire::Message>)> {
    let (msg, created) = app.send(&caller, &id, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, JsonOut(msg)))
}

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/conversations/{id}/messages?before=&after=&limit=`
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    operation_id = "listMessages",
    tag = "messages",
    summary = "A page of messages, ascending `seq`",
    description = "With `after`, the oldest `limit` above it (below `before` if also given); else the newest `limit` below `before`.",
    params(
        ("id" = String, Path, description = "A conversation id"),
        ("before" = Option<i64>, Query, minimum = 0, description = "Only seqs below this"),
        ("after" = Option<i64>, Query, minimum = 0, description = "Only seqs above this"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The page", body = wire::MessagePage),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<JsonOut<wire::MessagePage>> {
    let limit = validate::page_limit(q.limit, app.limits()).map_err(AppError::from)?;
    if q.before.is_some_and(|b| b < 0) || q.after.is_some_and(|a| a < 0) {
        return Err(ApiError::invalid("before and after must not be negative"));
    }
    let page = Page {
        before: q.before,
        after: q.after,
        limit,
    };
    Ok(JsonOut(app.messages(&caller, &id, page).await?))
}

/// `GET /api/v1/messages/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    operation_id = "getMessage",
    tag = "messages",
    summary = "A message",
    params(("id" = String, Path, description = "A message id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message", body = wire::Message),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Message>> {
    Ok(JsonOut(app.message(&caller, &id).await?))
}

/// `PATCH /api/v1/messages/{id}`: edit (sender only).
#[utoipa::path(
    patch,
    path = "/api/v1/messages/{id}",
    operation_id = "editMessage",
    tag = "messages",
    summary = "Edit a message's text (sender only)",
    params(("id" = String, Path, description = "A message id")),
    request_body = wire::EditMessageRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The edited message, with `edited_at`", body = wire::Message),
        (status = 403, description = "`forbidden`: not the sender", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: the message is deleted", body = wire::ErrorBody),
    ),
)]
pub async fn edit(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::EditMessageRequest>,
) -> Result<JsonOut<wire::Message>> {
    Ok(JsonOut(app.edit(&caller, &id, req).await?))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    #[serde(rename = "for")]
    for_: Option<String>,
}

/// `DELETE /api/v1/messages/{id}` (for everyone) or `?for=me`.
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}",
    operation_id = "deleteMessage",
    tag = "messages",
    summary = "Delete a message for everyone, or hide it for the caller (`for=me`)",
    description = "For everyone: the sender, or a group's owner or admin; its text and media are erased from storage. Deleting again is `204`.",
    params(
        ("id" = String, Path, description = "A message id"),
        ("for" = Option<super::openapi::DeleteFor>, Query, description = "`everyone` (the default) or `me`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid_request`: another `for`", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the caller may not delete it for everyone", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn delete(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<StatusCode> {
    match q.for_.as_deref() {
        None | Some("everyone") => app.delete_for_everyone(&caller, &id).await?,
        Some("me") => app.delete_for_me(&caller, &id).await?,
        Some(_) => return Err(ApiError::invalid("for must be \"me\" or \"everyone\"")),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/messages/{id}/delivered`: this message and every earlier one.
#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/delivered",
    operation_id = "markDelivered",
    tag = "messages",
    summary = "Mark this message and every earlier one delivered for the caller",
    description = "Marks never move backwards; read implies delivered; the caller's own messages are not counted.",
    params(("id" = String, Path, description = "A message id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Marked"),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn delivered(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.mark_message(&caller, &id, MarkKind::Delivered).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/messages/{id}/read`: this message and every earlier one.
#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/read",
    operation_id = "markRead",
    tag = "messages",
    summary = "Mark this message and every earlier one read for the caller",
    description = "Marks never move backwards; read implies delivered; the caller's own messages are not counted.",
    params(("id" = String, Path, description = "A message id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Marked"),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.mark_message(&caller, &id, MarkKind::Read).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/messages/{id}/receipts`
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/receipts",
    operation_id = "receipts",
    tag = "messages",
    summary = "A message's status for each recipient",
    params(("id" = String, Path, description = "A message id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The receipts", body = wire::Receipts),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn receipts(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Receipts>> {
    Ok(JsonOut(app.receipts(&caller, &id).await?))
}
