//! The durable event log: each durable change appends exactly its events, in the same
//! transaction; each user reads only what it may see, in order, and never skips an event.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use natter_core::{ConversationId, MessageId, Role, UserId};
use natter_server::store::{Backlog, EventKind, EventRow, MarkKind, NewMessage, Store};

use crate::harness::{
    T0, data, direct, events_after, group, group_at, kinds, send, send_n, text, users,
};

use EventKind::*;

/// Follows one user's view of the log: each call returns what is new since the last one.
struct Follower {
    store: Arc<dyn Store>,
    user_id: String,
    cursor: i64,
}

impl Follower {
    async fn at_head(store: &Arc<dyn Store>, user_id: &str) -> Self {
        Self {
            store: store.clone(),
            user_id: user_id.to_owned(),
            cursor: store.head().await.unwrap(),
        }
    }

    async fn new_events(&mut self) -> Vec<EventRow> {
        let events = events_after(&*self.store, &self.user_id, self.cursor).await;
        if let Some(last) = events.last() {
            self.cursor = last.pos;
        }
        events
    }
}

/// Asserts that `event` is a conversation-wide event of `kind` about `conversation_id`.
fn assert_broadcast(event: &EventRow, kind: EventKind, conversation_id: &str) {
    assert_eq!(event.kind, kind, "{event:?}");
    assert_eq!(event.conversation_id, conversation_id, "{event:?}");
    assert_eq!(event.user_id, None, "{event:?}");
}

pub async fn head_grows_with_every_durable_change(store: Arc<dyn Store>) {
    assert_eq!(store.head().await.unwrap(), 0);
    let [owner, mia, x] = users(&*store, ["owner", "mia", "x"]).await;

    let mut last = 0;
    let mut grew = |head: i64, what: &str| {
        assert!(head > last, "{what}: head {head} did not grow past {last}");
        last = head;
    };
    let head = || {
        let store = store.clone();
        async move { store.head().await.unwrap() }
    };

    let g = group(&*store, &owner, &[&mia]).await;
    grew(head().await, "create_group");
    let mut msg = text(&g, &mia, "hello", T0 + 1);
    msg.client_id = Some("c-1".into());
    let sent = store.send(&msg).await.unwrap().message;
    grew(head().await, "send");
    store
        .edit(
            UserId::new(&mia),
            MessageId::new(&sent.id),
            "hello!",
            &[],
            T0 + 2,
        )
        .await
        .unwrap();
    grew(head().await, "edit");
    store
        .mark(
            UserId::new(&owner),
            ConversationId::new(&g),
            MarkKind::Read,
            1,
            T0 + 3,
        )
        .await
        .unwrap();
    grew(head().await, "mark");
    store
        .hide(UserId::new(&owner), MessageId::new(&sent.id), T0 + 4)
        .await
        .unwrap();
    grew(head().await, "hide");
    store
        .delete_for_everyone(UserId::new(&mia), MessageId::new(&sent.id), T0 + 5)
        .await
        .unwrap();
    grew(head().await, "delete_for_everyone");
    store
        .rename(
            UserId::new(&owner),
            ConversationId::new(&g),
            "renamed",
            T0 + 6,
        )
        .await
        .unwrap();
    grew(head().await, "rename");
    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            Role::Member,
            1024,
            T0 + 7,
        )
        .await
        .unwrap();
    grew(head().await, "add_member");
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            Role::Admin,
            T0 + 8,
        )
        .await
        .unwrap();
    grew(head().await, "set_role");
    store
        .remove_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            T0 + 9,
        )
        .await
        .unwrap();
    grew(head().await, "remove_member");
    store
        .create_direct(
            ConversationId::new("dm"),
            UserId::new(&owner),
            UserId::new(&mia),
            T0 + 10,
        )
        .await
        .unwrap();
    grew(head().await, "create_direct");

    // What changes nothing, or is refused, appends nothing.
    let still = head().await;
    assert!(!store.send(&msg).await.unwrap().created);
    assert!(
        !store
            .mark(
                UserId::new(&owner),
                ConversationId::new(&g),
                MarkKind::Read,
                1,
                T0 + 11
            )
            .await
            .unwrap()
    );
    store
        .hide(UserId::new(&owner), MessageId::new(&sent.id), T0 + 12)
        .await
        .unwrap();
    store
        .delete_for_everyone(UserId::new(&mia), MessageId::new(&sent.id), T0 + 13)
        .await
        .unwrap();
    assert!(
        !store
            .create_direct(
                ConversationId::new("dm-2"),
                UserId::new(&mia),
                UserId::new(&owner),
                T0 + 14
            )
            .await
            .unwrap()
            .1
    );
    assert_rule!(
        store
            .rename(
                UserId::new(&mia),
                ConversationId::new(&g),
                "refused",
                T0 + 15
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store
            .edit(
                UserId::new(&owner),
                MessageId::new(&sent.id),
                "refused",
                &[],
                T0 + 16
            )
            .await,
        Forbidden
    );
    assert_rule!(
        store.send(&text(&g, &x, "refused", T0 + 17)).await,
        NotFound
    );
    assert_eq!(head().await, still);

    // The head is the newest position a member can read.
    let all = events_after(&*store, &owner, 0).await;
    assert_eq!(all.last().map(|e| e.pos), Some(still));
}

