//! Messages: sending, idempotent retries, pages, editing, deleting and replies.

use natter_client::{Client, Conversation, Message, MessageQuery, SendMessageRequest, User};
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::*;

/// Alice and Bob and their direct conversation.
async fn direct_pair(app: &TestApp) -> (Client, User, Client, User, Conversation) {
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    (alice, a, bob, b, conv)
}

fn with_client_id(client_id: &str, text: &str) -> SendMessageRequest {
    SendMessageRequest {
        client_id: Some(client_id.into()),
        text: Some(text.into()),
        ..Default::default()
    }
}

fn page(before: Option<i64>, after: Option<i64>, limit: Option<i64>) -> MessageQuery {
    MessageQuery {
        before,
        after,
        limit,
    }
}

fn seqs(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn sent_messages_get_gapless_seqs_from_1() {
    let app = spawn_app().await;
    let (alice, a, bob, _, conv) = direct_pair(&app).await;

    let first = alice
        .send_message(
            &conv.id,
            &SendMessageRequest {
                text: Some("hello".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(first.created, "a new message is 201");
    let m = first.value;
    assert!(!m.id.is_empty());
    assert_eq!(m.conversation_id, conv.id);
    assert_eq!(m.seq, 1);
    assert_eq!(m.sender_id, a.id);
    assert_eq!(m.client_id, None);
    assert_eq!(m.kind, "text", "kind defaults to text");
    assert_eq!(m.text.as_deref(), Some("hello"));
    assert_eq!(m.media, None);
    assert_eq!(m.reply_to, None);
    assert_timestamp(&m.created_at);
    assert_eq!(m.edited_at, None);
    assert!(!m.deleted);
    assert_eq!(m.status, "sent");

    let second = bob.send_text(&conv.id, "hi").await.unwrap();
    let third = alice.send_text(&conv.id, "how are you?").await.unwrap();
    assert_eq!((second.seq, third.seq), (2, 3));

    let conv = alice.conversation(&conv.id).await.unwrap();
    assert_eq!(conv.last_seq, 3);
    assert_eq!(conv.last_message_at, third.created_at);
    assert_eq!(conv.last_message.map(|m| m.id), Some(third.id));
}

#[tokio::test]
async fn a_send_answers_201_with_the_message() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;

    let resp = alice
        .raw_json(
            "POST",
            &format!("/api/v1/conversations/{}/messages", conv.id),
            &json!({"kind": "text", "text": "explicit kind"}),
        )
        .await
        .unwrap();

    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_json_content_type(&resp);
    let m: Message = serde_json::from_slice(&resp.body).expect("a Message");
    assert_eq!(m.kind, "text");
    assert_eq!(m.text.as_deref(), Some("explicit kind"));
    assert_eq!(m.seq, 1);
}

#[tokio::test]
async fn text_is_kept_exactly_as_sent() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    let text = "  spaced out\n\twith émoji 😀 and \"quotes\"  ";

    let m = alice.send_text(&conv.id, text).await.unwrap();

    assert_eq!(m.text.as_deref(), Some(text));
    assert_eq!(
        bob.message(&m.id).await.unwrap().text.as_deref(),
        Some(text)
    );
}

#[tokio::test]
async fn resending_a_client_id_returns_the_original_message() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;

    let first = alice
        .send_message(&conv.id, &with_client_id("c-1", "first"))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.value.client_id.as_deref(), Some("c-1"));

    let retry = alice
        .send_message(&conv.id, &with_client_id("c-1", "a different body"))
        .await
        .unwrap();
    assert!(!retry.created, "a retry is 200");
    assert_eq!(retry.value.id, first.value.id);
    assert_eq!(retry.value.seq, 1);
    assert_eq!(retry.value.text.as_deref(), Some("first"));

    let page = bob
        .messages(&conv.id, &MessageQuery::default())
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1, "nothing new stored: {page:?}");
    assert_eq!(page.messages[0].text.as_deref(), Some("first"));
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 1);
    assert_eq!(bob.conversation(&conv.id).await.unwrap().unread_count, 1);

    // The next send gets the next seq: the retry used none.
    assert_eq!(alice.send_text(&conv.id, "next").await.unwrap().seq, 2);
}

#[tokio::test]
async fn a_retry_answers_200() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;
    let path = format!("/api/v1/conversations/{}/messages", conv.id);
    let body = json!({"client_id": "c-1", "text": "once"});

    let first = alice.raw_json("POST", &path, &body).await.unwrap();
    let again = alice.raw_json("POST", &path, &body).await.unwrap();

    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(first.json()["id"], again.json()["id"]);
}

