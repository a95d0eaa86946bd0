//! Groups: an owner, admins and members; who may rename, add, remove and change roles; who
//! inherits the group when its owner leaves; and the end of the group with its last member.

use std::sync::Arc;

use natter_core::{ConversationId, ConversationKind, MessageId, Role, UserId, receipts::Marks};
use natter_server::store::{MemberRow, Removed, Store};

use crate::harness::{T0, group, send_n, users};

/// `(user_id, role)` of every member, in join order.
async fn roster(store: &dyn Store, conversation_id: &str) -> Vec<(String, Role)> {
    store
        .members(ConversationId::new(conversation_id))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.user_id, m.role))
        .collect()
}

fn entry(user_id: &str, role: Role) -> (String, Role) {
    (user_id.to_owned(), role)
}

pub async fn create_group_makes_the_creator_owner_and_keeps_join_order(store: Arc<dyn Store>) {
    let [olga, mia, abe] = users(&*store, ["olga", "mia", "abe"]).await;
    let members = vec![mia.clone(), abe.clone()];
    let head = store.head().await.unwrap();
    store
        .create_group(
            ConversationId::new("g-1"),
            UserId::new(&olga),
            "Book club",
            &members,
            T0 + 7,
        )
        .await
        .unwrap();

    let conv = store
        .conversation(ConversationId::new("g-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.kind, ConversationKind::Group);
    assert_eq!(conv.name.as_deref(), Some("Book club"));
    assert_eq!(
        (conv.created_at, conv.last_message_at, conv.last_seq),
        (T0 + 7, T0 + 7, 0)
    );

    // Join order is the order given, after the owner, not the order of the ids.
    let member = |user_id: &str, role| MemberRow {
        user_id: user_id.to_owned(),
        role,
        joined_at: T0 + 7,
        joined_seq: 0,
        joined_pos: head,
        marks: Marks::default(),
    };
    assert_eq!(
        store.members(ConversationId::new("g-1")).await.unwrap(),
        [
            member(&olga, Role::Owner),
            member(&mia, Role::Member),
            member(&abe, Role::Member)
        ]
    );

    // A group of one is a group too.
    store
        .create_group(
            ConversationId::new("g-2"),
            UserId::new(&abe),
            "Alone",
            &[],
            T0 + 8,
        )
        .await
        .unwrap();
    assert_eq!(roster(&*store, "g-2").await, [entry(&abe, Role::Owner)]);
}

pub async fn renaming_needs_an_owner_or_admin(store: Arc<dyn Store>) {
    let [owner, admin, plain, outsider] =
        users(&*store, ["owner", "admin", "plain", "outsider"]).await;
    let g = group(&*store, &owner, &[&admin, &plain]).await;
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&admin),
            Role::Admin,
            T0 + 1,
        )
        .await
        .unwrap();

    assert_rule!(
        store
            .rename(
                UserId::new(&plain),
                ConversationId::new(&g),
                "By plain",
                T0 + 2
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .rename(
                UserId::new(&outsider),
                ConversationId::new(&g),
                "By outsider",
                T0 + 2
            )
            .await,
        NotFound
    );
    assert_rule!(
        store
            .rename(
                UserId::new(&owner),
                ConversationId::new("g-nope"),
                "Ghost",
                T0 + 2
            )
            .await,
        NotFound
    );
    assert_eq!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("group")
    );

    store
        .rename(
            UserId::new(&admin),
            ConversationId::new(&g),
            "By admin",
            T0 + 3,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("By admin")
    );
    store
        .rename(
            UserId::new(&owner),
            ConversationId::new(&g),
            "By owner",
            T0 + 4,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("By owner")
    );
}

