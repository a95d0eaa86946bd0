//! Web Push subscriptions, notification settings, muting, and webhooks.

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

/// `GET /api/v1/push/vapid`
#[utoipa::path(
    get,
    path = "/api/v1/push/vapid",
    operation_id = "vapidKey",
    tag = "notifications",
    summary = "The server's VAPID public key",
    description = "What a browser subscribes with: `pushManager.subscribe({userVisibleOnly: true, applicationServerKey: public_key})`. No token needed.",
    responses((status = 200, description = "The key", body = wire::VapidKey)),
)]
pub async fn vapid(State(app): State<App>) -> JsonOut<wire::VapidKey> {
    JsonOut(app.vapid_key())
}

/// `POST /api/v1/push/subscriptions`
#[utoipa::path(
    post,
    path = "/api/v1/push/subscriptions",
    operation_id = "addPushSubscription",
    tag = "notifications",
    summary = "Receive pushes on this device",
    description = "Takes what `PushSubscription.toJSON()` gives. The subscription belongs to the calling session: it replaces the session's earlier one, moves an endpoint another session had, and goes when the session ends.",
    request_body = wire::NewPushSubscription,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Subscribed", body = wire::PushSubscription),
        (status = 400, description = "`invalid_request`: an endpoint that is not a public https URL (or one the operator allows), or keys of the wrong kind", body = wire::ErrorBody),
    ),
)]
pub async fn subscribe(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::NewPushSubscription>,
) -> Result<(StatusCode, JsonOut<wire::PushSubscription>)> {
    let sub = app.add_push_subscription(&caller, req).await?;
    Ok((StatusCode::CREATED, JsonOut(sub)))
}

/// `GET /api/v1/push/subscriptions`
#[utoipa::path(
    get,
    path = "/api/v1/push/subscriptions",
    operation_id = "listPushSubscriptions",
    tag = "notifications",
    summary = "The caller's push subscriptions, every device's",
    security(("bearer" = [])),
    responses((status = 200, description = "Oldest first", body = wire::PushSubscriptions)),
)]
pub async fn subscriptions(
    State(app): State<App>,
    caller: Caller,
) -> Result<JsonOut<wire::PushSubscriptions>> {
    Ok(JsonOut(app.push_subscriptions(&caller).await?))
}

/// `DELETE /api/v1/push/subscriptions/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/push/subscriptions/{id}",
    operation_id = "deletePushSubscription",
    tag = "notifications",
    summary = "Stop pushes to a device",
    params(("id" = String, Path, description = "A push subscription id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such subscription of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn unsubscribe(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.delete_push_subscription(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/notifications`
#[utoipa::path(
    get,
    path = "/api/v1/users/me/notifications",
    operation_id = "notificationSettings",
    tag = "notifications",
    summary = "The caller's notification settings and muted conversations",
    security(("bearer" = [])),
    responses((status = 200, description = "The settings", body = wire::NotificationSettings)),
)]
pub async fn settings(
    State(app): State<App>,
    caller: Caller,
) -> Result<JsonOut<wire::NotificationSettings>> {
    Ok(JsonOut(app.notification_settings(&caller).await?))
}

/// `PATCH /api/v1/users/me/notifications`
#[utoipa::path(
    patch,
    path = "/api/v1/users/me/notifications",
    operation_id = "updateNotificationSettings",
    tag = "notifications",
    summary = "Change notification settings",
    description = "Each field given is set. `dnd`: null turns do not disturb off; `{\"until\": null}` turns it on until turned off.",
    request_body = wire::NotificationSettingsChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings now", body = wire::NotificationSettings),
        (status = 400, description = "`invalid_request`: an `until` that is no time in the future", body = wire::ErrorBody),
    ),
)]
pub async fn update_settings(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::NotificationSettingsChange>,
) -> Result<JsonOut<wire::NotificationSettings>> {
    Ok(JsonOut(
        app.update_notification_settings(&caller, req).await?,
    ))
}

