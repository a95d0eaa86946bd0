//! Changing messages: edits by their sender, deletion for everyone (a tombstone that keeps its
//! seq), and hiding for one viewer.

use std::sync::Arc;

use natter_core::{ConversationId, MessageId, Role, UserId};
use natter_server::store::{MessageRow, Store};

use crate::harness::{T0, direct, group, send, users};

/// The message as `viewer` sees it; it must exist.
async fn seen(store: &dyn Store, id: &str, viewer: &str) -> MessageRow {
    store
        .message(MessageId::new(id), UserId::new(viewer))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("message {id} is gone for {viewer}"))
}

pub async fn only_the_sender_edits(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let msg = send(&*store, &g, &bob, "tpyo", T0 + 1).await;

    // Not even the owner edits another's message.
    assert_rule!(
        store
            .edit(
                UserId::new(&alice),
                MessageId::new(&msg.id),
                "typo?",
                &[],
                T0 + 2
            )
            .await,
        Forbidden
    );
    assert_eq!(seen(&*store, &msg.id, &alice).await, msg);

    store
        .edit(
            UserId::new(&bob),
            MessageId::new(&msg.id),
            "typo",
            &[],
            T0 + 3,
        )
        .await
        .unwrap();
    let edited = seen(&*store, &msg.id, &alice).await;
    assert_eq!(
        edited,
        MessageRow {
            text: Some("typo".into()),
            edited_at: Some(T0 + 3),
            ..msg.clone()
        }
    );

    assert_rule!(
        store
            .edit(
                UserId::new(&bob),
                MessageId::new("msg-nope"),
                "x",
                &[],
                T0 + 4
            )
            .await,
        NotFound
    );
}

pub async fn a_deleted_message_cannot_be_edited(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let msg = send(&*store, &dm, &alice, "oops", T0 + 1).await;
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 2)
        .await
        .unwrap();

    assert_rule!(
        store
            .edit(
                UserId::new(&alice),
                MessageId::new(&msg.id),
                "revived",
                &[],
                T0 + 3
            )
            .await,
        Conflict
    );
    let after = seen(&*store, &msg.id, &alice).await;
    assert_eq!((after.text, after.edited_at), (None, None));
}

pub async fn delete_for_everyone_leaves_a_tombstone_with_its_seq(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send(&*store, &dm, &alice, "before", T0 + 1).await;
    let msg = send(&*store, &dm, &alice, "regrettable", T0 + 2).await;
    send(&*store, &dm, &bob, "after", T0 + 3).await;

    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 4)
        .await
        .unwrap();

    let tombstone = MessageRow {
        text: None,
        media_id: None,
        deleted: true,
        ..msg.clone()
    };
    assert_eq!(seen(&*store, &msg.id, &alice).await, tombstone);
    assert_eq!(seen(&*store, &msg.id, &bob).await, tombstone);
    assert_eq!(tombstone.seq, 2);

    let (page, _) = store
        .messages(
            ConversationId::new(&dm),
            UserId::new(&bob),
            0,
            None,
            None,
            50,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[1], tombstone);
    assert_eq!(page[0].text.as_deref(), Some("before"));
    assert_eq!(page[2].text.as_deref(), Some("after"));
    assert_eq!(
        store
            .conversation(ConversationId::new(&dm))
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        3
    );
}

pub async fn in_a_group_the_sender_or_a_manager_deletes_for_everyone(store: Arc<dyn Store>) {
    let [owner, admin, plain, other] = users(&*store, ["owner", "admin", "plain", "other"]).await;
    let g = group(&*store, &owner, &[&admin, &plain, &other]).await;
    store
        .set_role(
            UserId::new(&owner),
            ConversationId::new(&g),
            UserId::new(&admin),
            Role::Admin,
            T0,
        )
        .await
        .unwrap();
    let by_other = send(&*store, &g, &other, "one", T0 + 1).await;
    let by_owner = send(&*store, &g, &owner, "two", T0 + 2).await;
    let by_plain = send(&*store, &g, &plain, "three", T0 + 3).await;

    assert_rule!(
        store
            .delete_for_everyone(UserId::new(&plain), MessageId::new(&by_other.id), T0 + 4)
            .await,
        Forbidden
    );
    assert_eq!(seen(&*store, &by_other.id, &plain).await, by_other);

    store
        .delete_for_everyone(UserId::new(&admin), MessageId::new(&by_other.id), T0 + 5)
        .await
        .unwrap();
    store
        .delete_for_everyone(UserId::new(&admin), MessageId::new(&by_owner.id), T0 + 6)
        .await
        .unwrap();
    store
        .delete_for_everyone(UserId::new(&plain), MessageId::new(&by_plain.id), T0 + 7)
        .await
        .unwrap();
    for m in [&by_other, &by_owner, &by_plain] {
        let now = seen(&*store, &m.id, &other).await;
        assert!(now.deleted && now.text.is_none(), "{now:?}");
    }

    let by_admin = send(&*store, &g, &admin, "four", T0 + 8).await;
    store
        .delete_for_everyone(UserId::new(&owner), MessageId::new(&by_admin.id), T0 + 9)
        .await
        .unwrap();
    assert!(seen(&*store, &by_admin.id, &admin).await.deleted);
}

