//! The example echo bot in webhook mode against a real server: natter posts the bot's events,
//! the bot answers each message once, refuses deliveries it cannot verify, and deletes its
//! webhook when stopped.

// The live mode's parts are not used here.
#[allow(dead_code)]
#[path = "../examples/echo_bot/bot.rs"]
mod bot;
#[path = "../examples/echo_bot/webhook_mode.rs"]
mod webhook_mode;

use std::time::Duration;

use natter_client::{Client, Message, MessageQuery, Webhook, webhook};
use natter_server::{Config, Server};
use tempfile::TempDir;

const PASSWORD: &str = "correct horse";
/// How long an awaited answer may take before the test gives up (generous: the machine may be
/// busy); nothing here depends on timing otherwise.
const ARRIVES: Duration = Duration::from_secs(10);

async fn start_server(webhook_allow: String) -> (Server, TempDir) {
    let data = tempfile::tempdir().expect("a temporary directory");
    let server = natter_server::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        rate_limit: false,
        registration: natter_server::config::Registration::Open,
        webhook_allow: vec![webhook_allow],
        ..Config::default()
    })
    .await
    .expect("the server starts");
    (server, data)
}

/// Polls `probe` until it gives something, within [`ARRIVES`].
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, probe: impl Fn() -> F) -> T {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {ARRIVES:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The conversation's messages, oldest first.
async fn messages(client: &Client, conversation_id: &str) -> Vec<Message> {
    let mut page = client
        .messages(conversation_id, &MessageQuery::default())
        .await
        .unwrap()
        .messages;
    page.sort_by_key(|m| m.seq);
    page
}

#[tokio::test]
async fn webhook_mode_answers_once_refuses_forgeries_and_cleans_up() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let hook_url = format!("{origin}/natter");
    let (server, _data) = start_server(format!("{origin}/")).await;
    let anon = Client::new(server.url());
    let (bot_client, bot_user) = anon.sign_up("echo", PASSWORD).await.unwrap();
    let (alice, _) = anon.sign_up("alice", PASSWORD).await.unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(webhook_mode::run(
        bot_client.clone(),
        listener,
        hook_url.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let hook: Webhook = eventually("the bot creates its webhook", || async {
        bot_client.webhooks().await.unwrap().webhooks.pop()
    })
    .await;
    assert_eq!(hook.url, hook_url);
    assert_eq!(hook.conversation_id, None);
    assert_eq!(hook.secret, None, "the secret is shown only once");

    let conversation = alice.direct(&bot_user.id).await.unwrap().value;
    let first = alice
        .send_text(&conversation.id, "hello bot")
        .await
        .unwrap();
    let reply = eventually("the bot answers", || async {
        messages(&alice, &conversation.id)
            .await
            .into_iter()
            .find(|m| m.reply_to.as_deref() == Some(first.id.as_str()))
    })
    .await;
    assert_eq!(reply.text.as_deref(), Some("hello bot"));
    assert_eq!(reply.sender_id, bot_user.id);

    // Deliveries the bot cannot verify are refused, and have no effect.
    let receiver = Client::new(&origin);
    let forged = br#"{"type":"new_message","cursor":"999999","data":{}}"#.to_vec();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let wrong = webhook::sign("not the secret", now.parse().unwrap(), &forged);
    for headers in [
        vec![
            (webhook::TIMESTAMP_HEADER, now.as_str()),
            (webhook::SIGNATURE_HEADER, wrong.as_str()),
            (webhook::CURSOR_HEADER, "999999"),
        ],
        vec![(webhook::CURSOR_HEADER, "999999")],
    ] {
        let resp = receiver
            .raw_with_headers(
                "POST",
                "/natter",
                &headers,
                Some(("application/json", forged.clone())),
            )
            .await
            .unwrap();
        assert_eq!(resp.status, 401, "{}", resp.text());
    }

    let second = alice.send_text(&conversation.id, "again").await.unwrap();
    eventually("the bot answers again", || async {
        messages(&alice, &conversation.id)
            .await
            .into_iter()
            .find(|m| m.reply_to.as_deref() == Some(second.id.as_str()))
    })
    .await;
    let shape: Vec<(String, Option<String>)> = messages(&alice, &conversation.id)
        .await
        .into_iter()
        .map(|m| (m.text.unwrap_or_default(), m.reply_to))
        .collect();
    assert_eq!(
        shape,
        [
            ("hello bot".into(), None),
            ("hello bot".into(), Some(first.id.clone())),
            ("again".into(), None),
            ("again".into(), Some(second.id.clone())),
        ]
    );

    // Stopped, the bot deletes its webhook.
    stop.send(()).unwrap();
    tokio::time::timeout(ARRIVES, running)
        .await
        .expect("the bot stops in time")
        .unwrap()
        .expect("the bot stops cleanly");
    assert!(bot_client.webhooks().await.unwrap().webhooks.is_empty());
    server.shutdown().await.unwrap();
}