pub async fn group_changes_append_conversation_updated(store: Arc<dyn Store>) {
    let [owner, mia, x] = users(&*store, ["owner", "mia", "x"]).await;
    let mut owners = Follower::at_head(&store, &owner).await;
    let mut mias = Follower::at_head(&store, &mia).await;
    let mut xs = Follower::at_head(&store, &x).await;

    let g = group_at(&*store, &owner, &[&mia], T0 + 1).await;
    let created = owners.new_events().await;
    assert_eq!(kinds(&created), [ConversationUpdated]);
    assert_broadcast(&created[0], ConversationUpdated, &g);
    assert_eq!(created[0].message_id, None);
    assert_eq!(created[0].created_at, T0 + 1);
    assert_eq!(mias.new_events().await, created);
    assert!(xs.new_events().await.is_empty());

    store
        .rename(
            UserId::new(&owner),
            ConversationId::new(&g),
            "renamed",
            T0 + 2,
        )
        .await
        .unwrap();
    let renamed = owners.new_events().await;
    assert_eq!(kinds(&renamed), [ConversationUpdated]);
    assert_broadcast(&renamed[0], ConversationUpdated, &g);
    assert_eq!(renamed[0].created_at, T0 + 2);
    assert_eq!(mias.new_events().await, renamed);

    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            Role::Member,
            1024,
            T0 + 3,
        )
        .await
        .unwrap();
    let added = owners.new_events().await;
    assert_eq!(kinds(&added), [ConversationUpdated]);
    assert_broadcast(&added[0], ConversationUpdated, &g);
    // The new member hears of it too.
    assert_eq!(xs.new_events().await, added);
    assert_eq!(mias.new_events().await, added);

    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            Role::Admin,
            T0 + 4,
        )
        .await
        .unwrap();
    let promoted = owners.new_events().await;
    assert_eq!(kinds(&promoted), [ConversationUpdated]);
    assert_eq!(xs.new_events().await, promoted);
    assert_eq!(mias.new_events().await, promoted);

    let (dm, _) = store
        .create_direct(
            ConversationId::new("dm"),
            UserId::new(&mia),
            UserId::new(&x),
            T0 + 5,
        )
        .await
        .unwrap();
    let opened = mias.new_events().await;
    assert_eq!(kinds(&opened), [ConversationUpdated]);
    assert_broadcast(&opened[0], ConversationUpdated, &dm);
    assert_eq!(xs.new_events().await, opened);
    assert!(owners.new_events().await.is_empty());
}

pub async fn a_send_appends_new_message(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let mut alices = Follower::at_head(&store, &alice).await;
    let mut bobs = Follower::at_head(&store, &bob).await;

    let msg = send(&*store, &dm, &alice, "hi bob", T0 + 1).await;
    let events = alices.new_events().await;
    assert_eq!(kinds(&events), [NewMessage]);
    assert_broadcast(&events[0], NewMessage, &dm);
    assert_eq!(events[0].message_id.as_deref(), Some(msg.id.as_str()));
    assert_eq!(events[0].created_at, T0 + 1);
    assert_eq!(events[0].data, None);
    // The sender's other devices and the recipient read the same event.
    assert_eq!(bobs.new_events().await, events);
}