pub async fn in_a_direct_conversation_only_the_sender_deletes_for_everyone(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let msg = send(&*store, &dm, &alice, "mine", T0 + 1).await;

    assert_rule!(
        store
            .delete_for_everyone(UserId::new(&bob), MessageId::new(&msg.id), T0 + 2)
            .await,
        Forbidden
    );
    assert_eq!(seen(&*store, &msg.id, &bob).await, msg);
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 3)
        .await
        .unwrap();
    assert!(seen(&*store, &msg.id, &bob).await.deleted);
}

pub async fn deleting_twice_succeeds(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let msg = send(&*store, &dm, &alice, "twice", T0 + 1).await;

    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 2)
        .await
        .unwrap();
    let first = seen(&*store, &msg.id, &alice).await;
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 3)
        .await
        .unwrap();
    assert_eq!(seen(&*store, &msg.id, &alice).await, first);
    assert!(first.deleted);
}

pub async fn hiding_affects_only_the_hiding_viewer(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let msg = send(&*store, &g, &alice, "visible to most", T0 + 1).await;

    store
        .hide(UserId::new(&bob), MessageId::new(&msg.id), T0 + 2)
        .await
        .unwrap();

    let for_bob = seen(&*store, &msg.id, &bob).await;
    assert!(for_bob.hidden);
    assert!(!for_bob.deleted);
    for viewer in [&alice, &carol] {
        let m = seen(&*store, &msg.id, viewer).await;
        assert!(!m.hidden);
        assert_eq!(m.text.as_deref(), Some("visible to most"));
    }
    let (bobs_page, _) = store
        .messages(
            ConversationId::new(&g),
            UserId::new(&bob),
            0,
            None,
            None,
            50,
        )
        .await
        .unwrap();
    assert!(bobs_page[0].hidden);
    let (carols_page, _) = store
        .messages(
            ConversationId::new(&g),
            UserId::new(&carol),
            0,
            None,
            None,
            50,
        )
        .await
        .unwrap();
    assert!(!carols_page[0].hidden);

    // Hiding again changes nothing.
    store
        .hide(UserId::new(&bob), MessageId::new(&msg.id), T0 + 3)
        .await
        .unwrap();
    assert!(seen(&*store, &msg.id, &bob).await.hidden);
    assert!(!seen(&*store, &msg.id, &carol).await.hidden);
}

pub async fn non_members_cannot_edit_delete_or_hide(store: Arc<dyn Store>) {
    let [alice, bob, eve, late] = users(&*store, ["alice", "bob", "eve", "late"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let msg = send(&*store, &g, &alice, "members only", T0 + 1).await;
    store
        .add_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&late),
            Role::Admin,
            1024,
            T0 + 2,
        )
        .await
        .unwrap();

    assert_rule!(
        store
            .edit(UserId::new(&eve), MessageId::new(&msg.id), "x", &[], T0 + 3)
            .await,
        NotFound
    );
    assert_rule!(
        store
            .delete_for_everyone(UserId::new(&eve), MessageId::new(&msg.id), T0 + 3)
            .await,
        NotFound
    );
    assert_rule!(
        store
            .hide(UserId::new(&eve), MessageId::new(&msg.id), T0 + 3)
            .await,
        NotFound
    );
    // A member that joined after the message cannot see it, so cannot act on it either.
    assert_rule!(
        store
            .delete_for_everyone(UserId::new(&late), MessageId::new(&msg.id), T0 + 3)
            .await,
        NotFound
    );
    assert_rule!(
        store
            .hide(UserId::new(&late), MessageId::new(&msg.id), T0 + 3)
            .await,
        NotFound
    );
    assert_rule!(
        store
            .hide(UserId::new(&bob), MessageId::new("msg-nope"), T0 + 3)
            .await,
        NotFound
    );

    assert_eq!(seen(&*store, &msg.id, &bob).await, msg);
}

pub async fn a_plain_member_cannot_delete_anothers_message_even_once_deleted(
    store: Arc<dyn Store>,
) {
    let [owner, plain, sender] = users(&*store, ["owner", "plain", "sender"]).await;
    let g = group(&*store, &owner, &[&plain, &sender]).await;
    let msg = send(&*store, &g, &sender, "gone soon", T0 + 1).await;
    store
        .delete_for_everyone(UserId::new(&sender), MessageId::new(&msg.id), T0 + 2)
        .await
        .unwrap();

    // The permission does not depend on the message's state (API.md: 403 for others).
    assert_rule!(
        store
            .delete_for_everyone(UserId::new(&plain), MessageId::new(&msg.id), T0 + 3)
            .await,
        Forbidden
    );
}
