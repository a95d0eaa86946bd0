//! `GET /search`: what the caller can see and nothing else, newest first, with highlighted
//! snippets; its limits and errors.

use natter_client::SearchResults;

use crate::helpers::*;

fn texts(r: &SearchResults) -> Vec<&str> {
    r.messages
        .iter()
        .map(|h| h.message.text.as_deref().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn search_finds_messages_newest_first_with_highlighted_snippets() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let dm = alice.direct(&b.id).await.unwrap().value;
    let g = alice
        .create_group("g", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    alice
        .send_text(&dm.id, "Hello <b>Bob</b> & co")
        .await
        .unwrap();
    bob.send_text(&g.id, "hello group, Grüße").await.unwrap();
    let last = alice.send_text(&dm.id, "helicopter").await.unwrap();

    let found = bob.search("hello", None, None, None).await.unwrap();
    assert_eq!(
        texts(&found),
        ["hello group, Grüße", "Hello <b>Bob</b> & co"]
    );
    assert!(!found.has_more);
    assert_eq!(
        found.messages[1].snippet,
        "<mark>Hello</mark> &lt;b&gt;Bob&lt;/b&gt; &amp; co"
    );
    assert_eq!(found.messages[0].message.conversation_id, g.id);
    // The last word is a prefix, as people type.
    let typed = bob.search("hel", None, None, None).await.unwrap();
    assert_eq!(typed.messages[0].message.id, last.id);
    assert_eq!(typed.messages[0].snippet, "<mark>helicopter</mark>");
    assert_eq!(
        texts(&bob.search("GRUSSE", None, None, None).await.unwrap()).len(),
        0
    );
    assert_eq!(
        texts(&bob.search("grüße", None, None, None).await.unwrap()).len(),
        1
    );
    // One conversation; someone else's is unknown.
    let one = bob.search("hello", Some(&dm.id), None, None).await.unwrap();
    assert_eq!(texts(&one), ["Hello <b>Bob</b> & co"]);
    assert_api_error(
        carol.search("hello", Some(&dm.id), None, None).await,
        404,
        "not_found",
    );
    assert_eq!(
        texts(&carol.search("hello", None, None, None).await.unwrap()),
        ["hello group, Grüße"]
    );

    // Pages: `before` the last message seen, or a time.
    let first = bob.search("hel", None, None, Some(2)).await.unwrap();
    assert!(first.has_more);
    let next = bob
        .search("hel", None, Some(&first.messages[1].message.id), Some(2))
        .await
        .unwrap();
    assert_eq!(texts(&next), ["Hello <b>Bob</b> & co"]);
    assert!(!next.has_more);
    let by_time = bob
        .search("hel", None, Some(&last.created_at), None)
        .await
        .unwrap();
    assert_eq!(by_time.messages.len(), 2);
}

#[tokio::test]
async fn search_refuses_what_it_cannot_read() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    for path in [
        "/api/v1/search",
        "/api/v1/search?q=",
        "/api/v1/search?q=%20%3F%21",
        "/api/v1/search?q=a&limit=0",
        "/api/v1/search?q=a&limit=201",
        "/api/v1/search?q=a&before=no-such-message",
    ] {
        let resp = alice.raw("GET", path, None).await.unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }
    // At and past the limits: 256 characters, 16 words.
    let at = "a".repeat(256);
    assert!(alice.search(&at, None, None, None).await.is_ok());
    assert_api_error(
        alice.search(&format!("{at}a"), None, None, None).await,
        400,
        "invalid_request",
    );
    let words: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
    assert!(
        alice
            .search(&words[..16].join(" "), None, None, None)
            .await
            .is_ok()
    );
    assert_api_error(
        alice.search(&words.join(" "), None, None, None).await,
        400,
        "invalid_request",
    );
    assert_error_response(
        &app.anon()
            .raw("GET", "/api/v1/search?q=a", None)
            .await
            .unwrap(),
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn no_deleted_text_is_found_again() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let g = alice
        .create_group("g", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    let gone = alice.send_text(&g.id, "launch codes alpha").await.unwrap();
    let mine = alice.send_text(&g.id, "launch codes beta").await.unwrap();
    let edited = alice.send_text(&g.id, "launch codes gamma").await.unwrap();
    assert_eq!(
        bob.search("launch", None, None, None)
            .await
            .unwrap()
            .messages
            .len(),
        3
    );

    alice.delete_message(&gone.id).await.unwrap();
    bob.delete_message_for_me(&mine.id).await.unwrap();
    alice
        .edit_message(&edited.id, "nothing to see")
        .await
        .unwrap();
    for who in [&alice, &bob, &carol] {
        assert!(
            who.search("alpha", None, None, None)
                .await
                .unwrap()
                .messages
                .is_empty()
        );
        assert!(
            who.search("gamma", None, None, None)
                .await
                .unwrap()
                .messages
                .is_empty()
        );
    }
    assert!(
        bob.search("beta", None, None, None)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
    assert_eq!(
        carol
            .search("beta", None, None, None)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    assert_eq!(
        texts(&carol.search("nothing", None, None, None).await.unwrap()),
        ["nothing to see"]
    );
    // Removed from the group: nothing of it is found any more.
    alice.remove_member(&g.id, &c.id).await.unwrap();
    assert!(
        carol
            .search("launch", None, None, None)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
    assert!(
        carol
            .search("nothing", None, None, None)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
}
