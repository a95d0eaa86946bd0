//! Accounts managed by admins (and by the operator from the shell), disabled accounts,
//! deleted accounts, the admin's list and stats.

use std::sync::Arc;

use natter_core::{ConversationId, Role, UserId, decide::DELETED_NAME};
use natter_server::store::{AccountUpdate, EventKind, SessionRow, Store, UserRow};

use crate::harness::{T0, events_after, group, kinds, send, user_row, users};

fn admin_row(username: &str) -> UserRow {
    UserRow {
        admin: true,
        ..user_row(username)
    }
}

fn session(id: &str, user_id: &str) -> SessionRow {
    SessionRow {
        id: id.into(),
        user_id: user_id.into(),
        token_hash: id.as_bytes().to_vec(),
        device_name: None,
        created_at: T0,
        last_active_at: T0,
    }
}

fn set_admin(admin: bool) -> AccountUpdate {
    AccountUpdate {
        admin: Some(admin),
        ..Default::default()
    }
}

fn set_disabled(disabled: bool) -> AccountUpdate {
    AccountUpdate {
        disabled: Some(disabled),
        ..Default::default()
    }
}

async fn user(store: &dyn Store, id: &str) -> UserRow {
    store.user_by_id(UserId::new(id)).await.unwrap().unwrap()
}

pub async fn only_admins_change_accounts_and_the_last_admin_stays(store: Arc<dyn Store>) {
    store.create_user(&admin_row("root")).await.unwrap();
    let [bob] = users(&*store, ["bob"]).await;
    let root = "user-root".to_owned();
    let (r, b) = (UserId::new(&root), UserId::new(&bob));

    assert_rule!(
        store
            .update_account(Some(b), r, &set_admin(false), T0)
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .update_account(Some(r), r, &set_admin(false), T0)
            .await,
        Conflict
    );
    assert_rule!(
        store
            .update_account(Some(r), r, &set_disabled(true), T0)
            .await,
        Conflict
    );
    assert_rule!(
        store
            .update_account(Some(r), UserId::new("user-nobody"), &set_admin(true), T0)
            .await,
        NotFound
    );
    assert!(user(&*store, &root).await.admin);

    let (promoted, revoked) = store
        .update_account(Some(r), b, &set_admin(true), T0)
        .await
        .unwrap();
    assert!(promoted.admin);
    assert!(revoked.is_empty());
    // Two admins: either may step down, and then the other is the last.
    let (demoted, _) = store
        .update_account(Some(r), r, &set_admin(false), T0)
        .await
        .unwrap();
    assert!(!demoted.admin);
    assert_rule!(
        store
            .update_account(Some(b), b, &set_admin(false), T0)
            .await,
        Conflict
    );
    // The operator is bound by none of it.
    let (u, _) = store
        .update_account(None, b, &set_admin(false), T0)
        .await
        .unwrap();
    assert!(!u.admin);
    store
        .update_account(None, r, &set_admin(true), T0)
        .await
        .unwrap();
    assert!(user(&*store, &root).await.admin);
}

pub async fn two_admins_stepping_down_at_once_leave_one(store: Arc<dyn Store>) {
    store.create_user(&admin_row("ann")).await.unwrap();
    store.create_user(&admin_row("ben")).await.unwrap();
    let tasks: Vec<_> = ["user-ann", "user-ben"]
        .into_iter()
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .update_account(
                        Some(UserId::new(id)),
                        UserId::new(id),
                        &set_admin(false),
                        T0,
                    )
                    .await
            })
        })
        .collect();
    let mut stepped_down = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => stepped_down += 1,
            Err(natter_server::store::StoreError::Rule(natter_core::Error::Conflict(_))) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(stepped_down, 1);
    let admins = [
        user(&*store, "user-ann").await,
        user(&*store, "user-ben").await,
    ]
    .iter()
    .filter(|u| u.admin)
    .count();
    assert_eq!(admins, 1);
}