#[tokio::test]
async fn a_client_id_is_per_sender_and_per_conversation() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    let (_, c) = app.user("carol").await;
    let other = alice.direct(&c.id).await.unwrap().value;

    let mine = alice
        .send_message(&conv.id, &with_client_id("same", "alice"))
        .await
        .unwrap();
    let bobs = bob
        .send_message(&conv.id, &with_client_id("same", "bob"))
        .await
        .unwrap();
    let elsewhere = alice
        .send_message(&other.id, &with_client_id("same", "elsewhere"))
        .await
        .unwrap();

    assert!(mine.created && bobs.created && elsewhere.created);
    assert_ne!(mine.value.id, bobs.value.id);
    assert_eq!(bobs.value.seq, 2);
    assert_eq!(bobs.value.text.as_deref(), Some("bob"));
    assert_eq!(elsewhere.value.seq, 1);
    assert_eq!(elsewhere.value.conversation_id, other.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_with_one_client_id_store_one_message() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;

    let mut sends = JoinSet::new();
    for i in 0..20 {
        let alice = alice.clone();
        let conv_id = conv.id.clone();
        sends.spawn(async move {
            alice
                .send_message(
                    &conv_id,
                    &with_client_id("retry-me", &format!("attempt {i}")),
                )
                .await
        });
    }
    let results: Vec<_> = sends
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("every concurrent send succeeds"))
        .collect();

    let created: Vec<_> = results.iter().filter(|r| r.created).collect();
    assert_eq!(created.len(), 1, "exactly one send is 201");
    let original = &created[0].value;
    for r in &results {
        assert_eq!(r.value.id, original.id);
        assert_eq!(r.value.seq, 1);
        assert_eq!(r.value.text, original.text);
    }
    let page = bob
        .messages(&conv.id, &MessageQuery::default())
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1, "{page:?}");
    assert_eq!(page.messages[0].id, original.id);
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_get_distinct_gapless_seqs() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;

    let mut sends = JoinSet::new();
    for i in 0..20 {
        let client = if i % 2 == 0 {
            alice.clone()
        } else {
            bob.clone()
        };
        let conv_id = conv.id.clone();
        sends.spawn(async move { client.send_text(&conv_id, &format!("m{i}")).await });
    }
    let mut got: Vec<i64> = sends
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("every send succeeds").seq)
        .collect();
    got.sort();

    assert_eq!(got, (1..=20).collect::<Vec<_>>());
    let page = alice
        .messages(&conv.id, &MessageQuery::default())
        .await
        .unwrap();
    assert_eq!(seqs(&page.messages), (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn message_pages_go_backwards_and_forwards() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    for i in 1..=10 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }
    let get = |q: MessageQuery| {
        let bob = bob.clone();
        let id = conv.id.clone();
        async move { bob.messages(&id, &q).await.unwrap() }
    };

    let all = get(page(None, None, None)).await;
    assert_eq!(seqs(&all.messages), (1..=10).collect::<Vec<_>>());
    assert!(!all.has_more);
    assert_eq!(all.messages[0].text.as_deref(), Some("m1"));

    // Newest first, in ascending order.
    let newest = get(page(None, None, Some(3))).await;
    assert_eq!(seqs(&newest.messages), [8, 9, 10]);
    assert!(newest.has_more);

    let newest_one = get(page(None, None, Some(1))).await;
    assert_eq!(seqs(&newest_one.messages), [10]);
    assert!(newest_one.has_more);

    let below = get(page(Some(8), None, Some(3))).await;
    assert_eq!(seqs(&below.messages), [5, 6, 7]);
    assert!(below.has_more);

    let oldest = get(page(Some(4), None, Some(3))).await;
    assert_eq!(seqs(&oldest.messages), [1, 2, 3]);
    assert!(!oldest.has_more);

    let nothing_below = get(page(Some(1), None, None)).await;
    assert!(nothing_below.messages.is_empty());
    assert!(!nothing_below.has_more);

    let from_start = get(page(None, Some(0), Some(3))).await;
    assert_eq!(seqs(&from_start.messages), [1, 2, 3]);
    assert!(from_start.has_more);

    let above = get(page(None, Some(7), Some(2))).await;
    assert_eq!(seqs(&above.messages), [8, 9]);
    assert!(above.has_more);

    let last = get(page(None, Some(8), Some(2))).await;
    assert_eq!(seqs(&last.messages), [9, 10]);
    assert!(!last.has_more);

    let nothing_above = get(page(None, Some(10), None)).await;
    assert!(nothing_above.messages.is_empty());
    assert!(!nothing_above.has_more);

    let one_above = get(page(None, Some(4), Some(1))).await;
    assert_eq!(seqs(&one_above.messages), [5]);
    assert!(one_above.has_more);
}