pub async fn a_send_over_others_messages_also_appends_message_status(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    send(&*store, &g, &alice, "1", T0 + 1).await;
    let mut alices = Follower::at_head(&store, &alice).await;

    // Bob answers: alice's message is read by him now, and she learns so, and that everyone
    // has read up to it.
    let answer = send(&*store, &g, &bob, "2", T0 + 2).await;
    let events = alices.new_events().await;
    assert_eq!(
        kinds(&events),
        [NewMessage, MessageStatus, ConversationStatus]
    );
    assert_eq!(events[0].message_id.as_deref(), Some(answer.id.as_str()));
    assert_broadcast(&events[1], MessageStatus, &g);
    let status = data(&events[1]);
    assert_eq!(status["conversation_id"], g.as_str());
    assert_eq!(status["user_id"], bob.as_str());
    assert_eq!(status["status"], "read");
    assert_eq!(status["up_to_seq"], 2);
    assert_eq!(status["at"], natter_core::time::format(T0 + 2).as_str());
    assert_broadcast(&events[2], ConversationStatus, &g);
    let watermarks = data(&events[2]);
    assert_eq!(watermarks["conversation_id"], g.as_str());
    assert_eq!(watermarks["all_delivered_seq"], 1);
    assert_eq!(watermarks["all_read_seq"], 1);

    // Bob again: it covers only his own messages, so no one's status changes.
    send(&*store, &g, &bob, "3", T0 + 3).await;
    assert_eq!(kinds(&alices.new_events().await), [NewMessage]);
}

pub async fn an_edit_appends_message_updated(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let msg = send(&*store, &dm, &alice, "first draft", T0 + 1).await;
    let mut bobs = Follower::at_head(&store, &bob).await;

    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&msg.id),
            "second draft",
            &[],
            T0 + 2,
        )
        .await
        .unwrap();
    let events = bobs.new_events().await;
    assert_eq!(kinds(&events), [MessageUpdated]);
    assert_broadcast(&events[0], MessageUpdated, &dm);
    assert_eq!(events[0].message_id.as_deref(), Some(msg.id.as_str()));
    assert_eq!(events[0].created_at, T0 + 2);
    assert!(!format!("{:?}", events[0]).contains("draft"));
}

pub async fn delete_for_everyone_appends_message_deleted_without_text(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send(&*store, &dm, &bob, "before", T0 + 1).await;
    let msg = send(&*store, &dm, &alice, "secret plans", T0 + 2).await;
    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&msg.id),
            "edited secret plans",
            &[],
            T0 + 3,
        )
        .await
        .unwrap();
    let mut bobs = Follower::at_head(&store, &bob).await;

    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 4)
        .await
        .unwrap();
    let events = bobs.new_events().await;
    assert_eq!(kinds(&events), [MessageDeleted]);
    assert_broadcast(&events[0], MessageDeleted, &dm);
    assert_eq!(events[0].message_id.as_deref(), Some(msg.id.as_str()));
    assert_eq!(events[0].created_at, T0 + 4);
    let deleted = data(&events[0]);
    assert_eq!(deleted["conversation_id"], dm.as_str());
    assert_eq!(deleted["message_id"], msg.id.as_str());
    assert_eq!(deleted["seq"], 2);
    assert_eq!(deleted["for_me"], false);

    // No event anyone can read holds the text, neither the first nor the edited one.
    for user in [&alice, &bob] {
        for e in events_after(&*store, user, 0).await {
            assert!(!format!("{e:?}").contains("secret"), "{e:?}");
        }
    }
}

