//! Reactions and mentions: counted per emoji with the viewer's own, idempotent both ways, at
//! most so many distinct emoji, logged as `reaction_changed`, gone with a deleted message; the
//! members a message mentions, and each member's unread mentions.

use std::sync::Arc;

use natter_core::{ConversationId, MessageId, Role, UserId};
use natter_server::store::{EventKind, MarkKind, ReactionCount, Store};

use crate::harness::{T0, data, events_after, group, kinds, send, text, users};

/// One reaction a millisecond after the one before, so that their order is plain.
async fn react(store: &dyn Store, user: &str, msg: &str, emoji: &str, add: bool) -> bool {
    static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(T0 + 10);
    let at = CLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    store
        .react(UserId::new(user), MessageId::new(msg), emoji, add, 3, at)
        .await
        .unwrap_or_else(|e| panic!("{user} reacts {emoji} {add}: {e:?}"))
}

/// `(emoji, count, me)` of one message as `viewer` sees them.
async fn counts(store: &dyn Store, msg: &str, viewer: &str) -> Vec<(String, i64, bool)> {
    store
        .reaction_counts(&[msg.to_owned()], UserId::new(viewer))
        .await
        .unwrap()
        .into_iter()
        .map(
            |ReactionCount {
                 emoji,
                 count,
                 me,
                 message_id,
             }| {
                assert_eq!(message_id, msg);
                (emoji, count, me)
            },
        )
        .collect()
}

fn c(emoji: &str, count: i64, me: bool) -> (String, i64, bool) {
    (emoji.to_owned(), count, me)
}

pub async fn reactions_are_counted_per_emoji_with_the_viewers_own(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let msg = send(&*store, &g, &alice, "hello", T0 + 1).await;
    let other = send(&*store, &g, &alice, "other", T0 + 2).await;
    let head = store.head().await.unwrap();

    assert!(react(&*store, &bob, &msg.id, "👍", true).await);
    assert!(react(&*store, &carol, &msg.id, "👍", true).await);
    assert!(react(&*store, &bob, &msg.id, "🎉", true).await);
    // Again: nothing changes, nothing is logged.
    assert!(!react(&*store, &bob, &msg.id, "👍", true).await);
    assert!(react(&*store, &carol, &other.id, "❤️", true).await);

    assert_eq!(
        counts(&*store, &msg.id, &bob).await,
        [c("👍", 2, true), c("🎉", 1, true)]
    );
    assert_eq!(
        counts(&*store, &msg.id, &carol).await,
        [c("👍", 2, true), c("🎉", 1, false)]
    );
    assert_eq!(
        counts(&*store, &msg.id, "").await,
        [c("👍", 2, false), c("🎉", 1, false)]
    );
    // Several messages at once.
    let both = store
        .reaction_counts(&[msg.id.clone(), other.id.clone()], UserId::new(&alice))
        .await
        .unwrap();
    assert_eq!(both.len(), 3);
    assert_eq!(both.iter().filter(|r| r.message_id == other.id).count(), 1);

    // Logged for every member: who, what, and the count it makes.
    let events = events_after(&*store, &alice, head).await;
    assert_eq!(kinds(&events), [EventKind::ReactionChanged; 4]);
    let third = data(&events[2]);
    assert_eq!(third["message_id"], msg.id.as_str());
    assert_eq!(third["conversation_id"], g.as_str());
    assert_eq!(third["seq"], msg.seq);
    assert_eq!(third["emoji"], "🎉");
    assert_eq!(third["count"], 1);
    assert_eq!(third["user_id"], bob.as_str());
    assert_eq!(third["added"], true);
    assert_eq!(data(&events[1])["count"], 2);
    assert_eq!(events[0].message_id.as_deref(), Some(msg.id.as_str()));
    assert_eq!(events_after(&*store, &carol, head).await.len(), 4);

    // Who reacted, oldest first; one emoji only; and from a cursor on.
    let all = store
        .reactions(MessageId::new(&msg.id), None, None, 10)
        .await
        .unwrap();
    let who: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r.user_id.as_str(), r.emoji.as_str()))
        .collect();
    assert_eq!(who.len(), 3);
    assert!(who.contains(&(bob.as_str(), "👍")) && who.contains(&(carol.as_str(), "👍")));
    let thumbs = store
        .reactions(MessageId::new(&msg.id), Some("👍"), None, 10)
        .await
        .unwrap();
    assert_eq!(thumbs.len(), 2);
    let first = &all[0];
    let after = (first.created_at, first.user_id.clone(), first.emoji.clone());
    let rest = store
        .reactions(MessageId::new(&msg.id), None, Some(&after), 10)
        .await
        .unwrap();
    assert_eq!(rest, all[1..]);
    let one = store
        .reactions(MessageId::new(&msg.id), None, None, 1)
        .await
        .unwrap();
    assert_eq!(one, all[..1]);
}

