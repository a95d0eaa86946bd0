//! `GET /api/v1/ws`: the WebSocket gateway.
//!
//! A connection registers with the hub *before* it reads its backlog, so every event committed
//! after the backlog's last read is already queued for it; queued events at or below the last
//! position sent are duplicates of the backlog and are skipped. That is the whole of the
//! backlog-to-live switch: nothing is missed, nothing repeats, and the order is the log's.

use std::time::Duration;

use axum::{
    extract::{
        State,
        ws::{
            CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade,
            rejection::WebSocketUpgradeRejection,
        },
    },
    http::{HeaderMap, header},
    response::Response,
};
use futures::{SinkExt, StreamExt, stream::SplitSink, stream::SplitStream};
use natter_wire as wire;
use serde::Deserialize;
use tokio::time::{Instant, timeout};

use super::{error::ApiError, extract::Query};
use crate::{
    app::{App, Caller, Replay, parse_cursor},
    error::AppError,
    hub::{Outbound, Registration, close},
    store::MarkKind,
};

/// Client frames larger than this close the connection with 1009.
const MAX_FRAME: usize = 64 * 1024;
/// Frames written to a socket per flush at most.
const WRITE_BATCH: usize = 64;
/// Backlog events read per query.
const BACKLOG_PAGE: u32 = 500;

#[derive(Deserialize)]
pub struct WsQuery {
    since: Option<String>,
}

/// `GET /api/v1/ws?since=<cursor>`: upgrades to a WebSocket. A malformed `since` is `400`.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "websocket",
    tag = "realtime",
    summary = "Upgrade to the WebSocket event stream",
    description = "Authenticate with the `Authorization` header, or with a first frame `{\"type\": \"auth\", \"token\"}` within 10 s (failures close with 4001). The server sends `ready` (`ControlFrame`), then the durable events after `since` (`Event`), then the live stream, with ephemeral frames (`Ephemeral`) in between. Client frames: `ClientFrame`; a `send` frame is the REST send over the socket (same validation, limits, idempotency and error codes), answered with `sent` (once durably stored) or `error`, each carrying the frame's `ref`. Close codes: 1001 shutting down, 1009 a frame over 64 KiB, 1011 the server failed: the backlog could not be read or rendered, or the token could not be checked (reconnect later from the same cursor, with the same token), 1013 too many connections (try later), 4001 authentication failed or session revoked or expired, 4008 too slow, or an event could not be delivered (resume from the last cursor). No event is ever skipped: a connection that could not be sent one is closed before any later one.",
    params(
        ("since" = Option<String>, Query, description = "Resume after this cursor"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket"),
        (status = 400, description = "`invalid_request`: a malformed `since` (a request that is not a WebSocket handshake is refused by the upgrade itself, with a plain-text 400 or 426)", body = wire::ErrorBody),
    ),
)]
pub async fn upgrade(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // A request that is no WebSocket handshake gets the standard error body too.
    let ws = ws.map_err(|r| ApiError::from_status(r.status(), r.body_text()))?;
    let since = q.since.as_deref().map(parse_cursor).transpose()?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    // Frames up to twice the limit are read whole so that the limit answers with 1009;
    // larger ones fail the read, which closes with 1009 too.
    Ok(ws
        // Allocated up front for every connection (and zero-filled by the first read): client
        // frames are a few hundred bytes, so 1 KiB keeps an idle connection cheap (the default
        // is 128 KiB). A larger frame still arrives whole: the buffer grows to its length.
        .read_buffer_size(1024)
        .max_message_size(2 * MAX_FRAME)
        .max_frame_size(2 * MAX_FRAME)
        .on_upgrade(move |socket| connection(app, socket, token, since)))
}

type Tx = SplitSink<WebSocket, Message>;
type Rx = SplitStream<WebSocket>;

