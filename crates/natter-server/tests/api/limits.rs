//! Limits, at and just past each edge (API.md's defaults).

use natter_client::{Client, RegisterRequest, SendMessageRequest};
use serde_json::json;

use crate::helpers::*;

async fn register(
    anon: &Client,
    username: &str,
    password: &str,
    display_name: Option<&str>,
) -> natter_client::Result<natter_client::User> {
    anon.register(&RegisterRequest {
        username: username.into(),
        password: password.into(),
        display_name: display_name.map(Into::into),
        invite: None,
    })
    .await
}

#[tokio::test]
async fn usernames_are_3_to_32_characters() {
    let app = spawn_app().await;
    let anon = app.anon();

    register(&anon, "abc", PASSWORD, None).await.unwrap();
    register(&anon, &"a".repeat(32), PASSWORD, None)
        .await
        .unwrap();
    assert_api_error(
        register(&anon, "ab", PASSWORD, None).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        register(&anon, &"a".repeat(33), PASSWORD, None).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        register(&anon, "", PASSWORD, None).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn usernames_use_only_lowercase_letters_digits_and_dot_dash_underscore() {
    let app = spawn_app().await;
    let anon = app.anon();

    register(&anon, "a_b.c-9", PASSWORD, None).await.unwrap();
    for bad in ["Alice", "al ice", "émile", "a/b", "bob!"] {
        assert_api_error(
            register(&anon, bad, PASSWORD, None).await,
            400,
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn passwords_are_8_to_1024_bytes() {
    let app = spawn_app().await;
    let anon = app.anon();

    let ok = [
        ("eight", "12345678".to_string()),
        ("long", "x".repeat(1024)),
        // Four characters, eight bytes: bytes count, not characters.
        ("accents", "éééé".to_string()),
    ];
    for (user, password) in &ok {
        register(&anon, user, password, None).await.unwrap();
        anon.sign_up(&format!("{user}2"), password).await.unwrap();
    }
    let bad = [
        ("seven", "1234567".to_string()),
        ("toolong", "x".repeat(1025)),
        // Seven bytes.
        ("accents7", "ééé1".to_string()),
        // 513 characters, 1026 bytes.
        ("accentslong", "é".repeat(513)),
    ];
    for (user, password) in &bad {
        assert_api_error(
            register(&anon, user, password, None).await,
            400,
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn display_names_are_1_to_64_characters() {
    let app = spawn_app().await;
    let anon = app.anon();

    let at_limit = register(&anon, "max", PASSWORD, Some(&"é".repeat(64)))
        .await
        .unwrap();
    assert_eq!(at_limit.display_name, "é".repeat(64));
    register(&anon, "one", PASSWORD, Some("x")).await.unwrap();
    assert_api_error(
        register(&anon, "over", PASSWORD, Some(&"é".repeat(65))).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        register(&anon, "empty", PASSWORD, Some("")).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn message_text_is_at_most_16384_characters() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    let longest = "x".repeat(16_384);
    let m = alice.send_text(&conv.id, &longest).await.unwrap();
    assert_eq!(
        bob.message(&m.id).await.unwrap().text.as_deref(),
        Some(longest.as_str())
    );

    // Counted in Unicode scalar values, not bytes.
    let emoji = "😀".repeat(16_384);
    let m = alice.send_text(&conv.id, &emoji).await.unwrap();
    assert_eq!(m.text.as_deref(), Some(emoji.as_str()));

    assert_api_error(
        alice.send_text(&conv.id, &"x".repeat(16_385)).await,
        413,
        "payload_too_large",
    );
    assert_api_error(
        alice.send_text(&conv.id, &"😀".repeat(16_385)).await,
        413,
        "payload_too_large",
    );

    let first = alice.send_text(&conv.id, "short").await.unwrap();
    assert_api_error(
        alice.edit_message(&first.id, &"x".repeat(16_385)).await,
        413,
        "payload_too_large",
    );
    let edited = alice.edit_message(&first.id, &longest).await.unwrap();
    assert_eq!(edited.text.as_deref(), Some(longest.as_str()));
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 3);
}

#[tokio::test]
async fn group_names_are_1_to_128_characters() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    let group = alice.create_group(&"n".repeat(128), &[]).await.unwrap();
    assert_eq!(group.name.as_deref(), Some("n".repeat(128).as_str()));
    assert_api_error(
        alice.create_group(&"n".repeat(129), &[]).await,
        400,
        "invalid_request",
    );
    assert_api_error(alice.create_group("", &[]).await, 400, "invalid_request");

    let renamed = alice.rename(&group.id, &"é".repeat(128)).await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("é".repeat(128).as_str()));
    assert_api_error(
        alice.rename(&group.id, &"é".repeat(129)).await,
        400,
        "invalid_request",
    );
    assert_api_error(alice.rename(&group.id, "").await, 400, "invalid_request");
    assert_eq!(
        alice
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .len(),
        1
    );
}

#[tokio::test]
async fn client_ids_are_1_to_64_characters() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let send = |client_id: String| SendMessageRequest {
        client_id: Some(client_id),
        text: Some("hi".into()),
        ..Default::default()
    };

    let m = alice
        .send_message(&conv.id, &send("c".repeat(64)))
        .await
        .unwrap();
    assert!(m.created);
    assert_eq!(m.value.client_id, Some("c".repeat(64)));
    alice
        .send_message(&conv.id, &send("c".into()))
        .await
        .unwrap();
    assert_api_error(
        alice.send_message(&conv.id, &send("c".repeat(65))).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.send_message(&conv.id, &send(String::new())).await,
        400,
        "invalid_request",
    );
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 2);
}

#[tokio::test]
async fn json_bodies_over_1_mib_are_413() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    // Unknown fields are ignored, so only the size is wrong.
    let padding = "p".repeat(1024 * 1024 + 1);

    let send = alice
        .raw_json(
            "POST",
            &format!("/api/v1/conversations/{}/messages", conv.id),
            &json!({"text": "hi", "padding": padding}),
        )
        .await
        .unwrap();
    assert_error_response(&send, 413, "payload_too_large");

    let register = app
        .anon()
        .raw_json(
            "POST",
            "/api/v1/users",
            &json!({"username": "carol", "password": PASSWORD, "padding": padding}),
        )
        .await
        .unwrap();
    assert_error_response(&register, 413, "payload_too_large");

    // A body just under the limit is fine.
    let small_padding = "p".repeat(1024 * 1024 - 100);
    let fits = alice
        .raw_json(
            "POST",
            &format!("/api/v1/conversations/{}/messages", conv.id),
            &json!({"text": "hi", "padding": small_padding}),
        )
        .await
        .unwrap();
    assert_eq!(fits.status, 201, "{}", fits.text());
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 1);
}

#[tokio::test]
async fn limits_are_configurable() {
    let app = spawn_app_with(|cfg| {
        cfg.limits.message_text_max = 5;
        cfg.limits.group_name_max = 4;
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;

    alice.send_text(&conv.id, "12345").await.unwrap();
    assert_api_error(
        alice.send_text(&conv.id, "123456").await,
        413,
        "payload_too_large",
    );
    alice.create_group("four", &[]).await.unwrap();
    assert_api_error(
        alice.create_group("five!", &[]).await,
        400,
        "invalid_request",
    );
}
