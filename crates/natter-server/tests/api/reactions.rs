//! Reactions (`PUT`/`DELETE /messages/{id}/reactions/{emoji}`, `GET …/reactions`) and mentions
//! (`Message.mentions`, `Conversation.mention_count`), over HTTP and live on the WebSocket.

use natter_client::{EventData, Message, ReactionCount, Socket};

use crate::helpers::*;

fn r(emoji: &str, count: i64, me: bool) -> ReactionCount {
    ReactionCount {
        emoji: emoji.into(),
        count,
        me,
    }
}

/// The next `reaction_changed` on `ws`: (message, emoji, count, user, added).
async fn next_reaction(ws: &mut Socket) -> (String, String, i64, String, bool) {
    match next_event(ws).await.event {
        EventData::ReactionChanged(c) => (c.message_id, c.emoji, c.count, c.user_id, c.added),
        other => panic!("expected reaction_changed, got {other:?}"),
    }
}

#[tokio::test]
async fn reactions_toggle_idempotently_and_show_on_the_message() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let g = alice
        .create_group("g", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    let m = alice.send_text(&g.id, "hello").await.unwrap();
    assert!(m.reactions.is_empty() && m.mentions.is_empty());
    let mut carol_ws = carol.connect(None).await.unwrap();
    let (alice2, _) = app.login("alice", Some("phone")).await;
    let mut alice_ws = alice2.connect(None).await.unwrap();

    // The emoji URL-encoded; twice is once.
    let path = format!("/api/v1/messages/{}/reactions/%F0%9F%91%8D", m.id);
    // A millisecond apart, so that "oldest first" is this order (ties go by user id).
    for _ in 0..2 {
        assert_no_content(&bob.raw("PUT", &path, None).await.unwrap());
    }
    next_millisecond().await;
    carol.add_reaction(&m.id, "👍").await.unwrap();
    next_millisecond().await;
    bob.add_reaction(&m.id, "👍🏽").await.unwrap();

    for ws in [&mut carol_ws, &mut alice_ws] {
        assert_eq!(
            next_reaction(ws).await,
            (m.id.clone(), "👍".into(), 1, b.id.clone(), true)
        );
        assert_eq!(
            next_reaction(ws).await,
            (m.id.clone(), "👍".into(), 2, c.id.clone(), true)
        );
        assert_eq!(
            next_reaction(ws).await,
            (m.id.clone(), "👍🏽".into(), 1, b.id.clone(), true)
        );
        assert_quiet(ws).await;
    }

    // Each sees its own as `me`.
    assert_eq!(
        bob.message(&m.id).await.unwrap().reactions,
        [r("👍", 2, true), r("👍🏽", 1, true)]
    );
    assert_eq!(
        carol.message(&m.id).await.unwrap().reactions,
        [r("👍", 2, true), r("👍🏽", 1, false)]
    );
    let page = alice.messages(&g.id, &Default::default()).await.unwrap();
    assert_eq!(
        page.messages[0].reactions,
        [r("👍", 2, false), r("👍🏽", 1, false)]
    );
    let conv = bob.conversation(&g.id).await.unwrap();
    assert_eq!(
        conv.last_message.unwrap().reactions,
        [r("👍", 2, true), r("👍🏽", 1, true)]
    );
    let sync = carol.sync(Some("0"), None, None).await.unwrap();
    assert_eq!(
        sync.events
            .iter()
            .filter(|e| matches!(e.event, EventData::ReactionChanged(_)))
            .count(),
        3
    );

    // Who reacted, oldest first.
    let who = alice.reactions(&m.id, None, None, None).await.unwrap();
    let list: Vec<(&str, &str)> = who
        .reactions
        .iter()
        .map(|r| (r.user_id.as_str(), r.emoji.as_str()))
        .collect();
    assert_eq!(
        list,
        [
            (b.id.as_str(), "👍"),
            (c.id.as_str(), "👍"),
            (b.id.as_str(), "👍🏽")
        ]
    );
    assert!(!who.has_more && who.next_cursor.is_none());
    who.reactions
        .iter()
        .for_each(|r| assert_timestamp(&r.created_at));
    let first = alice.reactions(&m.id, None, None, Some(2)).await.unwrap();
    assert_eq!(first.reactions, who.reactions[..2]);
    assert!(first.has_more);
    let rest = alice
        .reactions(&m.id, None, first.next_cursor.as_deref(), Some(2))
        .await
        .unwrap();
    assert_eq!(rest.reactions, who.reactions[2..]);
    assert!(!rest.has_more);
    let thumbs = alice
        .reactions(&m.id, Some("👍"), None, None)
        .await
        .unwrap();
    assert_eq!(thumbs.reactions.len(), 2);

    // Taken back, twice is once.
    for _ in 0..2 {
        assert_no_content(&bob.raw("DELETE", &path, None).await.unwrap());
    }
    assert_eq!(
        next_reaction(&mut carol_ws).await,
        (m.id.clone(), "👍".into(), 1, b.id.clone(), false)
    );
    assert_quiet(&mut carol_ws).await;
    assert_eq!(
        bob.message(&m.id).await.unwrap().reactions,
        [r("👍", 1, false), r("👍🏽", 1, true)]
    );
    let _ = a;
}

