//! Limits against abuse and faults: rate limits, slow clients, connection caps, CORS, the
//! security headers, and the online backup.

use std::{
    io::{Read, Write},
    time::Duration,
};

use natter_client::{Client, RegisterRequest};

use crate::helpers::*;

fn register(name: &str) -> RegisterRequest {
    RegisterRequest {
        username: name.into(),
        password: PASSWORD.into(),
        display_name: None,
        invite: None,
    }
}

#[tokio::test]
async fn registration_and_login_are_limited_per_ip_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 5;
    })
    .await;
    let anon = app.anon();
    // Five attempts pass (whatever their outcome); the sixth is refused.
    for i in 0..5 {
        anon.register(&register(&format!("user{i}"))).await.unwrap();
    }
    let resp = anon
        .raw_with_headers(
            "POST",
            "/api/v1/users",
            &[],
            Some((
                "application/json",
                br#"{"username":"late","password":"correct horse"}"#.to_vec(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 429);
    assert_eq!(resp.json()["error"]["code"], "rate_limited");
    let retry: u64 = resp
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Logins share the budget.
    let err = anon
        .login(&natter_client::LoginRequest {
            username: "user0".into(),
            password: PASSWORD.into(),
            device_name: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
}

#[tokio::test]
async fn writes_are_limited_per_session_and_reads_are_not() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.writes_per_second = 1;
        c.writes_burst = 3;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_user) = app.user("bob").await;
    // Creating the conversation is alice's first write.
    let conv = alice.direct(&bob_user.id).await.unwrap().value;
    alice.send_text(&conv.id, "one").await.unwrap();
    alice.send_text(&conv.id, "two").await.unwrap();
    let err = alice.send_text(&conv.id, "three").await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code(), Some("rate_limited"));
    // Reads go on, and another session is not held back.
    alice.conversation(&conv.id).await.unwrap();
    bob.send_text(&conv.id, "hi").await.unwrap();
}

#[tokio::test]
async fn rate_limits_off_let_a_burst_through() {
    let app = spawn_app_with(|c| {
        c.rate_limit = false;
        c.writes_per_second = 1;
        c.writes_burst = 1;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let conv = alice.direct(&bob.id).await.unwrap().value;
    for i in 0..10 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
}

/// Sends the start of a request head and then nothing; returns how long the server waited
/// before closing the connection.
fn stall_after_partial_headers(url: &str) -> Duration {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let began = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    // The server closes (read returns 0 or an error); it never answers the half request.
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => assert!(
                !String::from_utf8_lossy(&buf[..n]).contains("200 OK"),
                "a half request was answered"
            ),
        }
    }
    began.elapsed()
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    let app = spawn_app_with(|c| c.header_read_timeout = Duration::from_millis(500)).await;
    let url = app.url.clone();
    let waited = tokio::task::spawn_blocking(move || stall_after_partial_headers(&url))
        .await
        .unwrap();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    // The server still serves others.
    assert_eq!(app.anon().health().await.unwrap().0, 200);
}

/// Sends `head` on a fresh connection and reads the answer to its end: the status and the body.
fn answer_to_raw_head(addr: &str, head: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // Until the body is complete (a refusal within the limit keeps the connection open).
    loop {
        let n = s.read(&mut buf).expect("an answer before the timeout");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length");
            if body.len() >= len {
                let status = head[9..12].parse().unwrap();
                return (status, body.to_owned());
            }
        }
    }
}