pub async fn disabling_deletes_every_session_and_refuses_new_ones(store: Arc<dyn Store>) {
    store.create_user(&admin_row("root")).await.unwrap();
    let [bob] = users(&*store, ["bob"]).await;
    for id in ["s-bob-1", "s-bob-2"] {
        store.create_session(&session(id, &bob)).await.unwrap();
    }
    let (r, b) = (UserId::new("user-root"), UserId::new(&bob));
    let (u, mut revoked) = store
        .update_account(Some(r), b, &set_disabled(true), T0)
        .await
        .unwrap();
    assert!(u.disabled);
    revoked.sort();
    assert_eq!(revoked, ["s-bob-1", "s-bob-2"]);
    assert!(store.sessions_of(b).await.unwrap().is_empty());
    assert!(user(&*store, &bob).await.disabled);
    assert_rule!(
        store.create_session(&session("s-bob-3", &bob)).await,
        Forbidden
    );
    // Enabling lets it in again, and revokes nothing.
    let (u, revoked) = store
        .update_account(Some(r), b, &set_disabled(false), T0)
        .await
        .unwrap();
    assert!(!u.disabled);
    assert!(revoked.is_empty());
    store
        .create_session(&session("s-bob-3", &bob))
        .await
        .unwrap();
}

pub async fn a_password_set_for_an_account_deletes_its_sessions(store: Arc<dyn Store>) {
    let [bob, carol] = users(&*store, ["bob", "carol"]).await;
    store.create_session(&session("s-bob", &bob)).await.unwrap();
    store
        .create_session(&session("s-carol", &carol))
        .await
        .unwrap();
    let update = AccountUpdate {
        password_hash: Some("new-hash".into()),
        ..Default::default()
    };
    let (u, revoked) = store
        .update_account(None, UserId::new(&bob), &update, T0)
        .await
        .unwrap();
    assert_eq!(u.password_hash, "new-hash");
    assert_eq!(revoked, ["s-bob"]);
    assert_eq!(
        store.sessions_of(UserId::new(&carol)).await.unwrap().len(),
        1
    );
}

pub async fn a_deleted_account_leaves_its_groups_with_a_successor(store: Arc<dyn Store>) {
    store.create_user(&admin_row("root")).await.unwrap();
    let [alice, bob, carol, dave] = users(&*store, ["alice", "bob", "carol", "dave"]).await;
    let owned = group(&*store, &alice, &[&bob, &carol]).await;
    store
        .set_role(
            UserId::new(&alice),
            ConversationId::new(&owned),
            UserId::new(&carol),
            Role::Admin,
            T0,
        )
        .await
        .unwrap();
    let alone = group(&*store, &alice, &[]).await;
    let direct = crate::harness::direct(&*store, &alice, &dave).await;
    let kept = send(&*store, &owned, &alice, "hello", T0 + 1).await;
    send(&*store, &direct, &alice, "psst", T0 + 2).await;
    store
        .create_session(&session("s-alice", &alice))
        .await
        .unwrap();
    store
        .create_invite(&natter_server::store::InviteRow {
            code: "alice-invite".into(),
            creator_id: alice.clone(),
            uses_left: 1,
            expires_at: T0 + 60_000,
            created_at: T0,
        })
        .await
        .unwrap();
    let head = store.head().await.unwrap();

    let deleted = store
        .delete_account(UserId::new(&alice), T0 + 10)
        .await
        .unwrap();
    assert_eq!(deleted.sessions, ["s-alice"]);

    let gone = user(&*store, &alice).await;
    assert!(gone.deleted);
    assert!(!gone.admin);
    assert_eq!(gone.display_name, DELETED_NAME);
    assert_eq!(gone.username, "alice", "the name stays reserved");
    assert!(
        store
            .sessions_of(UserId::new(&alice))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.invite("alice-invite").await.unwrap().is_none());
    assert_rule!(store.create_user(&user_row("alice")).await, Conflict);
    assert_rule!(
        store.create_session(&session("s-alice-2", &alice)).await,
        Forbidden
    );

    // Carol, the longest-standing admin, owns the group now; the one Alice was alone in is gone;
    // the direct conversation stays, with its history.
    let members = store.members(ConversationId::new(&owned)).await.unwrap();
    let roles: Vec<(&str, Role)> = members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role))
        .collect();
    assert_eq!(
        roles,
        [(bob.as_str(), Role::Member), (carol.as_str(), Role::Owner)]
    );
    assert!(
        store
            .conversation(ConversationId::new(&alone))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .members(ConversationId::new(&direct))
            .await
            .unwrap()
            .len(),
        2
    );
    let msg = store
        .message(natter_core::MessageId::new(&kept.id), UserId::new(&bob))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.text.as_deref(), Some("hello"));

    // Bob hears of the group and of the account; Dave of the account.
    let bob_events = events_after(&*store, &bob, head).await;
    assert!(kinds(&bob_events).contains(&EventKind::ConversationUpdated));
    assert!(kinds(&bob_events).contains(&EventKind::UserUpdated));
    assert_eq!(
        kinds(&events_after(&*store, &dave, head).await),
        [EventKind::UserUpdated]
    );
}

