//! Blocking: `PUT`/`DELETE /users/me/blocks/{user_id}` and `GET /users/me/blocks`. A block
//! closes the pair's direct conversation to both (opening it, sending into it: `403`; its
//! history stays readable), withholds the blocker's typing and presence from the blocked one
//! (in groups too), and hides the blocker from the blocked one's search. Groups are otherwise
//! unaffected. A deleted account cannot be written to directly either.

use std::time::Duration;

use natter_client::{Ephemeral, EventData, MessageQuery, ServerFrame, Socket};

use crate::helpers::*;

/// Presence with a short debounce, so that the tests wait little.
const DEBOUNCE: Duration = Duration::from_millis(300);

fn ids(list: &natter_client::UserList) -> Vec<&str> {
    list.users.iter().map(|u| u.id.as_str()).collect()
}

fn names(list: &natter_client::UserList) -> Vec<&str> {
    list.users.iter().map(|u| u.username.as_str()).collect()
}

/// The next typing frame on `socket` (presence aside): (started, conversation, typer).
async fn next_typing(socket: &mut Socket) -> (bool, String, String) {
    match next_frame(socket).await {
        ServerFrame::Ephemeral(Ephemeral::TypingStart(d)) => (true, d.conversation_id, d.user_id),
        ServerFrame::Ephemeral(Ephemeral::TypingStop(d)) => (false, d.conversation_id, d.user_id),
        other => panic!("expected a typing frame, got {other:?}"),
    }
}

/// The next frame on `socket` must be a presence update; returns (whose, online, last seen).
async fn next_presence(socket: &mut Socket) -> (String, bool, Option<String>) {
    match next_any(socket).await {
        ServerFrame::Ephemeral(Ephemeral::PresenceUpdate(p)) => {
            (p.user_id, p.online, p.last_seen_at)
        }
        other => panic!("expected presence_update, got {other:?}"),
    }
}

#[tokio::test]
async fn blocking_and_unblocking_are_idempotent_and_listed() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (_, carol) = app.user("carol").await;
    assert!(alice.blocked_users().await.unwrap().users.is_empty());

    let path = format!("/api/v1/users/me/blocks/{}", bob.id);
    for _ in 0..2 {
        assert_no_content(&alice.raw("PUT", &path, None).await.unwrap());
    }
    alice.block_user(&carol.id).await.unwrap();
    let list = alice.blocked_users().await.unwrap();
    assert_eq!(names(&list), ["bob", "carol"]);
    // A plain User, without presence.
    assert!(
        list.users
            .iter()
            .all(|u| !u.online && u.last_seen_at.is_none())
    );
    let resp = alice
        .raw("GET", "/api/v1/users/me/blocks", None)
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_json_content_type(&resp);

    for _ in 0..2 {
        assert_no_content(&alice.raw("DELETE", &path, None).await.unwrap());
    }
    assert_eq!(
        ids(&alice.blocked_users().await.unwrap()),
        [carol.id.as_str()]
    );
}

#[tokio::test]
async fn blocking_oneself_is_invalid_an_unknown_user_not_found_and_strangers_unauthorized() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;

    assert_api_error(alice.block_user(&a.id).await, 400, "invalid_request");
    assert_api_error(alice.unblock_user(&a.id).await, 400, "invalid_request");
    for bad in ["no-such-user", "0190f0f0-0000-7000-8000-000000000000", "me"] {
        assert_api_error(alice.block_user(bad).await, 404, "not_found");
        assert_api_error(alice.unblock_user(bad).await, 404, "not_found");
    }
    let long = "x".repeat(10_000);
    let resp = alice
        .raw("PUT", &format!("/api/v1/users/me/blocks/{long}"), None)
        .await
        .unwrap();
    assert!(
        resp.status == 404 || resp.status == 414 || resp.status == 400,
        "{}",
        resp.status
    );
    assert!(alice.blocked_users().await.unwrap().users.is_empty());

    let anon = app.anon();
    let path = format!("/api/v1/users/me/blocks/{}", bob.id);
    for method in ["PUT", "DELETE"] {
        assert_error_response(
            &anon.raw(method, &path, None).await.unwrap(),
            401,
            "unauthorized",
        );
    }
    let resp = anon
        .raw("GET", "/api/v1/users/me/blocks", None)
        .await
        .unwrap();
    assert_error_response(&resp, 401, "unauthorized");
}

