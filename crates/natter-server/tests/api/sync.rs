//! Polling: `GET /sync` pages through the same event log as the WebSocket, with the same
//! cursors, and long-polls until an event exists.

use std::time::Duration;

use natter_client::{ControlFrame, EventData, ServerFrame};

use crate::helpers::*;

fn seq_of(e: &EventData) -> i64 {
    match e {
        EventData::NewMessage(m) => m.seq,
        other => panic!("expected new_message, got {other:?}"),
    }
}

#[tokio::test]
async fn sync_without_since_returns_the_cursor_and_no_events() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    alice.send_text(&conv.id, "before").await.unwrap();

    let r = alice.sync(None, None, None).await.unwrap();
    assert!(r.events.is_empty());
    assert!(!r.has_more);
    assert!(!r.next_cursor.is_empty());
    // It is the head: nothing after it yet.
    let after = alice.sync(Some(&r.next_cursor), None, None).await.unwrap();
    assert!(after.events.is_empty());
    assert_eq!(after.next_cursor, r.next_cursor);

    let resp = alice.raw("GET", "/api/v1/sync", None).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_json_content_type(&resp);
    let resp = app.anon().raw("GET", "/api/v1/sync", None).await.unwrap();
    assert_error_response(&resp, 401, "unauthorized");
}

#[tokio::test]
async fn sync_pages_through_the_events_after_since() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let since = bob.sync(None, None, None).await.unwrap().next_cursor;
    for i in 1..=5 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }

    let mut cursor = since.clone();
    let mut pages = vec![];
    loop {
        let r = bob.sync(Some(&cursor), Some(2), None).await.unwrap();
        assert!(r.events.len() <= 2, "at most limit events");
        if let Some(last) = r.events.last() {
            assert_eq!(
                r.next_cursor, last.cursor,
                "next_cursor is the last event's"
            );
        } else {
            assert_eq!(r.next_cursor, cursor, "no events: the cursor stays");
        }
        pages.push((
            r.events
                .iter()
                .map(|e| seq_of(&e.event))
                .collect::<Vec<_>>(),
            r.has_more,
        ));
        cursor = r.next_cursor;
        if !r.has_more {
            break;
        }
        assert!(pages.len() < 10, "has_more never ended: {pages:?}");
    }
    assert_eq!(
        pages,
        vec![(vec![1, 2], true), (vec![3, 4], true), (vec![5], false)]
    );
    let again = bob.sync(Some(&cursor), Some(2), None).await.unwrap();
    assert!(again.events.is_empty());
    assert!(!again.has_more);
    assert_eq!(again.next_cursor, cursor);

    // The sender's own sends are in its log too.
    let own = alice.sync(Some(&since), None, None).await.unwrap();
    let seqs: Vec<i64> = own.events.iter().map(|e| seq_of(&e.event)).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert!(!own.has_more);
}

#[tokio::test]
async fn sync_and_websocket_cursors_are_the_same_thing() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    // A WebSocket cursor resumes /sync...
    let mut ws = bob.connect(None).await.unwrap();
    let first = alice.send_text(&conv.id, "one").await.unwrap();
    let live = next_event(&mut ws).await;
    let polled = bob.sync(Some(&ws.ready.cursor), None, None).await.unwrap();
    assert_eq!(polled.events.len(), 1);
    assert_eq!(
        polled.events[0], live,
        "the same event with the same cursor"
    );
    match &polled.events[0].event {
        EventData::NewMessage(m) => assert_eq!(m.id, first.id),
        other => panic!("expected new_message, got {other:?}"),
    }

    // ...and a /sync cursor resumes the WebSocket.
    let second = alice.send_text(&conv.id, "two").await.unwrap();
    let mut ws2 = bob.connect(Some(&polled.next_cursor)).await.unwrap();
    match next_event(&mut ws2).await.event {
        EventData::NewMessage(m) => assert_eq!(m.id, second.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    assert_quiet(&mut ws2).await;
}

#[tokio::test]
async fn a_long_poll_wakes_when_an_event_arrives() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let since = bob.sync(None, None, None).await.unwrap().next_cursor;

    let sender = {
        let (alice, conv) = (alice.clone(), conv.id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            alice.send_text(&conv, "wake up").await.unwrap()
        })
    };
    // It waits up to 30 s; it must answer long before, once the message exists.
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        bob.sync(Some(&since), None, Some(30_000)),
    )
    .await
    .expect("the long poll wakes on the new event")
    .unwrap();
    let m = sender.await.unwrap();
    assert_eq!(r.events.len(), 1, "{r:?}");
    match &r.events[0].event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    assert_eq!(r.next_cursor, r.events[0].cursor);

    // With an event already there, a long poll answers at once.
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        bob.sync(Some(&since), None, Some(30_000)),
    )
    .await
    .expect("an event exists: no wait")
    .unwrap();
    assert_eq!(r.events.len(), 1);
}