pub async fn deleting_an_account_names_its_uploads_no_message_carries(store: Arc<dyn Store>) {
    store.create_user(&admin_row("root")).await.unwrap();
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let direct = crate::harness::direct(&*store, &alice, &bob).await;
    for id in ["m-sent", "m-unsent"] {
        store
            .insert_media(&crate::cases::media::image(id, &alice, id, T0))
            .await
            .unwrap();
    }
    store
        .send(&natter_server::store::NewMessage {
            kind: natter_core::MessageKind::Image,
            text: None,
            media_id: Some("m-sent".into()),
            ..crate::harness::text(&direct, &alice, "", T0 + 1)
        })
        .await
        .unwrap();
    let deleted = store
        .delete_account(UserId::new(&alice), T0 + 10)
        .await
        .unwrap();
    assert_eq!(deleted.media, ["m-unsent"]);
}

pub async fn the_last_admin_cannot_delete_its_account(store: Arc<dyn Store>) {
    store.create_user(&admin_row("root")).await.unwrap();
    let [bob] = users(&*store, ["bob"]).await;
    let g = group(&*store, "user-root", &[&bob]).await;
    assert_rule!(
        store.delete_account(UserId::new("user-root"), T0).await,
        Conflict
    );
    // Refused before anything was written: it is still in its group, as owner.
    let members = store.members(ConversationId::new(&g)).await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].role, Role::Owner);
    assert!(!user(&*store, "user-root").await.deleted);
    assert_rule!(
        store.delete_account(UserId::new("user-nobody"), T0).await,
        NotFound
    );
}

pub async fn the_admin_list_holds_every_account_newest_first(store: Arc<dyn Store>) {
    for (i, name) in ["ann", "bob", "bea", "cid"].into_iter().enumerate() {
        store
            .create_user(&UserRow {
                created_at: T0 + i as i64,
                ..user_row(name)
            })
            .await
            .unwrap();
    }
    store
        .update_account(None, UserId::new("user-bea"), &set_disabled(true), T0)
        .await
        .unwrap();
    let names =
        |rows: Vec<UserRow>| -> Vec<String> { rows.into_iter().map(|u| u.username).collect() };
    assert_eq!(
        names(store.list_users("", None, 10).await.unwrap()),
        ["cid", "bea", "bob", "ann"]
    );
    assert_eq!(
        names(store.list_users("b", None, 10).await.unwrap()),
        ["bea", "bob"]
    );
    assert_eq!(
        names(store.list_users("", Some(T0 + 2), 10).await.unwrap()),
        ["bob", "ann"]
    );
    assert_eq!(names(store.list_users("", None, 1).await.unwrap()), ["cid"]);
    assert!(
        store.list_users("", None, 10).await.unwrap()[1].disabled,
        "bea is disabled"
    );
}

pub async fn stats_count_accounts_conversations_messages_and_bytes(store: Arc<dyn Store>) {
    let empty = store.stats().await.unwrap();
    assert_eq!(
        (
            empty.users,
            empty.conversations,
            empty.messages,
            empty.media_bytes
        ),
        (0, 0, 0, 0)
    );
    store.create_user(&admin_row("root")).await.unwrap();
    let [a, b] = users(&*store, ["a", "b"]).await;
    let d = crate::harness::direct(&*store, &a, &b).await;
    group(&*store, &a, &[]).await;
    send(&*store, &d, &a, "one", T0 + 1).await;
    let two = send(&*store, &d, &a, "two", T0 + 2).await;
    store
        .delete_for_everyone(
            UserId::new(&a),
            natter_core::MessageId::new(&two.id),
            T0 + 3,
        )
        .await
        .unwrap();
    store
        .insert_media(&crate::cases::media::image("m1", &b, "sha-m1", T0))
        .await
        .unwrap();
    store.delete_account(UserId::new(&b), T0 + 4).await.unwrap();
    let s = store.stats().await.unwrap();
    assert_eq!(s.users, 2, "a deleted account is not counted");
    assert_eq!(s.conversations, 2);
    assert_eq!(
        s.messages, 1,
        "a message deleted for everyone is not counted"
    );
    assert_eq!(s.media_bytes, 1234);
}