pub async fn hiding_appends_message_deleted_for_the_hider_only(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    send_n(&*store, &g, &alice, 2).await;
    let msg = send(&*store, &g, &alice, "not for bob's eyes", T0 + 3).await;
    let mut alices = Follower::at_head(&store, &alice).await;
    let mut bobs = Follower::at_head(&store, &bob).await;
    let mut carols = Follower::at_head(&store, &carol).await;

    store
        .hide(UserId::new(&bob), MessageId::new(&msg.id), T0 + 4)
        .await
        .unwrap();
    let events = bobs.new_events().await;
    assert_eq!(kinds(&events), [MessageDeleted]);
    assert_eq!(events[0].user_id.as_deref(), Some(bob.as_str()));
    assert_eq!(events[0].conversation_id, g);
    assert_eq!(events[0].message_id.as_deref(), Some(msg.id.as_str()));
    let hidden = data(&events[0]);
    assert_eq!(hidden["conversation_id"], g.as_str());
    assert_eq!(hidden["message_id"], msg.id.as_str());
    assert_eq!(hidden["seq"], 3);
    assert_eq!(hidden["for_me"], true);
    assert!(!format!("{:?}", events[0]).contains("eyes"));
    assert!(alices.new_events().await.is_empty());
    assert!(carols.new_events().await.is_empty());

    store
        .hide(UserId::new(&bob), MessageId::new(&msg.id), T0 + 5)
        .await
        .unwrap();
    assert!(bobs.new_events().await.is_empty());
}

pub async fn marking_appends_message_status(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    send_n(&*store, &g, &alice, 3).await;
    let mut alices = Follower::at_head(&store, &alice).await;
    let mut carols = Follower::at_head(&store, &carol).await;

    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&g),
            MarkKind::Delivered,
            2,
            T0 + 10,
        )
        .await
        .unwrap();
    let events = alices.new_events().await;
    assert_eq!(kinds(&events), [MessageStatus]);
    assert_broadcast(&events[0], MessageStatus, &g);
    assert_eq!(events[0].message_id, None);
    assert_eq!(events[0].created_at, T0 + 10);
    let status = data(&events[0]);
    assert_eq!(status["conversation_id"], g.as_str());
    assert_eq!(status["user_id"], bob.as_str());
    assert_eq!(status["status"], "delivered");
    assert_eq!(status["up_to_seq"], 2);
    assert_eq!(status["at"], natter_core::time::format(T0 + 10).as_str());
    // Every member hears of it, not only the senders.
    assert_eq!(carols.new_events().await, events);

    // Reading moves both marks: one event, saying read.
    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&g),
            MarkKind::Read,
            3,
            T0 + 11,
        )
        .await
        .unwrap();
    let events = alices.new_events().await;
    assert_eq!(kinds(&events), [MessageStatus]);
    let status = data(&events[0]);
    assert_eq!(status["status"], "read");
    assert_eq!(status["up_to_seq"], 3);

    // A mark that does not move is not announced.
    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&g),
            MarkKind::Read,
            2,
            T0 + 12,
        )
        .await
        .unwrap();
    assert!(alices.new_events().await.is_empty());

    // A capped mark announces where it landed.
    send(&*store, &g, &alice, "4", T0 + 13).await;
    alices.new_events().await;
    store
        .mark(
            UserId::new(&bob),
            ConversationId::new(&g),
            MarkKind::Read,
            99,
            T0 + 14,
        )
        .await
        .unwrap();
    let events = alices.new_events().await;
    assert_eq!(kinds(&events), [MessageStatus]);
    assert_eq!(data(&events[0])["up_to_seq"], 4);
}