/// How a connection ends.
enum End {
    /// Close with this code.
    Close(u16, &'static str),
    /// The peer left or stopped answering: nothing more to send.
    Gone,
}

async fn connection(app: App, socket: WebSocket, token: Option<String>, since: Option<i64>) {
    let (mut tx, mut rx) = socket.split();
    let write_timeout = app.config().ws_ping_interval * 2;
    let (caller, token) = match authenticate(&app, &mut rx, token).await {
        Ok(found) => found,
        Err((code, reason)) => {
            let _ = send_close(&mut tx, code, reason, write_timeout).await;
            return;
        }
    };
    let cfg = app.config();
    if app.hub().connections() >= cfg.ws_max_total {
        let _ = send_close(
            &mut tx,
            close::TRY_LATER,
            "too many connections",
            write_timeout,
        )
        .await;
        return;
    }
    if app.hub().devices(&caller.user_id) >= cfg.ws_max_per_user {
        let _ = send_close(
            &mut tx,
            close::TRY_LATER,
            "too many connections for this user",
            write_timeout,
        )
        .await;
        return;
    }
    let reg = app.hub().register(&caller.user_id, &caller.session_id);
    let id = reg.id;
    // A revocation that raced the registration is caught here.
    let refused = app.authenticate(&token).await.err().map(|e| auth_close(&e));
    let end = if let Some((code, reason)) = refused {
        End::Close(code, reason)
    } else {
        app.device_connected(&caller.user_id, reg.first).await;
        app.metrics().connections.inc();
        let end = serve(&app, &caller, reg, &mut tx, &mut rx, since).await;
        app.metrics().connections.dec();
        end
    };
    let last = app.hub().unregister(&caller.user_id, id);
    if refused.is_none() {
        app.device_disconnected(&caller.user_id, last);
    }
    if let End::Close(code, reason) = end {
        let _ = send_close(&mut tx, code, reason, write_timeout).await;
    }
}

/// By the `Authorization` header, else by an `auth` first frame within the timeout. Refused:
/// the close code and reason to send.
async fn authenticate(
    app: &App,
    rx: &mut Rx,
    header_token: Option<String>,
) -> Result<(Caller, String), (u16, &'static str)> {
    const FAILED: (u16, &str) = (close::AUTH, "authentication failed");
    let token = match header_token {
        Some(t) => t,
        None => {
            let first = timeout(app.config().ws_auth_timeout, rx.next())
                .await
                .ok()
                .flatten()
                .ok_or(FAILED)?;
            let Ok(Message::Text(text)) = first else {
                return Err(FAILED);
            };
            match serde_json::from_str::<wire::ClientFrame>(text.as_str()) {
                Ok(wire::ClientFrame::Auth { token }) => token,
                _ => return Err(FAILED),
            }
        }
    };
    let caller = app.authenticate(&token).await.map_err(|e| auth_close(&e))?;
    Ok((caller, token))
}

/// How a connection whose token could not be accepted closes: 4001 when the token is refused
/// (the client must log in again), 1011 when the server could not check it (storage failed:
/// the client keeps its token and reconnects later; closing with 4001 would make it throw a
/// good token away).
fn auth_close(e: &AppError) -> (u16, &'static str) {
    match e {
        AppError::Unauthorized(_) => (close::AUTH, "authentication failed or session revoked"),
        _ => (
            close::SERVER_ERROR,
            "the session could not be checked; reconnect later",
        ),
    }
}

/// Sends `ready` and, when resuming, the backlog after `since`; the position the live stream
/// continues from, or how the connection ends.
async fn catch_up(
    app: &App,
    caller: &Caller,
    tx: &mut Tx,
    since: Option<i64>,
    write_timeout: Duration,
) -> Result<i64, End> {
    macro_rules! send {
        ($msg:expr) => {
            match timeout(write_timeout, tx.send($msg)).await {
                Ok(Ok(())) => {}
                _ => return Err(End::Gone),
            }
        };
    }
    let ready = |cursor: i64| {
        text(&wire::ControlFrame::Ready {
            cursor: cursor.to_string(),
            session_id: caller.session_id.clone(),
            user_id: caller.user_id.clone(),
        })
    };
    let last_sent;
    match since {
        None => {
            last_sent = match app.store().head().await {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the log head");
                    return Err(End::Close(close::SERVER_ERROR, "internal error"));
                }
            };
            send!(ready(last_sent));
        }
        Some(since) => {
            send!(ready(since));
            let mut cursor = since;
            loop {
                // Each page is read with the log's bounds from the same snapshot, so a prune
                // between pages is seen rather than skipped over.
                let page = match app.replay(&caller.user_id, cursor, BACKLOG_PAGE).await {
                    Ok(Replay::Page(p)) => p,
                    Ok(Replay::ResyncRequired { head }) => {
                        send!(text(&wire::ControlFrame::ResyncRequired {
                            cursor: Some(head.to_string())
                        }));
                        cursor = head;
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the backlog");
                        return Err(End::Close(close::SERVER_ERROR, "internal error"));
                    }
                };
                for r in page.events {
                    if let Some(ev) = r.event {
                        send!(text(&ev));
                    }
                    cursor = r.pos;
                }
                if let Some(err) = page.failed {
                    tracing::error!(error = %err, "cannot render the backlog");
                    return Err(End::Close(close::SERVER_ERROR, "internal error"));
                }
                if !page.has_more {
                    break;
                }
            }
            last_sent = cursor;
        }
    }
    Ok(last_sent)
}

