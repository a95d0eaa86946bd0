//! The conversation's status watermarks over the API: ticks from `all_delivered_seq` and
//! `all_read_seq`, `conversation_status` to every member, a member's `message_status` to every
//! member only in conversations of up to 32 members, and replay by resume and `/sync`.

use natter_client::{Client, ConversationStatus, EventData, RegisterRequest, Socket};

use crate::helpers::*;

/// Registers members that never log in (one password hash each): the rest of a big group.
async fn bystanders(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let u = app
            .anon()
            .register(&RegisterRequest {
                username: format!("{prefix}{i}"),
                password: PASSWORD.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(u.id);
    }
    ids
}

/// Durable events on `socket` until a `conversation_status` arrives; returns it and the kinds
/// of the events before it.
async fn until_status(socket: &mut Socket) -> (ConversationStatus, Vec<String>) {
    let mut before = Vec::new();
    loop {
        let e = next_event(socket).await;
        match e.event {
            EventData::ConversationStatus(s) => return (s, before),
            other => before.push(format!("{other:?}").split('(').next().unwrap().to_owned()),
        }
    }
}

async fn watermarks_of(client: &Client, conversation_id: &str) -> (i64, i64) {
    let c = client.conversation(conversation_id).await.unwrap();
    (c.all_delivered_seq, c.all_read_seq)
}

#[tokio::test]
async fn ticks_of_a_direct_conversation_come_from_its_watermarks() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    assert_eq!((conv.all_delivered_seq, conv.all_read_seq), (0, 0));
    alice.send_text(&conv.id, "one").await.unwrap();
    let two = alice.send_text(&conv.id, "two").await.unwrap();
    let mut alices = alice.connect(None).await.unwrap();

    bob.mark_delivered(&two.id).await.unwrap();
    let (status, _) = until_status(&mut alices).await;
    assert_eq!(status.conversation_id, conv.id);
    assert_eq!((status.all_delivered_seq, status.all_read_seq), (2, 0));
    assert_timestamp(&status.at);
    assert_eq!(watermarks_of(&alice, &conv.id).await, (2, 0));
    assert_eq!(
        watermarks_of(&bob, &conv.id).await,
        (2, 0),
        "the same for both"
    );

    bob.mark_read(&two.id).await.unwrap();
    let (status, _) = until_status(&mut alices).await;
    assert_eq!((status.all_delivered_seq, status.all_read_seq), (2, 2));
    // Every message at or below the watermark is read, as its own status says.
    for m in alice
        .messages(&conv.id, &Default::default())
        .await
        .unwrap()
        .messages
    {
        assert_eq!(m.status, "read", "seq {}", m.seq);
    }
}

#[tokio::test]
async fn marks_reach_every_member_of_32_and_only_the_markers_own_devices_of_33() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let mut ids = vec![b.id.clone()];
    ids.extend(bystanders(&app, "by", 30).await);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let g = alice.create_group("thirty-two", &refs).await.unwrap();
    assert_eq!(g.members.len(), 32);
    let first = alice.send_text(&g.id, "to 32").await.unwrap();
    let mut alices = alice.connect(None).await.unwrap();
    let mut bobs = bob.connect(None).await.unwrap();

    bob.mark_read(&first.id).await.unwrap();
    for socket in [&mut alices, &mut bobs] {
        match next_event(socket).await.event {
            EventData::MessageStatus(s) => {
                assert_eq!((s.user_id.as_str(), s.up_to_seq), (b.id.as_str(), 1))
            }
            other => panic!("expected bob's message_status, got {other:?}"),
        }
    }

    // One more member: 33.
    let late = bystanders(&app, "late", 1).await;
    alice.add_member(&g.id, &late[0], None).await.unwrap();
    let second = alice.send_text(&g.id, "to 33").await.unwrap();
    for socket in [&mut alices, &mut bobs] {
        assert!(matches!(
            next_event(socket).await.event,
            EventData::ConversationUpdated(_)
        ));
        assert!(matches!(
            next_event(socket).await.event,
            EventData::NewMessage(_)
        ));
    }
    bob.mark_read(&second.id).await.unwrap();
    match next_event(&mut bobs).await.event {
        EventData::MessageStatus(s) => {
            assert_eq!((s.user_id.as_str(), s.up_to_seq), (b.id.as_str(), 2))
        }
        other => panic!("expected bob's own message_status, got {other:?}"),
    }
    // The watermarks did not move (31 members have read nothing): alice hears nothing.
    assert_quiet(&mut alices).await;
    // The receipts endpoint still says who read what.
    let receipts = alice.receipts(&second.id).await.unwrap();
    let bobs_receipt = receipts
        .recipients
        .iter()
        .find(|r| r.user_id == b.id)
        .unwrap();
    assert_eq!(bobs_receipt.status, "read");
}

#[tokio::test]
async fn removing_the_member_who_holds_the_watermarks_back_moves_them() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let g = alice.create_group("g", &[&b.id, &c.id]).await.unwrap();
    alice.send_text(&g.id, "one").await.unwrap();
    let two = alice.send_text(&g.id, "two").await.unwrap();
    bob.mark_read(&two.id).await.unwrap();
    assert_eq!(
        watermarks_of(&alice, &g.id).await,
        (0, 0),
        "carol has read nothing"
    );
    let mut alices = alice.connect(None).await.unwrap();

    alice.remove_member(&g.id, &c.id).await.unwrap();
    let (status, before) = until_status(&mut alices).await;
    assert_eq!((status.all_delivered_seq, status.all_read_seq), (2, 2));
    assert_eq!(before, ["ConversationUpdated"]);
    assert_eq!(watermarks_of(&bob, &g.id).await, (2, 2));
    assert_eq!(alice.message(&two.id).await.unwrap().status, "read");
}

#[tokio::test]
async fn conversation_status_is_replayed_by_resume_and_sync() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&conv.id, "hi").await.unwrap();
    let cursor = alice.sync(None, None, None).await.unwrap().next_cursor;
    bob.mark_read(&m.id).await.unwrap();

    let mut resumed = alice.connect(Some(&cursor)).await.unwrap();
    let (status, before) = until_status(&mut resumed).await;
    assert_eq!((status.all_delivered_seq, status.all_read_seq), (1, 1));
    assert_eq!(before, ["MessageStatus"]);

    let synced = alice.sync(Some(&cursor), None, None).await.unwrap();
    let statuses: Vec<&ConversationStatus> = synced
        .events
        .iter()
        .filter_map(|e| match &e.event {
            EventData::ConversationStatus(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        (statuses[0].all_delivered_seq, statuses[0].all_read_seq),
        (1, 1)
    );
}
