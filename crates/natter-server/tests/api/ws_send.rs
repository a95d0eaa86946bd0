//! The WebSocket `send` frame: the REST send over the socket, answered with `sent` (or an
//! `error`) carrying the frame's `ref`; the message still arrives as `new_message` everywhere.

use natter_client::{
    ControlFrame, ErrorDetail, EventData, Message, SendMessageRequest, ServerFrame, Socket,
};

use crate::helpers::*;

fn text(t: &str, client_id: Option<&str>) -> SendMessageRequest {
    SendMessageRequest {
        client_id: client_id.map(str::to_owned),
        text: Some(t.to_owned()),
        ..Default::default()
    }
}

/// Reads `socket` until the answer to the `send` frame with `reference` arrives; returns it
/// and the messages of the `new_message` events seen before it.
async fn answer(
    socket: &mut Socket,
    reference: &str,
) -> (Result<(bool, Message), ErrorDetail>, Vec<Message>) {
    let mut events = vec![];
    loop {
        match next_frame(socket).await {
            ServerFrame::Control(ControlFrame::Sent {
                reference: r,
                created,
                message,
            }) if r.as_deref() == Some(reference) => return (Ok((created, *message)), events),
            ServerFrame::Control(ControlFrame::Error {
                reference: r,
                error,
            }) if r.as_deref() == Some(reference) => return (Err(error), events),
            ServerFrame::Event(e) => {
                if let EventData::NewMessage(m) = e.event {
                    events.push(m);
                }
            }
            other => panic!("expected the answer to {reference}, got {other:?}"),
        }
    }
}

/// Sends a ping and asserts that a pong comes back, durable events aside: the connection is
/// still usable.
async fn assert_pong_after_events(socket: &mut Socket) {
    socket.ping().await.expect("a ping is sent");
    loop {
        match next_frame(socket).await {
            ServerFrame::Control(ControlFrame::Pong) => return,
            ServerFrame::Event(_) => {}
            other => panic!("expected pong, got {other:?}"),
        }
    }
}

/// The `new_message` event for `id` on `socket`, whether or not it came already.
async fn new_message(socket: &mut Socket, seen: &[Message], id: &str) -> Message {
    if let Some(m) = seen.iter().find(|m| m.id == id) {
        return m.clone();
    }
    match next_event(socket).await.event {
        EventData::NewMessage(m) if m.id == id => m,
        other => panic!("expected new_message {id}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_send_frame_is_stored_acknowledged_and_delivered_as_new_message() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut wa = alice.connect(None).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();

    wa.send_message(
        Some("r1"),
        &conv.id,
        text("hello over the socket", Some("k1")),
    )
    .await
    .unwrap();
    let (got, seen) = answer(&mut wa, "r1").await;
    let (created, msg) = got.expect("sent");
    assert!(created);
    assert_eq!(msg.sender_id, a.id);
    assert_eq!(msg.conversation_id, conv.id);
    assert_eq!(msg.text.as_deref(), Some("hello over the socket"));
    assert_eq!(msg.seq, 1);
    // Stored: REST reads it back, the same.
    assert_eq!(alice.message(&msg.id).await.unwrap(), msg);
    // The durable event reaches this device and the other member.
    let mine = new_message(&mut wa, &seen, &msg.id).await;
    assert_eq!(mine.seq, msg.seq);
    let theirs = new_message(&mut wb, &[], &msg.id).await;
    assert_eq!(theirs.seq, msg.seq);
    assert_eq!(theirs.text, msg.text);
}

#[tokio::test]
async fn the_same_client_id_again_answers_the_first_message_and_stores_nothing() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut wa = alice.connect(None).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();

    wa.send_message(Some("first"), &conv.id, text("once", Some("k1")))
        .await
        .unwrap();
    let (first, _) = answer(&mut wa, "first").await;
    let (created, first) = first.unwrap();
    assert!(created);
    new_message(&mut wb, &[], &first.id).await;

    // A retry, whatever its body says now, answers the first message.
    wa.send_message(Some("again"), &conv.id, text("changed", Some("k1")))
        .await
        .unwrap();
    let (again, _) = answer(&mut wa, "again").await;
    let (created, again) = again.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(again.seq, first.seq);
    assert_eq!(again.text.as_deref(), Some("once"));
    // And so does REST: one idempotency key for both.
    let rest = alice
        .send_message(&conv.id, &text("rest", Some("k1")))
        .await
        .unwrap();
    assert!(!rest.created);
    assert_eq!(rest.value.id, first.id);
    // Nothing new was stored or delivered.
    assert_quiet(&mut wb).await;
    let page = alice.messages(&conv.id, &Default::default()).await.unwrap();
    assert_eq!(page.messages.len(), 1);
}

#[tokio::test]
async fn a_send_into_a_conversation_not_ones_own_is_not_found_with_its_ref() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut wb = bob.connect(None).await.unwrap();
    let mut wc = carol.connect(None).await.unwrap();

    for (r, id) in [
        ("hidden", conv.id.as_str()),
        ("unknown", "no-such-conversation"),
    ] {
        wc.send_message(Some(r), id, text("let me in", None))
            .await
            .unwrap();
        let (got, _) = answer(&mut wc, r).await;
        assert_eq!(got.unwrap_err().code, "not_found");
        // As REST answers.
        let rest = carol.send_text(id, "let me in").await;
        assert_api_error(rest, 404, "not_found");
    }
    assert_pong(&mut wc).await;
    assert_quiet(&mut wb).await;
}

