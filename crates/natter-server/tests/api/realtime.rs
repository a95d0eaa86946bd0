//! Real time: the WebSocket handshake (`ready`, authentication, `since`), every device of a user
//! receiving every event, client frames, and the close codes 4001, 1009 and 1001.

use std::time::Duration;

use natter_client::{ControlFrame, Error, EventData, ServerFrame, Socket};

use crate::helpers::*;

/// Asserts that a connection attempt ended with the server closing the socket with `code`.
#[track_caller]
fn assert_closed_with(result: Result<Socket, Error>, code: u16) {
    match result {
        Ok(s) => panic!("expected close {code}, got a ready socket: {:?}", s.ready),
        Err(Error::Closed { code: c, .. }) if c == code => {}
        Err(e) => panic!("expected close {code}, got {e}"),
    }
}

/// The session id of `client`'s own session.
async fn session_id(client: &natter_client::Client) -> String {
    let list = client.sessions().await.unwrap();
    list.sessions
        .into_iter()
        .find(|s| s.current)
        .expect("a current session")
        .id
}

/// The next frame must be an error frame; returns its code.
async fn next_error_code(socket: &mut Socket) -> String {
    match next_frame(socket).await {
        ServerFrame::Control(ControlFrame::Error { error, .. }) => {
            assert!(!error.message.is_empty(), "an error frame has a message");
            error.code
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
}

// ---- The handshake ----

#[tokio::test]
async fn ready_without_since_carries_the_current_head() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    alice.send_text(&conv.id, "one").await.unwrap();
    alice.send_text(&conv.id, "two").await.unwrap();
    let head = alice.sync(None, None, None).await.unwrap().next_cursor;

    let mut ws = alice.connect(None).await.unwrap();
    assert_eq!(ws.ready.cursor, head, "ready's cursor is the current head");
    assert_eq!(ws.ready.user_id, a.id);
    assert_eq!(ws.ready.session_id, session_id(&alice).await);
    // Without `since` nothing of the past is replayed.
    assert_quiet(&mut ws).await;

    let m = alice.send_text(&conv.id, "three").await.unwrap();
    match next_event(&mut ws).await.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    let head = alice.sync(None, None, None).await.unwrap().next_cursor;
    let ws2 = alice.connect(None).await.unwrap();
    assert_eq!(ws2.ready.cursor, head, "the head moved with the new event");
}

#[tokio::test]
async fn ready_with_since_echoes_it_and_the_backlog_follows() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let since = bob.sync(None, None, None).await.unwrap().next_cursor;
    let mut sent = vec![];
    for i in 1..=3 {
        sent.push(
            alice
                .send_text(&conv.id, &format!("m{i}"))
                .await
                .unwrap()
                .id,
        );
    }

    // By header, then by an auth frame: the same ready and the same backlog.
    let header = bob.connect(Some(&since)).await.unwrap();
    let frame = bob.connect_with_auth_frame(Some(&since)).await.unwrap();
    for mut ws in [header, frame] {
        assert_eq!(
            ws.ready.cursor, since,
            "with since, ready's cursor is since"
        );
        assert_eq!(ws.ready.user_id, b.id);
        assert_eq!(ws.ready.session_id, session_id(&bob).await);
        let mut got = vec![];
        for _ in 0..3 {
            match next_event(&mut ws).await.event {
                EventData::NewMessage(m) => got.push(m.id),
                other => panic!("expected the backlog's new_message, got {other:?}"),
            }
        }
        assert_eq!(got, sent, "the backlog, in order");
        assert_quiet(&mut ws).await;
    }
}

#[tokio::test]
async fn header_and_auth_frame_both_authenticate() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let sid = session_id(&alice).await;

    let by_header = alice.connect(None).await.unwrap();
    let by_frame = alice.connect_with_auth_frame(None).await.unwrap();
    for mut ws in [by_header, by_frame] {
        assert_eq!(ws.ready.user_id, a.id);
        assert_eq!(ws.ready.session_id, sid);
        assert!(!ws.ready.cursor.is_empty());
        assert_pong(&mut ws).await;
    }
}

#[tokio::test]
async fn a_bad_or_revoked_token_is_closed_with_4001() {
    let app = spawn_app().await;
    let bad = app.anon().with_token("not-a-token");
    assert_closed_with(bad.connect(None).await, 4001);
    assert_closed_with(bad.connect_with_auth_frame(None).await, 4001);

    let (alice, _) = app.user("alice").await;
    alice.revoke_session("current").await.unwrap();
    assert_closed_with(alice.connect(None).await, 4001);
    assert_closed_with(alice.connect_with_auth_frame(None).await, 4001);
}

