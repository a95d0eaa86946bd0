//! Typing and presence: ephemeral frames that go to the other members (typing) or to the users
//! who share a conversation (presence), never to the originator and never to anyone else.

use std::time::Duration;

use natter_client::{Client, Ephemeral, EventData, ServerFrame, Socket, TypingData};

use crate::helpers::*;

/// The next frame must be a typing frame; returns (started, data).
async fn next_typing(socket: &mut Socket) -> (bool, TypingData) {
    match next_frame(socket).await {
        ServerFrame::Ephemeral(Ephemeral::TypingStart(d)) => (true, d),
        ServerFrame::Ephemeral(Ephemeral::TypingStop(d)) => (false, d),
        other => panic!("expected a typing frame, got {other:?}"),
    }
}

#[track_caller]
fn assert_typing(got: (bool, TypingData), started: bool, conversation_id: &str, user_id: &str) {
    let what = if started {
        "typing_start"
    } else {
        "typing_stop"
    };
    assert_eq!(got.0, started, "expected {what}, got {got:?}");
    assert_eq!(
        got.1.conversation_id, conversation_id,
        "{what}'s conversation"
    );
    assert_eq!(got.1.user_id, user_id, "{what}'s user");
}

/// Alice and Bob share a group; Carol shares only a direct conversation with Alice (so she
/// hears of Alice's presence, never of her typing in the group).
struct World {
    alice: Client,
    a: String,
    bob: Client,
    b: String,
    carol: Client,
    group: String,
}

async fn world(app: &TestApp) -> World {
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("typists", &[&b.id]).await.unwrap().id;
    alice.direct(&c.id).await.unwrap();
    World {
        alice,
        a: a.id,
        bob,
        b: b.id,
        carol,
        group,
    }
}

// ---- Typing ----

#[tokio::test]
async fn typing_reaches_the_other_members_only_and_renewal_is_silent() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut wa = w.alice.connect(None).await.unwrap();
    let mut wb = w.bob.connect(None).await.unwrap();
    let mut wc = w.carol.connect(None).await.unwrap();

    wa.typing(&w.group, true).await.unwrap();
    assert_typing(next_typing(&mut wb).await, true, &w.group, &w.a);
    assert_quiet(&mut wa).await; // never to the typer
    assert_quiet(&mut wc).await; // never to a non-member

    // Renewed within the window: no new typing_start.
    wa.typing(&w.group, true).await.unwrap();
    assert_quiet(&mut wb).await;

    wa.typing(&w.group, false).await.unwrap();
    assert_typing(next_typing(&mut wb).await, false, &w.group, &w.a);
    assert_quiet(&mut wa).await;
    assert_quiet(&mut wc).await;

    // A new start after the stop is announced again.
    wa.typing(&w.group, true).await.unwrap();
    assert_typing(next_typing(&mut wb).await, true, &w.group, &w.a);
}

#[tokio::test]
async fn typing_reaches_every_device_of_the_other_members() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let (bob2, _) = app.login("bob", Some("phone")).await;
    let (alice2, _) = app.login("alice", Some("phone")).await;
    let mut wa = w.alice.connect(None).await.unwrap();
    let mut wa2 = alice2.connect(None).await.unwrap();
    let mut wb = w.bob.connect(None).await.unwrap();
    let mut wb2 = bob2.connect(None).await.unwrap();

    wa.typing(&w.group, true).await.unwrap();
    assert_typing(next_typing(&mut wb).await, true, &w.group, &w.a);
    assert_typing(next_typing(&mut wb2).await, true, &w.group, &w.a);
    // Not to the typer's other devices either: typing goes to the *other* members.
    assert_quiet(&mut wa2).await;
}

#[tokio::test]
async fn sending_a_message_stops_typing_at_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut wa = w.alice.connect(None).await.unwrap();
    let mut wb = w.bob.connect(None).await.unwrap();

    wa.typing(&w.group, true).await.unwrap();
    assert_typing(next_typing(&mut wb).await, true, &w.group, &w.a);

    let m = w.alice.send_text(&w.group, "done typing").await.unwrap();
    let (mut stopped, mut message) = (false, false);
    while !(stopped && message) {
        match next_frame(&mut wb).await {
            ServerFrame::Ephemeral(Ephemeral::TypingStop(d)) if !stopped => {
                assert_eq!(
                    (d.conversation_id, d.user_id),
                    (w.group.clone(), w.a.clone())
                );
                stopped = true;
            }
            ServerFrame::Event(e) if !message => match e.event {
                EventData::NewMessage(got) => {
                    assert_eq!(got.id, m.id);
                    message = true;
                }
                other => panic!("expected new_message, got {other:?}"),
            },
            other => panic!("expected typing_stop and new_message, got {other:?}"),
        }
    }
    assert_quiet(&mut wb).await;
    // The typer's own device gets its message, never a typing frame.
    match next_event(&mut wa).await.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    assert_quiet(&mut wa).await;

    // Sending without typing first makes no typing frame at all.
    w.alice.send_text(&w.group, "again").await.unwrap();
    assert!(matches!(next_frame(&mut wb).await, ServerFrame::Event(_)));
    assert_quiet(&mut wb).await;
}