#[tokio::test]
async fn a_block_closes_the_direct_conversation_to_both_and_keeps_its_history() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let dm = alice.direct(&b.id).await.unwrap().value.id;
    alice.send_text(&dm, "hi bob").await.unwrap();
    bob.send_text(&dm, "hi alice").await.unwrap();

    alice.block_user(&b.id).await.unwrap();
    // The blocked one cannot send nor open it again.
    assert_api_error(bob.send_text(&dm, "hello?").await, 403, "forbidden");
    assert_api_error(bob.direct(&a.id).await, 403, "forbidden");
    // Nor can the blocker, until it unblocks; it is told so.
    match alice.send_text(&dm, "you there?").await {
        Err(natter_client::Error::Api {
            status: 403,
            code,
            message,
        }) => {
            assert_eq!(code, "forbidden");
            assert!(message.contains("unblock"), "{message}");
        }
        other => panic!("expected 403 forbidden, got {other:?}"),
    }
    assert_api_error(alice.direct(&b.id).await, 403, "forbidden");
    // Over the WebSocket too.
    let mut wb = bob.connect(None).await.unwrap();
    let req = natter_client::SendMessageRequest {
        text: Some("over the socket".into()),
        ..Default::default()
    };
    wb.send_message(Some("r1"), &dm, req).await.unwrap();
    match next_frame(&mut wb).await {
        ServerFrame::Control(natter_client::ControlFrame::Error { reference, error }) => {
            assert_eq!(reference.as_deref(), Some("r1"));
            assert_eq!(error.code, "forbidden");
        }
        other => panic!("expected an error frame, got {other:?}"),
    }

    // The history stays readable to both, with nothing of the refused sends.
    for who in [&alice, &bob] {
        assert_eq!(who.conversation(&dm).await.unwrap().last_seq, 2);
        let page = who.messages(&dm, &MessageQuery::default()).await.unwrap();
        let texts: Vec<_> = page
            .messages
            .iter()
            .filter_map(|m| m.text.as_deref())
            .collect();
        assert_eq!(texts, ["hi bob", "hi alice"]);
    }

    alice.unblock_user(&b.id).await.unwrap();
    let again = bob.direct(&a.id).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.id, dm);
    bob.send_text(&dm, "back").await.unwrap();
    alice.send_text(&dm, "welcome back").await.unwrap();
}

#[tokio::test]
async fn a_block_either_way_refuses_a_new_direct_conversation() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    bob.block_user(&a.id).await.unwrap();
    assert_api_error(alice.direct(&b.id).await, 403, "forbidden");
    assert_api_error(bob.direct(&a.id).await, 403, "forbidden");
    assert!(
        alice
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
    bob.unblock_user(&a.id).await.unwrap();
    assert!(alice.direct(&b.id).await.unwrap().created);
}

#[tokio::test]
async fn groups_are_not_affected_by_a_block() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let g = alice.create_group("club", &[&b.id]).await.unwrap().id;
    alice.block_user(&b.id).await.unwrap();
    bob.block_user(&a.id).await.unwrap();

    let mut wa = alice.connect(None).await.unwrap();
    let m = bob.send_text(&g, "still in the club").await.unwrap();
    match next_event(&mut wa).await.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected new_message, got {other:?}"),
    }
    alice.send_text(&g, "so am I").await.unwrap();
}

#[tokio::test]
async fn the_blocked_one_gets_no_typing_of_the_blocker_in_groups_or_direct() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let g = alice
        .create_group("club", &[&b.id, &c.id])
        .await
        .unwrap()
        .id;
    alice.block_user(&b.id).await.unwrap();
    let mut wa = alice.connect(None).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let mut wc = carol.connect(None).await.unwrap();

    // Alice types: carol hears of it; bob's next typing frame is carol's, never alice's.
    wa.typing(&g, true).await.unwrap();
    assert_eq!(next_typing(&mut wc).await, (true, g.clone(), a.id.clone()));
    wc.typing(&g, true).await.unwrap();
    assert_eq!(next_typing(&mut wb).await, (true, g.clone(), c.id.clone()));
    // The stops alike.
    wa.typing(&g, false).await.unwrap();
    assert_eq!(next_typing(&mut wc).await, (false, g.clone(), a.id.clone()));
    wc.typing(&g, false).await.unwrap();
    assert_eq!(next_typing(&mut wb).await, (false, g.clone(), c.id.clone()));
    // The other way round is not blocked: alice hears carol's typing, then bob's.
    wb.typing(&g, true).await.unwrap();
    assert_eq!(next_typing(&mut wa).await, (true, g.clone(), c.id.clone()));
    assert_eq!(next_typing(&mut wa).await, (false, g.clone(), c.id.clone()));
    assert_eq!(next_typing(&mut wa).await, (true, g.clone(), b.id.clone()));

    // Unblocked: bob hears alice again.
    alice.unblock_user(&b.id).await.unwrap();
    wa.typing(&g, true).await.unwrap();
    assert_eq!(next_typing(&mut wb).await, (true, g.clone(), a.id.clone()));
}