#[tokio::test]
async fn no_auth_frame_in_time_is_closed_with_4001() {
    let app = spawn_app_with(|c| c.ws_auth_timeout = Duration::from_millis(300)).await;
    let mut raw = app.anon().connect_raw(None).await.unwrap();
    match raw.next_within(ARRIVES).await {
        Err(Error::Closed { code: 4001, .. }) => {}
        Err(e) => panic!("expected close 4001, got {e}"),
        Ok(_) => panic!("expected close 4001, the socket opened"),
    }
}

#[tokio::test]
async fn a_first_frame_other_than_auth_is_closed_with_4001() {
    let app = spawn_app().await;
    let mut raw = app.anon().connect_raw(None).await.unwrap();
    raw.ping().await.unwrap();
    match raw.next_within(ARRIVES).await {
        Err(Error::Closed { code: 4001, .. }) => {}
        Err(e) => panic!("expected close 4001, got {e}"),
        Ok(_) => panic!("expected close 4001, the socket opened"),
    }
}

#[tokio::test]
async fn a_malformed_since_is_400_before_the_upgrade() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    for since in ["abc", "-1", "1.5", "12x", "99999999999999999999"] {
        let resp = alice.refused_upgrade(Some(since)).await.unwrap();
        assert_error_response(&resp, 400, "invalid_request");
        assert!(
            alice.connect(Some(since)).await.is_err(),
            "since={since} must not upgrade"
        );
    }
    // A well-formed one still upgrades.
    let head = alice.sync(None, None, None).await.unwrap().next_cursor;
    let ws = alice.connect(Some(&head)).await.unwrap();
    assert_eq!(ws.ready.cursor, head);
}

// ---- Every device receives every event ----

