//! The WebSocket API: [`Socket`] is one connection; [`Live`] reconnects by itself and resumes
//! from the last cursor it saw, so its user sees every durable event once and in order.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter_wire::{ClientFrame, ControlFrame, SendMessageRequest, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message,
        client::IntoClientRequest,
        http::{HeaderValue, header},
        protocol::frame::coding::CloseCode,
    },
};

use crate::{Client, Error, Result};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What `ready` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// Where the stream starts: the `since` cursor given, or the head of the user's log.
    pub cursor: String,
    /// The session the connection is authenticated as.
    pub session_id: String,
    /// The user the connection is authenticated as.
    pub user_id: String,
}

/// One WebSocket connection, authenticated and past its `ready` frame.
pub struct Socket {
    ws: Ws,
    /// What the server said when the connection was ready (empty for [`Client::connect_raw`]).
    pub ready: Ready,
}

fn ws_err(e: impl std::fmt::Display) -> Error {
    Error::WebSocket(e.to_string())
}

impl Client {
    fn ws_url(&self, since: Option<&str>) -> String {
        let base = self
            .base_url()
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        match since {
            Some(c) => format!("{base}/api/v1/ws?since={c}"),
            None => format!("{base}/api/v1/ws"),
        }
    }

    /// Opens a WebSocket authenticated by the `Authorization` header, from `since` if given.
    pub async fn connect(&self, since: Option<&str>) -> Result<Socket> {
        let mut req = self.ws_url(since).into_client_request().map_err(ws_err)?;
        if let Some(t) = self.token() {
            let v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(ws_err)?;
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(ws_err)?;
        Socket::after_auth(ws).await
    }

    /// Like [`Client::connect`], from the local address `local` (the load generator spreads
    /// many connections over several loopback addresses to have enough ports).
    pub async fn connect_from(
        &self,
        since: Option<&str>,
        local: std::net::IpAddr,
    ) -> Result<Socket> {
        let mut req = self.ws_url(since).into_client_request().map_err(ws_err)?;
        if let Some(t) = self.token() {
            let v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(ws_err)?;
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
        let host = req.uri().host().unwrap_or("127.0.0.1").to_owned();
        let port = req.uri().port_u16().unwrap_or(80);
        let remote = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(ws_err)?
            .find(|a| a.is_ipv4() == local.is_ipv4())
            .ok_or_else(|| Error::WebSocket(format!("cannot resolve {host}")))?;
        let socket = if local.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(ws_err)?;
        socket
            .bind(std::net::SocketAddr::new(local, 0))
            .map_err(ws_err)?;
        let stream = socket.connect(remote).await.map_err(ws_err)?;
        let _ = stream.set_nodelay(true);
        // A small read buffer: the load generator holds very many connections.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8192);
        let (ws, _) = tokio_tungstenite::client_async_with_config(
            req,
            MaybeTlsStream::Plain(stream),
            Some(config),
        )
        .await
        .map_err(ws_err)?;
        Socket::after_auth(ws).await
    }

    /// Opens a WebSocket authenticated by an `auth` first frame, as browsers do.
    pub async fn connect_with_auth_frame(&self, since: Option<&str>) -> Result<Socket> {
        let (mut ws, _) = tokio_tungstenite::connect_async(self.ws_url(since))
            .await
            .map_err(ws_err)?;
        let token = self.token().unwrap_or_default().to_owned();
        let auth = serde_json::to_string(&ClientFrame::Auth { token }).map_err(ws_err)?;
        ws.send(Message::Text(auth.into())).await.map_err(ws_err)?;
        Socket::after_auth(ws).await
    }

    /// Opens a WebSocket without authenticating, for testing how the server treats that.
    pub async fn connect_raw(&self, since: Option<&str>) -> Result<Socket> {
        let (ws, _) = tokio_tungstenite::connect_async(self.ws_url(since))
            .await
            .map_err(ws_err)?;
        Ok(Socket {
            ws,
            ready: Ready {
                cursor: String::new(),
                session_id: String::new(),
                user_id: String::new(),
            },
        })
    }

    /// Attempts the upgrade (with the `Authorization` header) and returns the server's HTTP
    /// answer when it refuses to switch protocols, as a malformed `since` must be refused.
    /// An accepted upgrade is an error here.
    pub async fn refused_upgrade(&self, since: Option<&str>) -> Result<crate::RawResponse> {
        let mut req = self.ws_url(since).into_client_request().map_err(ws_err)?;
        if let Some(t) = self.token() {
            let v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(ws_err)?;
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => Err(Error::WebSocket("the server accepted the upgrade".into())),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Ok(crate::RawResponse {
                status: resp.status().as_u16(),
                content_type: resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: resp.body().clone().unwrap_or_default(),
            }),
            Err(e) => Err(ws_err(e)),
        }
    }
}

impl Socket {
    async fn after_auth(ws: Ws) -> Result<Socket> {
        let mut s = Socket {
            ws,
            ready: Ready {
                cursor: String::new(),
                session_id: String::new(),
                user_id: String::new(),
            },
        };
        match s.next().await? {
            ServerFrame::Control(ControlFrame::Ready {
                cursor,
                session_id,
                user_id,
            }) => {
                s.ready = Ready {
                    cursor,
                    session_id,
                    user_id,
                };
                Ok(s)
            }
            other => Err(Error::WebSocket(format!("expected ready, got {other:?}"))),
        }
    }

    /// The next frame from the server. Pings are answered and skipped; a close is
    /// [`Error::Closed`] with its code.
    pub async fn next(&mut self) -> Result<ServerFrame> {
        loop {
            let msg = match self.ws.next().await {
                None => {
                    return Err(Error::Closed {
                        code: 1006,
                        reason: "connection ended".into(),
                    });
                }
                Some(Err(e)) => return Err(ws_err(e)),
                Some(Ok(m)) => m,
            };
            match msg {
                Message::Text(t) => {
                    return ServerFrame::parse(t.as_str())
                        .map_err(|e| Error::WebSocket(format!("unreadable frame {t}: {e}")));
                }
                Message::Close(frame) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((u16::from(CloseCode::Status), String::new()));
                    return Err(Error::Closed { code, reason });
                }
                _ => continue,
            }
        }
    }

    /// The next frame, or none if nothing arrives within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<ServerFrame>> {
        match tokio::time::timeout(wait, self.next()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Sends a client frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        let text = serde_json::to_string(frame).map_err(ws_err)?;
        self.send_text(text).await
    }

    /// Sends any text frame, valid or not.
    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(ws_err)
    }

