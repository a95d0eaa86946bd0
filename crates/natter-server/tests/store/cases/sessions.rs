//! Device sessions: stored by the hash of their token, listed and revoked per user.

use std::sync::Arc;

use natter_core::{SessionId, UserId};
use natter_server::store::{SessionRow, Store};

use crate::harness::{T0, users};

fn session(id: &str, user_id: &str, hash_byte: u8, at: i64) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        token_hash: vec![hash_byte; 32],
        device_name: Some(format!("device of {id}")),
        created_at: at,
        last_active_at: at,
    }
}

fn ids(sessions: &[SessionRow]) -> Vec<&str> {
    let mut ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    ids
}

pub async fn sessions_are_found_by_token_hash_and_listed_per_user(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let laptop = session("s-laptop", &alice, 1, T0);
    let phone = SessionRow {
        device_name: None,
        ..session("s-phone", &alice, 2, T0 + 1)
    };
    let bobs = session("s-bob", &bob, 3, T0 + 2);
    for s in [&laptop, &phone, &bobs] {
        store.create_session(s).await.unwrap();
    }

    assert_eq!(
        store.session_by_token_hash(&[1; 32]).await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(
        store.session_by_token_hash(&[2; 32]).await.unwrap(),
        Some(phone.clone())
    );
    assert_eq!(store.session_by_token_hash(&[9; 32]).await.unwrap(), None);
    // Only the exact hash finds it.
    assert_eq!(store.session_by_token_hash(&[1; 31]).await.unwrap(), None);

    let alices = store.sessions_of(UserId::new(&alice)).await.unwrap();
    assert_eq!(ids(&alices), ["s-laptop", "s-phone"]);
    assert!(alices.contains(&laptop) && alices.contains(&phone));
    assert_eq!(store.sessions_of(UserId::new(&bob)).await.unwrap(), [bobs]);
    assert!(
        store
            .sessions_of(UserId::new("user-nobody"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn touching_a_session_moves_its_last_activity(store: Arc<dyn Store>) {
    let [alice] = users(&*store, ["alice"]).await;
    let s = session("s-1", &alice, 7, T0);
    store.create_session(&s).await.unwrap();

    store
        .touch_session(SessionId::new("s-1"), T0 + 60_000)
        .await
        .unwrap();

    let found = store.session_by_token_hash(&[7; 32]).await.unwrap();
    assert_eq!(
        found,
        Some(SessionRow {
            last_active_at: T0 + 60_000,
            ..s
        })
    );
}

pub async fn a_user_deletes_only_its_own_sessions(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    store
        .create_session(&session("s-alice", &alice, 1, T0))
        .await
        .unwrap();
    store
        .create_session(&session("s-bob", &bob, 2, T0))
        .await
        .unwrap();

    // Bob names Alice's session: nothing happens.
    assert!(
        !store
            .delete_session(UserId::new(&bob), SessionId::new("s-alice"))
            .await
            .unwrap()
    );
    assert!(
        store
            .session_by_token_hash(&[1; 32])
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !store
            .delete_session(UserId::new(&alice), SessionId::new("s-unknown"))
            .await
            .unwrap()
    );

    assert!(
        store
            .delete_session(UserId::new(&alice), SessionId::new("s-alice"))
            .await
            .unwrap()
    );
    assert_eq!(store.session_by_token_hash(&[1; 32]).await.unwrap(), None);
    assert!(
        store
            .sessions_of(UserId::new(&alice))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .delete_session(UserId::new(&alice), SessionId::new("s-alice"))
            .await
            .unwrap()
    );

    assert_eq!(
        ids(&store.sessions_of(UserId::new(&bob)).await.unwrap()),
        ["s-bob"]
    );
}

pub async fn idle_sessions_are_deleted_and_named(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    for s in [
        session("s-old", &alice, 1, T0),
        session("s-newer", &alice, 2, T0 + 10),
        session("s-bob", &bob, 3, T0 + 5),
    ] {
        store.create_session(&s).await.unwrap();
    }
    // Bob's session was used since: only its last activity counts.
    store
        .touch_session(SessionId::new("s-bob"), T0 + 100)
        .await
        .unwrap();

    // Only sessions last active strictly before the bound go.
    assert!(store.delete_idle_sessions(T0).await.unwrap().is_empty());
    let mut gone = store.delete_idle_sessions(T0 + 11).await.unwrap();
    gone.sort();
    assert_eq!(gone, ["s-newer", "s-old"]);
    assert!(
        store
            .sessions_of(UserId::new(&alice))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.session_by_token_hash(&[1; 32]).await.unwrap(), None);
    assert_eq!(
        ids(&store.sessions_of(UserId::new(&bob)).await.unwrap()),
        ["s-bob"]
    );
    assert!(
        store
            .delete_idle_sessions(T0 + 11)
            .await
            .unwrap()
            .is_empty()
    );
}
