//! Web Push: real encryption (RFC 8291) and VAPID (RFC 8292) checked by a push service
//! stand-in on loopback that decrypts with the subscription's private key. Who gets a push
//! (away members only, never the sender), muting and do not disturb, collapse per
//! conversation, cleanup of gone subscriptions, bounded retries, and sockets never waiting for
//! a push service.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use natter_client::Client;
use natter_wire::{NewPushSubscription, NotificationSettingsChange, PushKeys, Until};

use crate::{
    helpers::*,
    push_service::{Answer, PushService, TestSubscription},
};

/// A server that may push to `service`, with quick retries.
async fn app_for(service: &PushService) -> TestApp {
    let prefix = service.prefix();
    let app = spawn_app_with(move |cfg| {
        cfg.push_allow = vec![prefix];
        cfg.push_backoff = Duration::from_millis(300);
        cfg.push_attempts = 3;
        cfg.outbound_timeout = Duration::from_secs(30);
        cfg.presence_debounce = Duration::from_millis(50);
    })
    .await;
    let key = app.anon().vapid_key().await.unwrap();
    service.expect_vapid_key(&key.public_key);
    app
}

/// A new subscription of `service`, registered by `client`'s session.
async fn subscribe(service: &PushService, client: &Client) -> TestSubscription {
    let sub = service.subscription();
    client
        .add_push_subscription(&sub.to_wire())
        .await
        .expect("the subscription is registered");
    sub
}

/// Waits until `service` has got `n` requests for `sub`.
async fn wait_attempts(service: &PushService, sub: &TestSubscription, n: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while service.attempts(sub) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} attempts for {sub:?}, not {n}",
            service.attempts(sub)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_vapid_key_is_made_once_kept_and_served_without_a_token() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let config = move |cfg: &mut natter_server::Config| cfg.data_dir = dir.clone();
    let app = spawn_app_with(config.clone()).await;
    let key = app.anon().vapid_key().await.unwrap().public_key;
    let point = URL_SAFE_NO_PAD.decode(&key).unwrap();
    assert_eq!(point.len(), 65);
    assert_eq!(point[0], 4, "an uncompressed point");
    assert!(p256::PublicKey::from_sec1_bytes(&point).is_ok());
    let kept = app.shutdown_keeping_database().await;
    let url = kept.database_url.clone();
    let app = spawn_app_with(move |cfg| {
        config(cfg);
        cfg.database_url = url;
    })
    .await;
    assert_eq!(app.anon().vapid_key().await.unwrap().public_key, key);
    app.shutdown().await;
}