pub async fn adding_a_member_records_its_join_point(store: Arc<dyn Store>) {
    let [owner, mia, newcomer, helper] = users(&*store, ["owner", "mia", "new", "helper"]).await;
    let g = group(&*store, &owner, &[&mia]).await;
    send_n(&*store, &g, &mia, 3).await;
    let head = store.head().await.unwrap();

    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&newcomer),
            Role::Member,
            1024,
            T0 + 100,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .member(ConversationId::new(&g), UserId::new(&newcomer))
            .await
            .unwrap(),
        Some(MemberRow {
            user_id: newcomer.clone(),
            role: Role::Member,
            joined_at: T0 + 100,
            joined_seq: 3,
            joined_pos: head,
            marks: Marks::default(),
        })
    );

    // Added as admin, last in join order.
    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&helper),
            Role::Admin,
            1024,
            T0 + 101,
        )
        .await
        .unwrap();
    assert_eq!(
        roster(&*store, &g).await,
        [
            entry(&owner, Role::Owner),
            entry(&mia, Role::Member),
            entry(&newcomer, Role::Member),
            entry(&helper, Role::Admin),
        ]
    );
    // Nobody is added as a second owner.
    let [late] = users(&*store, ["late"]).await;
    assert_rule!(
        store
            .add_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&late),
                Role::Owner,
                1024,
                T0 + 102
            )
            .await,
        Invalid
    );
    assert_eq!(
        store
            .member(ConversationId::new(&g), UserId::new(&late))
            .await
            .unwrap(),
        None
    );
}

pub async fn adding_needs_an_owner_or_admin(store: Arc<dyn Store>) {
    let [owner, admin, plain, x, y, outsider] =
        users(&*store, ["owner", "admin", "plain", "x", "y", "outsider"]).await;
    let g = group(&*store, &owner, &[&admin, &plain]).await;
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&admin),
            Role::Admin,
            T0 + 1,
        )
        .await
        .unwrap();

    assert_rule!(
        store
            .add_member(
                UserId::new(&plain),
                ConversationId::new(&g),
                UserId::new(&x),
                Role::Member,
                1024,
                T0 + 2
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .add_member(
                UserId::new(&outsider),
                ConversationId::new(&g),
                UserId::new(&x),
                Role::Member,
                1024,
                T0 + 2
            )
            .await,
        NotFound
    );
    assert_eq!(
        store
            .member(ConversationId::new(&g), UserId::new(&x))
            .await
            .unwrap(),
        None
    );

    store
        .add_member(
            UserId::new(&admin),
            ConversationId::new(&g),
            UserId::new(&x),
            Role::Member,
            1024,
            T0 + 3,
        )
        .await
        .unwrap();
    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&y),
            Role::Member,
            1024,
            T0 + 4,
        )
        .await
        .unwrap();
    assert_eq!(
        store.members(ConversationId::new(&g)).await.unwrap().len(),
        5
    );
}

pub async fn adding_an_existing_member_is_a_conflict(store: Arc<dyn Store>) {
    let [owner, mia] = users(&*store, ["owner", "mia"]).await;
    let g = group(&*store, &owner, &[&mia]).await;

    assert_rule!(
        store
            .add_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&mia),
                Role::Admin,
                1024,
                T0 + 1
            )
            .await,
        Conflict
    );
    assert_rule!(
        store
            .add_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&owner),
                Role::Member,
                1024,
                T0 + 1
            )
            .await,
        Conflict
    );
    assert_eq!(
        roster(&*store, &g).await,
        [entry(&owner, Role::Owner), entry(&mia, Role::Member)]
    );
}

pub async fn adding_past_the_member_limit_is_invalid(store: Arc<dyn Store>) {
    let [owner, a, b, c] = users(&*store, ["owner", "a", "b", "c"]).await;
    let g = group(&*store, &owner, &[&a]).await;

    // Two members, a limit of three: one more fits, then none.
    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&b),
            Role::Member,
            3,
            T0 + 1,
        )
        .await
        .unwrap();
    assert_rule!(
        store
            .add_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&c),
                Role::Member,
                3,
                T0 + 2
            )
            .await,
        Invalid
    );
    assert_eq!(
        store
            .member(ConversationId::new(&g), UserId::new(&c))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.members(ConversationId::new(&g)).await.unwrap().len(),
        3
    );
}

pub async fn adding_an_unknown_user_is_invalid(store: Arc<dyn Store>) {
    let [owner] = users(&*store, ["owner"]).await;
    let g = group(&*store, &owner, &[]).await;

    assert_rule!(
        store
            .add_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new("user-ghost"),
                Role::Member,
                1024,
                T0 + 1
            )
            .await,
        Invalid
    );
    assert_eq!(roster(&*store, &g).await, [entry(&owner, Role::Owner)]);
}