pub async fn removing_a_reaction_counts_down_and_is_idempotent(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let msg = send(&*store, &g, &alice, "hello", T0 + 1).await;
    assert!(react(&*store, &alice, &msg.id, "👍", true).await);
    assert!(react(&*store, &bob, &msg.id, "👍", true).await);
    let head = store.head().await.unwrap();
    assert!(react(&*store, &bob, &msg.id, "👍", false).await);
    assert!(!react(&*store, &bob, &msg.id, "👍", false).await);
    assert!(!react(&*store, &bob, &msg.id, "🎉", false).await);
    assert_eq!(counts(&*store, &msg.id, &bob).await, [c("👍", 1, false)]);
    let events = events_after(&*store, &alice, head).await;
    assert_eq!(kinds(&events), [EventKind::ReactionChanged]);
    assert_eq!(data(&events[0])["count"], 1);
    assert_eq!(data(&events[0])["added"], false);
    assert!(react(&*store, &alice, &msg.id, "👍", false).await);
    assert!(counts(&*store, &msg.id, &bob).await.is_empty());
}

pub async fn a_message_carries_at_most_so_many_distinct_emoji(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let msg = send(&*store, &g, &alice, "hello", T0 + 1).await;
    // The limit given is 3 (see `react`).
    for e in ["👍", "🎉", "❤️"] {
        assert!(react(&*store, &alice, &msg.id, e, true).await);
    }
    assert_rule!(
        store
            .react(
                UserId::new(&bob),
                MessageId::new(&msg.id),
                "😂",
                true,
                3,
                T0
            )
            .await,
        Invalid
    );
    // One already there can still be given.
    assert!(react(&*store, &bob, &msg.id, "🎉", true).await);
    // Once one is gone, another fits.
    assert!(react(&*store, &alice, &msg.id, "❤️", false).await);
    assert!(react(&*store, &bob, &msg.id, "😂", true).await);
    assert_eq!(counts(&*store, &msg.id, &bob).await.len(), 3);
}