#[tokio::test]
async fn a_page_holds_50_by_default_and_at_most_200() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    for i in 1..=201 {
        alice.send_text(&conv.id, &format!("m{i}")).await.unwrap();
    }

    let default = bob
        .messages(&conv.id, &page(None, None, None))
        .await
        .unwrap();
    assert_eq!(seqs(&default.messages), (152..=201).collect::<Vec<_>>());
    assert!(default.has_more);

    let max = bob
        .messages(&conv.id, &page(None, None, Some(200)))
        .await
        .unwrap();
    assert_eq!(seqs(&max.messages), (2..=201).collect::<Vec<_>>());
    assert!(max.has_more);

    let rest = bob
        .messages(&conv.id, &page(Some(2), None, Some(200)))
        .await
        .unwrap();
    assert_eq!(seqs(&rest.messages), [1]);
    assert!(!rest.has_more);

    let forward = bob
        .messages(&conv.id, &page(None, Some(0), Some(200)))
        .await
        .unwrap();
    assert_eq!(seqs(&forward.messages), (1..=200).collect::<Vec<_>>());
    assert!(forward.has_more);
}

#[tokio::test]
async fn page_limits_outside_1_to_200_are_400() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;
    alice.send_text(&conv.id, "one").await.unwrap();

    for limit in [0, 201, -1] {
        assert_api_error(
            alice
                .messages(&conv.id, &page(None, None, Some(limit)))
                .await,
            400,
            "invalid_request",
        );
    }
    let resp = alice
        .raw(
            "GET",
            &format!("/api/v1/conversations/{}/messages?before=seven", conv.id),
            None,
        )
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
    let resp = alice
        .raw(
            "GET",
            &format!("/api/v1/conversations/{}/messages?limit=many", conv.id),
            None,
        )
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
}

#[tokio::test]
async fn a_message_is_found_by_id() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    let sent = alice.send_text(&conv.id, "find me").await.unwrap();

    assert_eq!(alice.message(&sent.id).await.unwrap(), sent);
    assert_eq!(bob.message(&sent.id).await.unwrap(), sent);
    assert_api_error(
        bob.message("0190f3a8-7c1d-7000-8000-000000000000").await,
        404,
        "not_found",
    );
    assert_api_error(bob.message("not-an-id").await, 404, "not_found");
}

#[tokio::test]
async fn the_sender_edits_a_message() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    let sent = alice.send_text(&conv.id, "helo").await.unwrap();

    let edited = alice.edit_message(&sent.id, "hello").await.unwrap();

    assert_eq!(edited.id, sent.id);
    assert_eq!(edited.seq, sent.seq);
    assert_eq!(edited.text.as_deref(), Some("hello"));
    assert_eq!(edited.created_at, sent.created_at);
    let edited_at = edited.edited_at.clone().expect("edited_at is set");
    assert_timestamp(&edited_at);
    assert!(edited_at >= sent.created_at);
    assert!(!edited.deleted);

    let seen = bob.message(&sent.id).await.unwrap();
    assert_eq!(seen.text.as_deref(), Some("hello"));
    assert_eq!(seen.edited_at.as_deref(), Some(edited_at.as_str()));
    let listed = bob
        .messages(&conv.id, &MessageQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.messages[0].text.as_deref(), Some("hello"));
    assert_eq!(listed.messages.len(), 1, "an edit is not a new message");
}

#[tokio::test]
async fn only_the_sender_edits() {
    let app = spawn_app().await;
    let (alice, a, bob, b, _) = direct_pair(&app).await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let sent = bob.send_text(&group.id, "bob's words").await.unwrap();

    // Not even the group's owner.
    assert_api_error(
        alice.edit_message(&sent.id, "alice's words").await,
        403,
        "forbidden",
    );
    let unchanged = bob.message(&sent.id).await.unwrap();
    assert_eq!(unchanged.text.as_deref(), Some("bob's words"));
    assert_eq!(unchanged.edited_at, None);
    assert_ne!(unchanged.sender_id, a.id);
}