/// `PUT /api/v1/conversations/{id}/mute`
#[utoipa::path(
    put,
    path = "/api/v1/conversations/{id}/mute",
    operation_id = "muteConversation",
    tag = "notifications",
    summary = "Mute a conversation's notifications",
    description = "Until a time, or until unmuted (no `until`). Messages still arrive; only pushes stop (mentions excepted if the caller chose so).",
    params(("id" = String, Path, description = "A conversation id")),
    request_body = wire::MuteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Muted", body = wire::Mute),
        (status = 400, description = "`invalid_request`: an `until` that is no time in the future", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn mute(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<wire::MuteRequest>,
) -> Result<JsonOut<wire::Mute>> {
    Ok(JsonOut(app.mute(&caller, &id, req.until.as_deref()).await?))
}

/// `DELETE /api/v1/conversations/{id}/mute`
#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}/mute",
    operation_id = "unmuteConversation",
    tag = "notifications",
    summary = "Unmute a conversation",
    params(("id" = String, Path, description = "A conversation id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Not muted (also when it was not)"),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn unmute(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.unmute(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/webhooks`
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    summary = "Have the caller's events posted to a URL",
    description = "Every durable event of one conversation of the caller's, or of all of them, is posted as `/sync` shows it, signed with the `secret` returned here once. The URL must start with a prefix the operator allows (`--webhook-allow`).",
    request_body = wire::NewWebhook,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created, with its secret", body = wire::Webhook),
        (status = 400, description = "`invalid_request`: a URL that is not allowed, or 10 webhooks already", body = wire::ErrorBody),
        (status = 403, description = "`forbidden`: the operator allows no webhook URL at all", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such conversation of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn create_webhook(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<wire::NewWebhook>,
) -> Result<(StatusCode, JsonOut<wire::Webhook>)> {
    let hook = app.create_webhook(&caller, req).await?;
    Ok((StatusCode::CREATED, JsonOut(hook)))
}

/// `GET /api/v1/webhooks`
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    summary = "The caller's webhooks and how their delivery goes",
    security(("bearer" = [])),
    responses((status = 200, description = "Oldest first", body = wire::Webhooks)),
)]
pub async fn webhooks(State(app): State<App>, caller: Caller) -> Result<JsonOut<wire::Webhooks>> {
    Ok(JsonOut(app.webhooks(&caller).await?))
}

/// `GET /api/v1/webhooks/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    operation_id = "getWebhook",
    tag = "webhooks",
    summary = "One of the caller's webhooks",
    params(("id" = String, Path, description = "A webhook id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhook", body = wire::Webhook),
        (status = 404, description = "`not_found`: no such webhook of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn webhook(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonOut<wire::Webhook>> {
    Ok(JsonOut(app.webhook(&caller, &id).await?))
}

/// `DELETE /api/v1/webhooks/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    summary = "Stop a webhook",
    params(("id" = String, Path, description = "A webhook id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted, with its dead letters"),
        (status = 404, description = "`not_found`: no such webhook of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn delete_webhook(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.delete_webhook(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DeadLettersQuery {
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/webhooks/{id}/dead-letters?after=&limit=`
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/dead-letters",
    operation_id = "deadLetters",
    tag = "webhooks",
    summary = "The events a webhook gave up delivering",
    params(
        ("id" = String, Path, description = "A webhook id"),
        ("after" = Option<String>, Query, description = "The last `cursor` of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Oldest first", body = wire::DeadLetters),
        (status = 400, description = "`invalid_request`: a bad `after` or `limit`", body = wire::ErrorBody),
        (status = 404, description = "`not_found`: no such webhook of the caller's", body = wire::ErrorBody),
    ),
)]
pub async fn dead_letters(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DeadLettersQuery>,
) -> Result<JsonOut<wire::DeadLetters>> {
    let limit = validate::page_limit(q.limit, app.limits()).map_err(AppError::from)?;
    Ok(JsonOut(
        app.dead_letters(&caller, &id, q.after.as_deref(), limit)
            .await?,
    ))
}
