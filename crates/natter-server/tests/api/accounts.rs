//! Accounts and sessions: registration, login, device sessions, users, and authentication.

use natter_client::{LoginResponse, RegisterRequest, SendMessageRequest, User};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn register_returns_201_and_the_new_user() {
    let app = spawn_app().await;

    let resp = app
        .anon()
        .raw_json(
            "POST",
            "/api/v1/users",
            &json!({"username": "alice", "password": PASSWORD}),
        )
        .await
        .unwrap();

    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_json_content_type(&resp);
    let user: User = serde_json::from_slice(&resp.body).expect("a User");
    assert!(!user.id.is_empty());
    assert_eq!(user.username, "alice");
    assert_eq!(
        user.display_name, "alice",
        "display_name defaults to the username"
    );
    assert!(!user.online);
    assert_eq!(user.last_seen_at, None, "never connected");
    assert_timestamp(&user.created_at);
}

#[tokio::test]
async fn register_keeps_the_given_display_name() {
    let app = spawn_app().await;

    let user = app
        .anon()
        .register(&RegisterRequest {
            username: "alice".into(),
            password: PASSWORD.into(),
            display_name: Some("Alice Liddell".into()),
            invite: None,
        })
        .await
        .unwrap();

    assert_eq!(user.display_name, "Alice Liddell");
    assert_eq!(user.username, "alice");
}

#[tokio::test]
async fn registering_a_taken_username_is_409_conflict() {
    let app = spawn_app().await;
    app.user("alice").await;

    let again = app
        .anon()
        .register(&RegisterRequest {
            username: "alice".into(),
            password: "another password".into(),
            display_name: None,
            invite: None,
        })
        .await;

    assert_api_error(again, 409, "conflict");
}

#[tokio::test]
async fn login_returns_201_with_token_session_and_user() {
    let app = spawn_app().await;
    let (_, alice) = app.user("alice").await;

    let resp = app
        .anon()
        .raw_json(
            "POST",
            "/api/v1/sessions",
            &json!({"username": "alice", "password": PASSWORD, "device_name": "phone"}),
        )
        .await
        .unwrap();

    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_json_content_type(&resp);
    let login: LoginResponse = serde_json::from_slice(&resp.body).expect("a login response");
    assert!(!login.token.is_empty());
    assert!(!login.session_id.is_empty());
    assert_eq!(login.user.id, alice.id);
    assert_eq!(login.user.username, "alice");
    assert_eq!(login.user.display_name, "alice");
    assert_eq!(login.user.created_at, alice.created_at);

    // The token works.
    let me = app.anon().with_token(login.token).me().await.unwrap();
    assert_eq!(me.id, alice.id);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_identical_401_bodies() {
    let app = spawn_app().await;
    app.user("alice").await;
    let anon = app.anon();

    let wrong_password = anon
        .raw_json(
            "POST",
            "/api/v1/sessions",
            &json!({"username": "alice", "password": "not the password"}),
        )
        .await
        .unwrap();
    let unknown_user = anon
        .raw_json(
            "POST",
            "/api/v1/sessions",
            &json!({"username": "nobody", "password": "not the password"}),
        )
        .await
        .unwrap();

    assert_error_response(&wrong_password, 401, "unauthorized");
    assert_error_response(&unknown_user, 401, "unauthorized");
    assert_eq!(
        wrong_password.body, unknown_user.body,
        "an unknown user and a wrong password must be indistinguishable"
    );
}

#[tokio::test]
async fn each_login_is_a_session_and_only_the_callers_is_current() {
    let app = spawn_app().await;
    app.user("alice").await; // a first session, without a device name
    let (phone, phone_login) = app.login("alice", Some("phone")).await;
    let (laptop, laptop_login) = app.login("alice", Some("laptop")).await;
    assert_ne!(phone_login.session_id, laptop_login.session_id);
    assert_ne!(phone_login.token, laptop_login.token);

    for (client, own) in [(&phone, &phone_login), (&laptop, &laptop_login)] {
        let list = client.sessions().await.unwrap().sessions;
        assert_eq!(list.len(), 3, "{list:?}");
        let current: Vec<_> = list.iter().filter(|s| s.current).collect();
        assert_eq!(current.len(), 1, "exactly one current session: {list:?}");
        assert_eq!(current[0].id, own.session_id);
        for s in &list {
            assert_timestamp(&s.created_at);
            assert_timestamp(&s.last_active_at);
        }
    }

    let list = phone.sessions().await.unwrap().sessions;
    let device = |id: &str| {
        list.iter()
            .find(|s| s.id == id)
            .unwrap()
            .device_name
            .clone()
    };
    assert_eq!(device(&phone_login.session_id).as_deref(), Some("phone"));
    assert_eq!(device(&laptop_login.session_id).as_deref(), Some("laptop"));
}

#[tokio::test]
async fn sessions_list_only_the_callers_own() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    app.user("bob").await;
    app.login("bob", None).await;

    let list = alice.sessions().await.unwrap().sessions;

    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].current);
}

