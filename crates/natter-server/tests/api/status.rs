//! Status: delivered and read marks, the aggregate status, receipts and unread counts.

use natter_client::{Client, Receipts, RecipientStatus};

use crate::helpers::*;

fn recipient<'a>(receipts: &'a Receipts, user_id: &str) -> &'a RecipientStatus {
    receipts
        .recipients
        .iter()
        .find(|r| r.user_id == user_id)
        .unwrap_or_else(|| panic!("{user_id} is not a recipient: {receipts:?}"))
}

async fn status_of(client: &Client, message_id: &str) -> String {
    client.message(message_id).await.unwrap().status
}

#[tokio::test]
async fn marks_answer_204() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&conv.id, "hi").await.unwrap();

    for mark in ["delivered", "read"] {
        let resp = bob
            .raw("PUT", &format!("/api/v1/messages/{}/{mark}", m.id), None)
            .await
            .unwrap();
        assert_no_content(&resp);
    }
}

#[tokio::test]
async fn delivered_then_read_in_a_direct_conversation() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&conv.id, "hi").await.unwrap();
    assert_eq!(m.status, "sent");

    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.message_id, m.id);
    assert_eq!(receipts.status, "sent");
    assert_eq!(
        receipts.recipients.len(),
        1,
        "the sender is not a recipient"
    );
    let r = recipient(&receipts, &b.id);
    assert_eq!(r.status, "sent");
    assert_eq!(r.delivered_at, None);
    assert_eq!(r.read_at, None);
    assert!(receipts.recipients.iter().all(|r| r.user_id != a.id));

    bob.mark_delivered(&m.id).await.unwrap();
    assert_eq!(status_of(&alice, &m.id).await, "delivered");
    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "delivered");
    let r = recipient(&receipts, &b.id);
    assert_eq!(r.status, "delivered");
    let delivered_at = r.delivered_at.clone().expect("delivered_at is set");
    assert_timestamp(&delivered_at);
    assert_eq!(r.read_at, None);

    bob.mark_read(&m.id).await.unwrap();
    assert_eq!(status_of(&alice, &m.id).await, "read");
    assert_eq!(status_of(&bob, &m.id).await, "read");
    let receipts = bob.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "read");
    let r = recipient(&receipts, &b.id);
    assert_eq!(r.status, "read");
    assert_eq!(r.delivered_at.as_deref(), Some(delivered_at.as_str()));
    let read_at = r.read_at.clone().expect("read_at is set");
    assert_timestamp(&read_at);
    assert!(read_at >= delivered_at);
}

#[tokio::test]
async fn read_implies_delivered() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&conv.id, "hi").await.unwrap();

    bob.mark_read(&m.id).await.unwrap();

    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "read");
    let r = recipient(&receipts, &b.id);
    assert_eq!(r.status, "read");
    assert!(r.delivered_at.is_some(), "read implies delivered: {r:?}");
    assert!(r.read_at.is_some());
}

#[tokio::test]
async fn a_mark_covers_every_earlier_message() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m1 = alice.send_text(&conv.id, "one").await.unwrap();
    let m2 = alice.send_text(&conv.id, "two").await.unwrap();
    let m3 = alice.send_text(&conv.id, "three").await.unwrap();
    let m4 = alice.send_text(&conv.id, "four").await.unwrap();

    bob.mark_delivered(&m3.id).await.unwrap();
    for m in [&m1, &m2, &m3] {
        assert_eq!(status_of(&alice, &m.id).await, "delivered", "seq {}", m.seq);
    }
    assert_eq!(status_of(&alice, &m4.id).await, "sent");

    bob.mark_read(&m2.id).await.unwrap();
    for m in [&m1, &m2] {
        assert_eq!(status_of(&alice, &m.id).await, "read", "seq {}", m.seq);
    }
    assert_eq!(status_of(&alice, &m3.id).await, "delivered");
    assert_eq!(status_of(&alice, &m4.id).await, "sent");
    let r1 = alice.receipts(&m1.id).await.unwrap();
    assert_eq!(recipient(&r1, &b.id).status, "read");
    let r3 = alice.receipts(&m3.id).await.unwrap();
    assert_eq!(recipient(&r3, &b.id).status, "delivered");
    assert_eq!(recipient(&r3, &b.id).read_at, None);
}