#[tokio::test]
async fn a_subscription_belongs_to_its_session_and_goes_with_it() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (phone, _) = app.user("alice").await;
    let (laptop, _) = app.login("alice", Some("laptop")).await;
    let (bob, _) = app.user("bob").await;

    let first = service.subscription();
    let made = phone.add_push_subscription(&first.to_wire()).await.unwrap();
    assert_eq!(made.endpoint, first.endpoint);
    assert_timestamp(&made.created_at);
    let phone_session = phone.sessions().await.unwrap();
    let phone_session = phone_session
        .sessions
        .iter()
        .find(|s| s.current)
        .unwrap()
        .id
        .clone();
    assert_eq!(made.session_id, phone_session);

    // The same session subscribing again replaces its subscription.
    let second = service.subscription();
    let replaced = phone
        .add_push_subscription(&second.to_wire())
        .await
        .unwrap();
    let listed = phone.push_subscriptions().await.unwrap().subscriptions;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, replaced.id);
    assert_eq!(listed[0].endpoint, second.endpoint);

    // Another device of the same user has its own; the listing shows both.
    let third = service.subscription();
    laptop
        .add_push_subscription(&third.to_wire())
        .await
        .unwrap();
    let listed = laptop.push_subscriptions().await.unwrap().subscriptions;
    assert_eq!(
        listed
            .iter()
            .map(|s| s.endpoint.as_str())
            .collect::<Vec<_>>(),
        [second.endpoint.as_str(), third.endpoint.as_str()]
    );

    // Another user cannot delete it (nor see it).
    assert_api_error(
        bob.delete_push_subscription(&replaced.id).await,
        404,
        "not_found",
    );
    assert!(
        bob.push_subscriptions()
            .await
            .unwrap()
            .subscriptions
            .is_empty()
    );

    // Logging the laptop out deletes its subscription.
    phone.revoke_session(&listed[1].session_id).await.unwrap();
    let listed = phone.push_subscriptions().await.unwrap().subscriptions;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].endpoint, second.endpoint);

    // Deleted by its owner: 204, then 404.
    phone.delete_push_subscription(&replaced.id).await.unwrap();
    assert_api_error(
        phone.delete_push_subscription(&replaced.id).await,
        404,
        "not_found",
    );
    assert!(
        phone
            .push_subscriptions()
            .await
            .unwrap()
            .subscriptions
            .is_empty()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_subscriptions_are_refused() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let good = service.subscription().to_wire();
    let with = |endpoint: &str, p256dh: &str, auth: &str| NewPushSubscription {
        endpoint: endpoint.into(),
        keys: PushKeys {
            p256dh: p256dh.into(),
            auth: auth.into(),
        },
    };
    let (p, a) = (good.keys.p256dh.as_str(), good.keys.auth.as_str());
    let not_on_curve = URL_SAFE_NO_PAD.encode([4u8; 65]);
    let compressed = {
        let point = URL_SAFE_NO_PAD.decode(p).unwrap();
        let key = p256::PublicKey::from_sec1_bytes(&point).unwrap();
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        URL_SAFE_NO_PAD.encode(key.to_encoded_point(true).as_bytes())
    };
    let short_auth = URL_SAFE_NO_PAD.encode([7u8; 15]);
    let cases = [
        with("http://push.example.com/abc", p, a),
        with("https://127.0.0.1/abc", p, a),
        with("https://localhost/abc", p, a),
        with("https://10.0.0.7/abc", p, a),
        with("not a url", p, a),
        with(
            &format!(
                "{}other/x",
                service.origin().replace("127.0.0.1", "127.0.0.2")
            ),
            p,
            a,
        ),
        with(&good.endpoint, "", a),
        with(&good.endpoint, "not base64!", a),
        with(&good.endpoint, &not_on_curve, a),
        with(&good.endpoint, &compressed, a),
        with(&good.endpoint, p, &short_auth),
        with(&good.endpoint, p, ""),
    ];
    for case in cases {
        assert_api_error(
            alice.add_push_subscription(&case).await,
            400,
            "invalid_request",
        );
    }
    // A missing field is 400 too.
    let resp = alice
        .raw_json(
            "POST",
            "/api/v1/push/subscriptions",
            &serde_json::json!({"endpoint": good.endpoint}),
        )
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");

    // The endpoint's length: 2048 bytes is fine, 2049 is not.
    let prefix = format!("{}/push/", service.origin());
    let at = format!("{prefix}{}", "x".repeat(2048 - prefix.len()));
    assert_eq!(at.len(), 2048);
    alice.add_push_subscription(&with(&at, p, a)).await.unwrap();
    let past = format!("{at}x");
    assert_api_error(
        alice.add_push_subscription(&with(&past, p, a)).await,
        400,
        "invalid_request",
    );
    assert!(service.errors().is_empty(), "{:?}", service.errors());
    app.shutdown().await;
}