#[tokio::test]
async fn invalid_sends_are_answered_with_the_rest_codes_and_the_connection_stays() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut wa = alice.connect(None).await.unwrap();

    let over = "a".repeat(16_385);
    let cases: [(&str, SendMessageRequest, u16, &str); 5] = [
        ("empty", text("  \n ", None), 400, "invalid_request"),
        (
            "no text",
            SendMessageRequest::default(),
            400,
            "invalid_request",
        ),
        ("too long", text(&over, None), 413, "payload_too_large"),
        (
            "bad kind",
            SendMessageRequest {
                kind: Some("poem".into()),
                text: Some("x".into()),
                ..Default::default()
            },
            400,
            "invalid_request",
        ),
        (
            "long client_id",
            text("x", Some(&"k".repeat(65))),
            400,
            "invalid_request",
        ),
    ];
    for (r, req, status, code) in cases {
        wa.send_message(Some(r), &conv.id, req.clone())
            .await
            .unwrap();
        let (got, _) = answer(&mut wa, r).await;
        let err = got.expect_err(r);
        assert_eq!(err.code, code, "{r}");
        assert!(!err.message.is_empty());
        assert_api_error(alice.send_message(&conv.id, &req).await, status, code);
        assert_pong_after_events(&mut wa).await;
    }
    // The longest text allowed goes through.
    wa.send_message(Some("max"), &conv.id, text(&over[1..], None))
        .await
        .unwrap();
    let (got, _) = answer(&mut wa, "max").await;
    assert!(got.unwrap().0);
    assert_eq!(
        alice
            .messages(&conv.id, &Default::default())
            .await
            .unwrap()
            .messages
            .len(),
        1,
        "only the valid send was stored"
    );
}

#[tokio::test]
async fn refs_over_64_chars_are_refused_and_unparsed_sends_echo_their_ref() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut wa = alice.connect(None).await.unwrap();

    let long = "r".repeat(65);
    wa.send_message(Some(&long), &conv.id, text("x", None))
        .await
        .unwrap();
    match next_frame(&mut wa).await {
        ServerFrame::Control(ControlFrame::Error { reference, error }) => {
            assert_eq!(reference, None);
            assert_eq!(error.code, "invalid_request");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // A 64-character ref is fine.
    let ok = "r".repeat(64);
    wa.send_message(Some(&ok), &conv.id, text("x", None))
        .await
        .unwrap();
    assert!(answer(&mut wa, &ok).await.0.unwrap().0);
    // No conversation_id: the frame does not parse, but its ref is echoed.
    wa.send_text(r#"{"type": "send", "ref": "broken", "text": "x"}"#.into())
        .await
        .unwrap();
    assert_eq!(
        answer(&mut wa, "broken").await.0.unwrap_err().code,
        "invalid_request"
    );
    assert_pong_after_events(&mut wa).await;
}

#[tokio::test]
async fn send_frames_count_against_the_write_limit_as_rest_sends_do() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.writes_per_second = 1;
        c.writes_burst = 3;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    // Creating the conversation is alice's first write.
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut wa = alice.connect(None).await.unwrap();
    // Two writes left in the burst (one more per second): of ten frames sent at once, the
    // first are stored and the rest refused, each answer carrying its own ref.
    for i in 0..10 {
        wa.send_message(Some(&i.to_string()), &conv.id, text("hi", None))
            .await
            .unwrap();
    }
    let mut codes = vec![];
    for i in 0..10 {
        codes.push(match answer(&mut wa, &i.to_string()).await.0 {
            Ok((created, _)) => {
                assert!(created);
                "sent".to_owned()
            }
            Err(e) => e.code,
        });
    }
    assert_eq!(codes[0], "sent");
    assert_eq!(codes[9], "rate_limited", "{codes:?}");
    assert!(
        codes.iter().all(|c| c == "sent" || c == "rate_limited"),
        "{codes:?}"
    );
    // REST sends share the budget.
    let err = alice.send_text(&conv.id, "more").await.unwrap_err();
    assert_eq!(err.code(), Some("rate_limited"));
    assert_pong_after_events(&mut wa).await;
}
