//! Direct conversations: at most one per pair, two plain members, no name.

use std::sync::Arc;

use natter_core::{ConversationId, ConversationKind, Role, UserId, receipts::Marks};
use natter_server::store::{ConversationRow, MemberRow, Store, UserRow};

use crate::harness::{T0, users};

pub async fn create_direct_returns_the_same_conversation_for_the_pair_in_either_order(
    store: Arc<dyn Store>,
) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let head = store.head().await.unwrap();

    let first = store
        .create_direct(
            ConversationId::new("dm-1"),
            UserId::new(&alice),
            UserId::new(&bob),
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(first, ("dm-1".to_owned(), true));

    let again = store
        .create_direct(
            ConversationId::new("dm-2"),
            UserId::new(&bob),
            UserId::new(&alice),
            T0 + 20,
        )
        .await
        .unwrap();
    assert_eq!(again, ("dm-1".to_owned(), false));
    let same_order = store
        .create_direct(
            ConversationId::new("dm-3"),
            UserId::new(&alice),
            UserId::new(&bob),
            T0 + 30,
        )
        .await
        .unwrap();
    assert_eq!(same_order, ("dm-1".to_owned(), false));
    assert_eq!(
        store
            .conversation(ConversationId::new("dm-2"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .conversation(ConversationId::new("dm-3"))
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        store
            .conversation(ConversationId::new("dm-1"))
            .await
            .unwrap(),
        Some(ConversationRow {
            id: "dm-1".into(),
            kind: ConversationKind::Direct,
            name: None,
            created_at: T0 + 10,
            last_message_at: T0 + 10,
            last_seq: 0,
            all_delivered_seq: 0,
            all_read_seq: 0,
        })
    );
    let member = |user_id: &str| MemberRow {
        user_id: user_id.to_owned(),
        role: Role::Member,
        joined_at: T0 + 10,
        joined_seq: 0,
        joined_pos: head,
        marks: Marks::default(),
    };
    assert_eq!(
        store.members(ConversationId::new("dm-1")).await.unwrap(),
        [member(&alice), member(&bob)]
    );
    assert_eq!(
        store
            .member(ConversationId::new("dm-1"), UserId::new(&bob))
            .await
            .unwrap(),
        Some(member(&bob))
    );
    assert_eq!(
        store
            .member(ConversationId::new("dm-1"), UserId::new(&carol))
            .await
            .unwrap(),
        None
    );

    // Another pair gets its own conversation.
    let other = store
        .create_direct(
            ConversationId::new("dm-4"),
            UserId::new(&carol),
            UserId::new(&alice),
            T0 + 40,
        )
        .await
        .unwrap();
    assert_eq!(other, ("dm-4".to_owned(), true));
}

pub async fn a_direct_conversation_has_no_name_and_no_roles_to_change(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let (dm, _) = store
        .create_direct(
            ConversationId::new("dm"),
            UserId::new(&alice),
            UserId::new(&bob),
            T0,
        )
        .await
        .unwrap();

    assert_rule!(
        store
            .rename(
                UserId::new(&alice),
                ConversationId::new(&dm),
                "ours",
                T0 + 1
            )
            .await,
        Invalid
    );
    assert_rule!(
        store
            .add_member(
                UserId::new(&alice),
                ConversationId::new(&dm),
                UserId::new(&carol),
                Role::Member,
                1024,
                T0 + 1
            )
            .await,
        Invalid
    );
    assert_rule!(
        store
            .remove_member(
                UserId::new(&alice),
                ConversationId::new(&dm),
                UserId::new(&bob),
                T0 + 1
            )
            .await,
        Invalid
    );
    assert_rule!(
        store
            .set_role(
                UserId::new(&alice),
                ConversationId::new(&dm),
                UserId::new(&bob),
                Role::Admin,
                T0 + 1
            )
            .await,
        Invalid
    );

    assert_eq!(
        store
            .conversation(ConversationId::new(&dm))
            .await
            .unwrap()
            .unwrap()
            .name,
        None
    );
    let members = store.members(ConversationId::new(&dm)).await.unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m.role == Role::Member));
}

pub async fn create_direct_tells_pairs_apart_whatever_their_ids(store: Arc<dyn Store>) {
    // Ids are opaque strings: a pair must be keyed exactly, not by joining the two ids with a
    // separator that may occur in them ("p:q" + "r" and "p" + "q:r").
    for (id, username) in [("p:q", "pq"), ("r", "r"), ("p", "p"), ("q:r", "qr")] {
        store
            .create_user(&UserRow {
                id: id.to_owned(),
                ..crate::harness::user_row(username)
            })
            .await
            .unwrap();
    }

    let first = store
        .create_direct(
            ConversationId::new("dm-1"),
            UserId::new("p:q"),
            UserId::new("r"),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(first, ("dm-1".to_owned(), true));
    let second = store
        .create_direct(
            ConversationId::new("dm-2"),
            UserId::new("p"),
            UserId::new("q:r"),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(second, ("dm-2".to_owned(), true));

    let ids = |members: Vec<MemberRow>| members.into_iter().map(|m| m.user_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.members(ConversationId::new("dm-2")).await.unwrap()),
        ["p", "q:r"]
    );
    assert_eq!(
        store
            .member(ConversationId::new("dm-1"), UserId::new("p"))
            .await
            .unwrap(),
        None
    );
}

pub async fn concurrent_create_direct_makes_one_conversation(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            // Both orders of the pair, at once.
            let (a, b) = if i % 2 == 0 {
                (alice.clone(), bob.clone())
            } else {
                (bob.clone(), alice.clone())
            };
            tokio::spawn(async move {
                store
                    .create_direct(
                        ConversationId::new(&format!("dm-{i}")),
                        UserId::new(&a),
                        UserId::new(&b),
                        T0,
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let (id, new) = task.await.unwrap().unwrap();
        created += usize::from(new);
        ids.insert(id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let id = ids.into_iter().next().unwrap();
    assert_eq!(
        store.members(ConversationId::new(&id)).await.unwrap().len(),
        2
    );
    assert_eq!(
        store
            .conversations_of(UserId::new(&alice), None, 50)
            .await
            .unwrap()
            .len(),
        1
    );
}
