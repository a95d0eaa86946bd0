//! Search: words in any language, case and accents aside, the last word as a prefix, newest
//! first; and nothing found that the searcher may not see any more: deleted for everyone,
//! hidden for it, edited away, of a conversation it left or joined after, or gone with its
//! group.

use std::sync::Arc;

use natter_core::{ConversationId, Limits, MessageId, UserId, search::Query};
use natter_server::store::{MessageRow, SearchScope, Store};

use crate::harness::{T0, direct, group, send, users};

/// The texts `viewer` finds for `q` (in `conversation`, if given), newest first.
async fn find(store: &dyn Store, viewer: &str, q: &str, conversation: Option<&str>) -> Vec<String> {
    texts(&found(store, viewer, q, conversation, None, 50).await)
}

async fn found(
    store: &dyn Store,
    viewer: &str,
    q: &str,
    conversation: Option<&str>,
    before: Option<(i64, String)>,
    limit: u32,
) -> Vec<MessageRow> {
    let query = Query::parse(q, &Limits::default()).unwrap();
    let scope = SearchScope {
        viewer: UserId::new(viewer),
        conversation_id: conversation.map(ConversationId::new),
        before,
        limit,
    };
    store
        .search(&query, &scope)
        .await
        .unwrap_or_else(|e| panic!("search {q:?}: {e:?}"))
}

fn texts(rows: &[MessageRow]) -> Vec<String> {
    rows.iter()
        .map(|m| m.text.clone().unwrap_or_default())
        .collect()
}

pub async fn search_finds_words_in_any_language_newest_first(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    send(&*store, &dm, &alice, "Hello there, Bob", T0 + 1).await;
    send(&*store, &g, &bob, "hello everyone in the group", T0 + 2).await;
    send(&*store, &dm, &bob, "Привет, мир! Ça va au Café?", T0 + 3).await;
    send(&*store, &g, &carol, "unrelated words only", T0 + 4).await;
    send(&*store, &dm, &alice, "helicopter hello", T0 + 5).await;

    assert_eq!(
        find(&*store, &alice, "hello", None).await,
        [
            "helicopter hello",
            "hello everyone in the group",
            "Hello there, Bob"
        ]
    );
    // The last word is a prefix; the others whole words.
    assert_eq!(
        find(&*store, &alice, "hel", None).await,
        [
            "helicopter hello",
            "hello everyone in the group",
            "Hello there, Bob"
        ]
    );
    assert_eq!(
        find(&*store, &alice, "hello heli", None).await,
        ["helicopter hello"]
    );
    assert!(find(&*store, &alice, "hel there", None).await.is_empty());
    // Case and accents aside, in any script.
    assert_eq!(
        find(&*store, &bob, "ПРИВЕТ", None).await,
        ["Привет, мир! Ça va au Café?"]
    );
    assert_eq!(find(&*store, &bob, "cafe ca", None).await.len(), 1);
    assert_eq!(find(&*store, &bob, "CAFÉ", None).await.len(), 1);
    // One conversation only.
    assert_eq!(
        find(&*store, &alice, "hello", Some(&dm)).await,
        ["helicopter hello", "Hello there, Bob"]
    );
    // Only the conversations the searcher belongs to.
    assert_eq!(
        find(&*store, &carol, "hello", None).await,
        ["hello everyone in the group"]
    );
    assert!(find(&*store, &carol, "hello", Some(&dm)).await.is_empty());
    assert!(find(&*store, &alice, "zebra", None).await.is_empty());

    // Pages: newest first, then older than the last one seen.
    let first = found(&*store, &alice, "hello", None, None, 2).await;
    assert_eq!(
        texts(&first),
        ["helicopter hello", "hello everyone in the group"]
    );
    let last = first.last().unwrap();
    let next = found(
        &*store,
        &alice,
        "hello",
        None,
        Some((last.created_at, last.id.clone())),
        2,
    )
    .await;
    assert_eq!(texts(&next), ["Hello there, Bob"]);

    // An edit keeps the message's place: newest first is by when it was sent.
    store
        .edit(
            UserId::new(&bob),
            MessageId::new(&last.id),
            "hello everyone, edited",
            &[],
            T0 + 6,
        )
        .await
        .unwrap_or_else(|e| panic!("edit: {e:?}"));
    assert_eq!(
        find(&*store, &alice, "hello", None).await,
        [
            "helicopter hello",
            "hello everyone, edited",
            "Hello there, Bob"
        ]
    );
}

pub async fn search_never_finds_what_the_searcher_may_not_see(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let deleted = send(&*store, &g, &alice, "secret plan alpha", T0 + 1).await;
    let hidden = send(&*store, &g, &alice, "secret plan beta", T0 + 2).await;
    let edited = send(&*store, &g, &alice, "secret plan gamma", T0 + 3).await;
    assert_eq!(find(&*store, &bob, "secret plan", None).await.len(), 3);

    // Deleted for everyone: found by no one, ever.
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&deleted.id), T0 + 4)
        .await
        .unwrap();
    for who in [&alice, &bob, &carol] {
        assert!(find(&*store, who, "alpha", None).await.is_empty());
    }
    // Deleted for bob: not found by bob, still by the others.
    store
        .hide(UserId::new(&bob), MessageId::new(&hidden.id), T0 + 5)
        .await
        .unwrap();
    assert!(find(&*store, &bob, "beta", None).await.is_empty());
    assert_eq!(find(&*store, &carol, "beta", None).await.len(), 1);
    // Edited: its new words only.
    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&edited.id),
            "rewritten entirely",
            &[],
            T0 + 6,
        )
        .await
        .unwrap();
    assert!(find(&*store, &carol, "gamma", None).await.is_empty());
    assert_eq!(
        find(&*store, &carol, "rewritten", None).await,
        ["rewritten entirely"]
    );
    // A removed member finds nothing of the conversation any more.
    store
        .remove_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&carol),
            T0 + 7,
        )
        .await
        .unwrap();
    assert!(find(&*store, &carol, "secret", None).await.is_empty());
    assert!(find(&*store, &carol, "rewritten", None).await.is_empty());
    // Back in the group, it sees only what was sent after it joined again.
    store
        .add_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&carol),
            natter_core::Role::Member,
            100,
            T0 + 8,
        )
        .await
        .unwrap();
    assert!(find(&*store, &carol, "secret", None).await.is_empty());
    send(&*store, &g, &alice, "secret plan delta", T0 + 9).await;
    assert_eq!(
        find(&*store, &carol, "secret", None).await,
        ["secret plan delta"]
    );
}

pub async fn a_deleted_group_leaves_nothing_to_find(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[]).await;
    send(&*store, &g, &alice, "lonely notes", T0 + 1).await;
    let dm = direct(&*store, &alice, &bob).await;
    send(&*store, &dm, &alice, "notes for bob", T0 + 2).await;
    assert_eq!(find(&*store, &alice, "notes", None).await.len(), 2);
    // Alone in it, alice leaves: the group and its messages go.
    store
        .remove_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&alice),
            T0 + 3,
        )
        .await
        .unwrap();
    assert_eq!(
        find(&*store, &alice, "notes", None).await,
        ["notes for bob"]
    );
    // The index still takes new messages.
    send(&*store, &dm, &bob, "more notes", T0 + 4).await;
    assert_eq!(find(&*store, &bob, "notes", None).await.len(), 2);
}