#[tokio::test]
async fn a_long_poll_is_woken_by_the_callers_events_only() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let bob_since = bob.sync(None, None, None).await.unwrap().next_cursor;
    let carol_since = carol.sync(None, None, None).await.unwrap().next_cursor;

    // Bob and carol poll at once; alice writes to bob and types. None of it is carol's.
    let bob_poll = {
        let (bob, since) = (bob.clone(), bob_since.clone());
        tokio::spawn(async move { bob.sync(Some(&since), None, Some(30_000)).await })
    };
    let carol_poll = {
        let (carol, since) = (carol.clone(), carol_since.clone());
        tokio::spawn(async move { carol.sync(Some(&since), None, Some(1_000)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    alice.set_typing(&conv.id, true).await.unwrap();
    let m = alice.send_text(&conv.id, "not for carol").await.unwrap();

    let r = tokio::time::timeout(Duration::from_secs(10), bob_poll)
        .await
        .expect("bob's long poll wakes")
        .unwrap()
        .unwrap();
    assert_eq!(r.events.len(), 1, "{r:?}");
    match &r.events[0].event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    let r = carol_poll.await.unwrap().unwrap();
    assert!(r.events.is_empty(), "{r:?}");
    assert_eq!(r.next_cursor, carol_since);
    assert!(!r.has_more);
}

#[tokio::test]
async fn a_long_poll_that_times_out_answers_200_with_nothing() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let since = alice.sync(None, None, None).await.unwrap().next_cursor;
    let path = format!("/api/v1/sync?since={since}&timeout_ms=300");
    let resp = alice.raw("GET", &path, None).await.unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["events"], serde_json::json!([]));
    assert_eq!(body["next_cursor"], serde_json::json!(since));
    assert_eq!(body["has_more"], serde_json::json!(false));
}

#[tokio::test]
async fn sync_rejects_malformed_parameters() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let head = alice.sync(None, None, None).await.unwrap().next_cursor;
    for query in [
        "since=abc".to_owned(),
        "since=-1".to_owned(),
        "since=1.5".to_owned(),
        "since=99999999999999999999".to_owned(),
        format!("since={head}&timeout_ms=30001"),
        format!("since={head}&timeout_ms=-1"),
        format!("since={head}&timeout_ms=soon"),
        format!("since={head}&limit=0"),
        format!("since={head}&limit=201"),
        format!("since={head}&limit=many"),
    ] {
        let resp = alice
            .raw("GET", &format!("/api/v1/sync?{query}"), None)
            .await
            .unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }
    // The bounds themselves are fine.
    alice.sync(Some(&head), Some(1), Some(0)).await.unwrap();
    alice.sync(Some(&head), Some(200), None).await.unwrap();
    alice.sync(None, None, Some(30_000)).await.unwrap();
}