#[tokio::test]
async fn revoking_another_session_stops_its_token_at_once() {
    let app = spawn_app().await;
    let (phone, _) = app.user("alice").await;
    let (laptop, laptop_login) = app.login("alice", Some("laptop")).await;
    laptop.me().await.unwrap();

    let resp = phone
        .raw(
            "DELETE",
            &format!("/api/v1/sessions/{}", laptop_login.session_id),
            None,
        )
        .await
        .unwrap();

    assert_no_content(&resp);
    assert_api_error(laptop.me().await, 401, "unauthorized");
    assert_api_error(laptop.conversations(None, None).await, 401, "unauthorized");
    // The revoking session still works and no longer lists the other one.
    let list = phone.sessions().await.unwrap().sessions;
    assert_eq!(list.len(), 1);
    assert!(list[0].current);
}

#[tokio::test]
async fn revoking_the_current_session_logs_it_out() {
    let app = spawn_app().await;
    let (phone, _) = app.user("alice").await;
    let (laptop, _) = app.login("alice", None).await;

    let resp = phone
        .raw("DELETE", "/api/v1/sessions/current", None)
        .await
        .unwrap();

    assert_no_content(&resp);
    assert_api_error(phone.me().await, 401, "unauthorized");
    // Only that device is logged out.
    assert_eq!(laptop.sessions().await.unwrap().sessions.len(), 1);
}

#[tokio::test]
async fn a_session_of_someone_else_cannot_be_revoked() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    app.user("bob").await;
    let (bob, bob_login) = app.login("bob", None).await;

    assert_api_error(
        alice.revoke_session(&bob_login.session_id).await,
        404,
        "not_found",
    );
    assert_api_error(
        alice.revoke_session("no-such-session").await,
        404,
        "not_found",
    );
    bob.me().await.expect("bob's session still works");
}

#[tokio::test]
async fn users_me_is_the_caller() {
    let app = spawn_app().await;
    let (alice, registered) = app.user("alice").await;

    let me = alice.me().await.unwrap();

    assert_eq!(me.id, registered.id);
    assert_eq!(me.username, "alice");
    assert_eq!(me.display_name, "alice");
    assert_eq!(me.created_at, registered.created_at);
}

#[tokio::test]
async fn a_user_is_found_by_id_and_unknown_or_malformed_ids_are_404() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;

    let found = alice.user(&bob.id).await.unwrap();
    assert_eq!(found.id, bob.id);
    assert_eq!(found.username, "bob");
    assert_eq!(found.display_name, "bob");
    assert!(!found.online);
    assert_eq!(found.created_at, bob.created_at);

    assert_api_error(
        alice.user("0190f3a8-7c1d-7000-8000-000000000000").await,
        404,
        "not_found",
    );
    assert_api_error(alice.user("not-an-id").await, 404, "not_found");
}

#[tokio::test]
async fn user_search_matches_username_prefixes() {
    let app = spawn_app().await;
    app.user("alice").await;
    app.user("alfred").await;
    app.user("malice").await;
    let (bob, _) = app.user("bob").await;

    let mut found: Vec<String> = bob
        .search_users("al", None)
        .await
        .unwrap()
        .users
        .into_iter()
        .map(|u| u.username)
        .collect();
    found.sort();
    assert_eq!(found, ["alfred", "alice"]);

    let one = bob.search_users("al", Some(1)).await.unwrap().users;
    assert_eq!(one.len(), 1);
    assert!(one[0].username.starts_with("al"));

    let exact = bob.search_users("alice", None).await.unwrap().users;
    assert_eq!(exact.len(), 1);
    assert_eq!(exact[0].username, "alice");

    assert!(
        bob.search_users("zed", None)
            .await
            .unwrap()
            .users
            .is_empty()
    );
}

#[tokio::test]
async fn user_search_without_query_is_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let resp = alice.raw("GET", "/api/v1/users", None).await.unwrap();

    assert_error_response(&resp, 400, "invalid_request");
}

