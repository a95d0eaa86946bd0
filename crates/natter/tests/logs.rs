//! What the server logs: nothing below `info` by default, and never a password or a session
//! token, even at the most verbose level.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    thread::JoinHandle,
    time::Duration,
};

use natter_client::{Client, LoginRequest, RegisterRequest, SendMessageRequest};

/// A `natter serve` child process, its URL, and a thread collecting all it writes to stderr
/// (the logs) until it exits.
struct Served {
    child: Child,
    url: String,
    logs: JoinHandle<String>,
}

/// Starts `natter serve` with `NATTER_LOG` set to `log`, or unset.
fn serve(log: Option<&str>) -> (Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("NATTER_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(log) = log {
        command.env("NATTER_LOG", log);
    }
    let mut child = command.spawn().unwrap();
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
    (Served { child, url, logs }, dir)
}

impl Served {
    /// Stops the server as an operator would (SIGTERM) and returns everything it logged.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(term.success());
        assert!(self.child.wait().unwrap().success());
        self.logs.join().unwrap()
    }
}

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
