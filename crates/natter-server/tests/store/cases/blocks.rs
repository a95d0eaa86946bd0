//! Blocking: idempotent blocks and unblocks, the list, and what a block refuses (a direct
//! conversation opened or sent into, either way) and what it does not (groups). A deleted
//! account is refused like a block.

use std::sync::Arc;

use natter_core::{ConversationId, UserId};
use natter_server::store::{Store, UserRow};

use crate::harness::{T0, direct, fresh_id, group, send, text, users};

fn usernames(found: &[UserRow]) -> Vec<&str> {
    found.iter().map(|u| u.username.as_str()).collect()
}

async fn block(store: &dyn Store, blocker: &str, blocked: &str) {
    store
        .block(UserId::new(blocker), UserId::new(blocked), T0)
        .await
        .unwrap_or_else(|e| panic!("{blocker} blocks {blocked}: {e:?}"));
}

async fn open_direct(
    store: &dyn Store,
    a: &str,
    b: &str,
) -> natter_server::store::StoreResult<(String, bool)> {
    store
        .create_direct(
            ConversationId::new(&fresh_id("direct")),
            UserId::new(a),
            UserId::new(b),
            T0,
        )
        .await
}

pub async fn blocking_and_unblocking_are_idempotent_and_listed(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let me = UserId::new(&alice);
    assert!(store.blocked_by(me).await.unwrap().is_empty());

    block(&*store, &alice, &carol).await;
    block(&*store, &alice, &bob).await;
    block(&*store, &alice, &bob).await;
    assert_eq!(
        usernames(&store.blocked_by(me).await.unwrap()),
        ["bob", "carol"]
    );
    let mut ids = store.blocked_ids(me).await.unwrap();
    ids.sort();
    assert_eq!(ids, [bob.clone(), carol.clone()]);
    assert!(store.has_blocked(me, UserId::new(&bob)).await.unwrap());
    assert!(!store.has_blocked(UserId::new(&bob), me).await.unwrap());
    // Blocks are one user's own: bob's list is empty.
    assert!(
        store
            .blocked_by(UserId::new(&bob))
            .await
            .unwrap()
            .is_empty()
    );

    store.unblock(me, UserId::new(&bob)).await.unwrap();
    store.unblock(me, UserId::new(&bob)).await.unwrap();
    assert_eq!(usernames(&store.blocked_by(me).await.unwrap()), ["carol"]);
    assert!(!store.has_blocked(me, UserId::new(&bob)).await.unwrap());
}

pub async fn blocking_oneself_is_invalid_and_an_unknown_user_not_found(store: Arc<dyn Store>) {
    let [alice] = users(&*store, ["alice"]).await;
    let me = UserId::new(&alice);
    assert_rule!(store.block(me, me, T0).await, Invalid);
    assert_rule!(store.unblock(me, me).await, Invalid);
    assert_rule!(
        store.block(me, UserId::new("user-nobody"), T0).await,
        NotFound
    );
    assert_rule!(
        store.unblock(me, UserId::new("user-nobody")).await,
        NotFound
    );
    assert!(store.blocked_by(me).await.unwrap().is_empty());
}

pub async fn a_block_refuses_the_direct_conversation_either_way(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send(&*store, &dm, &bob, "before", T0 + 1).await;

    block(&*store, &alice, &bob).await;
    // The blocked one cannot send nor open it; nor can the blocker, until it unblocks.
    assert_rule!(store.send(&text(&dm, &bob, "hi", T0 + 2)).await, Forbidden);
    assert_rule!(
        store.send(&text(&dm, &alice, "hi", T0 + 2)).await,
        Forbidden
    );
    assert_rule!(open_direct(&*store, &bob, &alice).await, Forbidden);
    assert_rule!(open_direct(&*store, &alice, &bob).await, Forbidden);
    // A pair without a block is not affected; nor a new pair with a blocked user.
    let other = direct(&*store, &bob, &carol).await;
    send(&*store, &other, &bob, "still here", T0 + 3).await;
    // The history stays as it was: nothing was stored by the refused sends.
    let conv = store
        .conversation(ConversationId::new(&dm))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.last_seq, 1);

    store
        .unblock(UserId::new(&alice), UserId::new(&bob))
        .await
        .unwrap();
    assert_eq!(
        open_direct(&*store, &bob, &alice).await.unwrap(),
        (dm.clone(), false)
    );
    assert_eq!(send(&*store, &dm, &bob, "again", T0 + 4).await.seq, 2);
    assert_eq!(
        send(&*store, &dm, &alice, "welcome back", T0 + 5).await.seq,
        3
    );
}

pub async fn a_block_refuses_a_new_direct_conversation(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    block(&*store, &bob, &alice).await;
    assert_rule!(open_direct(&*store, &alice, &bob).await, Forbidden);
    assert_rule!(open_direct(&*store, &bob, &alice).await, Forbidden);
    assert!(
        store
            .conversations_of(UserId::new(&alice), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_retry_of_a_send_stored_before_the_block_is_answered(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let mut first = text(&dm, &bob, "hi", T0 + 1);
    first.client_id = Some("c-1".into());
    let stored = store.send(&first).await.unwrap();
    assert!(stored.created);
    block(&*store, &alice, &bob).await;
    let again = store.send(&first).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.message.id, stored.message.id);
}

pub async fn groups_are_not_affected_by_blocks(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    block(&*store, &alice, &bob).await;
    block(&*store, &bob, &alice).await;
    send(&*store, &g, &bob, "to the group", T0 + 1).await;
    send(&*store, &g, &alice, "to the group too", T0 + 2).await;
    // A group of two is a group still.
    let pair = group(&*store, &alice, &[&bob]).await;
    send(&*store, &pair, &bob, "two of us", T0 + 3).await;
}

pub async fn a_deleted_account_cannot_be_written_to_directly(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group(&*store, &alice, &[&bob]).await;
    send(&*store, &dm, &alice, "before", T0 + 1).await;

    store
        .delete_account(UserId::new(&bob), T0 + 2)
        .await
        .unwrap();
    assert_rule!(
        store.send(&text(&dm, &alice, "hello?", T0 + 2)).await,
        Forbidden
    );
    assert_rule!(open_direct(&*store, &alice, &bob).await, Forbidden);
    assert_rule!(open_direct(&*store, &carol, &bob).await, Forbidden);
    // The group it left goes on.
    send(&*store, &g, &alice, "group", T0 + 3).await;
}

pub async fn search_leaves_out_those_who_blocked_the_searcher(store: Arc<dyn Store>) {
    let [alice, bob, _carl] = users(&*store, ["alice", "bob", "carl"]).await;
    let [_ann] = users(&*store, ["ann"]).await;
    block(&*store, &alice, &bob).await;
    let found = |viewer: String| {
        let store = store.clone();
        async move {
            let rows = store
                .search_users(UserId::new(&viewer), "a", 10)
                .await
                .unwrap();
            rows.into_iter().map(|u| u.username).collect::<Vec<_>>()
        }
    };
    // Bob was blocked by alice: he does not find her. She finds everyone.
    assert_eq!(found(bob.clone()).await, ["ann"]);
    assert_eq!(found(alice.clone()).await, ["alice", "ann"]);
    let rows = store
        .search_users(UserId::new(&alice), "b", 10)
        .await
        .unwrap();
    assert_eq!(usernames(&rows), ["bob"]);
    store
        .unblock(UserId::new(&alice), UserId::new(&bob))
        .await
        .unwrap();
    assert_eq!(found(bob).await, ["alice", "ann"]);
}