#[tokio::test]
async fn user_search_with_an_empty_query_is_400_not_everyone() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    app.user("bob").await;

    let resp = alice
        .raw("GET", "/api/v1/users?query=", None)
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
    assert_api_error(
        alice.search_users("", Some(10)).await,
        400,
        "invalid_request",
    );
    // One character is a prefix like any other.
    let found = alice.search_users("b", None).await.unwrap().users;
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn the_login_answer_is_not_to_be_cached() {
    let app = spawn_app().await;
    app.user("alice").await;

    let resp = app
        .anon()
        .raw_with_headers(
            "POST",
            "/api/v1/sessions",
            &[],
            Some((
                "application/json",
                serde_json::to_vec(&json!({"username": "alice", "password": PASSWORD})).unwrap(),
            )),
        )
        .await
        .unwrap();

    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn every_authenticated_endpoint_without_a_valid_token_is_401() {
    let app = spawn_app().await;
    let (alice, alice_user) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (_, carol) = app.user("carol").await;
    let group = alice.create_group("team", &[&bob.id]).await.unwrap();
    let message = alice.send_text(&group.id, "hello").await.unwrap();
    let session_id = alice.sessions().await.unwrap().sessions[0].id.clone();
    let (c, m, b) = (&group.id, &message.id, &bob.id);

    let endpoints: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", "/api/v1/users/me".into(), None),
        ("GET", format!("/api/v1/users/{}", alice_user.id), None),
        ("GET", "/api/v1/users?query=al".into(), None),
        ("GET", "/api/v1/sessions".into(), None),
        ("DELETE", "/api/v1/sessions/current".into(), None),
        ("DELETE", format!("/api/v1/sessions/{session_id}"), None),
        (
            "POST",
            "/api/v1/conversations".into(),
            Some(json!({"type": "direct", "user_id": carol.id})),
        ),
        ("GET", "/api/v1/conversations".into(), None),
        ("GET", format!("/api/v1/conversations/{c}"), None),
        (
            "PATCH",
            format!("/api/v1/conversations/{c}"),
            Some(json!({"name": "hijacked"})),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{c}/members"),
            Some(json!({"user_id": carol.id})),
        ),
        (
            "DELETE",
            format!("/api/v1/conversations/{c}/members/{b}"),
            None,
        ),
        (
            "PATCH",
            format!("/api/v1/conversations/{c}/members/{b}"),
            Some(json!({"role": "admin"})),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{c}/messages"),
            Some(json!({"text": "intruder"})),
        ),
        ("GET", format!("/api/v1/conversations/{c}/messages"), None),
        ("GET", format!("/api/v1/messages/{m}"), None),
        (
            "PATCH",
            format!("/api/v1/messages/{m}"),
            Some(json!({"text": "edited"})),
        ),
        ("DELETE", format!("/api/v1/messages/{m}"), None),
        ("DELETE", format!("/api/v1/messages/{m}?for=me"), None),
        ("PUT", format!("/api/v1/messages/{m}/delivered"), None),
        ("PUT", format!("/api/v1/messages/{m}/read"), None),
        ("GET", format!("/api/v1/messages/{m}/receipts"), None),
    ];

    for client in [app.anon(), app.anon().with_token("not-a-token")] {
        for (method, path, body) in &endpoints {
            let resp = match body {
                Some(b) => client.raw_json(method, path, b).await.unwrap(),
                None => client.raw(method, path, None).await.unwrap(),
            };
            assert_eq!(
                resp.status,
                401,
                "{method} {path} with token {:?}: {}",
                client.token(),
                resp.text()
            );
            assert_error_response(&resp, 401, "unauthorized");
        }
    }

    // Nothing changed.
    let group_now = alice.conversation(&group.id).await.unwrap();
    assert_eq!(group_now.name.as_deref(), Some("team"));
    assert_eq!(member_ids(&group_now), sorted(&[&alice_user.id, &bob.id]));
    assert_eq!(group_now.last_seq, 1);
    let message_now = alice.message(&message.id).await.unwrap();
    assert!(!message_now.deleted);
    assert_eq!(message_now.text.as_deref(), Some("hello"));
    assert_eq!(alice.sessions().await.unwrap().sessions.len(), 1);
    let sent = alice
        .send_message(
            &group.id,
            &SendMessageRequest {
                text: Some("still here".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sent.value.seq, 2, "the unauthenticated send stored nothing");
}

#[tokio::test]
async fn presence_is_shown_only_to_the_user_and_those_who_share_a_conversation_with_it() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (stranger, _) = app.user("carol").await;
    alice.direct(&b.id).await.unwrap();
    let _socket = alice.connect(None).await.unwrap();

    let me = alice.me().await.unwrap();
    assert!(me.online && me.last_seen_at.is_some());
    let seen_by_contact = bob.user(&a.id).await.unwrap();
    assert!(seen_by_contact.online, "a contact sees alice online");
    assert!(seen_by_contact.last_seen_at.is_some());
    let found = bob.search_users("alice", None).await.unwrap().users;
    assert!(found[0].online);

    let seen_by_stranger = stranger.user(&a.id).await.unwrap();
    assert!(!seen_by_stranger.online, "a stranger sees no presence");
    assert_eq!(seen_by_stranger.last_seen_at, None);
    assert_eq!(seen_by_stranger.username, "alice");
    let found = stranger.search_users("alice", None).await.unwrap().users;
    assert_eq!(
        (found[0].online, found[0].last_seen_at.as_deref()),
        (false, None)
    );
    let raw = stranger
        .raw("GET", &format!("/api/v1/users/{}", a.id), None)
        .await
        .unwrap()
        .json();
    assert_eq!(raw["online"], false);
    assert!(raw["last_seen_at"].is_null());
}

/// Requests racing a revocation may succeed until its `204`; none that starts after it may,
/// and no socket authenticated with the token stays open. Each round revokes a fresh token
/// while its first requests are still reading the session, the moment when one of them could
/// cache it again after the revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_stops_at_once_however_many_requests_race_the_revoke() {
    use std::sync::{Arc, OnceLock};
    const ROUNDS: usize = 50;
    const RACERS: usize = 32;
    let app = spawn_app().await;
    let (phone, _) = app.user("alice").await;
    for round in 0..ROUNDS {
        let (laptop, login) = app.login("alice", Some("laptop")).await;
        let revoked: Arc<OnceLock<()>> = Arc::default();
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (laptop, revoked) = (laptop.clone(), revoked.clone());
                tokio::spawn(async move {
                    loop {
                        let after_revoke = revoked.get().is_some();
                        match laptop.me().await {
                            Ok(_) if after_revoke => {
                                return Err("a request after the 204 succeeded");
                            }
                            Ok(_) => {}
                            Err(natter_client::Error::Api { status: 401, .. }) => return Ok(()),
                            Err(e) => panic!("round {round}: {e}"),
                        }
                    }
                })
            })
            .collect();
        let socket = {
            let laptop = laptop.clone();
            tokio::spawn(async move {
                match laptop.connect(None).await {
                    Ok(mut s) => closed_code(&mut s).await,
                    Err(natter_client::Error::Closed { code, .. }) => code,
                    Err(e) => panic!("round {round}: {e}"),
                }
            })
        };
        phone.revoke_session(&login.session_id).await.unwrap();
        revoked.set(()).unwrap();
        for r in racers {
            assert_eq!(r.await.unwrap(), Ok(()), "round {round}");
        }
        assert_eq!(socket.await.unwrap(), 4001, "round {round}");
        assert_api_error(laptop.me().await, 401, "unauthorized");
        match laptop.connect(None).await {
            Err(natter_client::Error::Closed { code: 4001, .. }) => {}
            Err(e) => panic!("round {round}: expected close 4001, got {e}"),
            Ok(_) => panic!("round {round}: a revoked token opened a socket"),
        }
    }
}

