//! `natter admin …` from the shell, on a server's data: on SQLite (a data directory) and on
//! PostgreSQL (when `NATTER_TEST_POSTGRES_URL` is set), before the server runs and while it does.

mod common;

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

use natter_client::{Client, LoginRequest};

/// Runs `natter admin ARGS` on `data_dir` (and `more`: another database), with `stdin` piped in.
fn natter_admin(data_dir: &Path, more: &[&str], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_natter"))
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .args(more)
        .env("NATTER_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running natter admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn login(url: &str, username: &str, password: &str) -> Result<Client, natter_client::Error> {
    Client::new(url)
        .login(&LoginRequest {
            username: username.into(),
            password: password.into(),
            device_name: None,
        })
        .await
        .map(|(c, _)| c)
}

/// The whole recovery story on one server's data.
async fn recovery(data_dir: &Path, more: &[&str]) {
    // An empty server, closed to registration: the operator makes its admin from the shell.
    let out = natter_admin(
        data_dir,
        more,
        &["create-user", "root", "--admin"],
        "root password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("created root, an admin"),
        "{}",
        stdout(&out)
    );

    let mut args = vec!["--registration", "closed"];
    args.extend_from_slice(more);
    let server = common::serve_with(data_dir, "127.0.0.1:0", Some("warn"), &args);
    let root = login(&server.url, "root", "root password").await.unwrap();
    assert!(root.me().await.unwrap().admin);

    // While it runs: a new account, a new password, a new admin.
    let out = natter_admin(
        data_dir,
        more,
        &["create-user", "bob", "--display-name", "Bob B."],
        "bob's first password\r\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bob = login(&server.url, "bob", "bob's first password")
        .await
        .unwrap();
    let me = bob.me().await.unwrap();
    assert_eq!(me.display_name, "Bob B.");
    assert!(!me.admin);

    let out = natter_admin(
        data_dir,
        more,
        &["set-password", "bob"],
        "bob's new password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 session(s) signed out"),
        "{}",
        stdout(&out)
    );
    let refused = login(&server.url, "bob", "bob's first password").await;
    assert_eq!(refused.err().and_then(|e| e.status()), Some(401));
    let bob = login(&server.url, "bob", "bob's new password")
        .await
        .unwrap();

    let out = natter_admin(data_dir, more, &["set-admin", "bob"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "bob is an admin");
    bob.admin_stats().await.unwrap();
    // The operator may take the flag from the last admin too (the API would refuse).
    let out = natter_admin(data_dir, more, &["set-admin", "root", "--remove"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "root is no longer an admin");
    assert!(!root.me().await.unwrap().admin);

    // Refusals: a taken name, an unknown one, a short password, a bad name; nothing changes.
    for (args, stdin, says) in [
        (&["create-user", "bob"][..], "another password\n", "taken"),
        (
            &["set-password", "nobody"][..],
            "a fine password\n",
            "not found",
        ),
        (&["set-admin", "nobody"][..], "", "not found"),
        (&["set-password", "bob"][..], "short\n", "8"),
        (
            &["create-user", "Not A Name"][..],
            "a fine password\n",
            "username",
        ),
    ] {
        let out = natter_admin(data_dir, more, args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    login(&server.url, "bob", "bob's new password")
        .await
        .unwrap();
    server.stop();
}

#[tokio::test]
async fn the_operator_recovers_accounts_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    recovery(data.path(), &[]).await;
}

#[tokio::test]
async fn the_operator_recovers_accounts_on_postgres() {
    let Ok(pg) = std::env::var("NATTER_TEST_POSTGRES_URL") else {
        eprintln!("NATTER_TEST_POSTGRES_URL is not set: not run");
        return;
    };
    let schema = common::Schema::create(&pg).await;
    let data = tempfile::tempdir().unwrap();
    recovery(data.path(), &["--database-url", &schema.url]).await;
    schema.drop_it().await;
}
