//! Registration: the first user, invites used atomically, password changes, profile events.

use std::sync::Arc;

use natter_core::{ConversationId, SessionId, UserId, decide::Registration};
use natter_server::store::{EventKind, InviteRow, SessionRow, Store};

use crate::harness::{T0, user_id, user_row, users};

fn invite(code: &str, creator: &str, uses_left: i64, expires_at: i64) -> InviteRow {
    InviteRow {
        code: code.to_owned(),
        creator_id: creator.to_owned(),
        uses_left,
        expires_at,
        created_at: T0,
    }
}

pub async fn the_first_registration_makes_an_admin_whatever_the_mode(store: Arc<dyn Store>) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let root = store
        .register(&user_row("root"), Registration::Closed, None)
        .await
        .unwrap();
    assert!(root.admin);
    assert_eq!(
        store.user_by_id(UserId::new(&root.id)).await.unwrap(),
        Some(root.clone())
    );
    // Then the mode rules, and no one else is an admin.
    assert_rule!(
        store
            .register(&user_row("second"), Registration::Closed, None)
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .register(&user_row("second"), Registration::Invite, None)
            .await,
        Forbidden
    );
    let open = store
        .register(&user_row("second"), Registration::Open, None)
        .await
        .unwrap();
    assert!(!open.admin);
    assert_eq!(store.count_users().await.unwrap(), 2);
    // A taken username is still a conflict.
    assert_rule!(
        store
            .register(&user_row("second"), Registration::Open, None)
            .await,
        Conflict
    );
}

pub async fn concurrent_first_registrations_make_exactly_one_admin(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .register(&user_row(&format!("user{i}")), Registration::Open, None)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut admins = 0;
    for t in tasks {
        admins += usize::from(t.await.unwrap().admin);
    }
    assert_eq!(admins, 1);
    assert_eq!(store.count_users().await.unwrap(), 8);
}

pub async fn an_invite_admits_as_many_as_its_uses_even_concurrently(store: Arc<dyn Store>) {
    let [root] = users(&*store, ["root"]).await;
    store
        .create_invite(&invite("one-use", &root, 1, T0 + 60_000))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .register(
                        &user_row(&format!("racer{i}")),
                        Registration::Invite,
                        Some("one-use"),
                    )
                    .await
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(u) => {
                assert!(!u.admin);
                admitted += 1;
            }
            Err(natter_server::store::StoreError::Rule(natter_core::Error::Forbidden(_))) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(admitted, 1);
    assert_eq!(store.count_users().await.unwrap(), 2);
    assert_eq!(store.invite("one-use").await.unwrap().unwrap().uses_left, 0);

    // A refused registration (a taken name) uses nothing.
    store
        .create_invite(&invite("two-uses", &root, 2, T0 + 60_000))
        .await
        .unwrap();
    assert_rule!(
        store
            .register(&user_row("root"), Registration::Invite, Some("two-uses"))
            .await,
        Conflict
    );
    assert_eq!(
        store.invite("two-uses").await.unwrap().unwrap().uses_left,
        2
    );
}

pub async fn expired_and_revoked_invites_admit_no_one(store: Arc<dyn Store>) {
    let [root, member] = users(&*store, ["root", "member"]).await;
    // user_row's users are created at T0: the registration's "now".
    store
        .create_invite(&invite("expired", &root, 5, T0))
        .await
        .unwrap();
    assert_rule!(
        store
            .register(&user_row("late"), Registration::Invite, Some("expired"))
            .await,
        Forbidden
    );
    assert_eq!(store.invite("expired").await.unwrap().unwrap().uses_left, 5);

    store
        .create_invite(&invite("revoked", &member, 5, T0 + 60_000))
        .await
        .unwrap();
    store
        .delete_invite("revoked", UserId::new(&member))
        .await
        .unwrap();
    assert_eq!(store.invite("revoked").await.unwrap(), None);
    assert_rule!(
        store
            .register(&user_row("late"), Registration::Invite, Some("revoked"))
            .await,
        Forbidden
    );
    assert_rule!(
        store.delete_invite("revoked", UserId::new(&member)).await,
        NotFound
    );
}

