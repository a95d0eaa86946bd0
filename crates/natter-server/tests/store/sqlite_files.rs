//! What only the SQLite adapter can show: its files. After a message is deleted for everyone and
//! the store purged, no copy of its text remains in the database file or its write-ahead log
//! (API.md: "no copy of the text ... remains in the server's files").

use std::sync::Arc;

use natter_core::{MessageId, UserId};
use natter_server::store::{Store, sqlite::SqliteStore};

use crate::harness::{T0, direct, send, users};

/// The files in `dir` that contain `needle`.
fn any_file_contains(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_leaves_no_erased_text_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("natter.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());

    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    send(&*store, &dm, &bob, "an ordinary message that stays", T0 + 1).await;
    let msg = send(&*store, &dm, &alice, "first-secret-7f3a9c", T0 + 2).await;
    store
        .edit(
            UserId::new(&alice),
            MessageId::new(&msg.id),
            "second-secret-b81d2e",
            &[],
            T0 + 3,
        )
        .await
        .unwrap();
    send(&*store, &dm, &bob, "another message that stays", T0 + 4).await;
    // Before the purge the text is there (else this test proves nothing).
    assert!(!any_file_contains(dir.path(), "second-secret-b81d2e").is_empty());

    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg.id), T0 + 5)
        .await
        .unwrap();
    store.purge().await.unwrap();

    // Neither the text nor its words in the search index (`b81d2e` and `7f3a9c` were
    // indexed as words of their own).
    for needle in [
        "first-secret-7f3a9c",
        "second-secret-b81d2e",
        "7f3a9c",
        "b81d2e",
    ] {
        let hits = any_file_contains(dir.path(), needle);
        assert!(hits.is_empty(), "{needle:?} survives in {hits:?}");
    }
    assert!(!any_file_contains(dir.path(), "another message that stays").is_empty());
    store.close().await;
}
