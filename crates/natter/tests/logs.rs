//! What the server logs: nothing below `info` by default, and never a password or a session
//! token, even at the most verbose level.

mod common;

use std::time::Duration;

use common::serve;
use natter_client::{Client, LoginRequest, RegisterRequest, SendMessageRequest};

#[tokio::test]
async fn by_default_nothing_below_info_is_logged() {
    let (server, _dir) = serve(None);
    let anon = Client::new(&server.url);
    let (alice, _) = anon.sign_up("alice", "pw-Zq8nUe4rT7").await.unwrap();
    let (_, bob) = anon.sign_up("bob", "pw-Zq8nUe4rT7").await.unwrap();
    let conv = alice.direct(&bob.id).await.unwrap().value;
    // A WebSocket round trip: connect, send, close.
    let mut socket = alice.connect(None).await.unwrap();
    socket.typing(&conv.id, true).await.unwrap();
    socket.ping().await.unwrap();
    while let Some(frame) = socket.next_within(Duration::from_secs(5)).await.unwrap() {
        if matches!(
            frame,
            natter_client::ServerFrame::Control(natter_client::ControlFrame::Pong)
        ) {
            break;
        }
    }
    socket.close().await;
    let logs = server.stop();
    // The shutdown is logged at info: the logs were read, and an empty capture cannot pass.
    assert!(logs.contains("INFO"), "no info line: {logs}");
    let below = logs
        .lines()
        .find(|l| l.contains("DEBUG") || l.contains("TRACE"));
    assert!(below.is_none(), "logged below info by default: {below:?}");
}

#[tokio::test]
async fn no_password_or_token_is_logged_even_at_trace_level() {
    let (server, _dir) = serve(Some("trace"));
    let url = server.url.clone();
    let password = "pw-Zq8nUe4rT7";
    let anon = Client::new(&url);
    for name in ["alice", "bob"] {
        anon.register(&RegisterRequest {
            username: name.into(),
            password: password.into(),
            display_name: None,
            invite: None,
        })
        .await
        .unwrap();
    }
    // A failed login too: the wrong password must not be logged either.
    let wrong = "wrong-Xy3vB9";
    let _ = anon
        .login(&LoginRequest {
            username: "alice".into(),
            password: wrong.into(),
            device_name: None,
        })
        .await;
    let (alice, login) = anon
        .login(&LoginRequest {
            username: "alice".into(),
            password: password.into(),
            device_name: Some("laptop".into()),
        })
        .await
        .unwrap();
    let (_, bob) = anon.sign_up("carol", password).await.unwrap();
    let conv = alice.direct(&bob.id).await.unwrap().value;
    alice
        .send_message(
            &conv.id,
            &SendMessageRequest {
                text: Some("hello".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A bad token, and a WebSocket authenticated by its first frame.
    let _ = Client::new(&url).with_token("not-a-token").me().await;
    let mut socket = alice.connect_with_auth_frame(None).await.unwrap();
    socket.ping().await.unwrap();
    let _ = socket.next_within(Duration::from_secs(2)).await;
    socket.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = server.stop();
    assert!(
        logs.len() > 1000,
        "trace logging produced too little to be a real check"
    );
    for (what, secret) in [
        ("password", password),
        ("wrong password", wrong),
        ("token", login.token.as_str()),
    ] {
        let leak = logs.lines().find(|l| l.contains(secret));
        assert!(leak.is_none(), "the {what} appears in the logs: {leak:?}");
    }
}

#[tokio::test]
async fn logins_and_admin_actions_are_audited_at_info_without_secrets() {
    let (server, _dir) = serve(None);
    let anon = Client::new(&server.url);
    let password = "pw-Audit7Kq2";
    let (root, _) = anon.sign_up("root", password).await.unwrap();
    let wrong = "wrong-Audit9Zx";
    let _ = anon
        .login(&LoginRequest {
            username: "root".into(),
            password: wrong.into(),
            device_name: None,
        })
        .await
        .unwrap_err();
    let carol = root
        .admin_create_user(&natter_client::AdminCreateUserRequest {
            username: "carol".into(),
            password: "pw-Carol3Vb8".into(),
            display_name: None,
            admin: false,
        })
        .await
        .unwrap();
    root.admin_update_user(
        &carol.id,
        &natter_client::AdminUpdateUserRequest {
            disabled: Some(true),
            password: Some("pw-Reset5Hn1".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let logs = server.stop();
    let audit: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("natter::audit"))
        .collect();
    for (what, who) in [
        ("registered", "user=root"),
        ("login failed", "user=root"),
        ("login", "user=root"),
        ("admin created an account", "user=carol"),
        ("admin changed an account", "disabled=Some(true)"),
    ] {
        assert!(
            audit
                .iter()
                .any(|l| l.contains("INFO") && l.contains(what) && l.contains(who)),
            "no audit line {what:?} with {who:?} in:\n{}",
            audit.join("\n")
        );
    }
    assert!(audit.iter().any(|l| l.contains("admin=root")), "who did it");
    for secret in [
        password,
        wrong,
        "pw-Carol3Vb8",
        "pw-Reset5Hn1",
        root.token().unwrap(),
    ] {
        assert!(!logs.contains(secret), "a secret was logged: {secret}");
    }
}