pub async fn removing_a_member_tells_it_and_updates_the_rest(store: Arc<dyn Store>) {
    let [owner, mia, x] = users(&*store, ["owner", "mia", "x"]).await;
    let g = group(&*store, &owner, &[&mia, &x]).await;
    let mut owners = Follower::at_head(&store, &owner).await;
    let mut mias = Follower::at_head(&store, &mia).await;
    let mut xs = Follower::at_head(&store, &x).await;

    store
        .remove_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            T0 + 1,
        )
        .await
        .unwrap();
    let told = xs.new_events().await;
    assert_eq!(kinds(&told), [ConversationRemoved]);
    assert_eq!(told[0].user_id.as_deref(), Some(x.as_str()));
    assert_eq!(told[0].conversation_id, g);
    assert_eq!(told[0].created_at, T0 + 1);
    assert_eq!(data(&told[0])["conversation_id"], g.as_str());
    let rest = owners.new_events().await;
    assert_eq!(kinds(&rest), [ConversationUpdated]);
    assert_broadcast(&rest[0], ConversationUpdated, &g);
    assert_eq!(mias.new_events().await, rest);

    // Leaving is removing oneself.
    store
        .remove_member(
            UserId::new(&mia),
            ConversationId::new(&g),
            UserId::new(&mia),
            T0 + 2,
        )
        .await
        .unwrap();
    let told = mias.new_events().await;
    assert_eq!(kinds(&told), [ConversationRemoved]);
    assert_eq!(told[0].user_id.as_deref(), Some(mia.as_str()));
    assert_eq!(kinds(&owners.new_events().await), [ConversationUpdated]);
    assert!(xs.new_events().await.is_empty());

    // The last one out is told too, though no one remains to update.
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
        natter_server::store::Removed::GroupDeleted
    );
    let told = owners.new_events().await;
    assert_eq!(kinds(&told), [ConversationRemoved]);
    assert_eq!(told[0].user_id.as_deref(), Some(owner.as_str()));
    assert!(mias.new_events().await.is_empty());
    assert!(xs.new_events().await.is_empty());
}

pub async fn a_member_does_not_see_events_from_before_it_joined(store: Arc<dyn Store>) {
    let [owner, mia, late] = users(&*store, ["owner", "mia", "late"]).await;
    let g = group(&*store, &owner, &[&mia]).await;
    send_n(&*store, &g, &owner, 2).await;
    store
        .mark(
            UserId::new(&mia),
            ConversationId::new(&g),
            MarkKind::Read,
            2,
            T0 + 10,
        )
        .await
        .unwrap();
    store
        .rename(
            UserId::new(&owner),
            ConversationId::new(&g),
            "before late",
            T0 + 11,
        )
        .await
        .unwrap();
    let before_joining = store.head().await.unwrap();

    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&late),
            Role::Member,
            1024,
            T0 + 20,
        )
        .await
        .unwrap();
    let welcome = send(&*store, &g, &mia, "welcome", T0 + 21).await;

    let seen = events_after(&*store, &late, 0).await;
    assert_eq!(kinds(&seen), [ConversationUpdated, NewMessage]);
    assert!(seen.iter().all(|e| e.pos > before_joining), "{seen:?}");
    assert_eq!(seen[1].message_id.as_deref(), Some(welcome.id.as_str()));
    // The earlier members saw everything.
    assert_eq!(
        kinds(&events_after(&*store, &mia, 0).await),
        [
            ConversationUpdated,
            NewMessage,
            NewMessage,
            MessageStatus,
            ConversationStatus,
            ConversationUpdated,
            ConversationUpdated,
            NewMessage,
        ]
    );
}

pub async fn a_removed_member_stops_seeing_the_conversation(store: Arc<dyn Store>) {
    let [owner, x] = users(&*store, ["owner", "x"]).await;
    let g = group(&*store, &owner, &[&x]).await;
    let other = group(&*store, &owner, &[&x]).await;
    send(&*store, &g, &owner, "while x is in", T0 + 1).await;
    let before_removal = store.head().await.unwrap();

    store
        .remove_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            T0 + 2,
        )
        .await
        .unwrap();
    send(&*store, &g, &owner, "after x left", T0 + 3).await;
    store
        .rename(
            UserId::new(&owner),
            ConversationId::new(&g),
            "without x",
            T0 + 4,
        )
        .await
        .unwrap();
    store
        .mark(
            UserId::new(&owner),
            ConversationId::new(&g),
            MarkKind::Read,
            2,
            T0 + 5,
        )
        .await
        .unwrap();
    let still_shared = send(&*store, &other, &owner, "elsewhere", T0 + 6).await;

    let seen = events_after(&*store, &x, before_removal).await;
    assert_eq!(kinds(&seen), [ConversationRemoved, NewMessage]);
    assert_eq!(seen[0].conversation_id, g);
    assert_eq!(seen[1].conversation_id, other);
    assert_eq!(
        seen[1].message_id.as_deref(),
        Some(still_shared.id.as_str())
    );
    let removal = seen[0].pos;

    // Added back, it sees what happens from then on, not what it missed.
    store
        .add_member(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&x),
            Role::Member,
            1024,
            T0 + 7,
        )
        .await
        .unwrap();
    let back = send(&*store, &g, &owner, "welcome back", T0 + 8).await;
    let seen = events_after(&*store, &x, removal).await;
    assert_eq!(kinds(&seen), [NewMessage, ConversationUpdated, NewMessage]);
    assert_eq!(seen[0].conversation_id, other);
    assert_eq!(seen[1].conversation_id, g);
    assert_eq!(seen[2].message_id.as_deref(), Some(back.id.as_str()));
}

