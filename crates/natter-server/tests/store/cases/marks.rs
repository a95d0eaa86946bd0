//! Receipts as watermarks: read implies delivered, marks only move forward and never past the
//! last seq, and the history of moves tells when each message was first reached.

use std::sync::Arc;

use natter_core::{ConversationId, UserId, receipts::Marks};
use natter_server::store::{MarkKind, MarkTimes, Store};

use crate::harness::{T0, direct, group, send, send_n, users};

async fn marks_of(store: &dyn Store, conversation_id: &str, user_id: &str) -> Marks {
    store
        .member(ConversationId::new(conversation_id), UserId::new(user_id))
        .await
        .unwrap()
        .expect("a member")
        .marks
}

fn marks(delivered_seq: i64, read_seq: i64) -> Marks {
    Marks {
        delivered_seq,
        read_seq,
    }
}

pub async fn marking_read_also_marks_delivered(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send_n(&*store, &dm, &alice, 3).await;
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(0, 0));

    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                2,
                T0 + 10
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(2, 2));

    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Delivered,
                3,
                T0 + 11
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(3, 2));
    // Others' marks are their own.
    assert_eq!(marks_of(&*store, &dm, &alice).await, marks(3, 3));
}

pub async fn marks_never_move_backwards(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send_n(&*store, &dm, &alice, 5).await;

    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Delivered,
                4,
                T0 + 10
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                3,
                T0 + 11
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(4, 3));

    for (kind, seq) in [
        (MarkKind::Delivered, 2),
        (MarkKind::Delivered, 4),
        (MarkKind::Read, 1),
        (MarkKind::Read, 3),
        (MarkKind::Read, 0),
    ] {
        assert!(
            !store
                .mark(
                    UserId::new(&bob),
                    ConversationId::new(&dm),
                    kind,
                    seq,
                    T0 + 12
                )
                .await
                .unwrap(),
            "{kind:?} {seq} moved a mark"
        );
        assert_eq!(marks_of(&*store, &dm, &bob).await, marks(4, 3));
    }

    // Read below the delivered mark moves only the read mark.
    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                4,
                T0 + 13
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(4, 4));
}

pub async fn marks_are_capped_at_the_last_seq(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;

    // Nothing sent yet: nothing to mark.
    assert!(
        !store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                5,
                T0 + 1
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(0, 0));

    send_n(&*store, &dm, &alice, 3).await;
    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Delivered,
                99,
                T0 + 10
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(3, 0));
    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                i64::MAX,
                T0 + 11
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(3, 3));
    assert!(
        !store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                100,
                T0 + 12
            )
            .await
            .unwrap()
    );

    // The cap follows the conversation: a new message can be marked.
    send(&*store, &dm, &alice, "four", T0 + 20).await;
    assert!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new(&dm),
                MarkKind::Read,
                100,
                T0 + 21
            )
            .await
            .unwrap()
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(4, 4));
}

pub async fn mark_times_tell_when_a_mark_first_reached_a_seq(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    send_n(&*store, &g, &alice, 4).await;
    let times = |user: String, seq: i64| {
        let store = store.clone();
        let g = g.clone();
        async move {
            store
                .mark_times(ConversationId::new(&g), UserId::new(&user), seq)
                .await
                .unwrap()
        }
    };
    let at = |delivered_at: Option<i64>, read_at: Option<i64>| MarkTimes {
        delivered_at,
        read_at,
    };

    assert_eq!(times(bob.clone(), 1).await, MarkTimes::default());

    let moves = [
        (MarkKind::Delivered, 1, T0 + 100),
        (MarkKind::Delivered, 3, T0 + 200),
        (MarkKind::Read, 2, T0 + 300),
        (MarkKind::Read, 3, T0 + 400),
        // No move: the times stay those of the first moves.
        (MarkKind::Read, 3, T0 + 500),
        (MarkKind::Delivered, 2, T0 + 600),
    ];
    for (kind, seq, when) in moves {
        store
            .mark(UserId::new(&bob), ConversationId::new(&g), kind, seq, when)
            .await
            .unwrap();
    }

    assert_eq!(
        times(bob.clone(), 1).await,
        at(Some(T0 + 100), Some(T0 + 300))
    );
    assert_eq!(
        times(bob.clone(), 2).await,
        at(Some(T0 + 200), Some(T0 + 300))
    );
    assert_eq!(
        times(bob.clone(), 3).await,
        at(Some(T0 + 200), Some(T0 + 400))
    );
    assert_eq!(times(bob.clone(), 4).await, MarkTimes::default());
    assert_eq!(times(carol.clone(), 1).await, MarkTimes::default());

    // Reading first delivers at the same moment.
    store
        .mark(
            UserId::new(&carol),
            ConversationId::new(&g),
            MarkKind::Read,
            4,
            T0 + 700,
        )
        .await
        .unwrap();
    assert_eq!(
        times(carol.clone(), 4).await,
        at(Some(T0 + 700), Some(T0 + 700))
    );
    assert_eq!(
        times(carol.clone(), 1).await,
        at(Some(T0 + 700), Some(T0 + 700))
    );
    // A mark capped at the last seq reaches only that far.
    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&g),
            MarkKind::Delivered,
            50,
            T0 + 800,
        )
        .await
        .unwrap();
    assert_eq!(times(bob.clone(), 4).await, at(Some(T0 + 800), None));
    assert_eq!(times(bob, 5).await, MarkTimes::default());
}

