//! Passwords and session tokens never reach the server's logs, even at the most verbose level.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    time::Duration,
};

use natter_client::{Client, LoginRequest, RegisterRequest, SendMessageRequest};

#[tokio::test]
async fn no_password_or_token_is_logged_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_natter"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("NATTER_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("natter listening on ") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
    }
    let url = line
        .trim()
        .trim_start_matches("natter listening on ")
        .to_owned();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });

    let password = "pw-Zq8nUe4rT7";
    let anon = Client::new(&url);
    for name in ["alice", "bob"] {
        anon.register(&RegisterRequest {
            username: name.into(),
            password: password.into(),
            display_name: None,
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

    let _ = child.kill();
    let _ = child.wait();
    let logs = logs.join().unwrap();
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