pub async fn an_invite_is_revoked_by_its_creator_or_an_admin_only(store: Arc<dyn Store>) {
    let root = store
        .register(&user_row("root"), Registration::Open, None)
        .await
        .unwrap();
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    store
        .create_invite(&invite("alices", &alice, 1, T0 + 60_000))
        .await
        .unwrap();
    store
        .create_invite(&InviteRow {
            created_at: T0 + 1,
            ..invite("alices-newer", &alice, 1, T0 + 60_000)
        })
        .await
        .unwrap();
    let listed: Vec<String> = store
        .invites_of(UserId::new(&alice))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.code)
        .collect();
    assert_eq!(listed, ["alices-newer", "alices"]);
    assert!(
        store
            .invites_of(UserId::new(&bob))
            .await
            .unwrap()
            .is_empty()
    );

    assert_rule!(
        store.delete_invite("alices", UserId::new(&bob)).await,
        Forbidden
    );
    store
        .delete_invite("alices", UserId::new(&root.id))
        .await
        .unwrap();
    store
        .delete_invite("alices-newer", UserId::new(&alice))
        .await
        .unwrap();
    assert!(
        store
            .invites_of(UserId::new(&alice))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_password_change_deletes_every_other_session_of_the_user(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let session = |id: &str, user: &str, byte: u8| SessionRow {
        id: id.to_owned(),
        user_id: user.to_owned(),
        token_hash: vec![byte; 32],
        device_name: None,
        created_at: T0,
        last_active_at: T0,
    };
    for s in [
        session("keep", &alice, 1),
        session("other-1", &alice, 2),
        session("other-2", &alice, 3),
        session("bobs", &bob, 4),
    ] {
        store.create_session(&s).await.unwrap();
    }
    let mut gone = store
        .set_password(UserId::new(&alice), "new-hash", SessionId::new("keep"))
        .await
        .unwrap();
    gone.sort();
    assert_eq!(gone, ["other-1", "other-2"]);
    let left: Vec<String> = store
        .sessions_of(UserId::new(&alice))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, ["keep"]);
    assert_eq!(store.sessions_of(UserId::new(&bob)).await.unwrap().len(), 1);
    let stored = store
        .user_by_id(UserId::new(&alice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash, "new-hash");
    assert_rule!(
        store
            .set_password(UserId::new("user-nobody"), "x", SessionId::new("keep"))
            .await,
        NotFound
    );
}

pub async fn a_display_name_change_logs_user_updated_for_the_user_and_its_contacts(
    store: Arc<dyn Store>,
) {
    let [alice, bob, stranger] = users(&*store, ["alice", "bob", "stranger"]).await;
    store
        .create_direct(
            ConversationId::new("dm"),
            UserId::new(&alice),
            UserId::new(&bob),
            T0,
        )
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    store
        .set_display_name(UserId::new(&alice), "Alice L.", T0 + 5)
        .await
        .unwrap();
    assert_eq!(
        store
            .user_by_id(UserId::new(&alice))
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Alice L."
    );
    for (who, expect) in [(&alice, 1), (&bob, 1), (&stranger, 0)] {
        let events = store.events_for(UserId::new(who), head, 100).await.unwrap();
        let updates: Vec<_> = events
            .iter()
            .filter(|e| e.kind == EventKind::UserUpdated)
            .collect();
        assert_eq!(updates.len(), expect, "{who}");
        for e in updates {
            assert_eq!(e.user_id.as_deref(), Some(who.as_str()));
            assert_eq!(
                natter_server::store::payload::user_updated_id(e.data.as_deref()),
                Some(user_id("alice"))
            );
        }
    }
}