#[tokio::test]
async fn an_edit_needs_non_blank_text() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;
    let sent = alice.send_text(&conv.id, "keep").await.unwrap();

    assert_api_error(
        alice.edit_message(&sent.id, "").await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.edit_message(&sent.id, " \n ").await,
        400,
        "invalid_request",
    );
    assert_eq!(
        alice.message(&sent.id).await.unwrap().text.as_deref(),
        Some("keep")
    );
}

#[tokio::test]
async fn editing_a_deleted_message_is_409() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;
    let sent = alice.send_text(&conv.id, "oops").await.unwrap();
    alice.delete_message(&sent.id).await.unwrap();

    assert_api_error(
        alice.edit_message(&sent.id, "revived").await,
        409,
        "conflict",
    );
    let now = alice.message(&sent.id).await.unwrap();
    assert!(now.deleted);
    assert_eq!(now.text, None);
}

#[tokio::test]
async fn the_sender_deletes_a_message_for_everyone() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    alice.send_text(&conv.id, "before").await.unwrap();
    let sent = alice.send_text(&conv.id, "regret").await.unwrap();
    alice.send_text(&conv.id, "after").await.unwrap();

    let resp = alice
        .raw("DELETE", &format!("/api/v1/messages/{}", sent.id), None)
        .await
        .unwrap();
    assert_no_content(&resp);

    for client in [&alice, &bob] {
        let m = client.message(&sent.id).await.unwrap();
        assert!(m.deleted);
        assert_eq!(m.text, None);
        assert_eq!(m.media, None);
        assert_eq!(m.id, sent.id);
        assert_eq!(m.seq, 2);
        assert_eq!(m.sender_id, sent.sender_id);
        assert_eq!(m.created_at, sent.created_at);
        assert_eq!(m.conversation_id, conv.id);

        let listed = client
            .messages(&conv.id, &MessageQuery::default())
            .await
            .unwrap();
        assert_eq!(
            seqs(&listed.messages),
            [1, 2, 3],
            "the tombstone keeps its seq"
        );
        assert!(listed.messages[1].deleted);
        assert_eq!(listed.messages[1].text, None);
        assert_eq!(listed.messages[0].text.as_deref(), Some("before"));
        assert_eq!(listed.messages[2].text.as_deref(), Some("after"));
    }

    // Deleting again is fine and changes nothing.
    let again = alice
        .raw("DELETE", &format!("/api/v1/messages/{}", sent.id), None)
        .await
        .unwrap();
    assert_no_content(&again);
    assert!(bob.message(&sent.id).await.unwrap().deleted);
}

#[tokio::test]
async fn a_deleted_last_message_shows_as_a_tombstone_in_the_conversation() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    let sent = alice.send_text(&conv.id, "regret").await.unwrap();

    alice.delete_message(&sent.id).await.unwrap();

    let conv = bob.conversation(&conv.id).await.unwrap();
    assert_eq!(conv.last_seq, 1, "a deletion keeps the seq");
    assert_eq!(conv.unread_count, 0);
    // `last_message` may be the tombstone or null, but never the erased text.
    if let Some(last) = conv.last_message {
        assert_eq!(last.id, sent.id);
        assert!(last.deleted);
        assert_eq!(last.text, None);
    }
}

#[tokio::test]
async fn group_owner_and_admin_delete_others_messages() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    alice.set_role(&group.id, &b.id, "admin").await.unwrap();
    let first = carol.send_text(&group.id, "spam").await.unwrap();
    let second = carol.send_text(&group.id, "more spam").await.unwrap();

    bob.delete_message(&first.id).await.unwrap();
    alice.delete_message(&second.id).await.unwrap();

    for id in [&first.id, &second.id] {
        let m = carol.message(id).await.unwrap();
        assert!(m.deleted);
        assert_eq!(m.text, None);
    }
}

#[tokio::test]
async fn a_plain_member_cannot_delete_others_messages() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    let by_owner = alice.send_text(&group.id, "owner's").await.unwrap();
    let by_member = carol.send_text(&group.id, "carol's").await.unwrap();
    let direct = alice.direct(&b.id).await.unwrap().value;
    let in_direct = alice.send_text(&direct.id, "alice's").await.unwrap();

    assert_api_error(bob.delete_message(&by_owner.id).await, 403, "forbidden");
    assert_api_error(bob.delete_message(&by_member.id).await, 403, "forbidden");
    assert_api_error(bob.delete_message(&in_direct.id).await, 403, "forbidden");

    for (client, id) in [
        (&carol, &by_owner.id),
        (&carol, &by_member.id),
        (&alice, &in_direct.id),
    ] {
        let m = client.message(id).await.unwrap();
        assert!(!m.deleted);
        assert!(m.text.is_some());
    }
}