pub async fn an_admin_cannot_remove_the_owner(store: Arc<dyn Store>) {
    let [owner, admin, other_admin, plain] =
        users(&*store, ["owner", "admin", "admin2", "plain"]).await;
    let g = group(&*store, &owner, &[&admin, &other_admin, &plain]).await;
    for a in [&admin, &other_admin] {
        store
            .set_role(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(a),
                Role::Admin,
                T0 + 1,
            )
            .await
            .unwrap();
    }

    assert_rule!(
        store
            .remove_member(
                UserId::new(&admin),
                ConversationId::new(&g),
                UserId::new(&owner),
                T0 + 2
            )
            .await,
        Forbidden
    );
    assert_eq!(
        store
            .member(ConversationId::new(&g), UserId::new(&owner))
            .await
            .unwrap()
            .map(|m| m.role),
        Some(Role::Owner)
    );

    // An admin removes members and other admins; the owner removes admins.
    assert_eq!(
        store
            .remove_member(
                UserId::new(&admin),
                ConversationId::new(&g),
                UserId::new(&plain),
                T0 + 3
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert_eq!(
        store
            .remove_member(
                UserId::new(&admin),
                ConversationId::new(&g),
                UserId::new(&other_admin),
                T0 + 4
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert_eq!(
        store
            .remove_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&admin),
                T0 + 5
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert_eq!(roster(&*store, &g).await, [entry(&owner, Role::Owner)]);
}

pub async fn a_plain_member_removes_only_itself(store: Arc<dyn Store>) {
    let [owner, mia, max] = users(&*store, ["owner", "mia", "max"]).await;
    let g = group(&*store, &owner, &[&mia, &max]).await;

    assert_rule!(
        store
            .remove_member(
                UserId::new(&mia),
                ConversationId::new(&g),
                UserId::new(&max),
                T0 + 1
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .remove_member(
                UserId::new(&mia),
                ConversationId::new(&g),
                UserId::new("user-ghost"),
                T0 + 1
            )
            .await,
        NotFound
    );
    assert_eq!(
        store.members(ConversationId::new(&g)).await.unwrap().len(),
        3
    );

    assert_eq!(
        store
            .remove_member(
                UserId::new(&mia),
                ConversationId::new(&g),
                UserId::new(&mia),
                T0 + 2
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert_eq!(
        store
            .member(ConversationId::new(&g), UserId::new(&mia))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        roster(&*store, &g).await,
        [entry(&owner, Role::Owner), entry(&max, Role::Member)]
    );
    // Once out, it can remove nobody, itself included.
    assert_rule!(
        store
            .remove_member(
                UserId::new(&mia),
                ConversationId::new(&g),
                UserId::new(&mia),
                T0 + 3
            )
            .await,
        NotFound
    );
}

pub async fn when_the_owner_leaves_the_longest_standing_admin_becomes_owner(store: Arc<dyn Store>) {
    let [owner, first_member, early_admin, late_admin] =
        users(&*store, ["owner", "m1", "a1", "a2"]).await;
    let g = group(&*store, &owner, &[&first_member, &early_admin, &late_admin]).await;
    // Promoted in the other order: standing counts from joining, not from promotion.
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&late_admin),
            Role::Admin,
            T0 + 1,
        )
        .await
        .unwrap();
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&early_admin),
            Role::Admin,
            T0 + 2,
        )
        .await
        .unwrap();

    assert_eq!(
        store
            .remove_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&owner),
                T0 + 3
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert_eq!(
        roster(&*store, &g).await,
        [
            entry(&first_member, Role::Member),
            entry(&early_admin, Role::Owner),
            entry(&late_admin, Role::Admin),
        ]
    );
}

pub async fn when_the_owner_leaves_without_admins_the_longest_standing_member_becomes_owner(
    store: Arc<dyn Store>,
) {
    let [owner, m1, m2, m3] = users(&*store, ["owner", "m1", "m2", "m3"]).await;
    // m2 and m1 join at creation in this order; m3 later.
    let g = group(&*store, &owner, &[&m2, &m1]).await;
    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&m3),
            Role::Member,
            1024,
            T0 + 1,
        )
        .await
        .unwrap();

    assert_eq!(
        store
            .remove_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&owner),
                T0 + 2
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert_eq!(
        roster(&*store, &g).await,
        [
            entry(&m2, Role::Owner),
            entry(&m1, Role::Member),
            entry(&m3, Role::Member),
        ]
    );
}

pub async fn when_the_last_member_leaves_the_group_is_deleted(store: Arc<dyn Store>) {
    let [owner, mia] = users(&*store, ["owner", "mia"]).await;
    let g = group(&*store, &owner, &[&mia]).await;
    let sent = send_n(&*store, &g, &mia, 2).await;

    assert_eq!(
        store
            .remove_member(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&owner),
                T0 + 10
            )
            .await
            .unwrap(),
        Removed::Member
    );
    assert!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .remove_member(
                UserId::new(&mia),
                ConversationId::new(&g),
                UserId::new(&mia),
                T0 + 11
            )
            .await
            .unwrap(),
        Removed::GroupDeleted
    );

    assert_eq!(
        store.conversation(ConversationId::new(&g)).await.unwrap(),
        None
    );
    assert!(
        store
            .members(ConversationId::new(&g))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .conversation_view(ConversationId::new(&g), UserId::new(&mia))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .conversations_of(UserId::new(&mia), None, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .message(MessageId::new(&sent[0].id), UserId::new(&mia))
            .await
            .unwrap(),
        None
    );
    assert_rule!(
        store
            .send(&crate::harness::text(&g, &mia, "anyone?", T0 + 12))
            .await,
        NotFound
    );
}