async fn serve(
    app: &App,
    caller: &Caller,
    mut reg: Registration,
    tx: &mut Tx,
    rx: &mut Rx,
    since: Option<i64>,
) -> End {
    let interval = app.config().ws_ping_interval;
    let write_timeout = interval * 2;
    let mut stopping = app.stopping();
    macro_rules! send {
        ($msg:expr) => {
            match timeout(write_timeout, tx.send($msg)).await {
                Ok(Ok(())) => {}
                _ => return End::Gone,
            }
        };
    }
    // Boxed: its state is large and needed only until the stream goes live, so it must not
    // stay in every idle connection's future.
    let mut last_sent = match Box::pin(catch_up(app, caller, tx, since, write_timeout)).await {
        Ok(cursor) => cursor,
        Err(end) => return end,
    };

    let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            // A close the hub asked for comes before any frame still queued.
            biased;
            changed = reg.close.changed() => {
                let code = if changed.is_ok() { *reg.close.borrow() } else { None };
                return match code {
                    Some(close::TOO_SLOW) => End::Close(
                        close::TOO_SLOW,
                        "fell behind, or an event could not be sent: resume from your last cursor",
                    ),
                    Some(close::AUTH) => End::Close(close::AUTH, "session revoked or expired"),
                    _ => End::Close(close::GOING_AWAY, "server shutting down"),
                };
            }
            out = reg.rx.recv() => {
                let Some(first) = out else {
                    return End::Close(close::GOING_AWAY, "server shutting down");
                };
                // Everything already queued goes out in one write: under load a connection
                // takes many frames per system call instead of one.
                let mut next = Some(first);
                let mut fed = 0;
                while let Some(out) = next.take() {
                    let frame = match out {
                        Outbound::Durable { pos, frame } if pos > last_sent => {
                            last_sent = pos;
                            Some(frame.into_bytes())
                        }
                        Outbound::Durable { .. } => None,
                        Outbound::Ephemeral(frame) => Some(frame),
                    };
                    if let Some(frame) = frame {
                        match timeout(write_timeout, tx.feed(Message::Text(frame_text(frame)))).await {
                            Ok(Ok(())) => fed += 1,
                            _ => return End::Gone,
                        }
                    }
                    if fed < WRITE_BATCH {
                        next = reg.rx.try_recv().ok();
                    }
                }
                match timeout(write_timeout, tx.flush()).await {
                    Ok(Ok(())) => {}
                    _ => return End::Gone,
                }
            }
            _ = stopping.changed() => return End::Close(close::GOING_AWAY, "server shutting down"),
            _ = ping.tick() => {
                if heard.elapsed() > interval * 2 {
                    return End::Gone;
                }
                send!(Message::Ping(Default::default()));
            }
            msg = rx.next() => {
                heard = Instant::now();
                let msg = match msg {
                    None | Some(Ok(Message::Close(_))) => return End::Gone,
                    Some(Err(e)) => {
                        // tungstenite refuses a frame over the read limit with a capacity
                        // error; its text is the only way axum lets us tell it apart.
                        return if e.to_string().contains("Space limit exceeded") {
                            End::Close(close::TOO_BIG, "frame over 64 KiB")
                        } else {
                            End::Gone
                        };
                    }
                    Some(Ok(m)) => m,
                };
                let reply = match msg {
                    Message::Text(t) if t.len() > MAX_FRAME => {
                        return End::Close(close::TOO_BIG, "frame over 64 KiB");
                    }
                    Message::Text(t) => handle_frame(app, caller, t.as_str()).await,
                    Message::Binary(_) => Some(error_frame(ApiError::invalid("frames must be JSON text"))),
                    Message::Ping(_) | Message::Pong(_) => None,
                    Message::Close(_) => return End::Gone,
                };
                if let Some(reply) = reply {
                    send!(reply);
                }
            }
        }
    }
}

