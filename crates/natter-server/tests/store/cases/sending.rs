//! Sending: gapless per-conversation seqs, idempotency by client id (under concurrency too),
//! and who may send what.

use std::{collections::HashSet, sync::Arc};

use natter_core::{ConversationId, MessageId, MessageKind, UserId};
use natter_server::store::{NewMessage, Store};

use crate::harness::{T0, direct, group, send, send_n, seqs, text, users};

fn with_client_id(mut msg: NewMessage, client_id: &str) -> NewMessage {
    msg.client_id = Some(client_id.to_owned());
    msg
}

pub async fn seqs_start_at_one_without_gaps(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group(&*store, &alice, &[&bob]).await;

    let first = send(&*store, &dm, &alice, "hello", T0 + 1).await;
    assert_eq!(first.seq, 1);
    assert_eq!(first.conversation_id, dm);
    assert_eq!(first.sender_id, alice);
    assert_eq!(first.kind, MessageKind::Text);
    assert_eq!(first.text.as_deref(), Some("hello"));
    assert_eq!(first.client_id, None);
    assert_eq!(first.reply_to, None);
    assert_eq!(first.media_id, None);
    assert_eq!(first.created_at, T0 + 1);
    assert_eq!(first.edited_at, None);
    assert!(!first.deleted && !first.hidden);
    assert_eq!(
        store
            .message(MessageId::new(&first.id), UserId::new(&bob))
            .await
            .unwrap(),
        Some(first.clone())
    );

    let mut got = vec![first.seq];
    for (i, sender) in [&bob, &alice, &alice, &bob].into_iter().enumerate() {
        got.push(
            send(&*store, &dm, sender, "more", T0 + 2 + i as i64)
                .await
                .seq,
        );
    }
    assert_eq!(got, [1, 2, 3, 4, 5]);

    // Every conversation counts on its own.
    assert_eq!(send(&*store, &g, &bob, "elsewhere", T0 + 9).await.seq, 1);
    assert_eq!(send(&*store, &dm, &bob, "back", T0 + 10).await.seq, 6);
}

pub async fn sending_updates_last_seq_and_last_message_at(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;

    send(&*store, &g, &alice, "one", T0 + 1_000).await;
    send(&*store, &g, &bob, "two", T0 + 2_000).await;

    let conv = store
        .conversation(ConversationId::new(&g))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.last_seq, 2);
    assert_eq!(conv.last_message_at, T0 + 2_000);
    assert_eq!(conv.created_at, T0);
}

pub async fn concurrent_sends_get_every_seq_exactly_once(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let sender = if i % 2 == 0 {
                alice.clone()
            } else {
                bob.clone()
            };
            let msg = text(&g, &sender, &format!("concurrent {i}"), T0 + i);
            tokio::spawn(async move { store.send(&msg).await })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        let sent = task.await.unwrap().unwrap();
        assert!(sent.created);
        got.push(sent.message.seq);
    }
    got.sort();
    assert_eq!(got, (1..=50).collect::<Vec<_>>());

    assert_eq!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        50
    );
    let (stored, more) = store
        .messages(
            ConversationId::new(&g),
            UserId::new(&alice),
            0,
            None,
            None,
            200,
        )
        .await
        .unwrap();
    assert!(!more);
    assert_eq!(seqs(&stored), (1..=50).collect::<Vec<_>>());
    let texts: HashSet<_> = stored.iter().map(|m| m.text.clone().unwrap()).collect();
    assert_eq!(texts.len(), 50);
}

pub async fn a_repeated_client_id_returns_the_first_message(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;

    let first = store
        .send(&with_client_id(text(&dm, &alice, "first", T0 + 1), "c-1"))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.message.client_id.as_deref(), Some("c-1"));

    // A retry: another id, another body, another time; the first message comes back.
    let retry = store
        .send(&with_client_id(text(&dm, &alice, "second", T0 + 2), "c-1"))
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.message, first.message);
    assert_eq!(retry.message.text.as_deref(), Some("first"));

    assert_eq!(
        store
            .message_by_client_id(ConversationId::new(&dm), UserId::new(&alice), "c-1")
            .await
            .unwrap(),
        Some(first.message.clone())
    );
    assert_eq!(
        store
            .message_by_client_id(ConversationId::new(&dm), UserId::new(&alice), "c-2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .message_by_client_id(ConversationId::new(&dm), UserId::new(&bob), "c-1")
            .await
            .unwrap(),
        None
    );
    let conv = store
        .conversation(ConversationId::new(&dm))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((conv.last_seq, conv.last_message_at), (1, T0 + 1));
    let (stored, _) = store
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
    assert_eq!(stored, [first.message]);
}