pub async fn only_the_owner_changes_roles(store: Arc<dyn Store>) {
    let [owner, admin, plain] = users(&*store, ["owner", "admin", "plain"]).await;
    let g = group(&*store, &owner, &[&admin, &plain]).await;
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&admin),
            Role::Admin,
            T0 + 1,
        )
        .await
        .unwrap();

    assert_rule!(
        store
            .set_role(
                UserId::new(&admin),
                ConversationId::new(&g),
                UserId::new(&plain),
                Role::Admin,
                T0 + 2
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .set_role(
                UserId::new(&plain),
                ConversationId::new(&g),
                UserId::new(&plain),
                Role::Admin,
                T0 + 2
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .set_role(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&plain),
                Role::Owner,
                T0 + 2
            )
            .await,
        Invalid
    );
    assert_rule!(
        store
            .set_role(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new(&owner),
                Role::Member,
                T0 + 2
            )
            .await,
        Invalid
    );
    assert_rule!(
        store
            .set_role(
                UserId::new(&owner),
                ConversationId::new(&g),
                UserId::new("user-ghost"),
                Role::Admin,
                T0 + 2
            )
            .await,
        NotFound
    );
    assert_eq!(
        roster(&*store, &g).await,
        [
            entry(&owner, Role::Owner),
            entry(&admin, Role::Admin),
            entry(&plain, Role::Member),
        ]
    );

    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&admin),
            Role::Member,
            T0 + 3,
        )
        .await
        .unwrap();
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&plain),
            Role::Admin,
            T0 + 4,
        )
        .await
        .unwrap();
    assert_eq!(
        roster(&*store, &g).await,
        [
            entry(&owner, Role::Owner),
            entry(&admin, Role::Member),
            entry(&plain, Role::Admin),
        ]
    );
}

pub async fn concurrent_adds_respect_the_member_limit(store: Arc<dyn Store>) {
    let [owner, a, b, c, d, e, f] = users(&*store, ["owner", "a", "b", "c", "d", "e", "f"]).await;
    let g = group(&*store, &owner, &[&a]).await;
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&a),
            Role::Admin,
            T0 + 1,
        )
        .await
        .unwrap();

    // Two members, a limit of four, five candidates added at once by two managers; and one
    // candidate added twice.
    let candidates = [&b, &c, &d, &e, &f, &b];
    let tasks: Vec<_> = candidates
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let store = store.clone();
            let actor = if i % 2 == 0 { owner.clone() } else { a.clone() };
            let (g, user) = (g.clone(), user.to_string());
            tokio::spawn(async move {
                store
                    .add_member(
                        UserId::new(&actor),
                        ConversationId::new(&g),
                        UserId::new(&user),
                        Role::Member,
                        4,
                        T0 + 2,
                    )
                    .await
            })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => added += 1,
            Err(natter_server::store::StoreError::Rule(
                natter_core::Error::Invalid(_) | natter_core::Error::Conflict(_),
            )) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added, 2);
    let members = store.members(ConversationId::new(&g)).await.unwrap();
    assert_eq!(members.len(), 4);
    let mut ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}
