//! Rust SDK for natter's public API, version 1.
//!
//! [`Client`] speaks REST to one server as one device session. It is what the CLI, the load
//! generator and the integration tests use, so the tests exercise exactly the protocol that
//! every other client relies on. [`Live`] follows the user's events over WebSocket and resumes
//! from its last cursor after a disconnect, so that each durable event is seen once.
//!
//! The wire types (requests, answers, events and frames) are re-exported from `natter-wire`,
//! with the field names of the API reference.
//!
//! # Example
//!
//! Two users meet in a direct conversation: Alice sends, Bob reads the message back with REST
//! and receives it on his live stream.
//!
//! ```
//! # use natter_server::Config;
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let data = tempfile::tempdir()?;
//! # let server = natter_server::start(Config {
//! #     listen: "127.0.0.1:0".parse()?,
//! #     data_dir: data.path().to_path_buf(),
//! #     rate_limit: false,
//! #     registration: natter_server::config::Registration::Open,
//! #     ..Config::default()
//! # })
//! # .await?;
//! # let url = server.url();
//! use natter_client::{Client, EventData, Live, MessageQuery, ServerFrame};
//!
//! // `url` is the server's base URL, such as `http://127.0.0.1:8080`.
//! let anon = Client::new(&url);
//! let (alice, _) = anon.sign_up("alice", "correct horse").await?;
//! let (bob, bob_user) = anon.sign_up("bob", "correct horse").await?;
//!
//! // Bob follows his events from now on.
//! let mut live = Live::connect(&bob, None).await?;
//!
//! let conversation = alice.direct(&bob_user.id).await?.value;
//! let sent = alice.send_text(&conversation.id, "see you at 7").await?;
//!
//! // Bob reads the conversation back…
//! let page = bob.messages(&conversation.id, &MessageQuery::default()).await?;
//! assert_eq!(page.messages[0].text.as_deref(), Some("see you at 7"));
//!
//! // …and receives the message live (after the event that adds him to the conversation).
//! let received = loop {
//!     if let ServerFrame::Event(event) = live.next().await? {
//!         if let EventData::NewMessage(message) = event.event {
//!             break message;
//!         }
//!     }
//! };
//! assert_eq!(received.id, sent.id);
//! bob.mark_read(&received.id).await?;
//! # server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod webhook;
mod ws;

use natter_wire as wire;

use reqwest::{Method, StatusCode};
use serde::{Serialize, de::DeserializeOwned};
pub use ws::{Live, Ready, Socket};

pub use natter_wire::*;

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        /// The HTTP status (`404`).
        status: u16,
        /// The API error code (`not_found`).
        code: String,
        /// The server's human-readable explanation.
        message: String,
    },
    /// The request did not get a well-formed answer.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered with a body this SDK cannot read (or the call could not be made,
    /// with status 0).
    #[error("unexpected answer ({status}): {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The body as received (lossy text).
        body: String,
    },
    /// The WebSocket failed, or the server sent something unreadable.
    #[error("websocket: {0}")]
    WebSocket(String),
    /// The server closed the WebSocket with this code (4001: authentication failed or session
    /// revoked; 4008: too slow, resume from the last cursor; 1001: shutting down).
    #[error("websocket closed by the server: {code} {reason}")]
    Closed {
        /// The close code (`1006` when the connection ended without a close frame).
        code: u16,
        /// The close reason, possibly empty.
        reason: String,
    },
}

impl Error {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Unexpected { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::WebSocket(_) | Error::Closed { .. } => None,
        }
    }

    /// The API error code (`not_found`, `forbidden`, …), if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The result of every SDK call.
pub type Result<T> = std::result::Result<T, Error>;

/// A created-or-found result: `created` is true for `201`, false for `200`.
#[derive(Debug, Clone)]
pub struct Created<T> {
    /// What was created or found.
    pub value: T,
    /// Whether the call created it (`201 Created`).
    pub created: bool,
}