#[tokio::test]
async fn every_device_of_a_user_receives_every_event_its_own_included() {
    let app = spawn_app().await;
    let (alice1, _) = app.user("alice").await;
    let (alice2, _) = app.login("alice", Some("phone")).await;
    let (bob1, b) = app.user("bob").await;
    let (bob2, _) = app.login("bob", Some("phone")).await;
    let (carol, c) = app.user("carol").await;

    let mut a1 = alice1.connect(None).await.unwrap();
    let mut a2 = alice2.connect(None).await.unwrap();
    let mut b1 = bob1.connect(None).await.unwrap();
    let mut b2 = bob2.connect(None).await.unwrap();
    let mut c1 = carol.connect(None).await.unwrap();

    // A direct conversation is created: both members' devices hear of it.
    let conv = alice1.direct(&b.id).await.unwrap().value;
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::ConversationUpdated(got) => assert_eq!(got.id, conv.id),
            other => panic!("expected conversation_updated, got {other:?}"),
        }
    }
    assert_quiet(&mut c1).await;

    // A message: the sender's devices too, the sending one included.
    let m = alice1.send_text(&conv.id, "hello").await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::NewMessage(got) => {
                assert_eq!(got.id, m.id);
                assert_eq!(got.seq, 1);
                assert_eq!(got.text.as_deref(), Some("hello"));
            }
            other => panic!("expected new_message, got {other:?}"),
        }
    }

    // A read mark: message_status to every member's devices.
    bob1.mark_read(&m.id).await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::MessageStatus(s) => {
                assert_eq!(s.conversation_id, conv.id);
                assert_eq!(s.user_id, b.id);
                assert_eq!(s.status, "read");
                assert_eq!(s.up_to_seq, 1);
                assert_timestamp(&s.at);
            }
            other => panic!("expected message_status, got {other:?}"),
        }
        match next_event(ws).await.event {
            EventData::ConversationStatus(s) => {
                assert_eq!((s.all_delivered_seq, s.all_read_seq), (1, 1));
            }
            other => panic!("expected conversation_status, got {other:?}"),
        }
    }

    // An edit from the other device.
    alice2.edit_message(&m.id, "hello, edited").await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::MessageUpdated(got) => {
                assert_eq!(got.id, m.id);
                assert_eq!(got.text.as_deref(), Some("hello, edited"));
                assert!(got.edited_at.is_some());
            }
            other => panic!("expected message_updated, got {other:?}"),
        }
    }

    // Deleted for bob only: bob's devices hear of it, alice's do not.
    bob2.delete_message_for_me(&m.id).await.unwrap();
    for ws in [&mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::MessageDeleted(d) => {
                assert_eq!(d.message_id, m.id);
                assert_eq!(d.conversation_id, conv.id);
                assert_eq!(d.seq, 1);
                assert!(d.for_me);
            }
            other => panic!("expected message_deleted for_me, got {other:?}"),
        }
    }

    // Deleted for everyone.
    alice1.delete_message(&m.id).await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::MessageDeleted(d) => {
                assert_eq!(d.message_id, m.id);
                assert_eq!(d.seq, 1);
                assert!(!d.for_me, "alice's devices never see bob's for_me deletion");
            }
            other => panic!("expected message_deleted, got {other:?}"),
        }
    }

    // A group: created, renamed, a member added, then removed.
    let g = alice1.create_group("team", &[&b.id]).await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::ConversationUpdated(got) => {
                assert_eq!(got.id, g.id);
                assert_eq!(got.name.as_deref(), Some("team"));
                assert_eq!(got.members.len(), 2);
            }
            other => panic!("expected conversation_updated (created), got {other:?}"),
        }
    }
    alice2.rename(&g.id, "crew").await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::ConversationUpdated(got) => {
                assert_eq!(got.id, g.id);
                assert_eq!(got.name.as_deref(), Some("crew"));
            }
            other => panic!("expected conversation_updated (renamed), got {other:?}"),
        }
    }
    assert_quiet(&mut c1).await;

    alice1.add_member(&g.id, &c.id, None).await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2, &mut c1] {
        match next_event(ws).await.event {
            EventData::ConversationUpdated(got) => {
                assert_eq!(got.id, g.id);
                assert!(
                    got.members.iter().any(|m| m.user_id == c.id),
                    "carol is a member now: {got:?}"
                );
            }
            other => panic!("expected conversation_updated (member added), got {other:?}"),
        }
    }

    alice1.remove_member(&g.id, &c.id).await.unwrap();
    match next_event(&mut c1).await.event {
        EventData::ConversationRemoved(r) => assert_eq!(r.conversation_id, g.id),
        other => panic!("expected conversation_removed, got {other:?}"),
    }
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::ConversationUpdated(got) => {
                assert_eq!(got.id, g.id);
                assert!(got.members.iter().all(|m| m.user_id != c.id));
            }
            other => panic!("expected conversation_updated (member removed), got {other:?}"),
        }
    }

    // What happens in the group now does not reach carol.
    bob1.send_text(&g.id, "after carol").await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        match next_event(ws).await.event {
            EventData::NewMessage(got) => assert_eq!(got.conversation_id, g.id),
            other => panic!("expected new_message, got {other:?}"),
        }
    }
    assert_quiet(&mut c1).await;

    // Added again, then leaving by itself: conversation_removed too.
    alice1.add_member(&g.id, &c.id, None).await.unwrap();
    match next_event(&mut c1).await.event {
        EventData::ConversationUpdated(got) => assert_eq!(got.id, g.id),
        other => panic!("expected conversation_updated, got {other:?}"),
    }
    carol.remove_member(&g.id, "me").await.unwrap();
    match next_event(&mut c1).await.event {
        EventData::ConversationRemoved(r) => assert_eq!(r.conversation_id, g.id),
        other => panic!("expected conversation_removed (left), got {other:?}"),
    }
    assert_quiet(&mut c1).await;
}

// ---- Client frames ----

#[tokio::test]
async fn a_ping_is_answered_with_a_pong() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let mut ws = alice.connect(None).await.unwrap();
    assert_pong(&mut ws).await;
    assert_pong(&mut ws).await;
}

#[tokio::test]
async fn an_invalid_frame_gets_an_error_and_the_connection_stays() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let mut ws = alice.connect(None).await.unwrap();
    for bad in [
        "not json",
        "{}",
        r#"{"type": "nonsense"}"#,
        r#"{"type": "read", "conversation_id": "x"}"#,
        r#"{"type": "typing", "conversation_id": "x", "typing": "yes"}"#,
        "[1, 2, 3]",
    ] {
        ws.send_text(bad.into()).await.unwrap();
        assert_eq!(
            next_error_code(&mut ws).await,
            "invalid_request",
            "for {bad}"
        );
        assert_pong(&mut ws).await;
    }
    // A second auth frame is not a valid frame any more; it is answered, not fatal.
    let token = alice.token().unwrap().to_owned();
    ws.send(&natter_client::ClientFrame::Auth { token })
        .await
        .unwrap();
    next_error_code(&mut ws).await;
    assert_pong(&mut ws).await;
}