#[tokio::test]
async fn a_reaction_is_one_emoji_on_a_message_the_caller_sees() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (eve, _) = app.user("eve").await;
    let dm = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&dm.id, "hi").await.unwrap();
    for bad in ["a", "%F0%9F%91%8D%F0%9F%91%8D", "%3A%2B1%3A", "1", "%20"] {
        let resp = bob
            .raw(
                "PUT",
                &format!("/api/v1/messages/{}/reactions/{bad}", m.id),
                None,
            )
            .await
            .unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }
    // Not the caller's to see: 404, as for a message that does not exist.
    assert_api_error(eve.add_reaction(&m.id, "👍").await, 404, "not_found");
    assert_api_error(
        eve.reactions(&m.id, None, None, None).await,
        404,
        "not_found",
    );
    assert_api_error(
        bob.add_reaction("no-such-message", "👍").await,
        404,
        "not_found",
    );
    assert_api_error(
        bob.reactions(&m.id, None, Some("garbage"), None).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        bob.reactions(&m.id, None, None, Some(0)).await,
        400,
        "invalid_request",
    );
    // Reacting to one's own message is fine.
    alice.add_reaction(&m.id, "❤️").await.unwrap();
    assert_eq!(
        alice.message(&m.id).await.unwrap().reactions,
        [r("❤️", 1, true)]
    );
}

#[tokio::test]
async fn a_message_carries_at_most_twenty_distinct_emoji() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let dm = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&dm.id, "react to me").await.unwrap();
    let twenty_one = [
        "😀", "😂", "😍", "😎", "😢", "😡", "👍", "👎", "👏", "🙏", "🎉", "🔥", "❤️", "💯", "👀",
        "🤔", "😴", "🤝", "🚀", "✅", "🍕",
    ];
    for e in &twenty_one[..20] {
        alice.add_reaction(&m.id, e).await.unwrap();
    }
    assert_eq!(alice.message(&m.id).await.unwrap().reactions.len(), 20);
    assert_api_error(
        bob.add_reaction(&m.id, twenty_one[20]).await,
        400,
        "invalid_request",
    );
    // One of the twenty is still open to others.
    bob.add_reaction(&m.id, "🚀").await.unwrap();
    let page = bob.reactions(&m.id, None, None, Some(200)).await.unwrap();
    assert_eq!(page.reactions.len(), 21);
}

#[tokio::test]
async fn a_deleted_message_loses_its_reactions_and_takes_none() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let dm = alice.direct(&b.id).await.unwrap().value;
    let m = alice.send_text(&dm.id, "soon gone").await.unwrap();
    bob.add_reaction(&m.id, "👍").await.unwrap();
    alice.delete_message(&m.id).await.unwrap();
    let gone = bob.message(&m.id).await.unwrap();
    assert!(gone.deleted && gone.reactions.is_empty());
    assert!(
        bob.reactions(&m.id, None, None, None)
            .await
            .unwrap()
            .reactions
            .is_empty()
    );
    assert_api_error(bob.add_reaction(&m.id, "🎉").await, 409, "conflict");
    bob.remove_reaction(&m.id, "👍").await.unwrap();
}

/// The message of the next `message_updated` on `ws`.
async fn next_update(ws: &mut Socket) -> Message {
    match next_event(ws).await.event {
        EventData::MessageUpdated(m) => m,
        other => panic!("expected message_updated, got {other:?}"),
    }
}