    /// Says that the user started (`true`) or stopped typing in a conversation.
    pub async fn typing(&mut self, conversation_id: &str, typing: bool) -> Result<()> {
        self.send(&ClientFrame::Typing {
            conversation_id: conversation_id.into(),
            typing,
        })
        .await
    }

    /// Marks the conversation's messages up to `up_to_seq` as delivered to this user.
    pub async fn delivered(&mut self, conversation_id: &str, up_to_seq: i64) -> Result<()> {
        self.send(&ClientFrame::Delivered {
            conversation_id: conversation_id.into(),
            up_to_seq,
        })
        .await
    }

    /// Marks the conversation's messages up to `up_to_seq` as read by this user.
    pub async fn read(&mut self, conversation_id: &str, up_to_seq: i64) -> Result<()> {
        self.send(&ClientFrame::Read {
            conversation_id: conversation_id.into(),
            up_to_seq,
        })
        .await
    }

    /// Sends a message over the socket (the `send` frame): the server stores it as
    /// `POST /conversations/{id}/messages` would and answers with a `sent` frame (or an `error`)
    /// carrying `reference`, read with [`Socket::next`]. Retry with the same `client_id`.
    pub async fn send_message(
        &mut self,
        reference: Option<&str>,
        conversation_id: &str,
        req: SendMessageRequest,
    ) -> Result<()> {
        self.send(&ClientFrame::send(
            reference.map(str::to_owned),
            conversation_id,
            req,
        ))
        .await
    }

    /// Sends a `ping`; the server answers with a `pong` frame.
    pub async fn ping(&mut self) -> Result<()> {
        self.send(&ClientFrame::Ping).await
    }

    /// Closes politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A connection that survives disconnects: it reconnects with `since` set to the cursor of the
/// last durable event it returned (or `ready`'s), so the caller sees each durable event once.
/// Only a failed authentication (4001) ends it.
pub struct Live {
    client: Client,
    cursor: Option<String>,
    socket: Option<Socket>,
}

impl Live {
    /// Connects now, from `since` if given (else from the current head).
    pub async fn connect(client: &Client, since: Option<&str>) -> Result<Live> {
        let socket = client.connect(since).await?;
        Ok(Live {
            client: client.clone(),
            cursor: since
                .map(str::to_owned)
                .or_else(|| Some(socket.ready.cursor.clone())),
            socket: Some(socket),
        })
    }

    /// The cursor to resume from: the last durable event returned, or `ready`'s.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Drops the current connection; the next call reconnects and resumes.
    pub fn disconnect(&mut self) {
        self.socket = None;
    }

    /// The next frame (`ready` frames of reconnections are not returned).
    pub async fn next(&mut self) -> Result<ServerFrame> {
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.socket.is_none() {
                match self.client.connect(self.cursor.as_deref()).await {
                    Ok(s) => {
                        backoff = Duration::from_millis(50);
                        self.socket = Some(s);
                    }
                    Err(e @ Error::Closed { code: 4001, .. }) => return Err(e),
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
            let Some(socket) = self.socket.as_mut() else {
                continue;
            };
            match socket.next().await {
                Ok(ServerFrame::Event(e)) => {
                    self.cursor = Some(e.cursor.clone());
                    return Ok(ServerFrame::Event(e));
                }
                Ok(ServerFrame::Control(ControlFrame::ResyncRequired { cursor })) => {
                    if let Some(c) = &cursor {
                        self.cursor = Some(c.clone());
                    }
                    return Ok(ServerFrame::Control(ControlFrame::ResyncRequired {
                        cursor,
                    }));
                }
                Ok(other) => return Ok(other),
                Err(e @ Error::Closed { code: 4001, .. }) => return Err(e),
                Err(_) => self.socket = None,
            }
        }
    }

    /// Sends a frame on the current connection (reconnecting first if needed).
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        if self.socket.is_none() {
            self.socket = Some(self.client.connect(self.cursor.as_deref()).await?);
        }
        match self.socket.as_mut() {
            Some(s) => s.send(frame).await,
            None => Err(Error::WebSocket("not connected".into())),
        }
    }
}