#[tokio::test]
async fn only_members_that_are_away_get_a_push_encrypted_for_their_device() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let (dave, d) = app.user("dave").await;
    let alice_sub = subscribe(&service, &alice).await;
    let bob_sub = subscribe(&service, &bob).await;
    let carol_sub = subscribe(&service, &carol).await;
    let dave_sub = subscribe(&service, &dave).await;
    bob.update_profile("Bob B.").await.unwrap();
    alice.update_profile("Alice A.").await.unwrap();
    let group = alice
        .create_group("Team", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    // Carol is looking: a socket is connected.
    let mut carol_ws = carol.connect(None).await.unwrap();

    let m = alice.send_text(&group.id, "hello team").await.unwrap();
    let push = service.next_push(&bob_sub).await;
    let p = &push.payload;
    assert_eq!(p.kind, "new_message");
    assert_eq!(p.conversation_id, group.id);
    assert_eq!(p.conversation_kind, "group");
    assert_eq!(p.conversation_name.as_deref(), Some("Team"));
    assert_eq!(p.message_id, m.id);
    assert_eq!(p.seq, m.seq);
    assert_eq!(p.sender.id, a.id);
    assert_eq!(p.sender.display_name, "Alice A.");
    assert!(!p.mention);
    assert_eq!(p.sent_at, m.created_at);
    assert_eq!(
        p.preview, None,
        "no preview unless the user allows previews"
    );
    assert_eq!(push.ttl, 86_400);
    assert_eq!(push.urgency.as_deref(), Some("normal"));
    let topic = push.topic.clone().expect("a Topic");
    assert_eq!(topic.len(), 32);

    // A later message elsewhere is pushed after it: by then any push for the first message
    // was sent, and none went to carol (looking) or alice (its sender).
    let direct = alice.direct(&d.id).await.unwrap().value;
    alice.send_text(&direct.id, "hi dave").await.unwrap();
    let to_dave = service.next_push(&dave_sub).await;
    assert_eq!(to_dave.payload.conversation_kind, "direct");
    assert_eq!(to_dave.payload.conversation_name, None);
    assert_eq!(to_dave.urgency.as_deref(), Some("high"), "a direct message");
    assert_ne!(to_dave.topic.as_deref(), Some(topic.as_str()));
    assert_eq!(service.attempts(&carol_sub), 0);
    assert_eq!(service.attempts(&alice_sub), 0);
    assert_eq!(service.received(&bob_sub).len(), 1);
    // Carol got it on her socket.
    let e = next_event(&mut carol_ws).await;
    assert!(matches!(e.event, natter_client::EventData::NewMessage(_)));

    // Once carol's socket is gone (and the debounce is over), carol is away too.
    drop(carol_ws);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        alice.send_text(&group.id, "are you there").await.unwrap();
        bob_drain(&service, &bob_sub).await;
        if service.attempts(&carol_sub) > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "carol never got a push"
        );
    }
    let to_carol = service.next_push(&carol_sub).await;
    assert_eq!(to_carol.payload.conversation_id, group.id);
    assert!(service.errors().is_empty(), "{:?}", service.errors());
    app.shutdown().await;
}

/// Takes bob's next push (each message of the group makes one).
async fn bob_drain(service: &PushService, sub: &TestSubscription) {
    service.next_push(sub).await;
}