/// Acts on one client frame; returns the reply, if any.
///
/// A `send` is awaited here, in the connection's task: its answer (`sent` or `error`, with its
/// `ref`) goes out once the message is durably stored, and the connection's queued events wait
/// only for that store.
async fn handle_frame(app: &App, caller: &Caller, text: &str) -> Option<Message> {
    let frame = match serde_json::from_str::<wire::ClientFrame>(text) {
        Ok(f) => f,
        Err(e) => {
            return Some(error_frame_for(
                ref_of_unparsed(text),
                ApiError::invalid(format!("invalid frame: {e}")),
            ));
        }
    };
    let reference = match &frame {
        wire::ClientFrame::Send { reference, .. } => reference.clone(),
        _ => None,
    };
    if let Some(r) = &reference
        && r.chars().count() > wire::MAX_REF_CHARS
    {
        return Some(error_frame(ApiError::invalid(format!(
            "ref must be at most {} characters",
            wire::MAX_REF_CHARS
        ))));
    }
    // Frames that act count against the write limits, as REST writes do (a `send` once, as
    // `POST .../messages` does).
    let acts = !matches!(
        frame,
        wire::ClientFrame::Ping | wire::ClientFrame::Auth { .. }
    );
    if acts
        && let Some(limiters) = app.limiters()
        && let Err(e) = limiters.check_write(caller)
    {
        return Some(error_frame_for(reference, e.into()));
    }
    let result: Result<(), AppError> = match frame {
        wire::ClientFrame::Ping => return Some(text_msg(&wire::ControlFrame::Pong)),
        wire::ClientFrame::Auth { .. } => Err(AppError::invalid("already authenticated")),
        wire::ClientFrame::Typing {
            conversation_id,
            typing,
        } => app.set_typing(caller, &conversation_id, typing).await,
        wire::ClientFrame::Delivered {
            conversation_id,
            up_to_seq,
        } => {
            app.mark_up_to(caller, &conversation_id, MarkKind::Delivered, up_to_seq)
                .await
        }
        wire::ClientFrame::Read {
            conversation_id,
            up_to_seq,
        } => {
            app.mark_up_to(caller, &conversation_id, MarkKind::Read, up_to_seq)
                .await
        }
        wire::ClientFrame::Send {
            reference,
            conversation_id,
            client_id,
            kind,
            text,
            media_id,
            reply_to,
        } => {
            let req = wire::SendMessageRequest {
                client_id,
                kind,
                text,
                media_id,
                reply_to,
            };
            // The same application call as `POST /conversations/{id}/messages`.
            return Some(match app.send(caller, &conversation_id, req).await {
                Ok((message, created)) => text_msg(&wire::ControlFrame::Sent {
                    reference,
                    created,
                    message: Box::new(message),
                }),
                Err(e) => error_frame_for(reference, e.into()),
            });
        }
    };
    result.err().map(|e| error_frame(e.into()))
}

/// The `ref` of a frame that did not parse, when it has a usable one, so that a client can
/// tell which of its `send` frames the error answers.
fn ref_of_unparsed(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Ref {
        #[serde(rename = "ref")]
        reference: Option<String>,
    }
    serde_json::from_str::<Ref>(text)
        .ok()
        .and_then(|r| r.reference)
        .filter(|r| r.chars().count() <= wire::MAX_REF_CHARS)
}

fn error_frame(e: ApiError) -> Message {
    error_frame_for(None, e)
}

/// An `error` frame answering the frame with this `ref`.
fn error_frame_for(reference: Option<String>, e: ApiError) -> Message {
    text_msg(&wire::ControlFrame::Error {
        reference,
        error: wire::ErrorDetail {
            code: e.code.to_owned(),
            message: e.message,
        },
    })
}

fn text<T: serde::Serialize>(v: &T) -> Message {
    text_msg(v)
}

fn text_msg<T: serde::Serialize>(v: &T) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
    ))
}

/// The fan-out serializes each event once; the bytes are valid UTF-8 JSON.
fn frame_text(frame: bytes::Bytes) -> Utf8Bytes {
    Utf8Bytes::try_from(frame).unwrap_or_else(|_| Utf8Bytes::from_static("{}"))
}

async fn send_close(
    tx: &mut Tx,
    code: u16,
    reason: &'static str,
    within: Duration,
) -> Result<(), ()> {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    match timeout(within, tx.send(Message::Close(Some(frame)))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
