//! The OpenAPI 3.1 description of the API, generated from the handlers' `#[utoipa::path]`
//! attributes and the wire types, and served at `GET /api/v1/openapi.json` (no
//! authentication).
//!
//! Each handler lists the answers particular to it; [`CommonAnswers`] adds those that follow
//! from the transport alone, the same way on every operation: `401` where a bearer token is
//! required, `400`/`413`/`415` where a JSON body is read, `400` where a query is parsed, `429`
//! on every write and wherever a token is required (requests with a missing or invalid token
//! are limited per client address), `503` on every write and `500` everywhere. [`LINKS`] adds
//! the OpenAPI links from the operations
//! that create a resource to those that use it (clients and schemathesis' stateful tests follow
//! them).

use std::sync::LazyLock;

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use natter_wire as wire;
use serde::Serialize;
use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        Components, ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder,
        Schema, Type,
        link::LinkBuilder,
        path::{HttpMethod, Operation, ParameterIn},
        schema::SchemaFormat,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

use super::{accounts, admin, conversations, media, messages, notify, ops, reactions, sync, ws};

/// The name of the bearer security scheme.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "natter",
        description = "The public API (version 1) of natter, a self-hostable chat server. \
            Bodies are JSON (`application/json; charset=utf-8`) except media upload and \
            download; times are RFC 3339 UTC strings with milliseconds; ids are opaque \
            strings. Every error answers `{\"error\": {\"code\", \"message\"}}`. \
            Real-time events come over the WebSocket at `/api/v1/ws` (frames: the \
            `ClientFrame`, `Event`, `Ephemeral` and `ControlFrame` schemas) or by polling \
            `/api/v1/sync`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(
        accounts::register,
        accounts::login,
        accounts::sessions,
        accounts::revoke,
        accounts::me,
        accounts::update_profile,
        accounts::change_password,
        accounts::delete_account,
        accounts::user,
        accounts::search,
        accounts::blocks,
        accounts::block,
        accounts::unblock,
        accounts::create_invite,
        accounts::invites,
        accounts::revoke_invite,
        admin::users,
        admin::create_user,
        admin::update_user,
        admin::stats,
        conversations::create,
        conversations::list,
        conversations::get,
        conversations::rename,
        conversations::add_member,
        conversations::remove_member,
        conversations::set_role,
        conversations::typing,
        messages::send,
        messages::list,
        messages::get,
        messages::edit,
        messages::delete,
        messages::delivered,
        messages::read,
        messages::receipts,
        reactions::add,
        reactions::remove,
        reactions::list,
        reactions::search,
        notify::vapid,
        notify::subscribe,
        notify::subscriptions,
        notify::unsubscribe,
        notify::settings,
        notify::update_settings,
        notify::mute,
        notify::unmute,
        notify::create_webhook,
        notify::webhooks,
        notify::webhook,
        notify::delete_webhook,
        notify::dead_letters,
        media::upload,
        media::download,
        media::thumbnail,
        sync::sync,
        ws::upgrade,
        ops::healthz,
        ops::metrics,
        openapi_json,
    ),
    components(schemas(
        wire::ErrorBody,
        wire::Event,
        wire::Ephemeral,
        wire::ClientFrame,
        wire::ControlFrame,
        wire::PushPayload,
        DeleteFor,
    )),
    modifiers(&CommonAnswers),
    tags(
        (name = "accounts", description = "Accounts, profiles, invites and device sessions"),
        (name = "admin", description = "The server's admins: accounts and what the server holds"),
        (name = "conversations", description = "Direct and group conversations, members, typing"),
        (name = "messages", description = "Messages, delivery and read marks, receipts, reactions, search"),
        (name = "media", description = "Uploads and downloads of media"),
        (name = "notifications", description = "Web Push to devices that are away, notification settings, muting"),
        (name = "webhooks", description = "Events posted to bots' and integrations' URLs, signed"),
        (name = "realtime", description = "The event stream: WebSocket and polling"),
        (name = "operations", description = "Health, metrics and this description"),
    ),
)]
pub struct ApiDoc;

/// The document, rendered once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// `GET /api/v1/openapi.json`: this description.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    summary = "This OpenAPI 3.1 description",
    responses(
        (status = 200, description = "The OpenAPI document",
            content_type = "application/json", body = Object),
    ),
)]
pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

/// Raw bytes (`format: binary`), for media bodies.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("binary".into())))
            .into()
    }
}

impl ToSchema for Binary {}

/// `DELETE /messages/{id}`'s `for`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteFor {
    /// Hide it for the caller's own devices only.
    Me,
    /// Delete it for everyone (the default).
    Everyone,
}