#[tokio::test]
async fn previews_mentions_and_urgency_follow_the_settings() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let bob_sub = subscribe(&service, &bob).await;
    let group = alice
        .create_group("Team", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    let settings = bob
        .update_notification_settings(&NotificationSettingsChange {
            previews: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(settings.previews);
    let long = format!("{} end", "word ".repeat(40));
    alice.send_text(&group.id, &long).await.unwrap();
    let push = service.next_push(&bob_sub).await;
    let preview = push.payload.preview.expect("a preview");
    assert!(preview.ends_with('…'), "{preview}");
    assert_eq!(preview.chars().count(), 121);
    assert!(long.starts_with(preview.trim_end_matches('…')));

    alice.send_text(&group.id, "@bob look").await.unwrap();
    let push = service.next_push(&bob_sub).await;
    assert!(push.payload.mention);
    assert_eq!(push.payload.preview.as_deref(), Some("@bob look"));
    assert_eq!(push.urgency.as_deref(), Some("high"), "a mention");
    assert!(service.errors().is_empty(), "{:?}", service.errors());
    app.shutdown().await;
}

#[tokio::test]
async fn muted_conversations_and_do_not_disturb_push_nothing_but_chosen_mentions() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let bob_sub = subscribe(&service, &bob).await;
    let (carol, c) = app.user("carol").await;
    let group = alice
        .create_group("Noisy", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    let quiet = alice.direct(&b.id).await.unwrap().value;

    // Muted until unmuted.
    let mute = bob.mute(&group.id, None).await.unwrap();
    assert_eq!(mute.conversation_id, group.id);
    assert_eq!(mute.until, None);
    let settings = bob.notification_settings().await.unwrap();
    assert_eq!(settings.muted.len(), 1);
    assert_eq!(settings.muted[0].conversation_id, group.id);

    // `barrier` proves what came before it was considered: it comes from the unmuted direct
    // conversation, after the message that must not push.
    let mut expected = 0;
    let barrier = |text: &'static str| {
        let alice = alice.clone();
        let quiet = quiet.id.clone();
        async move { alice.send_text(&quiet, text).await.unwrap() }
    };
    alice.send_text(&group.id, "muted chatter").await.unwrap();
    barrier("barrier 1").await;
    expected += 1;
    let got = service.next_push(&bob_sub).await;
    assert_eq!(
        got.payload.conversation_id, quiet.id,
        "the muted message pushed nothing"
    );

    // A mention still pushes from a muted conversation (the default)…
    alice
        .send_text(&group.id, "@bob you are needed")
        .await
        .unwrap();
    let got = service.next_push(&bob_sub).await;
    expected += 1;
    assert_eq!(got.payload.conversation_id, group.id);
    assert!(got.payload.mention);
    assert!(!got.payload.reply);
    // …and so does a reply to one of bob's messages, urgently, where a reply to another's
    // message does not.
    let bobs = bob.send_text(&group.id, "my question").await.unwrap();
    let carols = carol
        .send_text(&group.id, "carol's question")
        .await
        .unwrap();
    let reply = |to: &str, text: &str| natter_wire::SendMessageRequest {
        text: Some(text.into()),
        reply_to: Some(to.into()),
        ..Default::default()
    };
    alice
        .send_message(&group.id, &reply(&carols.id, "answer to carol"))
        .await
        .unwrap();
    let answer = alice
        .send_message(&group.id, &reply(&bobs.id, "answer to bob"))
        .await
        .unwrap()
        .value;
    let got = service.next_push(&bob_sub).await;
    expected += 1;
    assert_eq!(
        got.payload.message_id, answer.id,
        "only the reply to bob's message"
    );
    assert!(got.payload.reply);
    assert!(!got.payload.mention);
    assert_eq!(got.urgency.as_deref(), Some("high"));
    // …unless bob chose otherwise.
    bob.update_notification_settings(&NotificationSettingsChange {
        mentions_when_muted: Some(false),
        ..Default::default()
    })
    .await
    .unwrap();
    alice.send_text(&group.id, "@bob again").await.unwrap();
    barrier("barrier 2").await;
    expected += 1;
    let got = service.next_push(&bob_sub).await;
    assert_eq!(got.payload.conversation_id, quiet.id);

    // A mute until a time in the past is refused; in the future it is listed with its time.
    assert_api_error(
        bob.mute(&group.id, Some("2020-01-01T00:00:00.000Z")).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        bob.mute(&group.id, Some("soon")).await,
        400,
        "invalid_request",
    );
    let until = "2999-01-01T00:00:00.000Z";
    assert_eq!(
        bob.mute(&group.id, Some(until))
            .await
            .unwrap()
            .until
            .as_deref(),
        Some(until)
    );
    let settings = bob.notification_settings().await.unwrap();
    assert_eq!(settings.muted[0].until.as_deref(), Some(until));

    // Unmuted: it pushes again.
    bob.unmute(&group.id).await.unwrap();
    bob.unmute(&group.id).await.unwrap();
    assert!(bob.notification_settings().await.unwrap().muted.is_empty());
    alice.send_text(&group.id, "unmuted").await.unwrap();
    let got = service.next_push(&bob_sub).await;
    expected += 1;
    assert_eq!(got.payload.conversation_id, group.id);

    // Do not disturb: nothing at all, mentions included, until turned off.
    let settings = bob
        .update_notification_settings(&NotificationSettingsChange {
            dnd: Some(Some(Until { until: None })),
            mentions_when_muted: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(settings.dnd, Some(Until { until: None }));
    let carol_sub = subscribe(&service, &carol).await;
    alice.send_text(&group.id, "@bob during dnd").await.unwrap();
    alice
        .send_text(&quiet.id, "direct during dnd")
        .await
        .unwrap();
    // Carol, away too, gets the group's next message: by then both were considered for bob.
    let for_carol = alice.send_text(&group.id, "for carol").await.unwrap();
    while service.next_push(&carol_sub).await.payload.message_id != for_carol.id {}
    let settings = bob
        .update_notification_settings(&NotificationSettingsChange {
            dnd: Some(None),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(settings.dnd, None);
    barrier("barrier 3").await;
    let got = service.next_push(&bob_sub).await;
    expected += 1;
    assert_eq!(got.payload.preview, None);
    assert_eq!(
        service.received(&bob_sub).len(),
        expected,
        "nothing else was pushed"
    );

    // Do not disturb until a time in the past: 400.
    let past = bob
        .update_notification_settings(&NotificationSettingsChange {
            dnd: Some(Some(Until {
                until: Some("2020-01-01T00:00:00.000Z".into()),
            })),
            ..Default::default()
        })
        .await;
    assert_api_error(past, 400, "invalid_request");

    // Muting a conversation of someone else's: 404.
    let (dave, _) = app.user("dave").await;
    assert_api_error(dave.mute(&group.id, None).await, 404, "not_found");
    assert_api_error(dave.unmute(&group.id).await, 404, "not_found");
    assert!(service.errors().is_empty(), "{:?}", service.errors());
    app.shutdown().await;
}

#[tokio::test]
async fn a_burst_reaches_a_sleeping_device_as_one_notification() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let bob_sub = subscribe(&service, &bob).await;
    // The first push fails once: the rest of the burst waits behind it meanwhile.
    service.answer(&bob_sub, Answer::FailTimes(1, 503));
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut last = None;
    for i in 0..10 {
        last = Some(alice.send_text(&conv.id, &format!("m{i}")).await.unwrap());
    }
    let last = last.unwrap();
    // What the device would get when it wakes: one notification, the newest message.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let pending = service.pending(&bob_sub);
        if pending.len() == 1 && pending[0].payload.message_id == last.id {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pending: {:?}",
            pending.iter().map(|p| p.payload.seq).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the server itself sent far fewer pushes than messages: the waiting ones collapsed.
    let sent = service.received(&bob_sub).len();
    assert!(sent < 10, "{sent} pushes for a burst of 10");
    app.shutdown().await;
}

#[tokio::test]
async fn a_subscription_the_push_service_says_is_gone_is_deleted() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (bob_laptop, _) = app.login("bob", Some("laptop")).await;
    let gone = subscribe(&service, &bob).await;
    let missing = subscribe(&service, &bob_laptop).await;
    service.answer(&gone, Answer::Gone);
    service.answer(&missing, Answer::NotFound);
    let conv = alice.direct(&b.id).await.unwrap().value;
    alice.send_text(&conv.id, "hello").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !bob
        .push_subscriptions()
        .await
        .unwrap()
        .subscriptions
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        service.attempts(&gone),
        1,
        "a gone subscription is not retried"
    );
    assert_eq!(service.attempts(&missing), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_failing_push_service_is_retried_a_few_times_and_never_delays_sockets() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let (dave, d) = app.user("dave").await;
    let failing = subscribe(&service, &bob).await;
    let hanging = subscribe(&service, &dave).await;
    service.answer(&failing, Answer::Status(500));
    service.answer(&hanging, Answer::Hang);
    let group = alice
        .create_group("G", &[b.id.as_str(), c.id.as_str(), d.id.as_str()])
        .await
        .unwrap();
    let mut carol_ws = carol.connect(None).await.unwrap();
    for i in 0..5 {
        alice.send_text(&group.id, &format!("m{i}")).await.unwrap();
    }
    // The socket gets every message while one push service hangs and another fails.
    for i in 0..5 {
        let e = next_event(&mut carol_ws).await;
        match e.event {
            natter_client::EventData::NewMessage(m) => {
                assert_eq!(m.text.as_deref(), Some(format!("m{i}").as_str()))
            }
            other => panic!("expected new_message, got {other:?}"),
        }
    }
    assert!(
        service.attempts(&hanging) <= 1,
        "one push in flight at a time per device"
    );
    // Bounded: three attempts at the first push, then it is dropped, and the subscription
    // (not gone, only failing) stays.
    wait_attempts(&service, &failing, 3).await;
    assert!(
        !bob.push_subscriptions()
            .await
            .unwrap()
            .subscriptions
            .is_empty()
    );
    drop(dave);
    app.shutdown().await;
}

#[tokio::test]
async fn a_push_whose_receivers_cannot_be_read_is_sent_at_the_next_turn() {
    let service = PushService::start().await;
    let prefix = service.prefix();
    let (app, store) = spawn_app_on_faulty_store_with(move |cfg| {
        cfg.push_allow = vec![prefix];
        cfg.delivery_lease = Duration::from_millis(600);
    })
    .await;
    service.expect_vapid_key(&app.anon().vapid_key().await.unwrap().public_key);
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let bob_sub = subscribe(&service, &bob).await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    // Reading whom to push to fails twice: the position is not saved past the message, which
    // is read again at the next turn and pushed then, once.
    store.fail_push_target_reads(2);
    let m = alice
        .send_text(&conv.id, "despite the fault")
        .await
        .unwrap();
    let push = service.next_push(&bob_sub).await;
    assert_eq!(push.payload.message_id, m.id);
    let m2 = alice.send_text(&conv.id, "and after it").await.unwrap();
    assert_eq!(service.next_push(&bob_sub).await.payload.message_id, m2.id);
    assert_eq!(
        service.received(&bob_sub).len(),
        2,
        "each message pushed once"
    );
    let metrics = app
        .anon()
        .raw("GET", "/metrics", None)
        .await
        .unwrap()
        .text();
    assert!(
        metrics.contains(r#"natter_pushes_total{outcome="sent"} 2"#),
        "{metrics}"
    );
    assert!(service.errors().is_empty(), "{:?}", service.errors());
    app.shutdown().await;
}

#[tokio::test]
async fn a_member_added_after_pushes_began_gets_them_too() {
    let service = PushService::start().await;
    let app = app_for(&service).await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (dave, d) = app.user("dave").await;
    let bob_sub = subscribe(&service, &bob).await;
    let dave_sub = subscribe(&service, &dave).await;
    let group = alice.create_group("Team", &[b.id.as_str()]).await.unwrap();
    alice.send_text(&group.id, "before dave").await.unwrap();
    service.next_push(&bob_sub).await;
    // The pusher knew the group's members; the change of members is in the log.
    alice.add_member(&group.id, &d.id, None).await.unwrap();
    let m = alice.send_text(&group.id, "welcome dave").await.unwrap();
    assert_eq!(service.next_push(&dave_sub).await.payload.message_id, m.id);
    assert_eq!(
        service.received(&dave_sub).len(),
        1,
        "nothing from before it joined"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_server_refuses_to_start_with_a_bad_vapid_subject_or_allow_list() {
    for (subject, allow) in [
        ("ops@example.com", ""),
        ("http://example.com", ""),
        ("mailto:ops@example.com", "not a url"),
        ("mailto:ops@example.com", "ftp://example.com/"),
    ] {
        let data = tempfile::tempdir().unwrap();
        let config = natter_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.path().to_path_buf(),
            vapid_subject: subject.into(),
            webhook_allow: if allow.is_empty() {
                Vec::new()
            } else {
                vec![allow.into()]
            },
            ..natter_server::Config::default()
        };
        match natter_server::start(config).await {
            Err(natter_server::ServeError::Config(why)) => {
                assert!(
                    why.contains("vapid_subject") || why.contains("webhook_allow"),
                    "{why}"
                )
            }
            Err(other) => panic!("{subject} / {allow}: {other}"),
            Ok(_) => panic!("{subject} / {allow}: the server started"),
        }
    }
}
