//! The conversation's status watermarks (`all_delivered_seq`, `all_read_seq`): exact, never
//! moving backwards, announced with `conversation_status`; and who hears of one member's marks.

use std::sync::Arc;

use natter_core::{ConversationId, Role, UserId};
use natter_server::store::{EventKind, MarkKind, Store};

use crate::harness::{T0, data, direct, events_after, group, send_n, users};

async fn watermarks(store: &dyn Store, conversation_id: &str) -> (i64, i64) {
    let c = store
        .conversation(ConversationId::new(conversation_id))
        .await
        .unwrap()
        .unwrap();
    (c.all_delivered_seq, c.all_read_seq)
}

/// The `(all_delivered_seq, all_read_seq)` of every `conversation_status` event `viewer` got.
async fn announced(store: &dyn Store, viewer: &str) -> Vec<(i64, i64)> {
    events_after(store, viewer, 0)
        .await
        .iter()
        .filter(|e| e.kind == EventKind::ConversationStatus)
        .map(|e| {
            let d = data(e);
            (
                d["all_delivered_seq"].as_i64().unwrap(),
                d["all_read_seq"].as_i64().unwrap(),
            )
        })
        .collect()
}

pub async fn direct_watermarks_follow_the_recipients_marks(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send_n(&*store, &dm, &alice, 3).await;
    assert_eq!(watermarks(&*store, &dm).await, (0, 0));

    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&dm),
            MarkKind::Delivered,
            2,
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &dm).await, (2, 0));
    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&dm),
            MarkKind::Read,
            3,
            T0 + 11,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &dm).await, (3, 3));
    // Both members hear of each move, in order.
    assert_eq!(announced(&*store, &alice).await, [(2, 0), (3, 3)]);
    assert_eq!(announced(&*store, &bob).await, [(2, 0), (3, 3)]);

    // The view carries them.
    let view = store
        .conversation_view(ConversationId::new(&dm), UserId::new(&alice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            view.conversation.all_delivered_seq,
            view.conversation.all_read_seq
        ),
        (3, 3)
    );
    // A new message nobody has read yet leaves them where they are.
    send_n(&*store, &dm, &alice, 1).await;
    assert_eq!(watermarks(&*store, &dm).await, (3, 3));
    // An answer reads it for its sender: everything is read now.
    send_n(&*store, &dm, &bob, 1).await;
    assert_eq!(watermarks(&*store, &dm).await, (4, 4));
}

