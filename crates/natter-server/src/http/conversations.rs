//! Conversations and members.

use axum::{Json as JsonOut, extract::State, http::StatusCode};
use natter_core::{ConversationId, UserId, validate};
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

/// `POST /api/v1/conversations`: `201` when created, `200` with the existing direct one.
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    operation_id = "createConversation",
    tag = "conversations",
    summary = "Start a direct conversation or create a group",
    description = "`{\"type\": \"direct\", \"user_id\"}` or `{\"type\": \"group\", \"name\", \"member_ids\"}`. The creator of a group is its `owner`; its own id and repeats in `member_ids` are ignored, but the list holds at most 1,024 ids.",
    request_body = wire::CreateConversationRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = wire::Conversation),
        (status = 200, description = "The existing direct conversation of the pair", body = wire::Conversation),
        (status = 400, description = "`invalid_request`: a missing field, oneself as the other user, unknown user ids, too many members, more than 1,024 `member_ids`", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: a direct conversation with a user who blocked the caller or whom the caller blocked, or whose account was deleted (also when the pair's conversation exists: it stays readable with `GET /conversations/{id}`)", body = wire::ErrorBody),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    operation_id = "listConversations",
    tag = "conversations",
    summary = "The caller's conversations, newest `last_message_at` first",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
        ("before" = Option<String>, Query, format = DateTime, description = "Only those whose `last_message_at` is strictly older"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The conversations", body = wire::ConversationList),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    operation_id = "getConversation",
    tag = "conversations",
    summary = "A conversation of the caller's",
    params(("id" = String, Path, description = "A conversation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The conversation", body = wire::Conversation),
        (status = 404, description = "`not_found`: no such conversation, or the caller is not a member", body = wire::ErrorBody),
    ),
)]
pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.conversation(&caller, &id).await?))
}

/// `PATCH /api/v1/conversations/{id}`: rename a group.
#[utoipa::path(
    patch,
    path = "/api/v1/conversations/{id}",
    operation_id = "renameConversation",
    tag = "conversations",
    summary = "Rename a group (owner or admin)",
    params(("id" = String, Path, description = "A conversation id")),
    request_body = wire::RenameRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The renamed group", body = wire::Conversation),
        (status = 400, description = "`invalid_request`: a direct conversation, or a bad name", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: neither owner nor admin", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn rename(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::RenameRequest>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.rename(&caller, &id, req).await?))
}

/// `POST /api/v1/conversations/{id}/members`
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/members",
    operation_id = "addMember",
    tag = "conversations",
    summary = "Add a member to a group (owner or admin)",
    description = "A new member sees only the messages sent after it joined.",
    params(("id" = String, Path, description = "A conversation id")),
    request_body = wire::AddMemberRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group", body = wire::Conversation),
        (status = 400, description = "`invalid_request`: a direct conversation, an unknown user, the group is full", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: neither owner nor admin", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: already a member", body = wire::ErrorBody),
    ),
)]
pub async fn add_member(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::AddMemberRequest>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(app.add_member(&caller, &id, req).await?))
}

/// `DELETE /api/v1/conversations/{id}/members/{user_id}` (`me` to leave).
#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}/members/{user_id}",
    operation_id = "removeMember",
    tag = "conversations",
    summary = "Remove a member from a group, or leave it (`me`)",
    description = "Owner or admin remove others; nobody removes the owner; anyone leaves. When the owner leaves, the longest-standing admin (else member) becomes owner; when the last member leaves, the group is deleted.",
    params(("id" = String, Path, description = "A conversation id"), ("user_id" = String, Path, description = "A member's user id, or `me`")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_request`: a direct conversation", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the caller may not remove this member", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's, or not a member", body = wire::ErrorBody),
    ),
)]
pub async fn remove_member(
    State(app): State<App>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.remove_member(&caller, ConversationId::new(&id), UserId::new(&user_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /api/v1/conversations/{id}/members/{user_id}`: change a role (owner only).
#[utoipa::path(
    patch,
    path = "/api/v1/conversations/{id}/members/{user_id}",
    operation_id = "setRole",
    tag = "conversations",
    summary = "Change a member's role (owner only)",
    params(("id" = String, Path, description = "A conversation id"), ("user_id" = String, Path, description = "A member's user id, or `me`")),
    request_body = wire::SetRoleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group", body = wire::Conversation),
        (status = 400, description = "`invalid_request`: a bad role, a direct conversation, or the owner's own role", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: not the owner", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's, or not a member", body = wire::ErrorBody),
    ),
)]
pub async fn set_role(
    State(app): State<App>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
    Json(req): Json<wire::SetRoleRequest>,
) -> Result<JsonOut<wire::Conversation>> {
    Ok(JsonOut(
        app.set_role(
            &caller,
            ConversationId::new(&id),
            UserId::new(&user_id),
            req,
        )
        .await?,
    ))
}

/// `POST /api/v1/conversations/{id}/typing` `{"typing": bool}`
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/typing",
    operation_id = "typing",
    tag = "conversations",
    summary = "Start or stop the caller's typing indicator",
    description = "As the WebSocket `typing` frame: the other members get `typing_start` / `typing_stop`.",
    params(("id" = String, Path, description = "A conversation id")),
    request_body = wire::TypingRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Done"),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn typing(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::TypingRequest>,
) -> Result<StatusCode> {
    app.set_typing(&caller, &id, req.typing).await?;
    Ok(StatusCode::NO_CONTENT)
}