#[tokio::test]
async fn typing_stops_5_s_after_the_last_start() {
    // The default typing timeout: the contract's 5 s.
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut wa = w.alice.connect(None).await.unwrap();
    let mut wb = w.bob.connect(None).await.unwrap();

    wa.typing(&w.group, true).await.unwrap();
    assert_typing(next_typing(&mut wb).await, true, &w.group, &w.a);
    // Renewed 2 s later: the stop is due 5 s after the renewal, not after the start.
    assert_silent_but_presence(&mut wb, Duration::from_secs(2)).await;
    wa.typing(&w.group, true).await.unwrap();
    assert_silent_but_presence(&mut wb, Duration::from_secs(4)).await;
    let got = match wb.next_within(Duration::from_secs(3)).await {
        Ok(Some(ServerFrame::Ephemeral(Ephemeral::TypingStop(d)))) => (false, d),
        other => panic!("expected typing_stop about 5 s after the last start, got {other:?}"),
    };
    assert_typing(got, false, &w.group, &w.a);
    assert_quiet(&mut wa).await;
}

/// Asserts that only presence frames arrive on `socket` for `wait`.
async fn assert_silent_but_presence(socket: &mut Socket, wait: Duration) {
    let until = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, socket.next()).await {
            Err(_) => return,
            Ok(Ok(ServerFrame::Ephemeral(Ephemeral::PresenceUpdate(_)))) => {}
            Ok(other) => panic!("expected nothing for {wait:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn typing_over_rest_works_the_same() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut wa = w.alice.connect(None).await.unwrap();
    let mut wc = w.carol.connect(None).await.unwrap();

    let path = format!("/api/v1/conversations/{}/typing", w.group);
    let resp = w
        .bob
        .raw_json("POST", &path, &serde_json::json!({"typing": true}))
        .await
        .unwrap();
    assert_no_content(&resp);
    assert_typing(next_typing(&mut wa).await, true, &w.group, &w.b);
    w.bob.set_typing(&w.group, true).await.unwrap();
    assert_quiet(&mut wa).await; // a renewal
    w.bob.set_typing(&w.group, false).await.unwrap();
    assert_typing(next_typing(&mut wa).await, false, &w.group, &w.b);
    assert_quiet(&mut wc).await;

    // Started over REST, ended by a send.
    w.bob.set_typing(&w.group, true).await.unwrap();
    assert_typing(next_typing(&mut wa).await, true, &w.group, &w.b);
    w.bob.send_text(&w.group, "sent").await.unwrap();
    let mut stopped = false;
    for _ in 0..2 {
        if let ServerFrame::Ephemeral(Ephemeral::TypingStop(d)) = next_frame(&mut wa).await {
            assert_eq!(d.user_id, w.b);
            stopped = true;
        }
    }
    assert!(stopped, "typing_stop after the send");

    // Non-members and unknown conversations: 404; a missing field: 400.
    assert_api_error(w.carol.set_typing(&w.group, true).await, 404, "not_found");
    assert_api_error(w.carol.set_typing("nope", true).await, 404, "not_found");
    let resp = w
        .carol
        .raw_json("POST", &path, &serde_json::json!({"typing": true}))
        .await
        .unwrap();
    assert_error_response(&resp, 404, "not_found");
    let resp = w
        .bob
        .raw_json("POST", &path, &serde_json::json!({}))
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
    let resp = app
        .anon()
        .raw_json("POST", &path, &serde_json::json!({"typing": true}))
        .await
        .unwrap();
    assert_error_response(&resp, 401, "unauthorized");
    assert_quiet(&mut wa).await;
}

// ---- Presence ----

/// Presence with a short debounce, so that the tests wait little.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// The next frame must be a presence update about `user_id`; returns (online, last_seen_at).
/// Nothing for `wait` but presence updates about other users.
async fn assert_nothing_about(socket: &mut Socket, user_id: &str, wait: Duration) {
    let until = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, socket.next()).await {
            Err(_) => return,
            Ok(Ok(ServerFrame::Ephemeral(Ephemeral::PresenceUpdate(p))))
                if p.user_id != user_id => {}
            Ok(other) => panic!("expected nothing about {user_id} for {wait:?}, got {other:?}"),
        }
    }
}

async fn next_presence(socket: &mut Socket, user_id: &str) -> (bool, Option<String>) {
    match next_any(socket).await {
        ServerFrame::Ephemeral(Ephemeral::PresenceUpdate(p)) => {
            assert_eq!(p.user_id, user_id, "presence of whom");
            (p.online, p.last_seen_at)
        }
        other => panic!("expected presence_update, got {other:?}"),
    }
}

