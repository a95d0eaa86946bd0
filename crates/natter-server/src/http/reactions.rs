//! Reactions and message search.

use axum::{Json as JsonOut, extract::State, http::StatusCode};
use natter_core::validate;
use natter_wire as wire;
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::{Path, Query},
};
use crate::{
    app::{App, Caller, ReactionQuery, SearchQuery},
    error::AppError,
};

type Result<T> = std::result::Result<T, ApiError>;

/// `PUT /api/v1/messages/{id}/reactions/{emoji}`
#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/reactions/{emoji}",
    operation_id = "addReaction",
    tag = "messages",
    summary = "React to a message",
    description = "Idempotent: reacting again with the same emoji changes nothing. Every member gets a `reaction_changed` event when it changes.",
    params(
        ("id" = String, Path, description = "A message id"),
        ("emoji" = String, Path, description = "One emoji, URL-encoded"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The caller reacts with it"),
        (status = 400, description = "`invalid_request`: not exactly one emoji, or the message carries 20 other emoji already", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
        (status = 409, description = "`conflict`: the message was deleted for everyone", body = wire::ErrorBody),
    ),
)]
pub async fn add(
    State(app): State<App>,
    caller: Caller,
    Path((id, emoji)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.react(&caller, &id, &emoji, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/messages/{id}/reactions/{emoji}`
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}/reactions/{emoji}",
    operation_id = "removeReaction",
    tag = "messages",
    summary = "Take back a reaction",
    description = "Idempotent: removing a reaction the caller does not have changes nothing.",
    params(
        ("id" = String, Path, description = "A message id"),
        ("emoji" = String, Path, description = "One emoji, URL-encoded"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The caller does not react with it"),
        (status = 400, description = "`invalid_request`: not exactly one emoji", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path((id, emoji)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.react(&caller, &id, &emoji, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ReactionsQuery {
    emoji: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/messages/{id}/reactions?emoji=&after=&limit=`
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/reactions",
    operation_id = "listReactions",
    tag = "messages",
    summary = "Who reacted to a message with what, oldest first",
    params(
        ("id" = String, Path, description = "A message id"),
        ("emoji" = Option<String>, Query, description = "Only this emoji"),
        ("after" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The page", body = wire::ReactionPage),
        (status = 400, description = "`invalid_request`: a bad `emoji`, `after` or `limit`", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such message that the caller can see", body = wire::ErrorBody),
    ),
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ReactionsQuery>,
) -> Result<JsonOut<wire::ReactionPage>> {
    let limit = validate::page_limit(q.limit, app.limits()).map_err(AppError::from)?;
    let q = ReactionQuery {
        emoji: q.emoji,
        after: q.after,
        limit,
    };
    Ok(JsonOut(app.reactions(&caller, &id, q).await?))
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    conversation_id: Option<String>,
    before: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/search?q=&conversation_id=&before=&limit=`
#[utoipa::path(
    get,
    path = "/api/v1/search",
    operation_id = "searchMessages",
    tag = "messages",
    summary = "Search the messages the caller can see, newest first",
    description = "Every word of `q` must be in the message (case and accents aside, in any language); the last word matches as a prefix. Messages deleted for everyone are never found, nor those the caller deleted for itself, nor those of conversations it no longer belongs to; an edited message matches its new text only.",
    params(
        ("q" = String, Query, description = "The words to find (at most 256 characters and 16 words)"),
        ("conversation_id" = Option<String>, Query, description = "Only this conversation"),
        ("before" = Option<String>, Query, description = "Only matches older than this message (the id of the last one of the previous page), or than this time"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The matches", body = wire::SearchResults),
        (status = 400, description = "`invalid_request`: no `q`, no word in it, over its limits, or a bad `before` or `limit`", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: `conversation_id` names no conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> Result<JsonOut<wire::SearchResults>> {
    let limit = validate::page_limit(p.limit, app.limits()).map_err(AppError::from)?;
    let q = p.q.ok_or_else(|| ApiError::invalid("q is required"))?;
    let q = SearchQuery {
        q,
        conversation_id: p.conversation_id,
        before: p.before,
        limit,
    };
    Ok(JsonOut(app.search(&caller, q).await?))
}