/// With a 2 s idle timeout: a session used more often keeps working; one left unused expires,
/// its socket closes with 4001, its token is `401` and it is deleted.
#[tokio::test]
async fn an_unused_session_expires_and_a_used_one_does_not() {
    use std::time::{Duration, Instant};
    let timeout = Duration::from_secs(2);
    let app = spawn_app_with(|c| c.session_idle_timeout = timeout).await;
    let (phone, _) = app.user("alice").await;
    let (laptop, _) = app.login("alice", Some("laptop")).await;
    let mut socket = laptop.connect(None).await.unwrap();
    let laptop_last_used = Instant::now();

    // The phone uses its session every half second until the laptop's expires: the open socket
    // alone is no use of it.
    loop {
        phone.me().await.unwrap();
        match socket.next_within(Duration::from_millis(500)).await {
            Err(natter_client::Error::Closed { code: 4001, .. }) => break,
            Ok(_) => {}
            Err(e) => panic!("expected close 4001, got {e}"),
        }
        assert!(
            laptop_last_used.elapsed() < 30 * timeout,
            "the unused session never expired"
        );
    }
    assert!(
        laptop_last_used.elapsed() >= timeout,
        "the session expired before the idle timeout"
    );

    assert_api_error(laptop.me().await, 401, "unauthorized");
    match laptop.connect(None).await {
        Err(natter_client::Error::Closed { code: 4001, .. }) => {}
        Err(e) => panic!("expected close 4001, got {e}"),
        Ok(_) => panic!("an expired token opened a socket"),
    }
    let sessions = phone.sessions().await.unwrap().sessions;
    assert_eq!(sessions.len(), 1, "the expired session is deleted");
    assert!(sessions[0].current);

    // Used within the timeout, again and again, the phone's session outlives several timeouts.
    for _ in 0..4 {
        tokio::time::sleep(timeout / 2).await;
        phone.me().await.unwrap();
    }
}
