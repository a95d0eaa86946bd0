//! A conversation as one member sees it: its unread count, its latest message, and the list of
//! a user's conversations by latest activity.

use std::sync::Arc;

use natter_core::{ConversationId, MessageId, UserId};
use natter_server::store::{MarkKind, Store};

use crate::harness::{T0, direct, group_at, send, users};

pub async fn unread_count_counts_others_visible_messages_above_read_seq(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group_at(&*store, &alice, &[&bob, &carol], T0).await;
    send(&*store, &g, &alice, "1", T0 + 1).await;
    send(&*store, &g, &alice, "2", T0 + 2).await;
    send(&*store, &g, &bob, "3", T0 + 3).await;
    let four = send(&*store, &g, &carol, "4", T0 + 4).await;
    let five = send(&*store, &g, &carol, "5", T0 + 5).await;
    let six = send(&*store, &g, &bob, "6", T0 + 6).await;

    let unread = |viewer: String| {
        let store = store.clone();
        let g = g.clone();
        async move {
            let v = store
                .conversation_view(ConversationId::new(&g), UserId::new(&viewer))
                .await
                .unwrap()
                .unwrap();
            (v.read_seq, v.unread_count)
        }
    };
    // Alice read up to her own 2: 3, 4, 5, 6 are unread.
    assert_eq!(unread(alice.clone()).await, (2, 4));
    // Carol read up to her 5; only bob's 6 is unread.
    assert_eq!(unread(carol.clone()).await, (5, 1));
    assert_eq!(unread(bob.clone()).await, (6, 0));

    // Deleted for everyone: counted by no one. Hidden: not counted by the one who hid it.
    store
        .delete_for_everyone(UserId::new(&carol), MessageId::new(&five.id), T0 + 7)
        .await
        .unwrap();
    assert_eq!(unread(alice.clone()).await, (2, 3));
    store
        .hide(UserId::new(&alice), MessageId::new(&four.id), T0 + 8)
        .await
        .unwrap();
    assert_eq!(unread(alice.clone()).await, (2, 2));
    store
        .hide(UserId::new(&carol), MessageId::new(&six.id), T0 + 9)
        .await
        .unwrap();
    assert_eq!(unread(carol.clone()).await, (5, 0));

    // Reading moves the count.
    store
        .mark(
            UserId::new(&alice),
            ConversationId::new(&g),
            MarkKind::Read,
            3,
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(unread(alice.clone()).await, (3, 1));
    // Delivered is not read.
    store
        .mark(
            UserId::new(&alice),
            ConversationId::new(&g),
            MarkKind::Delivered,
            6,
            T0 + 11,
        )
        .await
        .unwrap();
    assert_eq!(unread(alice.clone()).await, (3, 1));
    store
        .mark(
            UserId::new(&alice),
            ConversationId::new(&g),
            MarkKind::Read,
            6,
            T0 + 12,
        )
        .await
        .unwrap();
    assert_eq!(unread(alice).await, (6, 0));
}

pub async fn the_view_shows_the_latest_message_as_the_viewer_sees_it(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;

    let view = store
        .conversation_view(ConversationId::new(&dm), UserId::new(&alice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.conversation,
        store
            .conversation(ConversationId::new(&dm))
            .await
            .unwrap()
            .unwrap()
    );
    assert_eq!(
        view.members,
        store.members(ConversationId::new(&dm)).await.unwrap()
    );
    assert_eq!(view.last_message, None);
    assert_eq!((view.read_seq, view.unread_count), (0, 0));

    send(&*store, &dm, &alice, "older", T0 + 1).await;
    let latest = send(&*store, &dm, &alice, "latest", T0 + 2).await;
    store
        .hide(UserId::new(&bob), MessageId::new(&latest.id), T0 + 3)
        .await
        .unwrap();

    let for_alice = store
        .conversation_view(ConversationId::new(&dm), UserId::new(&alice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(for_alice.last_message, Some(latest.clone()));
    assert_eq!(for_alice.conversation.last_seq, 2);
    assert_eq!(for_alice.conversation.last_message_at, T0 + 2);
    let for_bob = store
        .conversation_view(ConversationId::new(&dm), UserId::new(&bob))
        .await
        .unwrap()
        .unwrap();
    let shown = for_bob.last_message.unwrap();
    assert_eq!((shown.id, shown.hidden), (latest.id, true));
    assert_eq!(for_bob.unread_count, 1);
    assert_eq!(
        for_bob
            .members
            .iter()
            .map(|m| m.user_id.as_str())
            .collect::<Vec<_>>(),
        [alice.as_str(), bob.as_str()]
    );
}

pub async fn conversations_of_orders_by_latest_activity_and_filters_with_before(
    store: Arc<dyn Store>,
) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let first = group_at(&*store, &alice, &[&bob], T0 + 1).await;
    let (second, _) = store
        .create_direct(
            ConversationId::new("dm-ab"),
            UserId::new(&alice),
            UserId::new(&bob),
            T0 + 2,
        )
        .await
        .unwrap();
    let third = group_at(&*store, &bob, &[&alice], T0 + 3).await;
    let not_alices = group_at(&*store, &bob, &[&carol], T0 + 4).await;

    let list = |ids: &[&String]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    let ids = |viewer: String, before: Option<i64>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .conversations_of(UserId::new(&viewer), before, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.conversation.id)
                .collect::<Vec<_>>()
        }
    };

    assert_eq!(
        ids(alice.clone(), None, 50).await,
        list(&[&third, &second, &first])
    );
    // A message makes the oldest the newest.
    send(&*store, &first, &bob, "bump", T0 + 10).await;
    assert_eq!(
        ids(alice.clone(), None, 50).await,
        list(&[&first, &third, &second])
    );
    assert_eq!(ids(alice.clone(), None, 2).await, list(&[&first, &third]));
    // `before` keeps the strictly older ones.
    assert_eq!(
        ids(alice.clone(), Some(T0 + 10), 50).await,
        list(&[&third, &second])
    );
    assert_eq!(ids(alice.clone(), Some(T0 + 3), 50).await, list(&[&second]));
    assert_eq!(ids(alice.clone(), Some(T0 + 3), 1).await, list(&[&second]));
    assert!(ids(alice.clone(), Some(T0 + 2), 50).await.is_empty());

    assert_eq!(
        ids(bob.clone(), None, 50).await,
        list(&[&first, &not_alices, &third, &second])
    );
    assert_eq!(ids(carol.clone(), None, 50).await, list(&[&not_alices]));

    // Each entry is that conversation's view for the viewer.
    let views = store
        .conversations_of(UserId::new(&alice), None, 1)
        .await
        .unwrap();
    let view = &views[0];
    assert_eq!(view.conversation.last_message_at, T0 + 10);
    assert_eq!(
        view.last_message.as_ref().and_then(|m| m.text.as_deref()),
        Some("bump")
    );
    assert_eq!((view.read_seq, view.unread_count), (0, 1));
}

pub async fn a_non_member_has_no_view(store: Arc<dyn Store>) {
    let [alice, bob, eve] = users(&*store, ["alice", "bob", "eve"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group_at(&*store, &alice, &[&bob], T0).await;
    send(&*store, &g, &alice, "private", T0 + 1).await;

    assert!(
        store
            .conversation_view(ConversationId::new(&dm), UserId::new(&eve))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .conversation_view(ConversationId::new(&g), UserId::new(&eve))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .conversation_view(
                ConversationId::new("no-such-conversation"),
                UserId::new(&alice)
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .conversations_of(UserId::new(&eve), None, 50)
            .await
            .unwrap()
            .is_empty()
    );

    // Leaving ends the view.
    store
        .remove_member(
            UserId::new(&bob),
            ConversationId::new(&g),
            UserId::new(&bob),
            T0 + 2,
        )
        .await
        .unwrap();
    assert!(
        store
            .conversation_view(ConversationId::new(&g), UserId::new(&bob))
            .await
            .unwrap()
            .is_none()
    );
    let bobs: Vec<_> = store
        .conversations_of(UserId::new(&bob), None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.conversation.id)
        .collect();
    assert_eq!(bobs, [dm]);
}