/// `(from operation, its statuses, link name, to operation, parameters)`; parameter values are
/// runtime expressions.
type Link = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Where the ids that an operation answers can be used next.
#[rustfmt::skip]
const LINKS: &[Link] = &[
    ("register", &["201"], "GetUser", "getUser", &[("id", "$response.body#/id")]),
    ("me", &["200"], "GetUser", "getUser", &[("id", "$response.body#/id")]),
    ("listSessions", &["200"], "RevokeSession", "revokeSession", &[("id", "$response.body#/sessions/0/id")]),
    ("createConversation", &["200", "201"], "GetConversation", "getConversation", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "RenameConversation", "renameConversation", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "AddMember", "addMember", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "Typing", "typing", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "SendMessage", "sendMessage", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "ListMessages", "listMessages", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "RemoveMember", "removeMember", &[("id", "$response.body#/id"), ("user_id", "$response.body#/members/0/user_id")]),
    ("createConversation", &["200", "201"], "SetRole", "setRole", &[("id", "$response.body#/id"), ("user_id", "$response.body#/members/0/user_id")]),
    ("sendMessage", &["200", "201"], "GetMessage", "getMessage", &[("id", "$response.body#/id")]),
    ("sendMessage", &["200", "201"], "EditMessage", "editMessage", &[("id", "$response.body#/id")]),
    ("sendMessage", &["200", "201"], "DeleteMessage", "deleteMessage", &[("id", "$response.body#/id")]),
    ("sendMessage", &["200", "201"], "MarkDelivered", "markDelivered", &[("id", "$response.body#/id")]),
    ("sendMessage", &["200", "201"], "MarkRead", "markRead", &[("id", "$response.body#/id")]),
    ("sendMessage", &["200", "201"], "Receipts", "receipts", &[("id", "$response.body#/id")]),
    ("sendMessage", &["200", "201"], "ListMessages", "listMessages", &[("id", "$response.body#/conversation_id")]),
    ("uploadMedia", &["201"], "DownloadMedia", "downloadMedia", &[("id", "$response.body#/id")]),
    ("addPushSubscription", &["201"], "DeletePushSubscription", "deletePushSubscription", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "MuteConversation", "muteConversation", &[("id", "$response.body#/id")]),
    ("createConversation", &["200", "201"], "UnmuteConversation", "unmuteConversation", &[("id", "$response.body#/id")]),
    ("createWebhook", &["201"], "GetWebhook", "getWebhook", &[("id", "$response.body#/id")]),
    ("createWebhook", &["201"], "DeadLetters", "deadLetters", &[("id", "$response.body#/id")]),
    ("createWebhook", &["201"], "DeleteWebhook", "deleteWebhook", &[("id", "$response.body#/id")]),
    ("uploadMedia", &["201"], "MediaThumbnail", "mediaThumbnail", &[("id", "$response.body#/id")]),
];

/// The bearer scheme, and the answers that every operation shares.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from `POST /api/v1/sessions`, sent as \
                         `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
        let error = |description: &str| {
            ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
        };
        let shared = [
            (
                "Invalid",
                error("`invalid_request`: a malformed body or query, or a value out of range")
                    .build(),
            ),
            (
                "Unauthorized",
                error("`unauthorized`: a missing, unknown, expired or revoked token").build(),
            ),
            (
                "TooLarge",
                error("`payload_too_large`: the body (or the message text) is over its limit")
                    .build(),
            ),
            (
                "Stalled",
                error("`request_timeout`: the body stalled (no bytes for the body timeout); the connection is closed").build(),
            ),
            (
                "NotJson",
                error("`unsupported_media_type`: a `Content-Type` other than JSON").build(),
            ),
            (
                "RateLimited",
                error("`rate_limited`: too many requests (rate limits on)")
                    .header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(Some(i64::schema()))
                            .description(Some("Seconds to wait before trying again"))
                            .build(),
                    )
                    .build(),
            ),
            ("Internal", error("`internal`: a bug; logged").build()),
            (
                "Unavailable",
                error(
                    "`unavailable`: storage cannot take the request now (disk full, database \
                     locked or unreachable); nothing was stored, retry (a send with the same \
                     `client_id`)",
                )
                .header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(i64::schema()))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                )
                .build(),
            ),
        ];
        for (name, response) in shared {
            components.responses.insert(name.into(), response.into());
        }

        for item in openapi.paths.paths.values_mut() {
            for (method, op) in [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
            ] {
                if let Some(op) = op {
                    add_common(method, op);
                    add_links(op);
                }
            }
        }
    }
}

fn add_links(op: &mut Operation) {
    let Some(id) = op.operation_id.clone() else {
        return;
    };
    for (from, statuses, name, to, params) in LINKS {
        if *from != id {
            continue;
        }
        for status in *statuses {
            if let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) {
                let link = params
                    .iter()
                    .fold(LinkBuilder::new().operation_id(*to), |b, (k, v)| {
                        b.parameter(*k, *v)
                    })
                    .build();
                response.links.insert((*name).into(), link.into());
            }
        }
    }
}

fn add_common(method: HttpMethod, op: &mut Operation) {
    let requires_token = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && !s.contains(&SecurityRequirement::default()));
    let json_body = op.request_body.as_ref().is_some_and(|b| match b {
        RefOr::T(b) => b.content.contains_key("application/json"),
        RefOr::Ref(_) => false,
    });
    let has_query = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Query,
        RefOr::Ref(_) => false,
    });
    let write = !matches!(method, HttpMethod::Get | HttpMethod::Head);
    let mut add = |status: &str, name: &str| {
        op.responses
            .responses
            .entry(status.into())
            .or_insert_with(|| Ref::from_response_name(name).into());
    };
    if json_body || has_query {
        add("400", "Invalid");
    }
    if requires_token {
        add("401", "Unauthorized");
    }
    if op.request_body.is_some() {
        add("408", "Stalled");
    }
    if json_body {
        add("413", "TooLarge");
        add("415", "NotJson");
    }
    if write || requires_token {
        add("429", "RateLimited");
    }
    add("500", "Internal");
    if write {
        add("503", "Unavailable");
    }
}