#[tokio::test]
async fn a_frame_naming_a_hidden_conversation_is_not_found() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    alice.send_text(&conv.id, "private").await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let mut wc = carol.connect(None).await.unwrap();

    for id in [conv.id.as_str(), "no-such-conversation"] {
        wc.typing(id, true).await.unwrap();
        assert_eq!(next_error_code(&mut wc).await, "not_found");
        wc.read(id, 1).await.unwrap();
        assert_eq!(next_error_code(&mut wc).await, "not_found");
        wc.delivered(id, 1).await.unwrap();
        assert_eq!(next_error_code(&mut wc).await, "not_found");
    }
    assert_pong(&mut wc).await;
    // Nothing of it reached the members.
    assert_quiet(&mut wb).await;
    let m = alice.messages(&conv.id, &Default::default()).await.unwrap();
    assert_eq!(m.messages[0].status, "sent");
}

#[tokio::test]
async fn delivered_and_read_frames_move_the_marks() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let mut ids = vec![];
    for i in 1..=3 {
        ids.push(
            alice
                .send_text(&conv.id, &format!("m{i}"))
                .await
                .unwrap()
                .id,
        );
    }
    let mut wa = alice.connect(None).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();

    wb.delivered(&conv.id, 2).await.unwrap();
    for ws in [&mut wa, &mut wb] {
        match next_event(ws).await.event {
            EventData::MessageStatus(s) => {
                assert_eq!(s.conversation_id, conv.id);
                assert_eq!(s.user_id, b.id);
                assert_eq!(s.status, "delivered");
                assert_eq!(s.up_to_seq, 2);
            }
            other => panic!("expected message_status delivered, got {other:?}"),
        }
        match next_event(ws).await.event {
            EventData::ConversationStatus(s) => {
                assert_eq!((s.all_delivered_seq, s.all_read_seq), (2, 0));
            }
            other => panic!("expected conversation_status, got {other:?}"),
        }
    }
    assert_eq!(alice.message(&ids[1]).await.unwrap().status, "delivered");
    assert_eq!(alice.message(&ids[2]).await.unwrap().status, "sent");

    wb.read(&conv.id, 3).await.unwrap();
    for ws in [&mut wa, &mut wb] {
        match next_event(ws).await.event {
            EventData::MessageStatus(s) => {
                assert_eq!(s.user_id, b.id);
                assert_eq!(s.status, "read");
                assert_eq!(s.up_to_seq, 3);
            }
            other => panic!("expected message_status read, got {other:?}"),
        }
        match next_event(ws).await.event {
            EventData::ConversationStatus(s) => {
                assert_eq!((s.all_delivered_seq, s.all_read_seq), (3, 3));
            }
            other => panic!("expected conversation_status, got {other:?}"),
        }
    }
    let receipts = alice.receipts(&ids[2]).await.unwrap();
    assert_eq!(receipts.status, "read");
    let r = receipts
        .recipients
        .iter()
        .find(|r| r.user_id == b.id)
        .expect("bob is a recipient");
    assert_eq!(r.status, "read");
    assert!(r.read_at.is_some());
    assert_eq!(bob.conversation(&conv.id).await.unwrap().read_seq, 3);
}