#[tokio::test]
async fn marks_never_move_backwards() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m1 = alice.send_text(&conv.id, "one").await.unwrap();
    let m2 = alice.send_text(&conv.id, "two").await.unwrap();
    let m3 = alice.send_text(&conv.id, "three").await.unwrap();
    bob.mark_read(&m3.id).await.unwrap();
    let before = alice.receipts(&m2.id).await.unwrap();

    // Older marks are accepted and change nothing.
    bob.mark_delivered(&m1.id).await.unwrap();
    bob.mark_read(&m1.id).await.unwrap();
    bob.mark_delivered(&m3.id).await.unwrap();

    for m in [&m1, &m2, &m3] {
        assert_eq!(status_of(&alice, &m.id).await, "read", "seq {}", m.seq);
    }
    assert_eq!(alice.receipts(&m2.id).await.unwrap(), before);
    let conv = bob.conversation(&conv.id).await.unwrap();
    assert_eq!(conv.read_seq, 3);
    assert_eq!(conv.unread_count, 0);
}

#[tokio::test]
async fn a_group_message_is_read_only_when_every_recipient_read_it() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    let m = alice.send_text(&group.id, "meeting at noon").await.unwrap();

    let check = |status: &'static str, bob_status: &'static str, carol_status: &'static str| {
        let alice = alice.clone();
        let id = m.id.clone();
        let (b, c) = (b.id.clone(), c.id.clone());
        async move {
            let receipts = alice.receipts(&id).await.unwrap();
            assert_eq!(receipts.status, status, "{receipts:?}");
            assert_eq!(receipts.recipients.len(), 2, "{receipts:?}");
            assert_eq!(recipient(&receipts, &b).status, bob_status);
            assert_eq!(recipient(&receipts, &c).status, carol_status);
            assert_eq!(alice.message(&id).await.unwrap().status, status);
        }
    };

    check("sent", "sent", "sent").await;
    bob.mark_delivered(&m.id).await.unwrap();
    check("sent", "delivered", "sent").await;
    carol.mark_delivered(&m.id).await.unwrap();
    check("delivered", "delivered", "delivered").await;
    bob.mark_read(&m.id).await.unwrap();
    check("delivered", "read", "delivered").await;
    carol.mark_read(&m.id).await.unwrap();
    check("read", "read", "read").await;

    let receipts = bob.receipts(&m.id).await.unwrap();
    assert!(receipts.recipients.iter().all(|r| r.user_id != a.id));
    assert!(receipts.recipients.iter().all(|r| r.read_at.is_some()));
}

#[tokio::test]
async fn a_message_without_recipients_stays_sent() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let group = alice.create_group("alone", &[]).await.unwrap();
    let m = alice.send_text(&group.id, "note to self").await.unwrap();

    alice.mark_read(&m.id).await.unwrap();

    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "sent");
    assert!(receipts.recipients.is_empty());
    assert_eq!(status_of(&alice, &m.id).await, "sent");
}

#[tokio::test]
async fn a_senders_own_marks_do_not_count() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&conv.id, "hi").await.unwrap();

    alice.mark_delivered(&m.id).await.unwrap();
    alice.mark_read(&m.id).await.unwrap();

    assert_eq!(status_of(&alice, &m.id).await, "sent");
    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "sent");
    assert_eq!(recipient(&receipts, &b.id).status, "sent");
}

#[tokio::test]
async fn sending_marks_earlier_messages_read_for_the_sender() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let question = alice.send_text(&conv.id, "lunch?").await.unwrap();

    bob.send_text(&conv.id, "yes").await.unwrap();

    assert_eq!(status_of(&alice, &question.id).await, "read");
    let receipts = alice.receipts(&question.id).await.unwrap();
    let r = recipient(&receipts, &b.id);
    assert_eq!(r.status, "read");
    assert!(r.delivered_at.is_some() && r.read_at.is_some());
    let conv = bob.conversation(&conv.id).await.unwrap();
    assert_eq!(conv.read_seq, 2);
    assert_eq!(conv.unread_count, 0);
}

