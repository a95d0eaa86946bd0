//! Accounts: storing users, finding them, and the uniqueness of usernames.

use std::sync::Arc;

use natter_core::{ConversationId, UserId};
use natter_server::store::{Store, UserRow};

use crate::harness::{T0, user_id, user_row, users};

fn usernames(found: &[UserRow]) -> Vec<&str> {
    found.iter().map(|u| u.username.as_str()).collect()
}

pub async fn creates_and_fetches_users_by_id_and_username(store: Arc<dyn Store>) {
    let alice = UserRow {
        id: "user-a1".into(),
        username: "alice".into(),
        display_name: "Alice Liddell".into(),
        password_hash: "$argon2id$v=19$stand-in".into(),
        created_at: T0 + 5,
        last_seen_at: None,
        admin: false,
        deleted: false,
        disabled: false,
    };
    store.create_user(&alice).await.unwrap();
    store.create_user(&user_row("bob")).await.unwrap();

    assert_eq!(
        store.user_by_id(UserId::new("user-a1")).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_username("alice").await.unwrap(), Some(alice));
    assert_eq!(
        store.user_by_username("bob").await.unwrap(),
        Some(user_row("bob"))
    );
    assert_eq!(
        store.user_by_id(UserId::new("user-nobody")).await.unwrap(),
        None
    );
    assert_eq!(store.user_by_username("nobody").await.unwrap(), None);
}

pub async fn a_taken_username_is_a_conflict(store: Arc<dyn Store>) {
    store.create_user(&user_row("alice")).await.unwrap();
    let impostor = UserRow {
        id: "user-other".into(),
        display_name: "Impostor".into(),
        ..user_row("alice")
    };
    assert_rule!(store.create_user(&impostor).await, Conflict);

    assert_eq!(
        store.user_by_username("alice").await.unwrap(),
        Some(user_row("alice"))
    );
    assert_eq!(
        store.user_by_id(UserId::new("user-other")).await.unwrap(),
        None
    );
}

pub async fn search_matches_a_username_prefix_in_order_up_to_the_limit(store: Arc<dyn Store>) {
    users(
        &*store,
        ["carmen", "bob", "carl", "caro", "oscar", "carla", "ca"],
    )
    .await;

    let found = store
        .search_users(UserId::new(""), "car", 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["carl", "carla", "carmen", "caro"]);
    assert_eq!(found[0], user_row("carl"));

    let found = store.search_users(UserId::new(""), "car", 2).await.unwrap();
    assert_eq!(usernames(&found), ["carl", "carla"]);

    let found = store
        .search_users(UserId::new(""), "carl", 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["carl", "carla"]);

    let found = store.search_users(UserId::new(""), "ca", 10).await.unwrap();
    assert_eq!(usernames(&found), ["ca", "carl", "carla", "carmen", "caro"]);

    assert!(
        store
            .search_users(UserId::new(""), "carz", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_users(UserId::new(""), "scar", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn search_treats_percent_and_underscore_literally(store: Arc<dyn Store>) {
    users(&*store, ["dax", "d_x", "dbx", "dora"]).await;

    // As LIKE patterns, "d_" would match all four and "d%" every name starting with d.
    let found = store.search_users(UserId::new(""), "d_", 10).await.unwrap();
    assert_eq!(usernames(&found), ["d_x"]);
    assert!(
        store
            .search_users(UserId::new(""), "d%", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_users(UserId::new(""), "%", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_users(UserId::new(""), "_", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_users(UserId::new(""), "d_x%", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn existing_users_keeps_only_known_ids(store: Arc<dyn Store>) {
    let [alice, bob, _carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let asked = vec![
        alice.clone(),
        user_id("ghost"),
        bob.clone(),
        "not-even-an-id".to_owned(),
    ];
    let mut found = store.existing_users(&asked).await.unwrap();
    found.sort();
    assert_eq!(found, [alice, bob]);

    assert!(store.existing_users(&[]).await.unwrap().is_empty());
    assert!(
        store
            .existing_users(&[user_id("ghost")])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn set_last_seen_records_when_a_user_was_last_seen(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;

    store
        .set_last_seen(UserId::new(&alice), T0 + 5_000)
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(UserId::new(&alice)).await.unwrap(),
        Some(UserRow {
            last_seen_at: Some(T0 + 5_000),
            ..user_row("alice")
        })
    );
    store
        .set_last_seen(UserId::new(&alice), T0 + 9_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        Some(T0 + 9_000)
    );
    assert_eq!(
        store.user_by_id(UserId::new(&bob)).await.unwrap(),
        Some(user_row("bob"))
    );
}

pub async fn contacts_of_lists_each_user_sharing_a_conversation_once(store: Arc<dyn Store>) {
    let [alice, bob, carol, dave, eve] =
        users(&*store, ["alice", "bob", "carol", "dave", "eve"]).await;
    crate::harness::direct(&*store, &alice, &bob).await;
    let g = crate::harness::group(&*store, &alice, &[&bob, &carol, &dave]).await;
    crate::harness::direct(&*store, &carol, &dave).await;

    let contacts = |user: String| {
        let store = store.clone();
        async move {
            let mut found = store.contacts_of(UserId::new(&user)).await.unwrap();
            found.sort();
            found
        }
    };
    // Bob shares two conversations with alice: listed once. Nobody lists itself.
    assert_eq!(
        contacts(alice.clone()).await,
        [bob.as_str(), carol.as_str(), dave.as_str()]
    );
    assert_eq!(
        contacts(bob.clone()).await,
        [alice.as_str(), carol.as_str(), dave.as_str()]
    );
    assert_eq!(
        contacts(carol.clone()).await,
        [alice.as_str(), bob.as_str(), dave.as_str()]
    );
    assert!(contacts(eve.clone()).await.is_empty());

    // Leaving the group ends the contacts it made.
    store
        .remove_member(
            UserId::new(&bob),
            ConversationId::new(&g),
            UserId::new(&bob),
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(contacts(bob).await, [alice.as_str()]);
    assert_eq!(contacts(carol).await, [alice.as_str(), dave.as_str()]);
}

pub async fn contacts_among_keeps_the_ids_sharing_a_conversation(store: Arc<dyn Store>) {
    let [alice, bob, carol, dave] = users(&*store, ["alice", "bob", "carol", "dave"]).await;
    crate::harness::direct(&*store, &alice, &bob).await;
    let g = crate::harness::group(&*store, &alice, &[&carol]).await;
    crate::harness::direct(&*store, &bob, &dave).await;

    let ids = [
        bob.clone(),
        carol.clone(),
        dave.clone(),
        "no-such-user".into(),
    ];
    let mut found = store
        .contacts_among(UserId::new(&alice), &ids)
        .await
        .unwrap();
    found.sort();
    assert_eq!(found, [bob.as_str(), carol.as_str()]);
    // Contacts of contacts are not contacts; no ids, no contacts.
    assert!(
        store
            .contacts_among(UserId::new(&dave), std::slice::from_ref(&carol))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .contacts_among(UserId::new(&alice), &[])
            .await
            .unwrap()
            .is_empty()
    );

    // Leaving the group ends that contact.
    store
        .remove_member(
            UserId::new(&carol),
            ConversationId::new(&g),
            UserId::new(&carol),
            T0 + 1,
        )
        .await
        .unwrap();
    assert!(
        store
            .contacts_among(UserId::new(&alice), &[carol])
            .await
            .unwrap()
            .is_empty()
    );
}
