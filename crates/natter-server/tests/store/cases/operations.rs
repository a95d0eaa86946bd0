//! Operations: the health probe and the purge of erased content.

use std::sync::Arc;

use natter_core::{MessageId, UserId};
use natter_server::store::Store;

use crate::harness::{T0, direct, send, users};

pub async fn ping_and_purge_succeed(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    // On an empty store, and after content was erased.
    store.purge().await.unwrap();

    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    let msg = send(&*store, &dm, &alice, "to be erased", T0 + 1).await;
    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 2)
        .await
        .unwrap();
    store.purge().await.unwrap();
    store.ping().await.unwrap();

    // The store works on after a purge.
    let after = store
        .message(MessageId::new(&msg.id), UserId::new(&bob))
        .await
        .unwrap()
        .unwrap();
    assert!(after.deleted && after.text.is_none());
    assert_eq!(send(&*store, &dm, &bob, "still here", T0 + 3).await.seq, 2);
}