#[tokio::test]
async fn presence_goes_to_contacts_only_and_reconnects_do_not_flap() {
    let app = spawn_app_with(|c| c.presence_debounce = DEBOUNCE).await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (stranger, _) = app.user("stranger").await;
    alice.direct(&b.id).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let mut ws = stranger.connect(None).await.unwrap();
    assert!(!bob.user(&a.id).await.unwrap().online);

    let mut wa = alice.connect(None).await.unwrap();
    let (online, _) = next_presence(&mut wb, &a.id).await;
    assert!(online);
    assert_silent(&mut ws, QUIET).await; // shares no conversation with alice
    // Never to the originator. Bob's own "online" from when he connected may still reach her
    // if the fan-out sends it only after she connected: that one is true, and allowed.
    assert_nothing_about(&mut wa, &a.id, QUIET).await;
    let seen = bob.user(&a.id).await.unwrap();
    assert!(seen.online);
    assert_timestamp(seen.last_seen_at.as_deref().expect("now, while online"));

    // Away and back within the debounce: no event at all.
    wa.close().await;
    let wa = alice.connect(None).await.unwrap();
    assert_silent(&mut wb, DEBOUNCE * 3).await;
    assert!(bob.user(&a.id).await.unwrap().online);

    // Away for longer: offline, with last_seen_at.
    wa.close().await;
    let (online, last_seen) = next_presence(&mut wb, &a.id).await;
    assert!(!online);
    let last_seen = last_seen.expect("an offline update carries last_seen_at");
    assert_timestamp(&last_seen);
    assert_silent(&mut ws, QUIET).await;
    let seen = bob.user(&a.id).await.unwrap();
    assert!(!seen.online);
    assert_eq!(seen.last_seen_at.as_deref(), Some(last_seen.as_str()));

    // And online again.
    let _wa = alice.connect(None).await.unwrap();
    let (online, _) = next_presence(&mut wb, &a.id).await;
    assert!(online);
    assert!(bob.user(&a.id).await.unwrap().online);
    assert_silent(&mut ws, QUIET).await;
}

#[tokio::test]
async fn a_user_stays_online_while_any_device_is_connected() {
    let app = spawn_app_with(|c| c.presence_debounce = DEBOUNCE).await;
    let (laptop, a) = app.user("alice").await;
    let (phone, _) = app.login("alice", Some("phone")).await;
    let (bob, b) = app.user("bob").await;
    laptop.direct(&b.id).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();

    let wl = laptop.connect(None).await.unwrap();
    assert!(next_presence(&mut wb, &a.id).await.0);
    let wp = phone.connect(None).await.unwrap();
    assert_silent(&mut wb, QUIET).await; // already online

    wl.close().await;
    assert_silent(&mut wb, DEBOUNCE * 3).await;
    assert!(bob.user(&a.id).await.unwrap().online);

    wp.close().await;
    let (online, last_seen) = next_presence(&mut wb, &a.id).await;
    assert!(!online);
    assert!(last_seen.is_some());
    assert!(!bob.user(&a.id).await.unwrap().online);
}

#[tokio::test]
async fn presence_reaches_a_contact_in_a_group_and_not_after_it_left() {
    let app = spawn_app_with(|c| c.presence_debounce = DEBOUNCE).await;
    let (alice, a) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let g = bob.create_group("club", &[&a.id]).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();

    let wa = alice.connect(None).await.unwrap();
    assert!(next_presence(&mut wb, &a.id).await.0);
    wa.close().await;
    assert!(!next_presence(&mut wb, &a.id).await.0);

    // Once alice left the only conversation they shared, bob hears nothing of her.
    alice.remove_member(&g.id, "me").await.unwrap();
    match next_event(&mut wb).await.event {
        EventData::ConversationUpdated(_) => {}
        other => panic!("expected conversation_updated, got {other:?}"),
    }
    let wa = alice.connect(None).await.unwrap();
    assert_silent(&mut wb, QUIET).await;
    wa.close().await;
    assert_silent(&mut wb, DEBOUNCE * 3).await;
}

#[tokio::test]
async fn last_seen_at_is_when_the_last_device_closed() {
    // A long debounce, so that "when it closed" and "when the debounce ran out" differ.
    let debounce = Duration::from_secs(2);
    let app = spawn_app_with(|c| c.presence_debounce = debounce).await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    alice.direct(&b.id).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let wa = alice.connect(None).await.unwrap();
    assert!(next_presence(&mut wb, &a.id).await.0);

    let before = chrono::Utc::now();
    wa.close().await;
    let after = chrono::Utc::now();
    let (online, last_seen) = next_presence(&mut wb, &a.id).await;
    assert!(!online);
    let last_seen = last_seen.expect("last_seen_at");
    let at = chrono::DateTime::parse_from_rfc3339(&last_seen).expect("an RFC 3339 time");
    let slack = chrono::Duration::milliseconds(500);
    assert!(
        at >= before - slack && at <= after + slack,
        "last_seen_at {last_seen} is not when the socket closed (between {before} and {after}); \
         the debounce was {debounce:?}"
    );
    assert_eq!(
        bob.user(&a.id).await.unwrap().last_seen_at.as_deref(),
        Some(last_seen.as_str())
    );
}
