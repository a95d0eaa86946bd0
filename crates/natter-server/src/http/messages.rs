//! Messages, marks and receipts.

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
use crate::{
    app::{App, Caller, Page},
    error::AppError,
    store::MarkKind,
};

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /api/v1/conversations/{id}/messages`: `201` when stored, `200` for a retried `client_id`.
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
pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Message>> {
    Ok(JsonOut(app.message(&caller, &id).await?))
}

/// `PATCH /api/v1/messages/{id}`: edit (sender only).
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
pub async fn delivered(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.mark_message(&caller, &id, MarkKind::Delivered).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/messages/{id}/read`: this message and every earlier one.
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.mark_message(&caller, &id, MarkKind::Read).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/messages/{id}/receipts`
pub async fn receipts(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Receipts>> {
    Ok(JsonOut(app.receipts(&caller, &id).await?))
}