pub async fn events_are_ordered_by_position_and_limited(store: Arc<dyn Store>) {
    let [alice, bob, carol, eve] = users(&*store, ["alice", "bob", "carol", "eve"]).await;
    let ab = direct(&*store, &alice, &bob).await;
    let ac = direct(&*store, &alice, &carol).await;
    for i in 0..4 {
        send(&*store, &ab, &bob, &format!("to alice {i}"), T0 + 10 + i).await;
        send(&*store, &ac, &carol, &format!("to alice {i}"), T0 + 20 + i).await;
    }

    let all = events_after(&*store, &alice, 0).await;
    assert_eq!(all.len(), 2 + 8);
    assert!(all.windows(2).all(|w| w[0].pos < w[1].pos), "{all:?}");
    let in_ab = all.iter().filter(|e| e.conversation_id == ab).count();
    assert_eq!(in_ab, 5);

    // Pages: `after` is exclusive, `limit` caps the page, together they walk the log.
    assert_eq!(
        store.events_for(UserId::new(&alice), 0, 3).await.unwrap(),
        all[..3]
    );
    assert_eq!(
        store
            .events_for(UserId::new(&alice), all[2].pos, 3)
            .await
            .unwrap(),
        all[3..6]
    );
    assert_eq!(
        store
            .events_for(UserId::new(&alice), all[5].pos, 100)
            .await
            .unwrap(),
        all[6..]
    );
    assert_eq!(
        store.events_for(UserId::new(&alice), 0, 1).await.unwrap(),
        all[..1]
    );
    let last = all.last().unwrap().pos;
    assert!(
        store
            .events_for(UserId::new(&alice), last, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Each of the others sees only its own conversation.
    let bobs = events_after(&*store, &bob, 0).await;
    assert_eq!(bobs.len(), 5);
    assert!(bobs.iter().all(|e| e.conversation_id == ab));
    assert_eq!(
        bobs,
        all.iter()
            .filter(|e| e.conversation_id == ab)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert!(events_after(&*store, &eve, 0).await.is_empty());
}

pub async fn a_reader_following_the_log_never_skips_an_event(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let done = Arc::new(AtomicBool::new(false));

    // A device following the log with small pages while several writers commit.
    let reader = {
        let store = store.clone();
        let alice = alice.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store
                    .events_for(UserId::new(&alice), cursor, 7)
                    .await
                    .unwrap();
                if let Some(last) = page.last() {
                    cursor = last.pos;
                }
                let empty = page.is_empty();
                seen.extend(page);
                if empty {
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            let sender = if w % 2 == 0 {
                alice.clone()
            } else {
                bob.clone()
            };
            let g = g.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let msg: NewMessage = text(&g, &sender, &format!("w{w} m{i}"), T0 + i);
                    store.send(&msg).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let followed = reader.await.unwrap();

    let all = events_after(&*store, &alice, 0).await;
    let positions = |events: &[EventRow]| events.iter().map(|e| e.pos).collect::<Vec<_>>();
    assert_eq!(positions(&followed), positions(&all));
    assert_eq!(all.iter().filter(|e| e.kind == NewMessage).count(), 100);
    assert_eq!(all.last().map(|e| e.pos), Some(store.head().await.unwrap()));
}

pub async fn events_after_tails_every_event_for_the_fan_out(store: Arc<dyn Store>) {
    assert!(store.events_after(0, 100).await.unwrap().is_empty());
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let dm = direct(&*store, &bob, &carol).await;
    let msg = send(&*store, &g, &alice, "1", T0 + 1).await;
    store
        .hide(UserId::new(&bob), MessageId::new(&msg.id), T0 + 2)
        .await
        .unwrap();
    send(&*store, &dm, &carol, "2", T0 + 3).await;
    store
        .remove_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&carol),
            T0 + 4,
        )
        .await
        .unwrap();

    // Everything, targeted events and every conversation included, in order.
    let all = store.events_after(0, 100).await.unwrap();
    assert_eq!(
        kinds(&all),
        [
            ConversationUpdated,
            ConversationUpdated,
            NewMessage,
            MessageDeleted,
            NewMessage,
            ConversationRemoved,
            ConversationUpdated,
        ]
    );
    assert!(all.windows(2).all(|w| w[0].pos < w[1].pos), "{all:?}");
    assert_eq!(all[3].user_id.as_deref(), Some(bob.as_str()));
    assert_eq!(all[4].conversation_id, dm);
    assert_eq!(all.last().map(|e| e.pos), Some(store.head().await.unwrap()));
    // The same rows each user reads, only unfiltered.
    for user in [&alice, &bob] {
        for e in events_after(&*store, user, 0).await {
            assert!(all.contains(&e), "{e:?}");
        }
    }

    assert_eq!(store.events_after(0, 2).await.unwrap(), all[..2]);
    assert_eq!(store.events_after(all[1].pos, 3).await.unwrap(), all[2..5]);
    assert!(
        store
            .events_after(all[6].pos, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn pruning_drops_old_events_and_remembers_how_far(store: Arc<dyn Store>) {
    assert_eq!(store.pruned_up_to().await.unwrap(), 0);
    assert_eq!(store.prune_events(T0 + 100).await.unwrap(), 0);
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group_at(&*store, &alice, &[&bob], T0 + 1).await;
    for i in 2..=4 {
        send(&*store, &g, &alice, &format!("{i}"), T0 + i).await;
    }
    let all = store.events_after(0, 100).await.unwrap();
    let created: Vec<i64> = all.iter().map(|e| e.created_at).collect();
    assert_eq!(created, [T0 + 1, T0 + 2, T0 + 3, T0 + 4]);

    // Created before T0 + 3: the first two go.
    assert_eq!(store.prune_events(T0 + 3).await.unwrap(), all[1].pos);
    assert_eq!(store.pruned_up_to().await.unwrap(), all[1].pos);
    assert_eq!(store.events_after(0, 100).await.unwrap(), all[2..]);
    assert_eq!(events_after(&*store, &bob, 0).await, all[2..]);

    // The mark never goes back.
    assert_eq!(store.prune_events(T0).await.unwrap(), all[1].pos);
    assert_eq!(store.pruned_up_to().await.unwrap(), all[1].pos);

    // Pruning everything keeps the head: positions are never reused.
    let head = store.head().await.unwrap();
    assert_eq!(store.prune_events(T0 + 100).await.unwrap(), all[3].pos);
    assert!(store.events_after(0, 100).await.unwrap().is_empty());
    assert_eq!(store.head().await.unwrap(), head);
    send(&*store, &g, &bob, "after pruning", T0 + 200).await;
    let fresh = store.events_after(0, 100).await.unwrap();
    assert!(!fresh.is_empty() && fresh[0].pos > head, "{fresh:?}");
    // The stored messages stay: only the log is pruned.
    assert_eq!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        4
    );
}

pub async fn backlog_reads_the_events_with_the_logs_bounds(store: Arc<dyn Store>) {
    let empty = store
        .backlog(UserId::new("user-nobody"), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        empty,
        Backlog {
            head: 0,
            pruned_up_to: 0,
            events: vec![],
        }
    );
    assert!(empty.resumes(0));
    assert!(!empty.resumes(1), "a cursor ahead of the log");

    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group_at(&*store, &alice, &[&bob], T0 + 1).await;
    for i in 2..=4 {
        send(&*store, &g, &alice, &format!("{i}"), T0 + i).await;
    }
    let bobs = events_after(&*store, &bob, 0).await;
    let head = store.head().await.unwrap();

    // The same events as `events_for`, limited, with the head and no pruning yet.
    let b = store.backlog(UserId::new(&bob), 0, 100).await.unwrap();
    assert_eq!((b.head, b.pruned_up_to), (head, 0));
    assert_eq!(b.events, bobs);
    let b = store
        .backlog(UserId::new(&bob), bobs[0].pos, 2)
        .await
        .unwrap();
    assert_eq!(b.events, bobs[1..3]);
    assert!(b.resumes(bobs[0].pos) && b.resumes(head) && !b.resumes(head + 1));
    // Another user sees only its own events.
    assert!(
        store
            .backlog(UserId::new(&carol), 0, 100)
            .await
            .unwrap()
            .events
            .is_empty()
    );

    // After pruning, a cursor below the mark no longer resumes; one at it does.
    let all = store.events_after(0, 100).await.unwrap();
    let pruned = store.prune_events(T0 + 3).await.unwrap();
    assert_eq!(pruned, all[1].pos);
    let b = store.backlog(UserId::new(&bob), 0, 100).await.unwrap();
    assert_eq!((b.head, b.pruned_up_to), (head, pruned));
    assert!(!b.resumes(0) && !b.resumes(pruned - 1));
    assert!(b.resumes(pruned));
    let b = store.backlog(UserId::new(&bob), pruned, 100).await.unwrap();
    assert_eq!(b.events, events_after(&*store, &bob, pruned).await);
}

/// An adapter that feeds its commits to the fan-out (`Store::committed`) feeds exactly what the
/// log holds, in position order, with the messages stored: never a write that was rolled back
/// (a send refused inside its batch, a commit that failed).
pub async fn what_commits_is_fed_in_position_order_as_the_log_holds_it(store: Arc<dyn Store>) {
    let Some(mut feed) = store.committed() else {
        return;
    };
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    // Sends at once, sharing batches; one names media that does not exist and is refused.
    let sends = (0..6).map(|i| {
        let store = store.clone();
        let mut msg = text(&dm, &alice, &format!("message {i}"), T0 + 1);
        if i == 3 {
            msg.kind = natter_core::MessageKind::File;
            msg.media_id = Some("no-such-media".into());
        }
        tokio::spawn(async move { store.send(&msg).await })
    });
    let mut stored = Vec::new();
    for s in sends {
        if let Ok(sent) = s.await.unwrap() {
            stored.push(sent.message.id);
        }
    }
    assert_eq!(stored.len(), 5);
    store.fail_next_commit().await.unwrap();
    assert!(store.send(&text(&dm, &bob, "lost", T0 + 2)).await.is_err());
    send(&*store, &dm, &bob, "kept", T0 + 3).await;

    let logged: Vec<EventRow> = store.events_after(0, 1000).await.unwrap();
    let head = logged.last().unwrap().pos;
    let mut fed = Vec::new();
    let mut messages = Vec::new();
    while fed.last().is_none_or(|e: &EventRow| e.pos < head) {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), feed.recv())
            .await
            .expect("every commit is fed")
            .unwrap();
        // Each stored message in the order of its `new_message` event: the fan-out finds them
        // in one pass.
        let message_events: Vec<_> = batch
            .events
            .iter()
            .filter(|e| e.kind == NewMessage)
            .map(|e| e.message_id.clone().unwrap())
            .collect();
        let stored: Vec<_> = batch.messages.iter().map(|m| m.id.clone()).collect();
        assert_eq!(stored, message_events);
        fed.extend(batch.events.iter().cloned());
        messages.extend(batch.messages.iter().map(|m| m.text.clone().unwrap()));
    }
    assert_eq!(fed, logged, "the feed holds what the log holds, in order");
    assert_eq!(messages.len(), 6, "five sends, and \"kept\": {messages:?}");
    assert!(messages.iter().all(|t| t != "lost" && t != "message 3"));
    for e in fed.iter().filter(|e| e.kind == NewMessage) {
        assert!(e.message_id.is_some());
    }
}