/// Parameters of `GET /conversations/{id}/messages`.
#[derive(Debug, Clone, Default, Serialize)]
///
/// The default asks for the newest page.
pub struct MessageQuery {
    /// Only messages with a `seq` below this one (paging back in history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// Only messages with a `seq` above this one (catching up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// At most this many messages (the server caps it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// One device session with a natter server (or, without a token, an anonymous one).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// Makes TLS (`https://` servers) work: rustls with *ring*, the one crypto provider that builds
/// without a C toolchain of its own. Only the first call in a process installs it; an
/// application that installed another keeps its own.
fn tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// A client for the server at `base_url` (`http://127.0.0.1:8080`), not logged in.
    pub fn new(base_url: impl Into<String>) -> Self {
        tls_provider();
        Self {
            http: reqwest::Client::new(),
            base: base_url.into().trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// Like [`Client::new`], with every REST request sent from the local address `local` (on
    /// loopback, `127.0.0.2` and the like act as other client addresses; WebSockets choose
    /// theirs with [`Client::connect_from`]).
    pub fn new_from(base_url: impl Into<String>, local: std::net::IpAddr) -> Result<Self> {
        tls_provider();
        Ok(Self {
            http: reqwest::Client::builder().local_address(local).build()?,
            ..Self::new(base_url)
        })
    }

    /// The same server, as the session holding `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The session's bearer token, if logged in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Builds a request to `path` (below the base URL, such as `/api/v1/users/me`) with the
    /// session's token, for calls this SDK does not wrap.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn call<T: DeserializeOwned>(&self, rb: reqwest::RequestBuilder) -> Result<(T, u16)> {
        let resp = rb.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            match serde_json::from_slice(&bytes) {
                Ok(v) => Ok((v, status.as_u16())),
                Err(_) => Err(Error::Unexpected {
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                }),
            }
        } else {
            Err(api_error(status, &bytes))
        }
    }

    async fn call_empty(&self, rb: reqwest::RequestBuilder) -> Result<()> {
        let resp = rb.send().await?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            let bytes = resp.bytes().await?;
            Err(api_error(status, &bytes))
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Ok(self.call(self.request(Method::GET, path)).await?.0)
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<(T, u16)> {
        self.call(self.request(method, path).json(body)).await
    }

    // ---- Accounts and sessions ----

    /// `POST /api/v1/users`
    pub async fn register(&self, req: &wire::RegisterRequest) -> Result<wire::User> {
        Ok(self.send_json(Method::POST, "/api/v1/users", req).await?.0)
    }

    /// `POST /api/v1/sessions`: on success the returned client holds the new session's token.
    pub async fn login(&self, req: &wire::LoginRequest) -> Result<(Client, wire::LoginResponse)> {
        let (resp, _): (wire::LoginResponse, _) = self
            .send_json(Method::POST, "/api/v1/sessions", req)
            .await?;
        Ok((self.with_token(resp.token.clone()), resp))
    }

    /// Registers `username` with `password` and logs in as a new device.
    pub async fn sign_up(&self, username: &str, password: &str) -> Result<(Client, wire::User)> {
        self.register(&wire::RegisterRequest {
            username: username.into(),
            password: password.into(),
            display_name: None,
            invite: None,
        })
        .await?;
        let (c, resp) = self
            .login(&wire::LoginRequest {
                username: username.into(),
                password: password.into(),
                device_name: None,
            })
            .await?;
        Ok((c, resp.user))
    }

    /// `GET /api/v1/sessions`
    pub async fn sessions(&self) -> Result<wire::SessionList> {
        self.get("/api/v1/sessions").await
    }

    /// `DELETE /api/v1/sessions/{id}` (`current` for this one).
    pub async fn revoke_session(&self, id: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/api/v1/sessions/{id}")))
            .await
    }

    /// `GET /api/v1/users/me`
    pub async fn me(&self) -> Result<wire::User> {
        self.get("/api/v1/users/me").await
    }

    /// `PATCH /api/v1/users/me`: change the caller's display name.
    pub async fn update_profile(&self, display_name: &str) -> Result<wire::User> {
        let body = wire::UpdateProfileRequest {
            display_name: display_name.into(),
        };
        Ok(self
            .send_json(Method::PATCH, "/api/v1/users/me", &body)
            .await?
            .0)
    }

    /// `PUT /api/v1/users/me/password`: the caller's other sessions are revoked.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<()> {
        let body = wire::ChangePasswordRequest {
            current_password: current.into(),
            new_password: new.into(),
        };
        self.call_empty(
            self.request(Method::PUT, "/api/v1/users/me/password")
                .json(&body),
        )
        .await
    }