#[tokio::test]
async fn a_deleted_message_replays_as_a_tombstone() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let since = bob.sync(None, None, None).await.unwrap().next_cursor;
    let m = alice.send_text(&conv.id, "the secret plan").await.unwrap();
    alice
        .edit_message(&m.id, "the secret plan, v2")
        .await
        .unwrap();
    alice.delete_message(&m.id).await.unwrap();

    let check = |events: &[natter_client::Event]| {
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match &e.event {
                EventData::NewMessage(m) | EventData::MessageUpdated(m) => {
                    assert!(m.deleted, "replayed as a tombstone: {m:?}");
                    assert_eq!(m.text, None);
                    assert_eq!(m.media, None);
                    assert_eq!(m.seq, 1);
                    if matches!(e.event, EventData::NewMessage(_)) {
                        "new"
                    } else {
                        "updated"
                    }
                }
                EventData::MessageDeleted(d) => {
                    assert_eq!(d.message_id, m.id);
                    assert!(!d.for_me);
                    "deleted"
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(kinds, vec!["new", "updated", "deleted"]);
    };
    for client in [&alice, &bob] {
        let r = client.sync(Some(&since), None, None).await.unwrap();
        check(&r.events);
        let raw = client
            .raw("GET", &format!("/api/v1/sync?since={since}"), None)
            .await
            .unwrap();
        assert!(
            !raw.text().contains("secret plan"),
            "no copy of the text: {}",
            raw.text()
        );
    }

    // The WebSocket replays the same tombstone.
    let mut ws = bob.connect(Some(&since)).await.unwrap();
    let mut events = vec![];
    for _ in 0..3 {
        events.push(next_event(&mut ws).await);
    }
    check(&events);
}

#[tokio::test]
async fn a_cursor_older_than_the_log_is_resync_required() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let config = move |retention: Duration| {
        let dir = dir.clone();
        move |cfg: &mut natter_server::Config| {
            cfg.data_dir = dir;
            cfg.event_retention = retention;
        }
    };

    let app = spawn_app_with(config(Duration::from_secs(30 * 24 * 3600))).await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let old = alice.sync(None, None, None).await.unwrap().next_cursor;
    let conv = alice.direct(&b.id).await.unwrap().value;
    for i in 0..3 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
    let kept = app.shutdown_keeping_database().await;

    // Restarted with a retention of 1 ms, the server prunes those events.
    let url = kept.database_url.clone();
    let restart = config(Duration::from_millis(1));
    let app = spawn_app_with(move |cfg| {
        restart(cfg);
        cfg.database_url = url;
    })
    .await;
    let (alice, _) = app.login("alice", None).await;
    let deadline = tokio::time::Instant::now() + ARRIVES;
    let resp = loop {
        let resp = alice
            .raw("GET", &format!("/api/v1/sync?since={old}"), None)
            .await
            .unwrap();
        if resp.status != 200 || tokio::time::Instant::now() > deadline {
            break resp;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_error_response(&resp, 410, "resync_required");

    // The WebSocket: ready echoes since, then resync_required; then the live stream.
    let mut ws = alice.connect(Some(&old)).await.unwrap();
    assert_eq!(ws.ready.cursor, old);
    let resync = match next_frame(&mut ws).await {
        ServerFrame::Control(ControlFrame::ResyncRequired { cursor }) => cursor,
        other => panic!("expected resync_required, got {other:?}"),
    };
    let m = alice.send_text(&conv.id, "after the resync").await.unwrap();
    let e = next_event(&mut ws).await;
    match &e.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    // Resuming from the cursor resync_required gave (or the head) works again.
    let from = resync.unwrap_or_else(|| e.cursor.clone());
    let r = alice.sync(Some(&from), None, None).await.unwrap();
    assert!(r.events.iter().all(|x| x.cursor != from));
    assert!(r.events.len() <= 1);
    app.shutdown().await;
    drop(data);
}

/// The server's count of waiting long polls (`natter_long_polls`).
async fn long_polls_waiting(app: &TestApp) -> f64 {
    let m = app
        .anon()
        .raw("GET", "/metrics", None)
        .await
        .unwrap()
        .text();
    m.lines()
        .find(|l| l.starts_with("natter_long_polls "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("a natter_long_polls gauge")
}

#[tokio::test]
async fn a_user_may_have_32_long_polls_waiting_and_one_event_answers_them_all() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let since = bob.sync(None, None, None).await.unwrap().next_cursor;

    let polls: Vec<_> = (0..32)
        .map(|_| {
            let (bob, since) = (bob.clone(), since.clone());
            tokio::spawn(async move { bob.sync(Some(&since), None, Some(30_000)).await })
        })
        .collect();
    // Waits until the server holds all 32 (no answer can tell before an event comes).
    let deadline = tokio::time::Instant::now() + ARRIVES;
    while long_polls_waiting(&app).await < 32.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the polls did not all wait"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The 33rd is refused with Retry-After; a poll that does not wait, and another user's,
    // are not.
    let refused = bob
        .raw_with_headers(
            "GET",
            &format!("/api/v1/sync?since={since}&timeout_ms=30000"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_error_response(&refused.to_raw(), 429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    bob.sync(Some(&since), None, Some(0)).await.unwrap();
    let alices = alice.sync(None, None, None).await.unwrap().next_cursor;
    alice.sync(Some(&alices), None, Some(1)).await.unwrap();

    // One message answers every waiting poll with it.
    let m = alice.send_text(&conv.id, "wake up").await.unwrap();
    for poll in polls {
        let r = tokio::time::timeout(ARRIVES, poll)
            .await
            .expect("every poll answers")
            .unwrap()
            .unwrap();
        assert_eq!(r.events.len(), 1);
        match &r.events[0].event {
            EventData::NewMessage(got) => assert_eq!(got.id, m.id),
            other => panic!("expected new_message, got {other:?}"),
        }
    }
    // Their places are free again.
    let deadline = tokio::time::Instant::now() + ARRIVES;
    while long_polls_waiting(&app).await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the polls did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = bob.sync(Some(&since), None, Some(30_000)).await.unwrap();
    assert_eq!(r.events.len(), 1);
}