pub async fn sending_marks_the_senders_read_seq_up_to_its_message(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;

    send(&*store, &g, &alice, "1", T0 + 1).await;
    assert_eq!(marks_of(&*store, &g, &alice).await, marks(1, 1));
    assert_eq!(marks_of(&*store, &g, &bob).await, marks(0, 0));

    send(&*store, &g, &bob, "2", T0 + 2).await;
    send(&*store, &g, &bob, "3", T0 + 3).await;
    assert_eq!(marks_of(&*store, &g, &bob).await, marks(3, 3));
    assert_eq!(marks_of(&*store, &g, &alice).await, marks(1, 1));

    // Alice answers: she has read bob's messages by then.
    send(&*store, &g, &alice, "4", T0 + 4).await;
    assert_eq!(marks_of(&*store, &g, &alice).await, marks(4, 4));
    assert_eq!(
        store
            .mark_times(ConversationId::new(&g), UserId::new(&alice), 3)
            .await
            .unwrap(),
        MarkTimes {
            delivered_at: Some(T0 + 4),
            read_at: Some(T0 + 4),
        }
    );
    assert_eq!(
        store
            .mark_times(ConversationId::new(&g), UserId::new(&alice), 2)
            .await
            .unwrap()
            .read_at,
        Some(T0 + 4)
    );
}

pub async fn marking_needs_membership(store: Arc<dyn Store>) {
    let [alice, bob, eve] = users(&*store, ["alice", "bob", "eve"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send_n(&*store, &dm, &alice, 2).await;

    assert_rule!(
        store
            .mark(
                UserId::new(&eve),
                ConversationId::new(&dm),
                MarkKind::Read,
                2,
                T0 + 10
            )
            .await,
        NotFound
    );
    assert_rule!(
        store
            .mark(
                UserId::new(&bob),
                ConversationId::new("no-such-conversation"),
                MarkKind::Delivered,
                1,
                T0 + 10
            )
            .await,
        NotFound
    );
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(0, 0));
}

pub async fn concurrent_marks_keep_the_highest(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send_n(&*store, &dm, &alice, 30).await;

    let tasks: Vec<_> = (1..=30)
        .rev()
        .map(|seq| {
            let store = store.clone();
            let (bob, dm) = (bob.clone(), dm.clone());
            let kind = if seq % 3 == 0 {
                MarkKind::Read
            } else {
                MarkKind::Delivered
            };
            tokio::spawn(async move {
                store
                    .mark(
                        UserId::new(&bob),
                        ConversationId::new(&dm),
                        kind,
                        seq,
                        T0 + 100 + seq,
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(30, 30));
}

/// Marks of one member, conversation and kind that wait for the writer together coalesce into
/// one move to the highest seq asked: a burst costs a few events, not one per mark, and every
/// caller hears that its mark is stored.
pub async fn a_burst_of_marks_waiting_together_moves_once(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send_n(&*store, &dm, &alice, 30).await;
    let before = store.head().await.unwrap();

    // Polled in order (`join_all` of at most 30 polls them in turn), so that the marks reach
    // the store in increasing order: were each stored alone, each would move the mark and log
    // a move.
    let marks_in_order = (1..=30).map(|seq| {
        let (store, bob, dm) = (store.clone(), bob.clone(), dm.clone());
        async move {
            store
                .mark(
                    UserId::new(&bob),
                    ConversationId::new(&dm),
                    MarkKind::Delivered,
                    seq,
                    T0 + 100 + seq,
                )
                .await
        }
    });
    let mut moved = 0;
    for answer in futures::future::join_all(marks_in_order).await {
        moved += usize::from(answer.unwrap());
    }
    assert_eq!(marks_of(&*store, &dm, &bob).await, marks(30, 0));
    let statuses = store
        .events_after(before, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == natter_server::store::EventKind::MessageStatus)
        .count();
    assert!(moved >= 1);
    assert!(
        statuses < 10,
        "30 marks waiting together logged {statuses} moves"
    );
}