#[tokio::test]
async fn delete_for_me_hides_the_message_only_for_the_caller() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    alice.send_text(&group.id, "one").await.unwrap();
    let sent = alice.send_text(&group.id, "two").await.unwrap();
    alice.send_text(&group.id, "three").await.unwrap();

    let resp = bob
        .raw(
            "DELETE",
            &format!("/api/v1/messages/{}?for=me", sent.id),
            None,
        )
        .await
        .unwrap();
    assert_no_content(&resp);

    let hidden = bob.message(&sent.id).await.unwrap();
    assert!(hidden.deleted);
    assert_eq!(hidden.text, None);
    assert_eq!(hidden.media, None);
    assert_eq!(hidden.seq, sent.seq);
    assert_eq!(hidden.sender_id, sent.sender_id);
    assert_eq!(hidden.created_at, sent.created_at);
    let listed = bob
        .messages(&group.id, &MessageQuery::default())
        .await
        .unwrap();
    assert_eq!(seqs(&listed.messages), [1, 2, 3], "no gap for the caller");
    assert!(listed.messages[1].deleted);
    assert_eq!(listed.messages[1].text, None);

    for client in [&alice, &carol] {
        let m = client.message(&sent.id).await.unwrap();
        assert!(!m.deleted);
        assert_eq!(m.text.as_deref(), Some("two"));
        let listed = client
            .messages(&group.id, &MessageQuery::default())
            .await
            .unwrap();
        assert_eq!(listed.messages[1].text.as_deref(), Some("two"));
    }
}

#[tokio::test]
async fn a_sender_may_delete_its_own_message_for_itself_only() {
    let app = spawn_app().await;
    let (alice, _, bob, _, conv) = direct_pair(&app).await;
    let sent = alice.send_text(&conv.id, "mine").await.unwrap();

    alice.delete_message_for_me(&sent.id).await.unwrap();

    assert!(alice.message(&sent.id).await.unwrap().deleted);
    assert_eq!(
        bob.message(&sent.id).await.unwrap().text.as_deref(),
        Some("mine")
    );
}

#[tokio::test]
async fn a_reply_names_a_message_of_the_same_conversation() {
    let app = spawn_app().await;
    let (alice, _, bob, b, conv) = direct_pair(&app).await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let question = alice.send_text(&conv.id, "lunch?").await.unwrap();
    let elsewhere = alice.send_text(&group.id, "other place").await.unwrap();

    let answer = bob
        .send_message(
            &conv.id,
            &SendMessageRequest {
                text: Some("yes".into()),
                reply_to: Some(question.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value;
    assert_eq!(answer.reply_to.as_deref(), Some(question.id.as_str()));
    assert_eq!(
        alice.message(&answer.id).await.unwrap().reply_to.as_deref(),
        Some(question.id.as_str())
    );

    for bad in [
        elsewhere.id.as_str(),
        "0190f3a8-7c1d-7000-8000-000000000000",
        "not-an-id",
    ] {
        let resp = bob
            .send_message(
                &conv.id,
                &SendMessageRequest {
                    text: Some("wrong".into()),
                    reply_to: Some(bad.into()),
                    ..Default::default()
                },
            )
            .await;
        assert_api_error(resp, 400, "invalid_request");
    }
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 2);
}

#[tokio::test]
async fn blank_or_missing_text_is_400() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;

    for text in ["", "   ", "\n\t "] {
        assert_api_error(
            alice.send_text(&conv.id, text).await,
            400,
            "invalid_request",
        );
    }
    let no_text = alice
        .send_message(&conv.id, &SendMessageRequest::default())
        .await;
    assert_api_error(no_text, 400, "invalid_request");
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 0);
}

#[tokio::test]
async fn media_kinds_need_a_media_id_and_unknown_kinds_are_400() {
    let app = spawn_app().await;
    let (alice, _, _, _, conv) = direct_pair(&app).await;

    for kind in ["image", "file", "video"] {
        let resp = alice
            .send_message(
                &conv.id,
                &SendMessageRequest {
                    kind: Some(kind.into()),
                    text: Some("caption".into()),
                    ..Default::default()
                },
            )
            .await;
        assert_api_error(resp, 400, "invalid_request");
    }
    assert_eq!(alice.conversation(&conv.id).await.unwrap().last_seq, 0);
}