#[tokio::test]
async fn pushed_messages_show_each_receiver_its_own_reactions() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let g = alice
        .create_group("g", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    let m = alice.send_text(&g.id, "typo").await.unwrap();
    bob.add_reaction(&m.id, "👍").await.unwrap();
    next_millisecond().await;
    carol.add_reaction(&m.id, "🎉").await.unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();
    let mut carol_ws = carol.connect(None).await.unwrap();
    let mut alice_ws = alice.connect(None).await.unwrap();

    alice.edit_message(&m.id, "fixed").await.unwrap();
    assert_eq!(
        next_update(&mut bob_ws).await.reactions,
        [r("👍", 1, true), r("🎉", 1, false)]
    );
    assert_eq!(
        next_update(&mut carol_ws).await.reactions,
        [r("👍", 1, false), r("🎉", 1, true)]
    );
    assert_eq!(
        next_update(&mut alice_ws).await.reactions,
        [r("👍", 1, false), r("🎉", 1, false)]
    );

    // A conversation_updated carries the last message as each member sees it.
    alice.rename(&g.id, "renamed").await.unwrap();
    for (ws, want) in [
        (&mut bob_ws, [r("👍", 1, true), r("🎉", 1, false)]),
        (&mut carol_ws, [r("👍", 1, false), r("🎉", 1, true)]),
        (&mut alice_ws, [r("👍", 1, false), r("🎉", 1, false)]),
    ] {
        match next_event(ws).await.event {
            EventData::ConversationUpdated(conv) => {
                assert_eq!(conv.last_message.unwrap().reactions, want);
                assert_eq!(conv.mention_count, 0);
            }
            other => panic!("expected conversation_updated, got {other:?}"),
        }
    }
    // A replay renders them the same way.
    let replay = bob.sync(Some("0"), None, None).await.unwrap();
    let edited = replay
        .events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            EventData::MessageUpdated(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(edited.reactions, [r("👍", 1, true), r("🎉", 1, false)]);
}

#[tokio::test]
async fn mentions_name_members_and_count_until_read() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let (_, d) = app.user("dave").await;
    let g = alice
        .create_group("g", &[b.id.as_str(), c.id.as_str()])
        .await
        .unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();

    // Members only, in member order; upper case and a full stop after the name are fine; the
    // address a@b.c is no mention.
    let m1 = alice
        .send_text(&g.id, "hi @Carol. and @bob, not @dave nor mail@bob.example")
        .await
        .unwrap();
    assert_eq!(m1.mentions, [b.id.clone(), c.id.clone()]);
    match next_event(&mut bob_ws).await.event {
        EventData::NewMessage(m) => assert_eq!(m.mentions, [b.id.clone(), c.id.clone()]),
        other => panic!("expected new_message, got {other:?}"),
    }
    let _ = d;
    assert_eq!(bob.conversation(&g.id).await.unwrap().mention_count, 1);
    assert_eq!(alice.conversation(&g.id).await.unwrap().mention_count, 0);

    // @all: from the owner (or an admin) everyone else; from a member no one.
    let m2 = carol.send_text(&g.id, "@all hello").await.unwrap();
    assert!(m2.mentions.is_empty());
    let m3 = alice.send_text(&g.id, "@all meeting").await.unwrap();
    assert_eq!(m3.mentions, [b.id.clone(), c.id.clone()]);
    let listed = bob.conversations(None, None).await.unwrap();
    assert_eq!(listed.conversations[0].mention_count, 2);
    // Reading clears them.
    bob.mark_read(&m3.id).await.unwrap();
    assert_eq!(bob.conversation(&g.id).await.unwrap().mention_count, 0);
    // Carol read up to her own message when she sent it: only the @all after it counts.
    assert_eq!(carol.conversation(&g.id).await.unwrap().mention_count, 1);

    // An edit names whom the new text names.
    let edited = alice
        .edit_message(&m1.id, "sorry, only @bob")
        .await
        .unwrap();
    assert_eq!(edited.mentions, [b.id.as_str()]);
    assert_eq!(bob.message(&m1.id).await.unwrap().mentions, [b.id.as_str()]);
    // Deleted: mentions no one.
    alice.delete_message(&m3.id).await.unwrap();
    assert_eq!(carol.conversation(&g.id).await.unwrap().mention_count, 0);
    assert!(carol.message(&m3.id).await.unwrap().mentions.is_empty());

    // A direct conversation: the other one, never @all; oneself never.
    let dm = alice.direct(&b.id).await.unwrap().value;
    let m4 = alice.send_text(&dm.id, "@all @bob @alice").await.unwrap();
    assert_eq!(m4.mentions, [b.id.as_str()]);
    let _ = a;
}
