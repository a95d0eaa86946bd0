//! The webhook mode: natter posts the bot's events to it over HTTP instead of the bot following
//! a WebSocket.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use natter_client::{Client, Event, EventData, NewWebhook, webhook};
use tokio::{net::TcpListener, sync::mpsc};

use crate::bot::{Echo, log_reply};

/// What the delivery handler shares.
struct Receiver {
    /// The webhook's secret: every delivery is signed with it.
    secret: String,
    /// The cursors of the events already taken. Delivery is at least once, so an event may
    /// come again (an answer lost, a retry); its cursor says so. Kept in memory only, for the
    /// example: a real bot keeps them durably (with what handling the event changed), so that
    /// a restart does not answer a repeat twice, and forgets the old ones in time.
    seen: Mutex<HashSet<String>>,
    /// Where events go to be handled, in the order they were delivered.
    events: mpsc::UnboundedSender<Event>,
}

/// What the webhook mode can fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Creates a webhook for all the account's conversations that posts to `url`, serves the
/// deliveries on `listener` (where `url` leads) until `shutdown` completes, then deletes the
/// webhook.
pub async fn run(
    client: Client,
    listener: TcpListener,
    url: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let path = reqwest::Url::parse(&url)?.path().to_owned();
    let mut echo = Echo::new(client.clone()).await?;
    let listen = listener.local_addr()?;

    let hook = client
        .create_webhook(&NewWebhook {
            url: url.clone(),
            conversation_id: None,
        })
        .await?;
    let secret = hook
        .secret
        .ok_or("the server did not send the webhook's secret")?;
    eprintln!("webhook {} posts to {url}; listening on {listen}", hook.id);

    // Handling an event takes requests of its own; the delivery is answered at once and the
    // event handled here, one at a time, in order.
    let (events, mut queue) = mpsc::unbounded_channel::<Event>();
    let worker = tokio::spawn(async move {
        while let Some(event) = queue.recv().await {
            let EventData::NewMessage(message) = event.event else {
                continue;
            };
            match echo.handle(&message).await {
                Ok(Some(reply)) => log_reply(&reply),
                Ok(None) => {}
                Err(e) => eprintln!("cannot answer message {}: {e}", message.id),
            }
        }
    });

    let receiver = Arc::new(Receiver {
        secret,
        seen: Mutex::new(HashSet::new()),
        events,
    });
    let app = Router::new()
        .route(&path, post(deliver))
        .with_state(receiver);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;

    // The server is gone, and with it the sender: the worker ends after the events queued.
    let deleted = client.delete_webhook(&hook.id).await;
    match &deleted {
        Ok(()) => eprintln!("webhook {} deleted", hook.id),
        Err(e) => eprintln!("cannot delete webhook {}: {e}", hook.id),
    }
    worker.await?;
    served?;
    deleted?;
    Ok(())
}

/// One delivery: `401` unless it is signed with the secret and fresh; `200` at once otherwise,
/// the event queued unless its cursor was seen before.
async fn deliver(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    // Over the exact bytes received, before anything reads them.
    if let Err(e) = webhook::verify_now(&receiver.secret, &headers, &body) {
        eprintln!("refused a delivery: {e}");
        return StatusCode::UNAUTHORIZED;
    }
    let Some(cursor) = headers
        .get(webhook::CURSOR_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return StatusCode::BAD_REQUEST;
    };
    if !receiver.seen.lock().unwrap().insert(cursor.to_owned()) {
        // A repeat: it was taken already.
        return StatusCode::OK;
    }
    match serde_json::from_slice::<Event>(&body) {
        Ok(event) => {
            let _ = receiver.events.send(event);
        }
        // An event type newer than this SDK: nothing for an echo bot to do, and refusing it
        // would only make natter retry it.
        Err(e) => eprintln!("ignored event {cursor}: {e}"),
    }
    StatusCode::OK
}
