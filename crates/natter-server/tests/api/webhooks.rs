//! Webhooks: a bot's HTTP endpoint on loopback receives the durable events of its
//! conversations, signed, in order, at least once, across restarts; failures are retried and
//! then dead-lettered; one slow receiver holds up no other; only allowed URLs.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    routing::post,
};
use natter_client::{Client, webhook};
use natter_wire::NewWebhook;
use serde_json::Value;
use tokio::sync::Notify;

use crate::helpers::*;

/// How long a delivery may take to arrive before a test fails.
const ARRIVES: Duration = Duration::from_secs(15);

/// What the receiver answers a delivery.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Never answers (the server's timeout ends the attempt).
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    event: Value,
    answered: Option<u16>,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn cursor(&self) -> u64 {
        self.event["cursor"].as_str().unwrap().parse().unwrap()
    }

    pub(crate) fn text(&self) -> Option<&str> {
        self.event["data"]["text"].as_str()
    }
}

type Answerer = Box<dyn Fn(&Delivery) -> Answer + Send + Sync>;

struct Shared {
    got: Mutex<Vec<Delivery>>,
    arrived: Notify,
    answer: Mutex<Answerer>,
}

/// A bot's HTTP endpoint on 127.0.0.1.
pub(crate) struct Receiver {
    origin: String,
    shared: Arc<Shared>,
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut d = Delivery {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        event: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
        answered: None,
    };
    let answer = (shared.answer.lock().unwrap())(&d);
    let status = match answer {
        Answer::Status(s) => s,
        Answer::Hang => {
            shared.got.lock().unwrap().push(d);
            shared.arrived.notify_waiters();
            std::future::pending::<()>().await;
            unreachable!()
        }
    };
    d.answered = Some(status);
    shared.got.lock().unwrap().push(d);
    shared.arrived.notify_waiters();
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let shared = Arc::new(Shared {
            got: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            answer: Mutex::new(Box::new(|_| Answer::Status(200))),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { origin, shared }
    }

    /// What the server is given as `--webhook-allow`.
    pub(crate) fn prefix(&self) -> String {
        format!("{}/hooks/", self.origin)
    }

    pub(crate) fn url(&self, name: &str) -> String {
        format!("{}/hooks/{name}", self.origin)
    }

    fn answer(&self, f: impl Fn(&Delivery) -> Answer + Send + Sync + 'static) {
        *self.shared.answer.lock().unwrap() = Box::new(f);
    }

    fn all(&self) -> Vec<Delivery> {
        self.shared.got.lock().unwrap().clone()
    }

    /// The deliveries answered 2xx to `path`, in arrival order.
    fn accepted(&self, path: &str) -> Vec<Delivery> {
        self.all()
            .into_iter()
            .filter(|d| d.path == path && d.answered.is_some_and(|s| (200..300).contains(&s)))
            .collect()
    }

    /// Waits until `path` accepted at least `n` deliveries.
    pub(crate) async fn wait_accepted(&self, path: &str, n: usize) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + ARRIVES;
        loop {
            let arrived = self.shared.arrived.notified();
            let got = self.accepted(path);
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "{path} accepted {} deliveries, not {n}: {:#?}",
                    got.len(),
                    got.iter().map(|d| &d.event).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Waits until `path` got `n` requests of any answer.
    async fn wait_requests(&self, path: &str, n: usize) {
        let deadline = tokio::time::Instant::now() + ARRIVES;
        loop {
            let arrived = self.shared.arrived.notified();
            if self.all().iter().filter(|d| d.path == path).count() >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{path} did not get {n} requests");
            }
        }
    }
}

/// The webhook once its saved position reached `cursor` (saved just after the answer).
async fn settled(bot: &Client, id: &str, cursor: &str) -> natter_wire::Webhook {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let hook = bot.webhook(id).await.unwrap();
        if hook.cursor == cursor {
            return hook;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook stayed at {} (expected {cursor})",
            hook.cursor
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts that `d` carries a valid signature by `secret` and its cursor in the headers.
fn assert_signed(d: &Delivery, secret: &str, webhook_id: &str) {
    webhook::verify_parts(
        secret,
        d.header("Natter-Timestamp"),
        d.header("Natter-Signature"),
        &d.body,
        now_unix(),
        300,
    )
    .unwrap_or_else(|e| panic!("a delivery's signature does not verify: {e:?}"));
    let cursor = d.event["cursor"].as_str().unwrap();
    assert_eq!(d.header("Natter-Event-Cursor"), cursor);
    assert_eq!(d.header("Idempotency-Key"), cursor);
    assert_eq!(d.header("Natter-Webhook-Id"), webhook_id);
    assert!(d.header("Content-Type").starts_with("application/json"));
}

fn quick(receiver: &Receiver) -> impl Fn(&mut natter_server::Config) + Clone + use<> {
    let prefix = receiver.prefix();
    move |cfg: &mut natter_server::Config| {
        cfg.webhook_allow = vec![prefix.clone()];
        cfg.webhook_backoff = Duration::from_millis(20);
        cfg.webhook_backoff_max = Duration::from_millis(100);
        cfg.webhook_attempts = 3;
        cfg.delivery_lease = Duration::from_secs(3);
        cfg.outbound_timeout = Duration::from_secs(2);
    }
}

async fn hook(bot: &Client, url: &str, conversation_id: Option<&str>) -> natter_wire::Webhook {
    bot.create_webhook(&NewWebhook {
        url: url.into(),
        conversation_id: conversation_id.map(Into::into),
    })
    .await
    .expect("the webhook is created")
}

#[tokio::test]
async fn a_bot_receives_every_event_of_its_conversations_signed_and_in_order() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(quick(&receiver)).await;
    let (alice, _) = app.user("alice").await;
    let (bot, bot_user) = app.user("bot").await;
    let (_, carol) = app.user("carol").await;
    let created = hook(&bot, &receiver.url("bot"), None).await;
    let secret = created
        .secret
        .clone()
        .expect("the secret is shown at creation");
    assert!(created.secret.as_deref().unwrap().len() >= 32);
    assert_eq!(created.conversation_id, None);
    assert_eq!(created.dead_letters, 0);

    let group = alice
        .create_group("Team", &[bot_user.id.as_str()])
        .await
        .unwrap();
    // Not the bot's: never delivered.
    let other = alice.direct(&carol.id).await.unwrap().value;
    alice.send_text(&other.id, "not for the bot").await.unwrap();
    let mut sent = Vec::new();
    for i in 0..12 {
        sent.push(alice.send_text(&group.id, &format!("m{i}")).await.unwrap());
    }
    alice.edit_message(&sent[3].id, "m3 edited").await.unwrap();
    alice.add_reaction(&sent[5].id, "👍").await.unwrap();

    let path = "/hooks/bot";
    let got = receiver.wait_accepted(path, 15).await;
    let types: Vec<&str> = got
        .iter()
        .map(|d| d.event["type"].as_str().unwrap())
        .collect();
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(
        types[0], "conversation_updated",
        "the bot was added: {types:?}"
    );
    let messages: Vec<&str> = got
        .iter()
        .filter(|d| d.event["type"] == "new_message")
        .map(|d| d.text().unwrap())
        .collect();
    assert_eq!(
        messages,
        (0..12).map(|i| format!("m{i}")).collect::<Vec<_>>(),
        "every message once, in order"
    );
    assert!(texts.contains(&"m3 edited"), "{types:?}");
    assert!(types.contains(&"reaction_changed"), "{types:?}");
    assert!(!texts.contains(&"not for the bot"));
    for d in &got {
        assert_signed(d, &secret, &created.id);
        let data = &d.event["data"];
        let conversation = data.get("conversation_id").unwrap_or(&data["id"]);
        assert_eq!(conversation, group.id.as_str(), "{:?}", d.event);
    }
    let cursors: Vec<u64> = got.iter().map(Delivery::cursor).collect();
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "in log order: {cursors:?}"
    );

    // The listing says how far it got (saved just after the answer), without the secret.
    let last = got.last().unwrap().event["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = tokio::time::Instant::now() + ARRIVES;
    let listed = loop {
        let listed = bot.webhooks().await.unwrap().webhooks;
        if listed[0].cursor == last || tokio::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, created.id);
    assert_eq!(listed[0].secret, None);
    assert_eq!(listed[0].cursor, last);
    assert!(listed[0].delivered_at.is_some());
    assert_eq!(listed[0].last_error, None);
    app.shutdown().await;
}

#[tokio::test]
async fn a_webhook_of_one_conversation_receives_that_conversation_only() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(quick(&receiver)).await;
    let (alice, _) = app.user("alice").await;
    let (bot, bot_user) = app.user("bot").await;
    let one = alice.direct(&bot_user.id).await.unwrap().value;
    let two = alice
        .create_group("Two", &[bot_user.id.as_str()])
        .await
        .unwrap();
    let created = hook(&bot, &receiver.url("one"), Some(&one.id)).await;
    assert_eq!(created.conversation_id.as_deref(), Some(one.id.as_str()));
    alice.send_text(&two.id, "in two").await.unwrap();
    alice.send_text(&one.id, "in one").await.unwrap();
    alice.send_text(&two.id, "in two again").await.unwrap();
    alice.send_text(&one.id, "in one again").await.unwrap();
    let got = receiver.wait_accepted("/hooks/one", 2).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(texts, ["in one", "in one again"]);
    // Nothing of the other conversation came, however long it had to come before the last.
    assert!(
        receiver
            .all()
            .iter()
            .all(|d| d.event["data"]["conversation_id"] == one.id.as_str())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn failures_are_retried_in_place_then_dead_lettered_and_delivery_goes_on() {
    let receiver = Receiver::start().await;
    // "flaky" fails twice then succeeds; "poison" always fails.
    let flaky = Arc::new(Mutex::new(0));
    let seen = flaky.clone();
    receiver.answer(move |d| match d.text() {
        Some("flaky") => {
            let mut n = seen.lock().unwrap();
            *n += 1;
            Answer::Status(if *n <= 2 { 503 } else { 200 })
        }
        Some("poison") => Answer::Status(500),
        _ => Answer::Status(200),
    });
    let app = spawn_app_with(quick(&receiver)).await;
    let (alice, _) = app.user("alice").await;
    let (bot, bot_user) = app.user("bot").await;
    let conv = alice.direct(&bot_user.id).await.unwrap().value;
    let created = hook(&bot, &receiver.url("bot"), Some(&conv.id)).await;
    for text in ["before", "flaky", "middle", "poison", "after"] {
        alice.send_text(&conv.id, text).await.unwrap();
    }
    let got = receiver.wait_accepted("/hooks/bot", 4).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(texts, ["before", "flaky", "middle", "after"]);
    // Tried in place: nothing after "flaky" was posted before it succeeded (third attempt).
    let order: Vec<String> = receiver
        .all()
        .iter()
        .map(|d| d.text().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(
        order,
        vec![
            "before", "flaky", "flaky", "flaky", "middle", "poison", "poison", "poison", "after"
        ]
    );

    let letters = bot.dead_letters(&created.id, None, None).await.unwrap();
    assert!(!letters.has_more);
    assert_eq!(letters.dead_letters.len(), 1);
    let dead = &letters.dead_letters[0];
    assert_eq!(dead.event["data"]["text"], "poison");
    assert_eq!(dead.cursor, dead.event["cursor"].as_str().unwrap());
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error, "answered 500");
    assert_timestamp(&dead.failed_at);
    let last = got.last().unwrap().event["cursor"].as_str().unwrap();
    let state = settled(&bot, &created.id, last).await;
    assert_eq!(state.dead_letters, 1);
    assert_eq!(state.last_error, None, "the last event was delivered");
    // Paging after the only letter: nothing.
    let after = bot
        .dead_letters(&created.id, Some(&dead.cursor), Some(10))
        .await
        .unwrap();
    assert!(after.dead_letters.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn delivery_goes_on_after_a_restart_from_where_it_stopped() {
    let receiver = Receiver::start().await;
    let down = Arc::new(Mutex::new(false));
    let is_down = down.clone();
    receiver.answer(move |_| {
        if *is_down.lock().unwrap() {
            Answer::Status(503)
        } else {
            Answer::Status(200)
        }
    });
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let base = quick(&receiver);
    let config = move |cfg: &mut natter_server::Config| {
        base(cfg);
        cfg.data_dir = dir.clone();
        // Never gives up while the receiver is down for the restart.
        cfg.webhook_attempts = 1000;
    };
    let app = spawn_app_with(config.clone()).await;
    let (alice, _) = app.user("alice").await;
    let (bot, bot_user) = app.user("bot").await;
    let conv = alice.direct(&bot_user.id).await.unwrap().value;
    let created = hook(&bot, &receiver.url("bot"), Some(&conv.id)).await;
    for i in 0..5 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
    receiver.wait_accepted("/hooks/bot", 5).await;
    // The receiver goes down; more messages wait for it; the server restarts meanwhile.
    *down.lock().unwrap() = true;
    for i in 5..10 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
    let before = receiver.all().len();
    receiver.wait_requests("/hooks/bot", before + 1).await;
    let kept = app.shutdown_keeping_database().await;
    *down.lock().unwrap() = false;
    let url = kept.database_url.clone();
    let app = spawn_app_with(move |cfg| {
        config(cfg);
        cfg.database_url = url;
    })
    .await;
    let got = receiver.wait_accepted("/hooks/bot", 10).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(
        texts,
        (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>(),
        "every message accepted once, in order, across the restart"
    );
    let (bot, _) = app.login("bot", None).await;
    settled(
        &bot,
        &created.id,
        got.last().unwrap().event["cursor"].as_str().unwrap(),
    )
    .await;
    drop(alice);
    app.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_hangs_holds_up_no_other_webhook() {
    let receiver = Receiver::start().await;
    receiver.answer(|d| {
        if d.path == "/hooks/slow" {
            Answer::Hang
        } else {
            Answer::Status(200)
        }
    });
    let base = quick(&receiver);
    let app = spawn_app_with(move |cfg| {
        base(cfg);
        cfg.outbound_timeout = Duration::from_secs(60);
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (slow, slow_user) = app.user("slowbot").await;
    let (fast, fast_user) = app.user("fastbot").await;
    let group = alice
        .create_group("G", &[slow_user.id.as_str(), fast_user.id.as_str()])
        .await
        .unwrap();
    hook(&slow, &receiver.url("slow"), Some(&group.id)).await;
    hook(&fast, &receiver.url("fast"), Some(&group.id)).await;
    for i in 0..5 {
        alice.send_text(&group.id, &format!("m{i}")).await.unwrap();
    }
    let got = receiver.wait_accepted("/hooks/fast", 5).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);
    // The slow one is still waiting for the answer to its first delivery, and got no other.
    receiver.wait_requests("/hooks/slow", 1).await;
    let slow_got: Vec<Delivery> = receiver
        .all()
        .into_iter()
        .filter(|d| d.path == "/hooks/slow")
        .collect();
    assert_eq!(slow_got.len(), 1);
    assert_eq!(slow_got[0].text(), Some("m0"));
    app.shutdown().await;
}

#[tokio::test]
async fn webhooks_go_only_to_urls_the_operator_allows() {
    // None allowed: webhooks are off.
    let app = spawn_app().await;
    let (bot, _) = app.user("bot").await;
    let off = bot
        .create_webhook(&NewWebhook {
            url: "https://bots.example.com/natter".into(),
            conversation_id: None,
        })
        .await;
    assert_api_error(off, 403, "forbidden");
    app.shutdown().await;

    let receiver = Receiver::start().await;
    let app = spawn_app_with(quick(&receiver)).await;
    let (bot, _) = app.user("bot").await;
    let origin = receiver.origin.clone();
    let port = origin.rsplit(':').next().unwrap().to_owned();
    for url in [
        format!("{origin}/other"),
        format!("{origin}/hooksmith"),
        format!("http://localhost:{port}/hooks/x"),
        format!("http://[::1]:{port}/hooks/x"),
        format!("https://127.0.0.1:{port}/hooks/x"),
        "http://10.0.0.1/hooks/x".into(),
        format!("http://user:pw@127.0.0.1:{port}/hooks/x"),
        "ftp://127.0.0.1/hooks/".into(),
        "not a url".into(),
        format!("{origin}/hooks/{}", "x".repeat(2048)),
    ] {
        let refused = bot
            .create_webhook(&NewWebhook {
                url: url.clone(),
                conversation_id: None,
            })
            .await;
        assert_api_error(refused, 400, "invalid_request");
    }
    assert!(bot.webhooks().await.unwrap().webhooks.is_empty());
    // Under the prefix: fine.
    hook(&bot, &format!("{origin}/hooks/a/b?x=1"), None).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_user_has_at_most_ten_webhooks_of_its_own_conversations() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(quick(&receiver)).await;
    let (alice, _) = app.user("alice").await;
    let (bot, _) = app.user("bot").await;
    let (_, carol) = app.user("carol").await;
    let not_bots = alice.direct(&carol.id).await.unwrap().value;
    let refused = bot
        .create_webhook(&NewWebhook {
            url: receiver.url("x"),
            conversation_id: Some(not_bots.id.clone()),
        })
        .await;
    assert_api_error(refused, 404, "not_found");
    let unknown = bot
        .create_webhook(&NewWebhook {
            url: receiver.url("x"),
            conversation_id: Some("no-such-conversation".into()),
        })
        .await;
    assert_api_error(unknown, 404, "not_found");

    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(hook(&bot, &receiver.url(&format!("h{i}")), None).await.id);
    }
    let eleventh = bot
        .create_webhook(&NewWebhook {
            url: receiver.url("h10"),
            conversation_id: None,
        })
        .await;
    assert_api_error(eleventh, 400, "invalid_request");
    let listed: Vec<String> = bot
        .webhooks()
        .await
        .unwrap()
        .webhooks
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, ids, "oldest first");

    // Another user's webhook is no one else's business.
    assert_api_error(alice.webhook(&ids[0]).await, 404, "not_found");
    assert_api_error(alice.delete_webhook(&ids[0]).await, 404, "not_found");
    assert_api_error(
        alice.dead_letters(&ids[0], None, None).await,
        404,
        "not_found",
    );
    assert_api_error(
        bot.dead_letters(&ids[0], None, Some(0)).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        bot.dead_letters(&ids[0], None, Some(201)).await,
        400,
        "invalid_request",
    );
    // Deleting one makes room for another.
    bot.delete_webhook(&ids[0]).await.unwrap();
    assert_api_error(bot.webhook(&ids[0]).await, 404, "not_found");
    hook(&bot, &receiver.url("h10"), None).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_delivery_whose_position_cannot_be_saved_is_posted_again_with_the_same_cursor() {
    let receiver = Receiver::start().await;
    let base = quick(&receiver);
    let (app, store) = spawn_app_on_faulty_store_with(move |cfg| {
        base(cfg);
        cfg.delivery_lease = Duration::from_millis(600);
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (bot, bot_user) = app.user("bot").await;
    let conv = alice.direct(&bot_user.id).await.unwrap().value;
    let created = hook(&bot, &receiver.url("bot"), Some(&conv.id)).await;
    store.fail_webhook_saves(1);
    for text in ["one", "two", "three"] {
        alice.send_text(&conv.id, text).await.unwrap();
    }
    let got = receiver.wait_accepted("/hooks/bot", 4).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    // At least once: "one" again, under the same cursor, so the bot can tell; then the rest.
    assert_eq!(texts, ["one", "one", "two", "three"]);
    assert_eq!(
        got[0].header("Natter-Event-Cursor"),
        got[1].header("Natter-Event-Cursor")
    );
    settled(&bot, &created.id, got[3].event["cursor"].as_str().unwrap()).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_disabled_bot_gets_nothing_until_enabled_again() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(quick(&receiver)).await;
    // The first account is the server's admin.
    let (alice, _) = app.user("alice").await;
    let (bot, bot_user) = app.user("bot").await;
    let (other, other_user) = app.user("otherbot").await;
    let group = alice
        .create_group("Bots", &[bot_user.id.as_str(), other_user.id.as_str()])
        .await
        .unwrap();
    hook(&bot, &receiver.url("bot"), Some(&group.id)).await;
    hook(&other, &receiver.url("other"), Some(&group.id)).await;
    alice.send_text(&group.id, "before").await.unwrap();
    receiver.wait_accepted("/hooks/bot", 1).await;
    let disable = |disabled| natter_wire::AdminUpdateUserRequest {
        disabled: Some(disabled),
        admin: None,
        password: None,
    };
    alice
        .admin_update_user(&bot_user.id, &disable(true))
        .await
        .unwrap();
    alice.send_text(&group.id, "while disabled").await.unwrap();
    // The other bot got it: the disabled one was woken for it too, and posted nothing.
    receiver.wait_accepted("/hooks/other", 2).await;
    let texts: Vec<String> = receiver
        .accepted("/hooks/bot")
        .iter()
        .filter_map(|d| d.text().map(str::to_owned))
        .collect();
    assert_eq!(texts, ["before"]);
    // Enabled again, it gets what happened meanwhile.
    alice
        .admin_update_user(&bot_user.id, &disable(false))
        .await
        .unwrap();
    let got = receiver.wait_accepted("/hooks/bot", 2).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(texts, ["before", "while disabled"]);
    let metrics = app
        .anon()
        .raw("GET", "/metrics", None)
        .await
        .unwrap()
        .text();
    assert!(
        metrics.contains(r#"natter_webhook_deliveries_total{outcome="delivered"} 4"#),
        "{metrics}"
    );
    app.shutdown().await;
}