#[tokio::test]
async fn a_frame_over_64_kib_is_closed_with_1009() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let mut ws = alice.connect(None).await.unwrap();
    ws.send_text("x".repeat(64 * 1024 + 1)).await.unwrap();
    assert_eq!(closed_code(&mut ws).await, 1009);

    // A valid frame padded past the limit is no different.
    let mut ws = alice.connect(None).await.unwrap();
    let pad = "x".repeat(64 * 1024);
    ws.send_text(format!(r#"{{"type": "ping", "pad": "{pad}"}}"#))
        .await
        .unwrap();
    assert_eq!(closed_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn a_much_larger_frame_is_closed_with_1009_too() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let mut ws = alice.connect(None).await.unwrap();
    ws.send_text("x".repeat(1024 * 1024)).await.unwrap();
    assert_eq!(closed_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn a_frame_of_exactly_64_kib_is_not_too_big() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let mut ws = alice.connect(None).await.unwrap();
    ws.send_text("x".repeat(64 * 1024)).await.unwrap();
    assert_eq!(next_error_code(&mut ws).await, "invalid_request");
    assert_pong(&mut ws).await;
}

// ---- Sessions end, the server stops ----

#[tokio::test]
async fn a_revoked_sessions_socket_is_closed_with_4001_and_the_others_stay() {
    let app = spawn_app().await;
    let (laptop, _) = app.user("alice").await;
    let (phone, phone_login) = app.login("alice", Some("phone")).await;
    let mut wl = laptop.connect(None).await.unwrap();
    let mut wp = phone.connect(None).await.unwrap();
    let laptop_session = session_id(&laptop).await;
    assert_ne!(laptop_session, phone_login.session_id);

    phone.revoke_session(&laptop_session).await.unwrap();
    assert_eq!(closed_code(&mut wl).await, 4001);
    assert_pong(&mut wp).await;
    assert_closed_with(laptop.connect(None).await, 4001);

    // Revoking one's own session closes one's own socket.
    phone.revoke_session("current").await.unwrap();
    assert_eq!(closed_code(&mut wp).await, 4001);
}

#[tokio::test]
async fn shutting_down_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    alice.direct(&b.id).await.unwrap();
    let mut wa = alice.connect(None).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();

    let stopping = tokio::spawn(app.shutdown());
    assert_eq!(closed_code(&mut wa).await, 1001);
    assert_eq!(closed_code(&mut wb).await, 1001);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stops while sockets were open")
        .unwrap();
}

/// A rename reaches every member as `conversation_updated` carrying the Conversation as that
/// member sees it: the fan-out renders what they share once and splices each member's own
/// fields in, so each frame must still equal what that member's `GET` answers.
#[tokio::test]
async fn conversation_updated_carries_each_members_own_counts() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let (dave, d) = app.user("dave").await;
    let (erin, e) = app.user("erin").await;
    let conv = alice
        .create_group("counts", &[&b.id, &c.id, &d.id])
        .await
        .unwrap()
        .id;
    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        sent.push(alice.send_text(&conv, text).await.unwrap());
    }
    // Sending marks bob's own read up to seq 4.
    let last = bob.send_text(&conv, "four").await.unwrap();
    dave.mark_read(&sent[1].id).await.unwrap();
    // Dave hides the last message: it no longer counts for him, and shows as a tombstone.
    dave.delete_message_for_me(&last.id).await.unwrap();
    // Erin joins after all of it: nothing unread, no last message.
    alice.add_member(&conv, &e.id, None).await.unwrap();

    let viewers = [
        ("alice", &alice, 1),
        ("bob", &bob, 0),
        ("carol", &carol, 4),
        ("dave", &dave, 1),
        ("erin", &erin, 0),
    ];
    let mut sockets = Vec::new();
    for (_, client, _) in &viewers {
        sockets.push(client.connect(None).await.unwrap());
    }
    alice.rename(&conv, "renamed").await.unwrap();

    for ((name, client, unread), socket) in viewers.iter().zip(&mut sockets) {
        let got = match next_event(socket).await.event {
            EventData::ConversationUpdated(got) => got,
            other => panic!("{name}: expected conversation_updated, got {other:?}"),
        };
        assert_eq!(got.name.as_deref(), Some("renamed"), "{name}");
        assert_eq!(got.unread_count, *unread, "{name}'s unread count");
        assert_eq!(
            got,
            client.conversation(&conv).await.unwrap(),
            "{name}'s view"
        );
    }
    let shown = |c: &natter_client::Conversation| c.last_message.clone();
    let alices = alice.conversation(&conv).await.unwrap();
    assert_eq!(shown(&alices).unwrap().text.as_deref(), Some("four"));
    let daves = dave.conversation(&conv).await.unwrap();
    assert!(shown(&daves).unwrap().deleted, "{daves:?}");
    assert_eq!(shown(&erin.conversation(&conv).await.unwrap()), None);
}

/// A token the server could not check (storage failed) is not a refused token: the socket
/// closes with 1011, not 4001, so that the client keeps its token; once storage answers, the
/// same token connects.
#[tokio::test]
async fn a_token_that_cannot_be_checked_closes_with_1011_not_4001() {
    let (app, store) = spawn_app_on_faulty_store().await;
    let (client, _) = app.user("alice").await;
    store.fail_session_reads(1);
    match client.connect(None).await {
        Err(Error::Closed { code, .. }) => assert_eq!(code, 1011),
        Err(e) => panic!("expected close 1011, got {e}"),
        Ok(_) => panic!("expected close 1011, the socket opened"),
    }
    let mut socket = client.connect(None).await.expect("the token still works");
    assert_pong(&mut socket).await;
    // A refused token still closes with 4001.
    match client.with_token("x".repeat(43)).connect(None).await {
        Err(Error::Closed { code, .. }) => assert_eq!(code, 4001),
        Err(e) => panic!("expected close 4001, got {e}"),
        Ok(_) => panic!("expected close 4001, the socket opened"),
    }
}
