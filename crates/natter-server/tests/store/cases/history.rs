//! Reading history: pages in both directions, always ascending, and a member's join point.

use std::sync::Arc;

use natter_core::{ConversationId, Role, UserId};
use natter_server::store::Store;

use crate::harness::{T0, group, send_n, seqs, users};

/// Seqs of one page and its `has_more`.
async fn page(
    store: &dyn Store,
    conversation_id: &str,
    viewer: &str,
    min_seq: i64,
    before: Option<i64>,
    after: Option<i64>,
    limit: u32,
) -> (Vec<i64>, bool) {
    let (msgs, more) = store
        .messages(
            ConversationId::new(conversation_id),
            UserId::new(viewer),
            min_seq,
            before,
            after,
            limit,
        )
        .await
        .unwrap();
    (seqs(&msgs), more)
}

pub async fn messages_pages_backwards_from_the_newest_in_ascending_order(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let sent = send_n(&*store, &g, &alice, 10).await;

    let s = &*store;
    assert_eq!(
        page(s, &g, &bob, 0, None, None, 3).await,
        (vec![8, 9, 10], true)
    );
    assert_eq!(
        page(s, &g, &bob, 0, Some(8), None, 3).await,
        (vec![5, 6, 7], true)
    );
    assert_eq!(
        page(s, &g, &bob, 0, Some(5), None, 3).await,
        (vec![2, 3, 4], true)
    );
    assert_eq!(
        page(s, &g, &bob, 0, Some(2), None, 3).await,
        (vec![1], false)
    );
    // Exactly the rest: nothing more.
    assert_eq!(
        page(s, &g, &bob, 0, Some(4), None, 3).await,
        (vec![1, 2, 3], false)
    );
    assert_eq!(
        page(s, &g, &bob, 0, Some(1), None, 3).await,
        (vec![], false)
    );
    assert_eq!(
        page(s, &g, &bob, 0, None, None, 50).await,
        ((1..=10).collect(), false)
    );
    assert!(!page(s, &g, &bob, 0, None, None, 10).await.1);
    assert!(page(s, &g, &bob, 0, None, None, 9).await.1);

    // The rows are the stored messages.
    let (msgs, _) = store
        .messages(
            ConversationId::new(&g),
            UserId::new(&bob),
            0,
            Some(3),
            None,
            1,
        )
        .await
        .unwrap();
    assert_eq!(msgs, [sent[1].clone()]);

    // An empty conversation has no page.
    let empty = group(&*store, &alice, &[]).await;
    assert_eq!(
        page(s, &empty, &alice, 0, None, None, 50).await,
        (vec![], false)
    );
}

pub async fn messages_pages_forwards_with_after(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    send_n(&*store, &g, &bob, 10).await;

    let s = &*store;
    assert_eq!(
        page(s, &g, &alice, 0, None, Some(0), 4).await,
        (vec![1, 2, 3, 4], true)
    );
    assert_eq!(
        page(s, &g, &alice, 0, None, Some(4), 4).await,
        (vec![5, 6, 7, 8], true)
    );
    assert_eq!(
        page(s, &g, &alice, 0, None, Some(8), 4).await,
        (vec![9, 10], false)
    );
    assert_eq!(
        page(s, &g, &alice, 0, None, Some(6), 4).await,
        (vec![7, 8, 9, 10], false)
    );
    assert_eq!(
        page(s, &g, &alice, 0, None, Some(10), 4).await,
        (vec![], false)
    );
    // Both bounds: strictly between them, the oldest first.
    assert_eq!(
        page(s, &g, &alice, 0, Some(7), Some(2), 10).await,
        (vec![3, 4, 5, 6], false)
    );
    assert_eq!(
        page(s, &g, &alice, 0, Some(7), Some(2), 2).await,
        (vec![3, 4], true)
    );
}

pub async fn a_later_member_sees_only_messages_sent_after_it_joined(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    send_n(&*store, &g, &alice, 3).await;

    store
        .add_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&carol),
            Role::Member,
            1024,
            T0 + 50,
        )
        .await
        .unwrap();
    let joined_seq = store
        .member(ConversationId::new(&g), UserId::new(&carol))
        .await
        .unwrap()
        .unwrap()
        .joined_seq;
    assert_eq!(joined_seq, 3);
    crate::harness::send(&*store, &g, &bob, "after carol joined", T0 + 60).await;
    crate::harness::send(&*store, &g, &alice, "welcome", T0 + 61).await;

    let s = &*store;
    assert_eq!(
        page(s, &g, &carol, joined_seq, None, None, 50).await,
        (vec![4, 5], false)
    );
    // Pages stop at the join point: nothing more lies before it for carol.
    assert_eq!(
        page(s, &g, &carol, joined_seq, None, None, 1).await,
        (vec![5], true)
    );
    assert_eq!(
        page(s, &g, &carol, joined_seq, Some(5), None, 1).await,
        (vec![4], false)
    );
    assert_eq!(
        page(s, &g, &carol, joined_seq, Some(4), None, 10).await,
        (vec![], false)
    );
    assert_eq!(
        page(s, &g, &carol, joined_seq, None, Some(0), 10).await,
        (vec![4, 5], false)
    );
    assert_eq!(
        page(s, &g, &carol, joined_seq, None, Some(1), 1).await,
        (vec![4], true)
    );
    // The earlier members still see everything.
    assert_eq!(
        page(s, &g, &bob, 0, None, None, 50).await,
        (vec![1, 2, 3, 4, 5], false)
    );

    let view = store
        .conversation_view(ConversationId::new(&g), UserId::new(&carol))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.unread_count, 2);
    assert_eq!(view.last_message.map(|m| m.seq), Some(5));
}

pub async fn messages_by_id_reads_many_as_stored_hidden_for_no_one(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let sent = send_n(&*store, &g, &alice, 3).await;
    // Hidden for bob: the read is nobody's, so it is shown.
    store
        .hide(
            UserId::new(&bob),
            natter_core::MessageId::new(&sent[1].id),
            T0 + 10,
        )
        .await
        .unwrap();

    let ids = vec![
        sent[2].id.clone(),
        "no-such-message".to_owned(),
        sent[1].id.clone(),
    ];
    let mut got = store.messages_by_id(&ids).await.unwrap();
    got.sort_by_key(|m| m.seq);
    assert_eq!(got, vec![sent[1].clone(), sent[2].clone()]);
    assert!(got.iter().all(|m| !m.hidden));
    assert_eq!(store.messages_by_id(&[]).await.unwrap(), vec![]);
}
