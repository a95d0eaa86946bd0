//! `natter backup`: a copy that opens, taken while a server writes, that changes nothing of
//! the database it copies, and that refuses a database of another schema version.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use natter_client::Client;
use natter_server::Config;

/// Runs `natter backup <file> --data-dir <data_dir>`.
fn natter_backup(data_dir: &Path, file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_natter"))
        .arg("backup")
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .env("NATTER_LOG", "warn")
        .output()
        .expect("running natter backup")
}

fn config(data_dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        rate_limit: false,
        registration: natter_server::config::Registration::Open,
        ..Config::default()
    }
}

/// The bytes of the database file and of its write-ahead log, an absent log counting as an
/// empty one: SQLite creates the log for any reader when it is absent, empty. The `-shm`
/// file is left out: it holds no data, only SQLite's index of the log, which every reader
/// (a server's included) rebuilds and marks as it reads.
fn files(data_dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["natter.db", "natter.db-wal"]
        .iter()
        .map(|name| {
            let path = data_dir.join(name);
            let bytes = std::fs::read(&path).unwrap_or_default();
            (path, bytes)
        })
        .collect()
}

/// A data directory as a server leaves it when it stops without a checkpoint (killed, or the
/// machine lost power): messages stored in the write-ahead log, not yet in the database file.
async fn unclean_data_dir(messages: usize) -> tempfile::TempDir {
    let live = tempfile::tempdir().unwrap();
    let server = natter_server::start(config(live.path())).await.unwrap();
    let (alice, _) = Client::new(server.url())
        .sign_up("alice", "correct horse")
        .await
        .unwrap();
    let (_, bob) = Client::new(server.url())
        .sign_up("bob", "correct horse")
        .await
        .unwrap();
    let conv = alice.direct(&bob.id).await.unwrap().value;
    for i in 0..messages {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
    // Every write is acknowledged, so it is in the files; copy them as a crash leaves them.
    let frozen = tempfile::tempdir().unwrap();
    for name in ["natter.db", "natter.db-wal"] {
        std::fs::copy(live.path().join(name), frozen.path().join(name)).unwrap();
    }
    server.shutdown().await.unwrap();
    frozen
}

#[tokio::test]
async fn a_backup_changes_nothing_of_the_database() {
    let data = unclean_data_dir(20).await;
    let before = files(data.path());
    assert!(
        !before[1].1.is_empty(),
        "the write-ahead log holds the messages"
    );
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("backup.db");

    let out = natter_backup(data.path(), &file);

    assert!(out.status.success(), "{out:?}");
    let after = files(data.path());
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        assert!(b == a, "the backup changed {}", path.display());
    }
    // The copy holds the messages that were only in the write-ahead log.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("natter.db")).unwrap();
    let server = natter_server::start(config(restored.path())).await.unwrap();
    let (alice, _) = Client::new(server.url())
        .login(&natter_client::LoginRequest {
            username: "alice".into(),
            password: "correct horse".into(),
            device_name: None,
        })
        .await
        .unwrap();
    let convs = alice.conversations(None, None).await.unwrap();
    assert_eq!(convs.conversations[0].last_seq, 20);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_database_of_another_schema_version_is_refused_and_left_alone() {
    let data = unclean_data_dir(1).await;
    // As if made by an older natter: its newest migration is not applied.
    {
        let url = format!("sqlite://{}", data.path().join("natter.db").display());
        let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query(
            "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
        )
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::Connection::close(db).await.unwrap();
    }
    let before = files(data.path());
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("backup.db");

    let out = natter_backup(data.path(), &file);

    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("schema version"), "{stderr}");
    assert!(!file.exists(), "nothing is written");
    let after = files(data.path());
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        assert!(b == a, "the refused backup changed {}", path.display());
    }
}