#[tokio::test]
async fn members_who_joined_later_are_not_recipients() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let m = alice.send_text(&group.id, "before carol").await.unwrap();
    alice.add_member(&group.id, &c.id, None).await.unwrap();

    bob.mark_read(&m.id).await.unwrap();

    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "read");
    assert_eq!(receipts.recipients.len(), 1, "{receipts:?}");
    assert_eq!(receipts.recipients[0].user_id, b.id);
    // Carol cannot see the message at all.
    assert_api_error(carol.receipts(&m.id).await, 404, "not_found");
}

#[tokio::test]
async fn a_removed_member_is_no_longer_a_recipient() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    let m = alice.send_text(&group.id, "hello both").await.unwrap();
    bob.mark_read(&m.id).await.unwrap();
    assert_eq!(status_of(&alice, &m.id).await, "sent");

    alice.remove_member(&group.id, &c.id).await.unwrap();

    assert_eq!(status_of(&alice, &m.id).await, "read");
    let receipts = alice.receipts(&m.id).await.unwrap();
    assert_eq!(receipts.status, "read");
    assert_eq!(receipts.recipients.len(), 1, "{receipts:?}");
    assert_eq!(receipts.recipients[0].user_id, b.id);
}

#[tokio::test]
async fn receipts_are_for_members_only() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (eve, _) = app.user("eve").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&conv.id, "private").await.unwrap();

    assert_api_error(eve.receipts(&m.id).await, 404, "not_found");
    assert_api_error(eve.mark_read(&m.id).await, 404, "not_found");
    assert_api_error(alice.receipts("not-an-id").await, 404, "not_found");
    assert_eq!(status_of(&alice, &m.id).await, "sent");
}

#[tokio::test]
async fn unread_count_and_read_seq_follow_marks_sends_and_deletions() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let counts = |client: &Client| {
        let client = client.clone();
        let id = conv.id.clone();
        async move {
            let c = client.conversation(&id).await.unwrap();
            (c.unread_count, c.read_seq)
        }
    };

    alice.send_text(&conv.id, "one").await.unwrap();
    let m2 = alice.send_text(&conv.id, "two").await.unwrap();
    let m3 = alice.send_text(&conv.id, "three").await.unwrap();
    assert_eq!(counts(&bob).await, (3, 0));
    assert_eq!(
        counts(&alice).await,
        (0, 3),
        "sending marks one's own messages read"
    );

    bob.mark_read(&m2.id).await.unwrap();
    assert_eq!(counts(&bob).await, (1, 2));

    // A deleted message is not counted.
    alice.delete_message(&m3.id).await.unwrap();
    assert_eq!(counts(&bob).await.0, 0);

    let m4 = alice.send_text(&conv.id, "four").await.unwrap();
    assert_eq!(counts(&bob).await.0, 1);
    bob.delete_message_for_me(&m4.id).await.unwrap();
    assert_eq!(
        counts(&bob).await.0,
        0,
        "deleted for the caller is not counted"
    );
    assert_eq!(counts(&alice).await, (0, 4));

    alice.send_text(&conv.id, "five").await.unwrap();
    assert_eq!(counts(&bob).await.0, 1);

    bob.send_text(&conv.id, "six").await.unwrap();
    assert_eq!(counts(&bob).await, (0, 6));
    assert_eq!(
        counts(&alice).await,
        (1, 5),
        "only the others' messages count"
    );

    // The list carries the same numbers.
    let listed = bob.conversations(None, None).await.unwrap().conversations;
    assert_eq!((listed[0].unread_count, listed[0].read_seq), (0, 6));
    let listed = alice.conversations(None, None).await.unwrap().conversations;
    assert_eq!((listed[0].unread_count, listed[0].read_seq), (1, 5));
}

#[tokio::test]
async fn read_seq_and_unread_count_are_per_member() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    alice.send_text(&group.id, "one").await.unwrap();
    let m2 = alice.send_text(&group.id, "two").await.unwrap();

    bob.mark_read(&m2.id).await.unwrap();

    let for_bob = bob.conversation(&group.id).await.unwrap();
    let for_carol = carol.conversation(&group.id).await.unwrap();
    assert_eq!((for_bob.unread_count, for_bob.read_seq), (0, 2));
    assert_eq!((for_carol.unread_count, for_carol.read_seq), (2, 0));
}
