//! Error answers: malformed requests, unknown routes, and the shape of every error body.

use natter_client::Client;
use serde_json::json;

use crate::helpers::*;

async fn post(
    client: &Client,
    path: &str,
    content_type: &str,
    body: &str,
) -> natter_client::RawResponse {
    client
        .raw("POST", path, Some((content_type, body.as_bytes().to_vec())))
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_400_with_an_error_body() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    for body in ["{\"username\": \"carol\",", "not json", "", "[1, 2]"] {
        let resp = post(&app.anon(), "/api/v1/users", "application/json", body).await;
        assert_error_response(&resp, 400, "invalid_request");
    }
    let resp = post(
        &alice,
        &format!("/api/v1/conversations/{}/messages", conv.id),
        "application/json",
        "{\"text\": ",
    )
    .await;
    assert_error_response(&resp, 400, "invalid_request");
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 0);
}

#[tokio::test]
async fn a_wrong_content_type_is_a_4xx_error_body() {
    let app = spawn_app().await;
    let body = json!({"username": "carol", "password": PASSWORD}).to_string();

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let resp = post(&app.anon(), "/api/v1/users", content_type, &body).await;
        assert!(
            resp.status == 400 || resp.status == 415,
            "{content_type}: {resp:?}"
        );
        let code = if resp.status == 400 {
            "invalid_request"
        } else {
            "unsupported_media_type"
        };
        assert_error_response(&resp, resp.status, code);
    }

    let no_content_type = app.anon().raw("POST", "/api/v1/users", None).await.unwrap();
    assert!(
        no_content_type.status == 400 || no_content_type.status == 415,
        "{no_content_type:?}"
    );
    assert_json_content_type(&no_content_type);
    assert!(no_content_type.json()["error"]["code"].is_string());

    // Nothing was registered.
    let (alice, _) = app.user("alice").await;
    assert!(
        alice
            .search_users("carol", None)
            .await
            .unwrap()
            .users
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_route_is_404_with_an_error_body() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    for (method, path) in [
        ("GET", "/api/v1/nothing-here"),
        ("POST", "/api/v1/nothing-here"),
        ("GET", "/api/v1/conversations/x/y/z"),
        ("GET", "/api/v2/users/me"),
    ] {
        let resp = alice.raw(method, path, None).await.unwrap();
        assert_error_response(&resp, 404, "not_found");
    }
}

#[tokio::test]
async fn missing_required_fields_are_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let group = alice.create_group("team", &[]).await.unwrap();
    let message = alice.send_text(&group.id, "hi").await.unwrap();

    let anon_cases = [
        ("/api/v1/users", json!({"password": PASSWORD})),
        ("/api/v1/users", json!({"username": "carol"})),
        ("/api/v1/sessions", json!({"username": "alice"})),
        ("/api/v1/sessions", json!({"password": PASSWORD})),
    ];
    for (path, body) in anon_cases {
        let resp = app.anon().raw_json("POST", path, &body).await.unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }

    let cases = [
        (
            "POST",
            "/api/v1/conversations".to_string(),
            json!({"user_id": b.id}),
        ),
        (
            "PATCH",
            format!("/api/v1/conversations/{}", group.id),
            json!({}),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{}/members", group.id),
            json!({"role": "member"}),
        ),
        (
            "PATCH",
            format!("/api/v1/conversations/{}/members/{}", group.id, b.id),
            json!({}),
        ),
        (
            "PATCH",
            format!("/api/v1/messages/{}", message.id),
            json!({}),
        ),
    ];
    for (method, path, body) in cases {
        let resp = alice.raw_json(method, &path, &body).await.unwrap();
        assert_eq!(resp.status, 400, "{method} {path}: {}", resp.text());
        assert_error_response(&resp, 400, "invalid_request");
    }
}

#[tokio::test]
async fn fields_of_the_wrong_type_are_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let group = alice.create_group("team", &[]).await.unwrap();

    let resp = app
        .anon()
        .raw_json(
            "POST",
            "/api/v1/users",
            &json!({"username": 42, "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");

    let resp = alice
        .raw_json(
            "POST",
            &format!("/api/v1/conversations/{}/messages", group.id),
            &json!({"text": ["not", "a", "string"]}),
        )
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
}

#[tokio::test]
async fn unknown_json_fields_are_ignored() {
    let app = spawn_app().await;

    let resp = app
        .anon()
        .raw_json(
            "POST",
            "/api/v1/users",
            &json!({"username": "carol", "password": PASSWORD, "favourite_colour": "teal"}),
        )
        .await
        .unwrap();

    assert_eq!(resp.status, 201, "{}", resp.text());
}

#[tokio::test]
async fn errors_from_the_sdk_carry_the_api_code() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let err = alice.conversation("not-an-id").await.unwrap_err();

    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), Some("not_found"));
    let resp = alice
        .raw("GET", "/api/v1/conversations/not-an-id", None)
        .await
        .unwrap();
    assert_error_response(&resp, 404, "not_found");
}

#[tokio::test]
async fn forbidden_and_conflict_answers_are_error_bodies() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();

    let forbidden = bob
        .raw_json(
            "PATCH",
            &format!("/api/v1/conversations/{}", group.id),
            &json!({"name": "mine"}),
        )
        .await
        .unwrap();
    assert_error_response(&forbidden, 403, "forbidden");

    let conflict = app
        .anon()
        .raw_json(
            "POST",
            "/api/v1/users",
            &json!({"username": "bob", "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_error_response(&conflict, 409, "conflict");

    let too_large = alice
        .raw_json(
            "POST",
            &format!("/api/v1/conversations/{}/messages", group.id),
            &json!({"text": "x".repeat(16_385)}),
        )
        .await
        .unwrap();
    assert_error_response(&too_large, 413, "payload_too_large");
}
