//! Conversations and members.

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
    app::{App, Caller},
    error::AppError,
};

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /api/v1/conversations`: `201` when created, `200` with the existing direct one.
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::CreateConversationRequest>,
) -> Result<(StatusCode, JsonOut<wire::Conversation>)> {
    let (conv, created) = app.create_conversation(&caller, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, JsonOut(conv)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    before: Option<String>,
}

/// `GET /api/v1/conversations?limit=&before=<time>`
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<JsonOut<wire::ConversationList>> {
    let limit = validate::page_limit(q.limit, app.limits()).map_err(AppError::from)?;
    let before = match q.before.as_deref() {
        None => None,
        Some(t) => Some(
            natter_core::time::parse(t)
                .ok_or_else(|| ApiError::invalid("before must be an RFC 3339 time"))?,
        ),
    };
    Ok(JsonOut(app.conversations(&caller, before, limit).await?))
}

/// `GET /api/v1/conversations/{id}`
pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.conversation(&caller, &id).await?))
}

/// `PATCH /api/v1/conversations/{id}`: rename a group.
pub async fn rename(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::RenameRequest>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.rename(&caller, &id, req).await?))
}

/// `POST /api/v1/conversations/{id}/members`
pub async fn add_member(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::AddMemberRequest>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.add_member(&caller, &id, req).await?))
}

/// `DELETE /api/v1/conversations/{id}/members/{user_id}` (`me` to leave).
pub async fn remove_member(
    State(app): State<App>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.remove_member(&caller, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /api/v1/conversations/{id}/members/{user_id}`: change a role (owner only).
pub async fn set_role(
    State(app): State<App>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
    Json(req): Json<wire::SetRoleRequest>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.set_role(&caller, &id, &user_id, req).await?))
}

/// `POST /api/v1/conversations/{id}/typing` `{"typing": bool}`
pub async fn typing(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::TypingRequest>,
) -> Result<StatusCode> {
    app.set_typing(&caller, &id, req.typing).await?;
    Ok(StatusCode::NO_CONTENT)
}