pub async fn a_deleted_message_loses_its_reactions_and_takes_none(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let msg = send(&*store, &g, &alice, "hello", T0 + 1).await;
    assert!(react(&*store, &bob, &msg.id, "👍", true).await);
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 5)
        .await
        .unwrap();
    assert!(counts(&*store, &msg.id, &bob).await.is_empty());
    assert!(
        store
            .reactions(MessageId::new(&msg.id), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_rule!(
        store
            .react(
                UserId::new(&bob),
                MessageId::new(&msg.id),
                "🎉",
                true,
                3,
                T0
            )
            .await,
        Conflict
    );
    assert!(!react(&*store, &bob, &msg.id, "👍", false).await);
}

pub async fn only_members_that_see_a_message_react_to_it(store: Arc<dyn Store>) {
    let [alice, bob, carol, dave] = users(&*store, ["alice", "bob", "carol", "dave"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let msg = send(&*store, &g, &alice, "hello", T0 + 1).await;
    assert_rule!(
        store
            .react(
                UserId::new(&carol),
                MessageId::new(&msg.id),
                "👍",
                true,
                3,
                T0
            )
            .await,
        NotFound
    );
    // Joined after it: not a message of its history.
    store
        .add_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&dave),
            Role::Member,
            100,
            T0 + 2,
        )
        .await
        .unwrap();
    assert_rule!(
        store
            .react(
                UserId::new(&dave),
                MessageId::new(&msg.id),
                "👍",
                true,
                3,
                T0
            )
            .await,
        NotFound
    );
    assert_rule!(
        store
            .react(
                UserId::new(&bob),
                MessageId::new("no-such"),
                "👍",
                true,
                3,
                T0
            )
            .await,
        NotFound
    );
}

/// `who`'s unread mentions in `conversation`, as its view and the views of every member say.
async fn mention_count(store: &dyn Store, conversation: &str, who: &str) -> i64 {
    let one = store
        .conversation_view(ConversationId::new(conversation), UserId::new(who))
        .await
        .unwrap()
        .expect("a member's view")
        .mention_count;
    let views = store
        .conversation_views(ConversationId::new(conversation))
        .await
        .unwrap()
        .unwrap();
    let i = views.members.iter().position(|m| m.user_id == who).unwrap();
    assert_eq!(views.viewers[i].mention_count, one, "views agree");
    let listed = store
        .conversations_of(UserId::new(who), None, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.conversation.id == conversation)
        .unwrap()
        .mention_count;
    assert_eq!(listed, one, "the list agrees");
    one
}

pub async fn mentions_are_stored_and_counted_until_read(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let mut m1 = text(&g, &alice, "hi @bob", T0 + 1);
    m1.mentions = vec![bob.clone()];
    let m1 = store.send(&m1).await.unwrap().message;
    assert_eq!(m1.mentions, [bob.as_str()]);
    let mut m2 = text(&g, &alice, "@all look", T0 + 2);
    m2.mentions = vec![bob.clone(), carol.clone()];
    let m2 = store.send(&m2).await.unwrap().message;
    send(&*store, &g, &alice, "no mention", T0 + 3).await;
    let read = store
        .message(MessageId::new(&m2.id), UserId::new(&carol))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.mentions, [bob.clone(), carol.clone()]);

    assert_eq!(mention_count(&*store, &g, &bob).await, 2);
    assert_eq!(mention_count(&*store, &g, &carol).await, 1);
    assert_eq!(mention_count(&*store, &g, &alice).await, 0);

    // Hidden for bob: not counted for bob.
    store
        .hide(UserId::new(&bob), MessageId::new(&m2.id), T0 + 4)
        .await
        .unwrap();
    assert_eq!(mention_count(&*store, &g, &bob).await, 1);
    // Read: no longer counted.
    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&g),
            MarkKind::Read,
            m1.seq,
            T0 + 5,
        )
        .await
        .unwrap();
    assert_eq!(mention_count(&*store, &g, &bob).await, 0);

    // An edit replaces the mentions.
    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&m2.id),
            "never mind",
            &[],
            T0 + 6,
        )
        .await
        .unwrap();
    assert_eq!(mention_count(&*store, &g, &carol).await, 0);
    let m3 = store
        .message(MessageId::new(&m1.id), UserId::new(&alice))
        .await
        .unwrap()
        .unwrap();
    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&m3.id),
            "hi @carol",
            std::slice::from_ref(&carol),
            T0 + 7,
        )
        .await
        .unwrap();
    assert_eq!(mention_count(&*store, &g, &carol).await, 1);
    // Deleted for everyone: neither shown nor counted.
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&m3.id), T0 + 8)
        .await
        .unwrap();
    assert_eq!(mention_count(&*store, &g, &carol).await, 0);
    let gone = store
        .message(MessageId::new(&m3.id), UserId::new(&carol))
        .await
        .unwrap()
        .unwrap();
    assert!(gone.mentions.is_empty());
}

pub async fn member_usernames_name_whom_a_message_can_mention(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    assert_eq!(
        store
            .member_usernames(ConversationId::new(&g))
            .await
            .unwrap(),
        [
            (alice.clone(), "alice".to_owned()),
            (bob.clone(), "bob".to_owned())
        ]
    );
    let _ = carol;
}