pub async fn concurrent_sends_with_one_client_id_store_one_message(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let msg = with_client_id(text(&dm, &alice, &format!("try {i}"), T0 + i), "same");
            tokio::spawn(async move { store.send(&msg).await })
        })
        .collect();
    let mut created = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        let sent = task.await.unwrap().unwrap();
        created += usize::from(sent.created);
        assert_eq!(sent.message.seq, 1);
        ids.insert(sent.message.id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(
        store
            .conversation(ConversationId::new(&dm))
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        1
    );
    let stored = store
        .message_by_client_id(ConversationId::new(&dm), UserId::new(&alice), "same")
        .await
        .unwrap()
        .unwrap();
    assert!(ids.contains(&stored.id));
}

pub async fn a_client_id_is_scoped_to_its_sender_and_conversation(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group(&*store, &alice, &[&bob]).await;

    let alices = store
        .send(&with_client_id(
            text(&dm, &alice, "from alice", T0 + 1),
            "c",
        ))
        .await
        .unwrap();
    let bobs = store
        .send(&with_client_id(text(&dm, &bob, "from bob", T0 + 2), "c"))
        .await
        .unwrap();
    let elsewhere = store
        .send(&with_client_id(
            text(&g, &alice, "in the group", T0 + 3),
            "c",
        ))
        .await
        .unwrap();

    assert!(alices.created && bobs.created && elsewhere.created);
    assert_eq!((alices.message.seq, bobs.message.seq), (1, 2));
    assert_eq!(elsewhere.message.seq, 1);
    assert_eq!(bobs.message.text.as_deref(), Some("from bob"));
    assert_eq!(
        store
            .message_by_client_id(ConversationId::new(&dm), UserId::new(&bob), "c")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(bobs.message.id)
    );
    assert_eq!(
        store
            .message_by_client_id(ConversationId::new(&g), UserId::new(&alice), "c")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(elsewhere.message.id)
    );
}

pub async fn a_non_member_cannot_send(store: Arc<dyn Store>) {
    let [alice, bob, eve] = users(&*store, ["alice", "bob", "eve"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group(&*store, &alice, &[&bob]).await;

    assert_rule!(store.send(&text(&dm, &eve, "hi", T0 + 1)).await, NotFound);
    assert_rule!(store.send(&text(&g, &eve, "hi", T0 + 1)).await, NotFound);
    assert_rule!(
        store
            .send(&text("no-such-conversation", &alice, "hi", T0 + 1))
            .await,
        NotFound
    );

    // A member who left is a non-member.
    store
        .remove_member(
            UserId::new(&bob),
            ConversationId::new(&g),
            UserId::new(&bob),
            T0 + 2,
        )
        .await
        .unwrap();
    assert_rule!(
        store.send(&text(&g, &bob, "still here?", T0 + 3)).await,
        NotFound
    );

    for c in [&dm, &g] {
        let conv = store
            .conversation(ConversationId::new(c))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((conv.last_seq, conv.last_message_at), (0, T0));
    }
}

pub async fn reply_to_must_name_a_message_of_the_same_conversation(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let in_group = send(&*store, &g, &alice, "group message", T0 + 1).await;
    let in_dm = send(&*store, &dm, &alice, "direct message", T0 + 2).await;

    let mut across = text(&dm, &bob, "reply across", T0 + 3);
    across.reply_to = Some(in_group.id.clone());
    assert_rule!(store.send(&across).await, Invalid);
    let mut dangling = text(&dm, &bob, "reply to nothing", T0 + 3);
    dangling.reply_to = Some("msg-nope".into());
    assert_rule!(store.send(&dangling).await, Invalid);
    assert_eq!(
        store
            .conversation(ConversationId::new(&dm))
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        1
    );

    let mut reply = text(&dm, &bob, "a reply", T0 + 4);
    reply.reply_to = Some(in_dm.id.clone());
    let sent = store.send(&reply).await.unwrap();
    assert!(sent.created);
    assert_eq!(sent.message.seq, 2);
    assert_eq!(sent.message.reply_to, Some(in_dm.id.clone()));
    assert_eq!(
        store
            .message(MessageId::new(&sent.message.id), UserId::new(&alice))
            .await
            .unwrap()
            .unwrap()
            .reply_to,
        Some(in_dm.id)
    );

    // A member that joined later cannot reply to what it cannot see.
    let [carol] = users(&*store, ["carol"]).await;
    store
        .add_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&carol),
            natter_core::Role::Member,
            1024,
            T0 + 5,
        )
        .await
        .unwrap();
    let mut hidden_past = text(&g, &carol, "about that...", T0 + 6);
    hidden_past.reply_to = Some(in_group.id.clone());
    assert_rule!(store.send(&hidden_past).await, Invalid);
    let later = send_n(&*store, &g, &alice, 1).await;
    let mut fine = text(&g, &carol, "about that", T0 + 7);
    fine.reply_to = Some(later[0].id.clone());
    assert_eq!(store.send(&fine).await.unwrap().message.seq, 3);
}