#[tokio::test]
async fn the_blocked_one_sees_no_presence_of_the_blocker() {
    let app = spawn_app_with(|c| c.presence_debounce = DEBOUNCE).await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, d) = app.user("dave").await;
    let g = alice.create_group("club", &[&b.id]).await.unwrap();
    carol.direct(&a.id).await.unwrap();
    bob.direct(&d.id).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let mut wc = carol.connect(None).await.unwrap();
    let wa = alice.connect(None).await.unwrap();
    // Before the block, bob sees alice come online, as carol does.
    assert_eq!(next_presence(&mut wb).await.0, a.id);
    assert_eq!(next_presence(&mut wc).await.0, a.id);
    assert!(bob.user(&a.id).await.unwrap().online);

    // Blocked: bob is told she is no longer shown to him, then hears nothing more of her.
    alice.block_user(&b.id).await.unwrap();
    assert_eq!(next_presence(&mut wb).await, (a.id.clone(), false, None));
    let seen = bob.user(&a.id).await.unwrap();
    assert!(!seen.online);
    assert_eq!(seen.last_seen_at, None);
    assert!(carol.user(&a.id).await.unwrap().online);

    // Alice goes offline: carol hears it; bob's next presence frame is dave's, not hers.
    wa.close().await;
    let (who, online, last_seen) = next_presence(&mut wc).await;
    assert_eq!((who.as_str(), online), (a.id.as_str(), false));
    assert!(last_seen.is_some());
    let wd = dave.connect(None).await.unwrap();
    let (who, online, _) = next_presence(&mut wb).await;
    assert_eq!((who.as_str(), online), (d.id.as_str(), true));
    // And back online: the same.
    let _wa = alice.connect(None).await.unwrap();
    assert!(next_presence(&mut wc).await.1);
    wd.close().await;
    let (who, online, _) = next_presence(&mut wb).await;
    assert_eq!((who.as_str(), online), (d.id.as_str(), false));
    let seen = bob.user(&a.id).await.unwrap();
    assert!(!seen.online && seen.last_seen_at.is_none());
    // The group itself is unaffected.
    assert_eq!(bob.conversation(&g.id).await.unwrap().members.len(), 2);

    // Unblocked: bob is told her presence as it is, and sees it again.
    alice.unblock_user(&b.id).await.unwrap();
    let (who, online, _) = next_presence(&mut wb).await;
    assert_eq!((who.as_str(), online), (a.id.as_str(), true));
    assert!(bob.user(&a.id).await.unwrap().online);
}

#[tokio::test]
async fn search_does_not_find_the_blocker_until_it_unblocks() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    app.user("alina").await;

    alice.block_user(&b.id).await.unwrap();
    assert_eq!(
        names(&bob.search_users("ali", None).await.unwrap()),
        ["alina"]
    );
    assert_eq!(
        names(&carol.search_users("ali", None).await.unwrap()),
        ["alice", "alina"]
    );
    // The blocker still finds the blocked one.
    assert_eq!(
        names(&alice.search_users("bob", None).await.unwrap()),
        ["bob"]
    );
    // And bob can still look her up by id, without presence.
    assert!(!bob.user(&a.id).await.unwrap().online);

    alice.unblock_user(&b.id).await.unwrap();
    assert_eq!(
        names(&bob.search_users("ali", None).await.unwrap()),
        ["alice", "alina"]
    );
}

#[tokio::test]
async fn a_deleted_account_cannot_be_written_to_directly() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let dm = alice.direct(&b.id).await.unwrap().value.id;
    alice.send_text(&dm, "before").await.unwrap();

    // Account deletion is not this feature's: the row is marked as it will mark it.
    app.raw_sql(&format!(
        "UPDATE users SET deleted_at = 1 WHERE id = '{}'",
        b.id
    ))
    .await;
    assert_api_error(alice.send_text(&dm, "hello?").await, 403, "forbidden");
    assert_api_error(alice.direct(&b.id).await, 403, "forbidden");
    assert_api_error(carol.direct(&b.id).await, 403, "forbidden");
    // The history stays.
    assert_eq!(alice.conversation(&dm).await.unwrap().last_seq, 1);
}
