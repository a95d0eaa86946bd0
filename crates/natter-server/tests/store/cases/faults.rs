//! Write failures: a commit that fails (as a full disk makes it fail) acknowledges nothing, and
//! every later write commits for real; one bad send in a batch fails only itself.
//!
//! "Stored" is checked by reading back through the store, never by trusting the answer of the
//! write: the bug these cases guard against is a writer that answers `Ok` inside a transaction
//! that never commits.

use std::sync::Arc;

use natter_core::{ConversationId, MessageId, MessageKind, UserId};
use natter_server::store::{Store, StoreError};

use crate::harness::{T0, direct, group, send, seqs, text, users};

pub async fn a_failed_commit_acknowledges_no_send_and_later_sends_are_stored(
    store: Arc<dyn Store>,
) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send(&*store, &dm, &alice, "before", T0 + 1).await;

    store.fail_next_commit().await.unwrap();
    let mut lost = text(&dm, &alice, "lost to the failed commit", T0 + 2);
    lost.client_id = Some("retry-me".into());
    let answer = store.send(&lost).await;
    assert!(
        answer.is_err(),
        "a send whose commit failed was acknowledged: {answer:?}"
    );

    // A refusal and a send that breaks a constraint, between the failure and the next sends:
    // on a writer left inside a transaction they would leave it there for good.
    assert_rule!(
        store.send(&text(&dm, &carol, "not a member", T0 + 3)).await,
        NotFound
    );
    let mut dangling = text(&dm, &alice, "with media that is gone", T0 + 3);
    dangling.kind = MessageKind::File;
    dangling.media_id = Some("media-that-does-not-exist".into());
    assert!(store.send(&dangling).await.is_err());

    let after = send(&*store, &dm, &bob, "after", T0 + 4).await;
    assert_eq!(after.seq, 2, "the failed send took no seq");
    let retried = store.send(&lost).await.expect("the retry is stored");
    assert!(
        retried.created,
        "nothing was stored under the client_id before"
    );
    assert_eq!(retried.message.seq, 3);
    let again = store.send(&lost).await.unwrap();
    assert!(!again.created, "a second retry finds the first");

    let (history, _) = store
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
    assert_eq!(seqs(&history), [1, 2, 3]);
    assert_eq!(
        history[2].text.as_deref(),
        Some("lost to the failed commit")
    );
    let conv = store
        .conversation(ConversationId::new(&dm))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.last_seq, 3);
}

pub async fn a_failed_commit_of_a_single_write_leaves_later_writes_stored(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let msg = send(&*store, &g, &alice, "first", T0 + 1).await;

    store.fail_next_commit().await.unwrap();
    assert!(
        store
            .edit(
                UserId::new(&alice),
                MessageId::new(&msg.id),
                "lost edit",
                &[],
                T0 + 2
            )
            .await
            .is_err()
    );
    let seen = store
        .message(MessageId::new(&msg.id), UserId::new(&bob))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.text.as_deref(), Some("first"));

    // A write refused by a rule inside its transaction.
    assert_rule!(
        store
            .rename(
                UserId::new(&bob),
                ConversationId::new(&g),
                "not yours",
                T0 + 3
            )
            .await,
        Forbidden
    );

    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&msg.id),
            "kept edit",
            &[],
            T0 + 4,
        )
        .await
        .unwrap();
    store
        .rename(
            UserId::new(&alice),
            ConversationId::new(&g),
            "renamed",
            T0 + 5,
        )
        .await
        .unwrap();
    send(&*store, &g, &carol, "second", T0 + 6).await;

    let seen = store
        .message(MessageId::new(&msg.id), UserId::new(&bob))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.text.as_deref(), Some("kept edit"));
    assert_eq!(
        store
            .conversation(ConversationId::new(&g))
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("renamed")
    );
    let (history, _) = store
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
    assert_eq!(seqs(&history), [1, 2]);
}

pub async fn one_failing_send_in_a_batch_fails_only_itself(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    // Many sends at once share the writer's batches; one of them names media that does not
    // exist (as when the orphan collector erased it after the application checked it).
    let sends = (0..24).map(|i| {
        let store = store.clone();
        let mut msg = text(&dm, &alice, &format!("message {i}"), T0 + 1);
        if i == 11 {
            msg.kind = MessageKind::File;
            msg.media_id = Some("collected-meanwhile".into());
        }
        tokio::spawn(async move { (i, store.send(&msg).await) })
    });
    let mut stored = 0;
    for handle in sends {
        let (i, answer) = handle.await.unwrap();
        match answer {
            Ok(sent) => {
                assert_ne!(i, 11, "the send with missing media was stored");
                assert!(sent.created);
                stored += 1;
            }
            Err(StoreError::Rule(natter_core::Error::NotFound(_))) if i == 11 => {}
            Err(e) => panic!("send {i} failed with its neighbour: {e:?}"),
        }
    }
    assert_eq!(stored, 23);
    let (history, _) = store
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
    assert_eq!(seqs(&history), (1..=23).collect::<Vec<i64>>());
}