    /// `DELETE /api/v1/users/me`: deletes the caller's account for good.
    pub async fn delete_account(&self, password: &str) -> Result<()> {
        let body = wire::DeleteAccountRequest {
            password: password.into(),
        };
        self.call_empty(self.request(Method::DELETE, "/api/v1/users/me").json(&body))
            .await
    }

    /// `GET /api/v1/admin/users?query=&limit=&before=`
    pub async fn admin_users(
        &self,
        query: Option<&str>,
        limit: Option<i64>,
        before: Option<&str>,
    ) -> Result<wire::UserList> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(v) = query {
            q.push(("query", v.into()));
        }
        if let Some(v) = limit {
            q.push(("limit", v.to_string()));
        }
        if let Some(v) = before {
            q.push(("before", v.into()));
        }
        Ok(self
            .call(self.request(Method::GET, "/api/v1/admin/users").query(&q))
            .await?
            .0)
    }

    /// `POST /api/v1/admin/users`
    pub async fn admin_create_user(
        &self,
        req: &wire::AdminCreateUserRequest,
    ) -> Result<wire::User> {
        Ok(self
            .send_json(Method::POST, "/api/v1/admin/users", req)
            .await?
            .0)
    }

    /// `PATCH /api/v1/admin/users/{id}`
    pub async fn admin_update_user(
        &self,
        id: &str,
        req: &wire::AdminUpdateUserRequest,
    ) -> Result<wire::User> {
        Ok(self
            .send_json(Method::PATCH, &format!("/api/v1/admin/users/{id}"), req)
            .await?
            .0)
    }

    /// `GET /api/v1/admin/stats`
    pub async fn admin_stats(&self) -> Result<wire::AdminStats> {
        self.get("/api/v1/admin/stats").await
    }

    /// `POST /api/v1/invites`
    pub async fn create_invite(&self, req: &wire::CreateInviteRequest) -> Result<wire::Invite> {
        Ok(self
            .send_json(Method::POST, "/api/v1/invites", req)
            .await?
            .0)
    }

    /// `GET /api/v1/invites`: the caller's, newest first.
    pub async fn invites(&self) -> Result<wire::InviteList> {
        self.get("/api/v1/invites").await
    }

    /// `DELETE /api/v1/invites/{code}`
    pub async fn revoke_invite(&self, code: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/api/v1/invites/{code}")))
            .await
    }

    /// `GET /api/v1/users/{id}`
    pub async fn user(&self, id: &str) -> Result<wire::User> {
        self.get(&format!("/api/v1/users/{id}")).await
    }

    /// `GET /api/v1/users?query=&limit=`
    pub async fn search_users(&self, query: &str, limit: Option<i64>) -> Result<wire::UserList> {
        let mut rb = self
            .request(Method::GET, "/api/v1/users")
            .query(&[("query", query)]);
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        Ok(self.call(rb).await?.0)
    }

    /// `PUT /api/v1/users/me/blocks/{user_id}`: block a user (again: no change).
    pub async fn block_user(&self, user_id: &str) -> Result<()> {
        self.call_empty(self.request(Method::PUT, &format!("/api/v1/users/me/blocks/{user_id}")))
            .await
    }

    /// `DELETE /api/v1/users/me/blocks/{user_id}`: unblock a user (one not blocked: no change).
    pub async fn unblock_user(&self, user_id: &str) -> Result<()> {
        self.call_empty(self.request(
            Method::DELETE,
            &format!("/api/v1/users/me/blocks/{user_id}"),
        ))
        .await
    }

    /// `GET /api/v1/users/me/blocks`: the users the caller blocked.
    pub async fn blocked_users(&self) -> Result<wire::UserList> {
        self.get("/api/v1/users/me/blocks").await
    }

    // ---- Conversations ----

    /// `POST /api/v1/conversations` with any body.
    pub async fn create_conversation(
        &self,
        req: &wire::CreateConversationRequest,
    ) -> Result<Created<wire::Conversation>> {
        let (value, status) = self
            .send_json(Method::POST, "/api/v1/conversations", req)
            .await?;
        Ok(Created {
            value,
            created: status == 201,
        })
    }

    /// The direct conversation with `user_id`, created if it does not exist yet.
    pub async fn direct(&self, user_id: &str) -> Result<Created<wire::Conversation>> {
        self.create_conversation(&wire::CreateConversationRequest {
            kind: "direct".into(),
            user_id: Some(user_id.into()),
            ..Default::default()
        })
        .await
    }

    /// A new group named `name` with the caller as owner and `member_ids` as members.
    pub async fn create_group(
        &self,
        name: &str,
        member_ids: &[&str],
    ) -> Result<wire::Conversation> {
        Ok(self
            .create_conversation(&wire::CreateConversationRequest {
                kind: "group".into(),
                name: Some(name.into()),
                member_ids: Some(member_ids.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            })
            .await?
            .value)
    }

    /// `GET /api/v1/conversations?limit=&before=`
    pub async fn conversations(
        &self,
        limit: Option<i64>,
        before: Option<&str>,
    ) -> Result<wire::ConversationList> {
        let mut rb = self.request(Method::GET, "/api/v1/conversations");
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        if let Some(b) = before {
            rb = rb.query(&[("before", b)]);
        }
        Ok(self.call(rb).await?.0)
    }

    /// `GET /api/v1/conversations/{id}`
    pub async fn conversation(&self, id: &str) -> Result<wire::Conversation> {
        self.get(&format!("/api/v1/conversations/{id}")).await
    }

    /// `PATCH /api/v1/conversations/{id}`
    pub async fn rename(&self, id: &str, name: &str) -> Result<wire::Conversation> {
        let body = wire::RenameRequest { name: name.into() };
        Ok(self
            .send_json(Method::PATCH, &format!("/api/v1/conversations/{id}"), &body)
            .await?
            .0)
    }

    /// `POST /api/v1/conversations/{id}/members`
    pub async fn add_member(
        &self,
        id: &str,
        user_id: &str,
        role: Option<&str>,
    ) -> Result<wire::Conversation> {
        let body = wire::AddMemberRequest {
            user_id: user_id.into(),
            role: role.map(Into::into),
        };
        Ok(self
            .send_json(
                Method::POST,
                &format!("/api/v1/conversations/{id}/members"),
                &body,
            )
            .await?
            .0)
    }

    /// `DELETE /api/v1/conversations/{id}/members/{user_id}` (`me` to leave).
    pub async fn remove_member(&self, id: &str, user_id: &str) -> Result<()> {
        self.call_empty(self.request(
            Method::DELETE,
            &format!("/api/v1/conversations/{id}/members/{user_id}"),
        ))
        .await
    }

    /// `PATCH /api/v1/conversations/{id}/members/{user_id}`
    pub async fn set_role(
        &self,
        id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<wire::Conversation> {
        let body = wire::SetRoleRequest { role: role.into() };
        Ok(self
            .send_json(
                Method::PATCH,
                &format!("/api/v1/conversations/{id}/members/{user_id}"),
                &body,
            )
            .await?
            .0)
    }

    // ---- Messages ----

    /// `POST /api/v1/conversations/{id}/messages` with any body.
    pub async fn send_message(
        &self,
        conversation_id: &str,
        req: &wire::SendMessageRequest,
    ) -> Result<Created<wire::Message>> {
        let (value, status) = self
            .send_json(
                Method::POST,
                &format!("/api/v1/conversations/{conversation_id}/messages"),
                req,
            )
            .await?;
        Ok(Created {
            value,
            created: status == 201,
        })
    }

    /// Sends a text message.
    pub async fn send_text(&self, conversation_id: &str, text: &str) -> Result<wire::Message> {
        Ok(self
            .send_message(
                conversation_id,
                &wire::SendMessageRequest {
                    text: Some(text.into()),
                    ..Default::default()
                },
            )
            .await?
            .value)
    }

    /// `GET /api/v1/conversations/{id}/messages?before=&after=&limit=`
    pub async fn messages(
        &self,
        conversation_id: &str,
        q: &MessageQuery,
    ) -> Result<wire::MessagePage> {
        let rb = self
            .request(
                Method::GET,
                &format!("/api/v1/conversations/{conversation_id}/messages"),
            )
            .query(q);
        Ok(self.call(rb).await?.0)
    }

    /// `GET /api/v1/messages/{id}`
    pub async fn message(&self, id: &str) -> Result<wire::Message> {
        self.get(&format!("/api/v1/messages/{id}")).await
    }

    /// `PATCH /api/v1/messages/{id}`
    pub async fn edit_message(&self, id: &str, text: &str) -> Result<wire::Message> {
        let body = wire::EditMessageRequest { text: text.into() };
        Ok(self
            .send_json(Method::PATCH, &format!("/api/v1/messages/{id}"), &body)
            .await?
            .0)
    }

    /// `DELETE /api/v1/messages/{id}`: for everyone.
    pub async fn delete_message(&self, id: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/api/v1/messages/{id}")))
            .await
    }

    /// `DELETE /api/v1/messages/{id}?for=me`
    pub async fn delete_message_for_me(&self, id: &str) -> Result<()> {
        self.call_empty(
            self.request(Method::DELETE, &format!("/api/v1/messages/{id}"))
                .query(&[("for", "me")]),
        )
        .await
    }

    /// `PUT /api/v1/messages/{id}/delivered`
    pub async fn mark_delivered(&self, id: &str) -> Result<()> {
        self.call_empty(self.request(Method::PUT, &format!("/api/v1/messages/{id}/delivered")))
            .await
    }

    /// `PUT /api/v1/messages/{id}/read`
    pub async fn mark_read(&self, id: &str) -> Result<()> {
        self.call_empty(self.request(Method::PUT, &format!("/api/v1/messages/{id}/read")))
            .await
    }

    /// `GET /api/v1/messages/{id}/receipts`
    pub async fn receipts(&self, id: &str) -> Result<wire::Receipts> {
        self.get(&format!("/api/v1/messages/{id}/receipts")).await
    }

    // ---- Reactions and search ----

    fn reaction_path(id: &str, emoji: &str) -> String {
        let emoji =
            percent_encoding::utf8_percent_encode(emoji, percent_encoding::NON_ALPHANUMERIC);
        format!("/api/v1/messages/{id}/reactions/{emoji}")
    }

    /// `PUT /api/v1/messages/{id}/reactions/{emoji}`: react (again: no change).
    pub async fn add_reaction(&self, id: &str, emoji: &str) -> Result<()> {
        self.call_empty(self.request(Method::PUT, &Self::reaction_path(id, emoji)))
            .await
    }

    /// `DELETE /api/v1/messages/{id}/reactions/{emoji}`: take a reaction back (one not given:
    /// no change).
    pub async fn remove_reaction(&self, id: &str, emoji: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &Self::reaction_path(id, emoji)))
            .await
    }

    /// `GET /api/v1/messages/{id}/reactions?emoji=&after=&limit=`: who reacted with what.
    pub async fn reactions(
        &self,
        id: &str,
        emoji: Option<&str>,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<wire::ReactionPage> {
        let mut rb = self.request(Method::GET, &format!("/api/v1/messages/{id}/reactions"));
        if let Some(e) = emoji {
            rb = rb.query(&[("emoji", e)]);
        }
        if let Some(a) = after {
            rb = rb.query(&[("after", a)]);
        }
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        Ok(self.call(rb).await?.0)
    }

    /// `GET /api/v1/search?q=&conversation_id=&before=&limit=`: the messages the caller can
    /// see that match, newest first.
    pub async fn search(
        &self,
        q: &str,
        conversation_id: Option<&str>,
        before: Option<&str>,
        limit: Option<i64>,
    ) -> Result<wire::SearchResults> {
        let mut rb = self
            .request(Method::GET, "/api/v1/search")
            .query(&[("q", q)]);
        if let Some(c) = conversation_id {
            rb = rb.query(&[("conversation_id", c)]);
        }
        if let Some(b) = before {
            rb = rb.query(&[("before", b)]);
        }
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        Ok(self.call(rb).await?.0)
    }

    // ---- Typing and polling ----

    /// `POST /api/v1/conversations/{id}/typing`
    pub async fn set_typing(&self, conversation_id: &str, typing: bool) -> Result<()> {
        let body = wire::TypingRequest { typing };
        self.call_empty(
            self.request(
                Method::POST,
                &format!("/api/v1/conversations/{conversation_id}/typing"),
            )
            .json(&body),
        )
        .await
    }

    /// `GET /api/v1/sync?since=&limit=&timeout_ms=`: the durable events after `since` (without
    /// it, none and the current cursor); with `timeout_ms`, a long poll.
    pub async fn sync(
        &self,
        since: Option<&str>,
        limit: Option<i64>,
        timeout_ms: Option<u64>,
    ) -> Result<wire::SyncResponse> {
        let mut rb = self.request(Method::GET, "/api/v1/sync");
        if let Some(s) = since {
            rb = rb.query(&[("since", s)]);
        }
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        if let Some(t) = timeout_ms {
            rb = rb.query(&[("timeout_ms", t)]);
        }
        Ok(self.call(rb).await?.0)
    }

    // ---- Notifications: Web Push and muting ----

    /// `GET /api/v1/push/vapid`: the server's VAPID public key, the `applicationServerKey` to
    /// subscribe with (no session needed).
    pub async fn vapid_key(&self) -> Result<wire::VapidKey> {
        self.get("/api/v1/push/vapid").await
    }

    /// `POST /api/v1/push/subscriptions`: registers this device's push subscription (again:
    /// replaces it).
    pub async fn add_push_subscription(
        &self,
        req: &wire::NewPushSubscription,
    ) -> Result<wire::PushSubscription> {
        Ok(self
            .send_json(Method::POST, "/api/v1/push/subscriptions", req)
            .await?
            .0)
    }

    /// `GET /api/v1/push/subscriptions`: the caller's, every device's, oldest first.
    pub async fn push_subscriptions(&self) -> Result<wire::PushSubscriptions> {
        self.get("/api/v1/push/subscriptions").await
    }

    /// `DELETE /api/v1/push/subscriptions/{id}`
    pub async fn delete_push_subscription(&self, id: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/api/v1/push/subscriptions/{id}")))
            .await
    }

    /// `GET /api/v1/users/me/notifications`
    pub async fn notification_settings(&self) -> Result<wire::NotificationSettings> {
        self.get("/api/v1/users/me/notifications").await
    }

    /// `PATCH /api/v1/users/me/notifications`: changes the fields given.
    pub async fn update_notification_settings(
        &self,
        req: &wire::NotificationSettingsChange,
    ) -> Result<wire::NotificationSettings> {
        Ok(self
            .send_json(Method::PATCH, "/api/v1/users/me/notifications", req)
            .await?
            .0)
    }

    /// `PUT /api/v1/conversations/{id}/mute`: mutes the conversation `until` a time (none:
    /// until unmuted).
    pub async fn mute(&self, conversation_id: &str, until: Option<&str>) -> Result<wire::Mute> {
        let body = wire::MuteRequest {
            until: until.map(Into::into),
        };
        Ok(self
            .send_json(
                Method::PUT,
                &format!("/api/v1/conversations/{conversation_id}/mute"),
                &body,
            )
            .await?
            .0)
    }

    /// `DELETE /api/v1/conversations/{id}/mute` (one not muted: no change).
    pub async fn unmute(&self, conversation_id: &str) -> Result<()> {
        self.call_empty(self.request(
            Method::DELETE,
            &format!("/api/v1/conversations/{conversation_id}/mute"),
        ))
        .await
    }

    // ---- Webhooks ----

    /// `POST /api/v1/webhooks`: the answer carries the `secret` deliveries are signed with,
    /// this once (see [`webhook::verify`]).
    pub async fn create_webhook(&self, req: &wire::NewWebhook) -> Result<wire::Webhook> {
        Ok(self
            .send_json(Method::POST, "/api/v1/webhooks", req)
            .await?
            .0)
    }

    /// `GET /api/v1/webhooks`: the caller's, oldest first.
    pub async fn webhooks(&self) -> Result<wire::Webhooks> {
        self.get("/api/v1/webhooks").await
    }

    /// `GET /api/v1/webhooks/{id}`
    pub async fn webhook(&self, id: &str) -> Result<wire::Webhook> {
        self.get(&format!("/api/v1/webhooks/{id}")).await
    }

    /// `DELETE /api/v1/webhooks/{id}`
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.call_empty(self.request(Method::DELETE, &format!("/api/v1/webhooks/{id}")))
            .await
    }

    /// `GET /api/v1/webhooks/{id}/dead-letters?after=&limit=`: the events the webhook gave up
    /// on, oldest first; `after` is the cursor of the last one seen.
    pub async fn dead_letters(
        &self,
        id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<wire::DeadLetters> {
        let mut rb = self.request(Method::GET, &format!("/api/v1/webhooks/{id}/dead-letters"));
        if let Some(a) = after {
            rb = rb.query(&[("after", a)]);
        }
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        Ok(self.call(rb).await?.0)
    }

    // ---- Raw requests ----

    /// Sends `method` to `path` (below the base URL) with the session's token, if any, and the
    /// optional `(content type, bytes)` body, and returns the answer whatever its status. For
    /// callers that must see exact statuses, headers and bodies (the integration tests).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<RawResponse> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| Error::Unexpected {
            status: 0,
            body: format!("invalid HTTP method {method:?}"),
        })?;
        let mut rb = self.request(method, path);
        if let Some((content_type, bytes)) = body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.bytes().await?.to_vec();
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }

    /// [`Client::raw`] with a JSON body (`application/json`).
    pub async fn raw_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<RawResponse> {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        self.raw(method, path, Some(("application/json", bytes)))
            .await
    }

    /// [`Client::raw`] with extra request headers (`Range`, `If-None-Match`, …), returning every
    /// header of the answer too.
    pub async fn raw_with_headers(
        &self,
        method: &str,
        path: &str,
        req_headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<RawResponseWithHeaders> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| Error::Unexpected {
            status: 0,
            body: format!("invalid HTTP method {method:?}"),
        })?;
        let mut rb = self.request(method, path);
        for (name, value) in req_headers {
            rb = rb.header(*name, *value);
        }
        if let Some((content_type, bytes)) = body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(RawResponseWithHeaders {
            status,
            headers,
            body,
        })
    }

    // ---- Media ----

    /// `POST /api/v1/media?filename=`: uploads `bytes`, declared as `content_type` (the server
    /// goes by the bytes).
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        filename: Option<&str>,
    ) -> Result<wire::Media> {
        let mut rb = self
            .request(Method::POST, "/api/v1/media")
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        if let Some(f) = filename {
            rb = rb.query(&[("filename", f)]);
        }
        Ok(self.call(rb).await?.0)
    }

    /// `GET /api/v1/media/{id}` with extra request headers: the answer whatever its status.
    pub async fn download(
        &self,
        id: &str,
        req_headers: &[(&str, &str)],
    ) -> Result<RawResponseWithHeaders> {
        self.raw_with_headers("GET", &format!("/api/v1/media/{id}"), req_headers, None)
            .await
    }

    /// `GET /api/v1/media/{id}/thumbnail` with extra request headers: the answer whatever its
    /// status.
    pub async fn download_thumbnail(
        &self,
        id: &str,
        req_headers: &[(&str, &str)],
    ) -> Result<RawResponseWithHeaders> {
        self.raw_with_headers(
            "GET",
            &format!("/api/v1/media/{id}/thumbnail"),
            req_headers,
            None,
        )
        .await
    }

    // ---- Operations ----

    /// `GET /healthz`: the health body, whatever the status.
    pub async fn health(&self) -> Result<(u16, wire::Health)> {
        let resp = self.request(Method::GET, "/healthz").send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await?))
    }
}

/// An answer as received: its status, its `Content-Type` and its body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body's bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An answer as received, with all its headers.
#[derive(Debug, Clone)]
pub struct RawResponseWithHeaders {
    /// The HTTP status.
    pub status: u16,
    /// Every header of the answer.
    pub headers: reqwest::header::HeaderMap,
    /// The body's bytes.
    pub body: Vec<u8>,
}

impl RawResponseWithHeaders {
    /// The value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The same answer without its other headers, as [`Client::raw`] returns it.
    pub fn to_raw(&self) -> RawResponse {
        RawResponse {
            status: self.status,
            content_type: self.header("content-type").map(str::to_owned),
            body: self.body.clone(),
        }
    }
}

fn api_error(status: StatusCode, bytes: &[u8]) -> Error {
    match serde_json::from_slice::<wire::ErrorBody>(bytes) {
        Ok(b) => Error::Api {
            status: status.as_u16(),
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => Error::Unexpected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}