#[tokio::test]
async fn an_oversized_header_is_431_with_the_error_body_at_any_size() {
    let app = spawn_app().await;
    for kib in [40, 100, 256] {
        let big = "x".repeat(kib * 1024);
        let resp = app
            .anon()
            .raw_with_headers("GET", "/healthz", &[("x-padding", big.as_str())], None)
            .await
            .unwrap_or_else(|e| panic!("{kib} KiB: no answer: {e}"));
        assert_eq!(resp.status, 431, "{kib} KiB");
        assert_eq!(resp.json()["error"]["code"], "invalid_request", "{kib} KiB");
        assert_eq!(resp.header("content-type"), Some("application/json"));
    }
    // Under the limit, the same request is served.
    let ok = app
        .anon()
        .raw_with_headers(
            "GET",
            "/healthz",
            &[("x-padding", &"x".repeat(8 * 1024))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn an_oversized_request_line_is_414_or_431_with_the_error_body_at_any_size() {
    let app = spawn_app().await;
    // Over 64 KiB, no URI type of the SDK holds it: written on a socket.
    let addr = app.url.trim_start_matches("http://").to_owned();
    for kib in [40, 100, 256] {
        let head = format!(
            "GET /healthz?pad={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "x".repeat(kib * 1024)
        );
        let addr = addr.clone();
        let (status, body) =
            tokio::task::spawn_blocking(move || answer_to_raw_head(&addr, head.as_bytes()))
                .await
                .unwrap();
        assert!([414, 431].contains(&status), "{kib} KiB: {status}");
        let body: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{kib} KiB: no JSON body ({e}): {body:?}"));
        assert_eq!(body["error"]["code"], "invalid_request", "{kib} KiB");
    }
    let ok = app
        .anon()
        .raw(
            "GET",
            &format!("/healthz?pad={}", "x".repeat(8 * 1024)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn websocket_connections_per_user_are_capped() {
    let app = spawn_app_with(|c| c.ws_max_per_user = 2).await;
    let (alice, _) = app.user("alice").await;
    let _a = alice.connect(None).await.unwrap();
    let _b = alice.connect(None).await.unwrap();
    let third = alice.connect(None).await;
    match third {
        Err(natter_client::Error::Closed { code, .. }) => assert_eq!(code, 1013),
        other => panic!(
            "expected a close with 1013, got {:?}",
            other.map(|s| s.ready)
        ),
    }
    // Another user is not affected.
    let (bob, _) = app.user("bob").await;
    bob.connect(None).await.unwrap();
}

#[tokio::test]
async fn websocket_connections_in_total_are_capped() {
    let app = spawn_app_with(|c| c.ws_max_total = 1).await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let _a = alice.connect(None).await.unwrap();
    match bob.connect(None).await {
        Err(natter_client::Error::Closed { code, .. }) => assert_eq!(code, 1013),
        other => panic!(
            "expected a close with 1013, got {:?}",
            other.map(|s| s.ready)
        ),
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/api/v1/users/me", "/nowhere"] {
        let r = app
            .anon()
            .raw_with_headers("GET", path, &[], None)
            .await
            .unwrap();
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
    }
}

#[tokio::test]
async fn cors_is_off_unless_an_origin_is_allowed() {
    let preflight = |c: Client, origin: &'static str| async move {
        c.raw_with_headers(
            "OPTIONS",
            "/api/v1/users/me",
            &[
                ("origin", origin),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
            None,
        )
        .await
        .unwrap()
    };
    let closed = spawn_app().await;
    let r = preflight(closed.anon(), "https://chat.example.com").await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    let open = spawn_app_with(|c| c.cors_origins = vec!["https://chat.example.com".into()]).await;
    let r = preflight(open.anon(), "https://chat.example.com").await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://chat.example.com")
    );
    let r = preflight(open.anon(), "https://evil.example").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_holds_every_acknowledged_message() {
    if sqlite_only("`natter backup` copies the SQLite database (PostgreSQL has pg_dump)") {
        return;
    }
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let conv = alice.direct(&bob.id).await.unwrap().value;
    for i in 0..20 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
    // The server goes on writing while the backup is taken (at most 150 more, so that the whole
    // history fits in one page below).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (alice, conv, stop) = (alice.clone(), conv.id.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent = 0;
            while sent < 150 && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                alice.send_text(&conv, "during the backup").await.unwrap();
                sent += 1;
            }
            sent
        })
    };
    let backup = app.data_dir().join("backup.db");
    let config = natter_server::Config {
        data_dir: app.data_dir().to_path_buf(),
        ..natter_server::Config::default()
    };
    natter_server::backup(&config, &backup).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent_meanwhile = writer.await.unwrap();
    // A second backup to the same file is refused rather than overwriting it.
    assert!(natter_server::backup(&config, &backup).await.is_err());

    // A server started on a copy of the backup has the history up to some message, every seq
    // once: the 20 acknowledged before, and those sent meanwhile up to the copy's moment.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&backup, restored.path().join("natter.db")).unwrap();
    let server = natter_server::start(natter_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: restored.path().to_path_buf(),
        rate_limit: false,
        ..natter_server::Config::default()
    })
    .await
    .unwrap();
    let again = Client::new(server.url()).with_token(alice.token().unwrap());
    let page = again
        .messages(
            &conv.id,
            &natter_client::MessageQuery {
                limit: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    let n = *seqs.last().unwrap();
    assert!(
        (20..=20 + sent_meanwhile).contains(&n),
        "{n} of {sent_meanwhile}"
    );
    assert_exactly_once_in_order(&seqs, n);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn failed_logins_slow_down_for_that_username() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 1000;
    })
    .await;
    app.user("alice").await;
    app.user("bob").await;
    let attempt = |name: &'static str, password: &'static str| {
        let anon = app.anon();
        async move {
            anon.login(&natter_client::LoginRequest {
                username: name.into(),
                password: password.into(),
                device_name: None,
            })
            .await
        }
    };
    // Five wrong passwords are answered 401 each...
    for _ in 0..5 {
        let e = attempt("alice", "wrong password").await.unwrap_err();
        assert_eq!(e.status(), Some(401));
    }
    // ...then the next attempt must wait, even with the right password.
    let e = attempt("alice", PASSWORD).await.unwrap_err();
    assert_eq!(e.status(), Some(429));
    // Another user is not slowed down.
    attempt("bob", PASSWORD).await.unwrap();
    // After the wait (one second), the right password works and clears the count.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    attempt("alice", PASSWORD).await.unwrap();
    attempt("alice", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn wrong_current_passwords_count_with_failed_logins() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 1000;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    // Five wrong current passwords are answered 403 each...
    for _ in 0..5 {
        let e = alice
            .change_password("wrong password", "a brand new password")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(403));
    }
    // ...then a sixth must wait, even with the right one, and so must a login from here.
    let e = alice
        .change_password(PASSWORD, "a brand new password")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.code(), Some("rate_limited"));
    let e = app
        .anon()
        .login(&natter_client::LoginRequest {
            username: "alice".into(),
            password: PASSWORD.into(),
            device_name: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    // After the wait (one second), the right password changes it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alice
        .change_password(PASSWORD, "a brand new password")
        .await
        .unwrap();
    app.anon()
        .login(&natter_client::LoginRequest {
            username: "alice".into(),
            password: "a brand new password".into(),
            device_name: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn websocket_frames_that_act_count_against_the_write_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.writes_per_second = 1;
        c.writes_burst = 3;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    // One write: the conversation.
    let conv = alice.direct(&bob.id).await.unwrap().value;
    let mut socket = alice.connect(None).await.unwrap();
    socket.typing(&conv.id, true).await.unwrap();
    socket.typing(&conv.id, false).await.unwrap();
    // The burst is spent: the next frame that acts is refused with an error frame...
    socket.typing(&conv.id, true).await.unwrap();
    let mut refused = false;
    while let Some(f) = socket.next_within(Duration::from_secs(2)).await.unwrap() {
        if let natter_client::ServerFrame::Control(natter_client::ControlFrame::Error {
            error,
            ..
        }) = f
        {
            assert_eq!(error.code, "rate_limited");
            refused = true;
            break;
        }
    }
    assert!(refused, "no rate_limited error frame");
    // ...and the connection stays: pings are not writes.
    assert_pong(&mut socket).await;
}

/// Sends `head` and the first bytes of a body that announces more, then nothing; returns the
/// server's whole answer and how long it took to come.
fn stall_body(addr: &str, head: &str) -> (String, Duration) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{head}Content-Length: 100\r\n\r\n{{\"username\"").as_bytes())
        .unwrap();
    let began = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    (String::from_utf8_lossy(&buf).into_owned(), began.elapsed())
}

#[tokio::test]
async fn a_request_body_that_stalls_is_a_408_and_the_connection_closed() {
    let app = spawn_app_with(|c| c.request_body_timeout = Duration::from_millis(300)).await;
    let (alice, _) = app.user("alice").await;
    let token = alice.token().unwrap().to_owned();
    let addr = app.url.trim_start_matches("http://").to_owned();
    // A JSON body, and an upload (streamed to disk rather than parsed).
    let heads = [
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".to_owned(),
        format!(
            "POST /api/v1/media?filename=a.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        ),
    ];
    for head in heads {
        let addr = addr.clone();
        let (text, waited) = tokio::task::spawn_blocking(move || stall_body(&addr, &head))
            .await
            .unwrap();
        // A clear error in the table's terms, and the connection is not kept for more.
        assert!(text.starts_with("HTTP/1.1 408"), "answered {text:?}");
        assert!(
            text.contains("\"code\":\"request_timeout\""),
            "no error body: {text:?}"
        );
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text:?}"
        );
        assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    }
}

#[tokio::test]
async fn a_websocket_peer_that_stops_answering_pings_is_dropped() {
    let app = spawn_app_with(|c| c.ws_ping_interval = Duration::from_millis(150)).await;
    let (alice, _) = app.user("alice").await;
    // Connected, then never read again: its pings go unanswered.
    let socket = alice.connect(None).await.unwrap();
    let gauge = || async {
        let m = app
            .anon()
            .raw("GET", "/metrics", None)
            .await
            .unwrap()
            .text();
        m.lines()
            .find(|l| l.starts_with("natter_websocket_connections "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap()
    };
    assert_eq!(gauge().await, 1.0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while gauge().await != 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent peer was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(socket);
}

fn login_as(name: &str, password: &str) -> natter_client::LoginRequest {
    natter_client::LoginRequest {
        username: name.into(),
        password: password.into(),
        device_name: None,
    }
}

#[tokio::test]
async fn usernames_no_account_can_have_get_the_401_of_a_wrong_password_and_are_not_remembered() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 1000;
    })
    .await;
    app.user("alice").await;
    let anon = app.anon();
    let wrong = anon
        .raw_json(
            "POST",
            "/api/v1/sessions",
            &serde_json::json!({"username": "alice", "password": "wrong password"}),
        )
        .await
        .unwrap();
    assert_error_response(&wrong, 401, "unauthorized");
    // More than the free failures for each of several names that break the username rules
    // (too long, too short, a capital, a space): every attempt is the same 401, never a 429,
    // because none of them is counted, let alone kept.
    let long = "x".repeat(100_000);
    for name in [long.as_str(), "ab", "Alice", "al ice"].repeat(7) {
        let resp = anon
            .raw_json(
                "POST",
                "/api/v1/sessions",
                &serde_json::json!({"username": name, "password": "wrong password"}),
            )
            .await
            .unwrap();
        assert_eq!(resp.status, 401, "{}", resp.text());
        assert_eq!(resp.body, wrong.body, "the answer of a wrong password");
    }
}

#[tokio::test]
async fn failed_logins_from_one_address_do_not_lock_the_owner_out_from_another() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 1000;
    })
    .await;
    app.user("alice").await;
    let elsewhere = Client::new_from(&app.url, "127.0.0.2".parse().unwrap()).unwrap();
    for _ in 0..5 {
        let e = elsewhere
            .login(&login_as("alice", "wrong password"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(401));
    }
    // The guesser's address must wait, even with the right password...
    let e = elsewhere
        .login(&login_as("alice", PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    // ...but the owner, from its own address (the server's, 127.0.0.1), logs in at once.
    app.anon()
        .login(&login_as("alice", PASSWORD))
        .await
        .expect("the owner is not locked out");
}

#[tokio::test]
async fn requests_with_a_missing_or_invalid_token_are_limited_per_address() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 1000;
        c.unauthenticated_per_second = 1;
        c.unauthenticated_burst = 3;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let anon = app.anon();
    // Three bad tokens (each different, one as long as a head allows) are 401...
    for token in ["x".repeat(30_000), "y".repeat(43), "z".into()] {
        let resp = anon
            .with_token(token)
            .raw("POST", "/api/v1/conversations", None)
            .await
            .unwrap();
        assert_error_response(&resp, 401, "unauthorized");
    }
    // ...and the address's budget is spent: a fourth, with a token or without, is 429.
    let resp = anon
        .with_token("w".repeat(43))
        .raw_with_headers("GET", "/api/v1/users/me", &[], None)
        .await
        .unwrap();
    assert_error_response(&resp.to_raw(), 429, "rate_limited");
    let retry: u64 = resp.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(
        retry, 1,
        "at one request a second, the next is at most a second away"
    );
    let resp = anon.raw("GET", "/api/v1/users/me", None).await.unwrap();
    assert_error_response(&resp, 429, "rate_limited");
    // A valid token still works from that address, and another address has its own budget.
    alice.me().await.unwrap();
    alice.create_group("still writing", &[]).await.unwrap();
    let elsewhere = Client::new_from(&app.url, "127.0.0.2".parse().unwrap()).unwrap();
    let resp = elsewhere
        .with_token("v".repeat(43))
        .raw("GET", "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_error_response(&resp, 401, "unauthorized");
}

#[tokio::test]
async fn writes_are_limited_per_user_whatever_its_number_of_sessions() {
    let app = spawn_app_with(|c| {
        c.rate_limit = true;
        c.auth_per_minute = 1000;
        c.writes_per_second = 1;
        c.writes_burst = 100;
        c.user_writes_per_second = 1;
        c.user_writes_burst = 3;
    })
    .await;
    let (laptop, _) = app.user("alice").await;
    let (phone, _) = app.login("alice", Some("phone")).await;
    let (tablet, _) = app.login("alice", Some("tablet")).await;
    let (bob, _) = app.user("bob").await;
    // Three writes over two sessions reach the user's burst...
    laptop.create_group("one", &[]).await.unwrap();
    phone.create_group("two", &[]).await.unwrap();
    laptop.create_group("three", &[]).await.unwrap();
    // ...so a fresh session gets no more: past it, 429.
    let e = tablet.create_group("four", &[]).await.unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.code(), Some("rate_limited"));
    // Reads go on, and another user is not held back.
    tablet.me().await.unwrap();
    bob.create_group("bob's", &[]).await.unwrap();
}