pub async fn group_watermarks_are_the_lowest_members_marks(store: Arc<dyn Store>) {
    let [a, b, c] = users(&*store, ["a", "b", "c"]).await;
    let g = group(&*store, &a, &[&b, &c]).await;
    send_n(&*store, &g, &a, 4).await;
    store
        .mark(
            UserId::new(&b),
            ConversationId::new(&g),
            MarkKind::Read,
            4,
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(
        watermarks(&*store, &g).await,
        (0, 0),
        "c has marked nothing"
    );
    store
        .mark(
            UserId::new(&c),
            ConversationId::new(&g),
            MarkKind::Delivered,
            3,
            T0 + 11,
        )
        .await
        .unwrap();
    store
        .mark(
            UserId::new(&c),
            ConversationId::new(&g),
            MarkKind::Read,
            1,
            T0 + 12,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (3, 1));
}

pub async fn removing_the_member_who_holds_them_back_moves_the_watermarks(store: Arc<dyn Store>) {
    let [a, b, c] = users(&*store, ["a", "b", "c"]).await;
    let g = group(&*store, &a, &[&b, &c]).await;
    send_n(&*store, &g, &a, 3).await;
    store
        .mark(
            UserId::new(&b),
            ConversationId::new(&g),
            MarkKind::Read,
            3,
            T0 + 10,
        )
        .await
        .unwrap();
    store
        .mark(
            UserId::new(&c),
            ConversationId::new(&g),
            MarkKind::Read,
            1,
            T0 + 11,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (1, 1));
    let before = announced(&*store, &a).await.len();

    store
        .remove_member(
            UserId::new(&a),
            ConversationId::new(&g),
            UserId::new(&c),
            T0 + 12,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (3, 3));
    let seen = announced(&*store, &a).await;
    assert_eq!(seen.len(), before + 1);
    assert_eq!(seen.last(), Some(&(3, 3)));
}

pub async fn watermarks_never_move_backwards(store: Arc<dyn Store>) {
    let [a, b, late] = users(&*store, ["a", "b", "late"]).await;
    let g = group(&*store, &a, &[&b]).await;
    send_n(&*store, &g, &a, 3).await;
    store
        .mark(
            UserId::new(&b),
            ConversationId::new(&g),
            MarkKind::Read,
            3,
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (3, 3));

    // A member who joins later is a recipient of nothing before it: nothing moves back.
    store
        .add_member(
            UserId::new(&a),
            ConversationId::new(&g),
            UserId::new(&late),
            Role::Member,
            1024,
            T0 + 11,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (3, 3));
    // Older marks change nothing.
    store
        .mark(
            UserId::new(&b),
            ConversationId::new(&g),
            MarkKind::Read,
            1,
            T0 + 12,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (3, 3));
    // New messages wait for their recipients, the late member included.
    send_n(&*store, &g, &a, 2).await;
    store
        .mark(
            UserId::new(&b),
            ConversationId::new(&g),
            MarkKind::Read,
            5,
            T0 + 13,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (3, 3));
    store
        .mark(
            UserId::new(&late),
            ConversationId::new(&g),
            MarkKind::Delivered,
            5,
            T0 + 14,
        )
        .await
        .unwrap();
    assert_eq!(watermarks(&*store, &g).await, (5, 3));
    let seen = announced(&*store, &a).await;
    assert!(
        seen.windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
        "{seen:?}"
    );
}

/// Who receives member `marker`'s `message_status` in a group of `size` members.
async fn status_audience(store: &dyn Store, size: usize) -> (bool, bool) {
    let names: Vec<String> = (0..size).map(|i| format!("m{size}x{i}")).collect();
    for n in &names {
        store
            .create_user(&crate::harness::user_row(n))
            .await
            .unwrap();
    }
    let ids: Vec<String> = names.iter().map(|n| crate::harness::user_id(n)).collect();
    let others: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
    let g = group(store, &ids[0], &others).await;
    send_n(store, &g, &ids[0], 1).await;
    let marker = &ids[2];
    store
        .mark(
            UserId::new(marker),
            ConversationId::new(&g),
            MarkKind::Read,
            1,
            T0 + 10,
        )
        .await
        .unwrap();
    let got = |viewer: &str| {
        let viewer = viewer.to_owned();
        async move {
            events_after(store, &viewer, 0).await.iter().any(|e| {
                e.kind == EventKind::MessageStatus && data(e)["user_id"] == marker.as_str()
            })
        }
    };
    (got(marker).await, got(&ids[1]).await)
}

pub async fn marks_reach_every_member_up_to_32_members_and_only_their_own_devices_past(
    store: Arc<dyn Store>,
) {
    // (the member's own devices, another member)
    assert_eq!(status_audience(&*store, 32).await, (true, true));
    assert_eq!(status_audience(&*store, 33).await, (true, false));
}

pub async fn concurrent_marks_of_one_member_end_at_the_highest(store: Arc<dyn Store>) {
    let [a, b] = users(&*store, ["a", "b"]).await;
    let dm = direct(&*store, &a, &b).await;
    send_n(&*store, &dm, &a, 40).await;
    let marks = (1..=40).map(|seq| {
        let store = store.clone();
        let (b, dm) = (b.clone(), dm.clone());
        tokio::spawn(async move {
            store
                .mark(
                    UserId::new(&b),
                    ConversationId::new(&dm),
                    MarkKind::Read,
                    seq,
                    T0 + 10,
                )
                .await
        })
    });
    for m in marks {
        m.await.unwrap().unwrap();
    }
    assert_eq!(watermarks(&*store, &dm).await, (40, 40));
    let ups: Vec<i64> = events_after(&*store, &b, 0)
        .await
        .iter()
        .filter(|e| e.kind == EventKind::MessageStatus)
        .map(|e| data(e)["up_to_seq"].as_i64().unwrap())
        .collect();
    assert!(!ups.is_empty() && ups.len() <= 40, "{ups:?}");
    assert!(
        ups.windows(2).all(|w| w[0] < w[1]),
        "marks only move up: {ups:?}"
    );
    assert_eq!(ups.last(), Some(&40));
}
