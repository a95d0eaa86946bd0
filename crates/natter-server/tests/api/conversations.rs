//! Conversations: direct and group, listing, renaming, members, roles, and who may see what.

use natter_client::{CreateConversationRequest, MessageQuery};
use serde_json::json;

use crate::helpers::*;

fn group_request(name: Option<&str>, member_ids: Option<Vec<String>>) -> CreateConversationRequest {
    CreateConversationRequest {
        kind: "group".into(),
        name: name.map(Into::into),
        member_ids,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_direct_conversation_is_created_once_then_returned() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;

    let first = alice.direct(&b.id).await.unwrap();
    assert!(first.created, "the first request is 201");
    let conv = first.value;
    assert_eq!(conv.kind, "direct");
    assert_eq!(conv.name, None);
    assert_eq!(member_ids(&conv), sorted(&[&a.id, &b.id]));
    assert!(conv.members.iter().all(|m| m.role == "member"), "{conv:?}");
    conv.members
        .iter()
        .for_each(|m| assert_timestamp(&m.joined_at));
    assert_timestamp(&conv.created_at);
    assert_eq!(conv.last_message_at, conv.created_at);
    assert_eq!(conv.last_seq, 0);
    assert_eq!(conv.last_message, None);
    assert_eq!(conv.unread_count, 0);
    assert_eq!(conv.read_seq, 0);

    let again = alice.direct(&b.id).await.unwrap();
    assert!(!again.created, "an existing direct conversation is 200");
    assert_eq!(again.value.id, conv.id);

    let from_bob = bob.direct(&a.id).await.unwrap();
    assert!(
        !from_bob.created,
        "the same conversation from the other side is 200"
    );
    assert_eq!(from_bob.value.id, conv.id);

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
async fn the_create_status_is_201_then_200() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let body = json!({"type": "direct", "user_id": b.id});

    let first = alice
        .raw_json("POST", "/api/v1/conversations", &body)
        .await
        .unwrap();
    let second = alice
        .raw_json("POST", "/api/v1/conversations", &body)
        .await
        .unwrap();

    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(first.json()["id"], second.json()["id"]);
}

#[tokio::test]
async fn a_direct_conversation_with_oneself_is_400() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;

    assert_api_error(alice.direct(&a.id).await, 400, "invalid_request");
    assert!(
        alice
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
}

#[tokio::test]
async fn a_direct_conversation_with_an_unknown_user_is_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    assert_api_error(
        alice.direct("0190f3a8-7c1d-7000-8000-000000000000").await,
        400,
        "invalid_request",
    );
    assert_api_error(alice.direct("not-an-id").await, 400, "invalid_request");
    let missing = alice
        .create_conversation(&CreateConversationRequest {
            kind: "direct".into(),
            ..Default::default()
        })
        .await;
    assert_api_error(missing, 400, "invalid_request");
}

#[tokio::test]
async fn an_unknown_conversation_type_is_400() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;

    let resp = alice
        .create_conversation(&CreateConversationRequest {
            kind: "channel".into(),
            user_id: Some(b.id.clone()),
            name: Some("x".into()),
            member_ids: Some(vec![b.id.clone()]),
        })
        .await;

    assert_api_error(resp, 400, "invalid_request");
}

#[tokio::test]
async fn the_group_creator_is_owner_and_the_others_members() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;

    let created = alice
        .create_conversation(&group_request(
            Some("team"),
            Some(vec![b.id.clone(), a.id.clone(), c.id.clone()]),
        ))
        .await
        .unwrap();

    assert!(created.created, "a new group is 201");
    let group = created.value;
    assert_eq!(group.kind, "group");
    assert_eq!(group.name.as_deref(), Some("team"));
    assert_eq!(
        group.members.len(),
        3,
        "the creator's own id is ignored: {group:?}"
    );
    assert_eq!(member_ids(&group), sorted(&[&a.id, &b.id, &c.id]));
    assert_eq!(role_of(&group, &a.id), Some("owner"));
    assert_eq!(role_of(&group, &b.id), Some("member"));
    assert_eq!(role_of(&group, &c.id), Some("member"));
    assert_eq!(group.last_seq, 0);
    assert_eq!(group.last_message, None);
    assert_eq!(group.last_message_at, group.created_at);
    assert_eq!(group.unread_count, 0);
}

#[tokio::test]
async fn a_group_may_start_with_only_its_owner() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;

    let group = alice.create_group("me, myself", &[]).await.unwrap();

    assert_eq!(group.members.len(), 1);
    assert_eq!(role_of(&group, &a.id), Some("owner"));
}

#[tokio::test]
async fn a_group_with_an_unknown_member_is_400_and_not_created() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;

    let resp = alice
        .create_group("team", &[&b.id, "0190f3a8-7c1d-7000-8000-000000000000"])
        .await;

    assert_api_error(resp, 400, "invalid_request");
    assert!(
        alice
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
}

#[tokio::test]
async fn a_group_needs_a_name_and_member_ids() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;

    let no_name = alice
        .create_conversation(&group_request(None, Some(vec![b.id.clone()])))
        .await;
    assert_api_error(no_name, 400, "invalid_request");

    let no_members = alice
        .create_conversation(&group_request(Some("team"), None))
        .await;
    assert_api_error(no_members, 400, "invalid_request");

    let blank_name = alice
        .create_conversation(&group_request(Some("   "), Some(vec![])))
        .await;
    assert_api_error(blank_name, 400, "invalid_request");

    assert!(
        alice
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
}

#[tokio::test]
async fn conversations_are_listed_newest_activity_first() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;

    let first = alice.create_group("first", &[&b.id]).await.unwrap();
    next_millisecond().await;
    let second = alice.create_group("second", &[&b.id]).await.unwrap();
    next_millisecond().await;
    let third = alice.create_group("third", &[&b.id]).await.unwrap();
    next_millisecond().await;
    let message = bob.send_text(&first.id, "bump").await.unwrap();

    let list = alice.conversations(None, None).await.unwrap().conversations;
    let ids: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [&first.id, &third.id, &second.id]);
    assert_eq!(list[0].last_message_at, message.created_at);
    assert_eq!(list[0].last_seq, 1);
    assert_eq!(
        list[0].last_message.as_ref().map(|m| &m.id),
        Some(&message.id)
    );
    assert_eq!(list[1].last_message_at, third.created_at);
    assert_eq!(list[2].last_message_at, second.created_at);

    let one = alice
        .conversations(Some(1), None)
        .await
        .unwrap()
        .conversations;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, first.id);

    // `before` keeps those strictly older.
    let older = alice
        .conversations(None, Some(&list[1].last_message_at))
        .await
        .unwrap()
        .conversations;
    let ids: Vec<&str> = older.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [&second.id]);

    let page = alice
        .conversations(Some(1), Some(&list[0].last_message_at))
        .await
        .unwrap()
        .conversations;
    let ids: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [&third.id]);

    let none = alice
        .conversations(None, Some(&list[2].last_message_at))
        .await
        .unwrap()
        .conversations;
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_conversation_list_rejects_bad_parameters() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    assert_api_error(
        alice.conversations(Some(0), None).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.conversations(Some(201), None).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.conversations(None, Some("yesterday")).await,
        400,
        "invalid_request",
    );
    alice.conversations(Some(200), None).await.unwrap();
}

#[tokio::test]
async fn the_list_holds_only_the_callers_conversations() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let ab = alice.direct(&b.id).await.unwrap().value;
    bob.direct(&c.id).await.unwrap();

    let list = alice.conversations(None, None).await.unwrap().conversations;

    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, ab.id);
    assert_eq!(
        carol
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .len(),
        1
    );
}

#[tokio::test]
async fn a_member_gets_the_conversation() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();

    let seen = bob.conversation(&group.id).await.unwrap();

    assert_eq!(seen.id, group.id);
    assert_eq!(seen.name.as_deref(), Some("team"));
    assert_eq!(seen.members, group.members);
    assert_eq!(seen.created_at, group.created_at);
}

#[tokio::test]
async fn an_unknown_or_malformed_conversation_id_is_404() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;

    assert_api_error(
        alice
            .conversation("0190f3a8-7c1d-7000-8000-000000000000")
            .await,
        404,
        "not_found",
    );
    assert_api_error(alice.conversation("not-an-id").await, 404, "not_found");
    assert_api_error(
        alice.send_text("not-an-id", "hello").await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn owner_and_admin_rename_a_group_but_a_member_cannot() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    alice.set_role(&group.id, &b.id, "admin").await.unwrap();

    let renamed = alice.rename(&group.id, "by owner").await.unwrap();
    assert_eq!(renamed.id, group.id);
    assert_eq!(renamed.name.as_deref(), Some("by owner"));

    let renamed = bob.rename(&group.id, "by admin").await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("by admin"));

    assert_api_error(carol.rename(&group.id, "by member").await, 403, "forbidden");
    assert_api_error(alice.rename(&group.id, "  ").await, 400, "invalid_request");

    let now = carol.conversation(&group.id).await.unwrap();
    assert_eq!(now.name.as_deref(), Some("by admin"));
}

#[tokio::test]
async fn a_direct_conversation_cannot_be_renamed() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let direct = alice.direct(&b.id).await.unwrap().value;

    assert_api_error(alice.rename(&direct.id, "us").await, 400, "invalid_request");
    assert_eq!(alice.conversation(&direct.id).await.unwrap().name, None);
}

#[tokio::test]
async fn owner_and_admin_add_members_but_a_member_cannot() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let (_, d) = app.user("dave").await;
    let (_, e) = app.user("erin").await;
    let (_, f) = app.user("frank").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    alice.set_role(&group.id, &b.id, "admin").await.unwrap();

    let after = alice.add_member(&group.id, &d.id, None).await.unwrap();
    assert_eq!(after.id, group.id);
    assert_eq!(role_of(&after, &d.id), Some("member"));
    assert_eq!(after.members.len(), 4);

    let after = bob
        .add_member(&group.id, &e.id, Some("admin"))
        .await
        .unwrap();
    assert_eq!(role_of(&after, &e.id), Some("admin"));
    assert_eq!(after.members.len(), 5);

    assert_api_error(
        carol.add_member(&group.id, &f.id, None).await,
        403,
        "forbidden",
    );
    assert_api_error(
        alice.add_member(&group.id, &c.id, None).await,
        409,
        "conflict",
    );
    assert_api_error(
        alice.add_member(&group.id, &f.id, Some("owner")).await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.add_member(&group.id, &f.id, Some("king")).await,
        400,
        "invalid_request",
    );

    let now = alice.conversation(&group.id).await.unwrap();
    assert_eq!(now.members.len(), 5);
    assert_eq!(role_of(&now, &f.id), None);
}

#[tokio::test]
async fn a_direct_conversation_takes_no_members() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let direct = alice.direct(&b.id).await.unwrap().value;

    assert_api_error(
        alice.add_member(&direct.id, &c.id, None).await,
        400,
        "invalid_request",
    );
    assert_eq!(
        alice.conversation(&direct.id).await.unwrap().members.len(),
        2
    );
}

#[tokio::test]
async fn adding_past_the_member_limit_is_400() {
    let app = spawn_app_with(|cfg| cfg.limits.group_members_max = 3).await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let (_, d) = app.user("dave").await;

    // A group of exactly the limit is fine, one more is not.
    let group = alice.create_group("three", &[&b.id]).await.unwrap();
    let full = alice.add_member(&group.id, &c.id, None).await.unwrap();
    assert_eq!(full.members.len(), 3);
    assert_api_error(
        alice.add_member(&group.id, &d.id, None).await,
        400,
        "invalid_request",
    );
    assert_eq!(
        alice.conversation(&group.id).await.unwrap().members.len(),
        3
    );

    let at_limit = alice
        .create_group("at limit", &[&b.id, &c.id])
        .await
        .unwrap();
    assert_eq!(at_limit.members.len(), 3);
    assert_api_error(
        alice.create_group("too many", &[&b.id, &c.id, &d.id]).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn an_owner_or_admin_removes_a_member() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let (_, d) = app.user("dave").await;
    let group = alice
        .create_group("team", &[&b.id, &c.id, &d.id])
        .await
        .unwrap();
    alice.set_role(&group.id, &b.id, "admin").await.unwrap();

    let resp = alice
        .raw(
            "DELETE",
            &format!("/api/v1/conversations/{}/members/{}", group.id, c.id),
            None,
        )
        .await
        .unwrap();
    assert_no_content(&resp);
    bob.remove_member(&group.id, &d.id).await.unwrap();

    let now = alice.conversation(&group.id).await.unwrap();
    assert_eq!(member_ids(&now), sorted(&[&a.id, &b.id]));
}

#[tokio::test]
async fn an_admin_cannot_remove_the_owner() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    alice.set_role(&group.id, &b.id, "admin").await.unwrap();

    assert_api_error(bob.remove_member(&group.id, &a.id).await, 403, "forbidden");
    let now = alice.conversation(&group.id).await.unwrap();
    assert_eq!(role_of(&now, &a.id), Some("owner"));
}

#[tokio::test]
async fn a_member_cannot_remove_others() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();

    assert_api_error(bob.remove_member(&group.id, &c.id).await, 403, "forbidden");
    assert_api_error(bob.remove_member(&group.id, &a.id).await, 403, "forbidden");
    assert_eq!(
        alice.conversation(&group.id).await.unwrap().members.len(),
        3
    );
}

#[tokio::test]
async fn a_member_leaves_with_me() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();

    let resp = bob
        .raw(
            "DELETE",
            &format!("/api/v1/conversations/{}/members/me", group.id),
            None,
        )
        .await
        .unwrap();

    assert_no_content(&resp);
    assert_api_error(bob.conversation(&group.id).await, 404, "not_found");
    assert!(
        bob.conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
    let now = alice.conversation(&group.id).await.unwrap();
    assert_eq!(member_ids(&now), sorted(&[&a.id]));
}

#[tokio::test]
async fn members_cannot_leave_a_direct_conversation() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let direct = alice.direct(&b.id).await.unwrap().value;

    assert_api_error(
        alice.remove_member(&direct.id, "me").await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.remove_member(&direct.id, &b.id).await,
        400,
        "invalid_request",
    );
    assert_eq!(
        alice.conversation(&direct.id).await.unwrap().members.len(),
        2
    );
}

#[tokio::test]
async fn when_the_owner_leaves_the_longest_standing_admin_becomes_owner() {
    let app = spawn_app().await;
    // Registered in join order, so that any tie in join times breaks the same way.
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let (_, d) = app.user("dave").await;
    let (_, e) = app.user("erin").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    alice.send_text(&group.id, "one").await.unwrap();
    alice.add_member(&group.id, &c.id, None).await.unwrap();
    alice.send_text(&group.id, "two").await.unwrap();
    alice
        .add_member(&group.id, &d.id, Some("admin"))
        .await
        .unwrap();
    alice.send_text(&group.id, "three").await.unwrap();
    alice
        .add_member(&group.id, &e.id, Some("admin"))
        .await
        .unwrap();

    alice.remove_member(&group.id, "me").await.unwrap();

    let now = bob.conversation(&group.id).await.unwrap();
    assert_eq!(now.members.len(), 4);
    assert_eq!(role_of(&now, &d.id), Some("owner"), "{now:?}");
    assert_eq!(role_of(&now, &e.id), Some("admin"));
    assert_eq!(role_of(&now, &b.id), Some("member"));
    assert_eq!(role_of(&now, &c.id), Some("member"));
    assert_eq!(now.members.iter().filter(|m| m.role == "owner").count(), 1);
    assert_api_error(alice.conversation(&group.id).await, 404, "not_found");
}

#[tokio::test]
async fn when_the_owner_leaves_without_admins_the_longest_standing_member_becomes_owner() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let (_, d) = app.user("dave").await;
    let group = alice.create_group("team", &[]).await.unwrap();
    alice.add_member(&group.id, &b.id, None).await.unwrap();
    alice.send_text(&group.id, "one").await.unwrap();
    alice.add_member(&group.id, &c.id, None).await.unwrap();
    alice.send_text(&group.id, "two").await.unwrap();
    alice.add_member(&group.id, &d.id, None).await.unwrap();

    alice.remove_member(&group.id, "me").await.unwrap();

    let now = carol.conversation(&group.id).await.unwrap();
    assert_eq!(now.members.len(), 3);
    assert_eq!(role_of(&now, &b.id), Some("owner"), "{now:?}");
    assert_eq!(role_of(&now, &c.id), Some("member"));
    assert_eq!(role_of(&now, &d.id), Some("member"));
}

#[tokio::test]
async fn the_new_owner_has_the_owners_powers() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();
    alice.remove_member(&group.id, "me").await.unwrap();

    let after = bob.set_role(&group.id, &c.id, "admin").await.unwrap();

    assert_eq!(role_of(&after, &b.id), Some("owner"));
    assert_eq!(role_of(&after, &c.id), Some("admin"));
}

#[tokio::test]
async fn when_the_last_member_leaves_the_group_is_gone() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let message = alice.send_text(&group.id, "bye").await.unwrap();

    bob.remove_member(&group.id, "me").await.unwrap();
    alice.remove_member(&group.id, "me").await.unwrap();

    assert_api_error(alice.conversation(&group.id).await, 404, "not_found");
    assert_api_error(alice.message(&message.id).await, 404, "not_found");
    assert_api_error(bob.conversation(&group.id).await, 404, "not_found");
    assert!(
        alice
            .conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
}

#[tokio::test]
async fn only_the_owner_sets_roles() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id, &c.id]).await.unwrap();

    let after = alice.set_role(&group.id, &b.id, "admin").await.unwrap();
    assert_eq!(after.id, group.id);
    assert_eq!(role_of(&after, &b.id), Some("admin"));

    assert_api_error(
        bob.set_role(&group.id, &c.id, "admin").await,
        403,
        "forbidden",
    );
    assert_api_error(
        carol.set_role(&group.id, &c.id, "admin").await,
        403,
        "forbidden",
    );
    assert_api_error(
        carol.set_role(&group.id, &b.id, "member").await,
        403,
        "forbidden",
    );
    assert_api_error(
        alice.set_role(&group.id, &c.id, "owner").await,
        400,
        "invalid_request",
    );
    assert_api_error(
        alice.set_role(&group.id, &c.id, "king").await,
        400,
        "invalid_request",
    );

    let after = alice.set_role(&group.id, &b.id, "member").await.unwrap();
    assert_eq!(role_of(&after, &b.id), Some("member"));
    let now = carol.conversation(&group.id).await.unwrap();
    assert_eq!(role_of(&now, &a.id), Some("owner"));
    assert_eq!(role_of(&now, &b.id), Some("member"));
    assert_eq!(role_of(&now, &c.id), Some("member"));
}

#[tokio::test]
async fn a_non_member_gets_404_for_the_conversation_and_its_messages() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (eve, e) = app.user("eve").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let direct = alice.direct(&b.id).await.unwrap().value;
    let in_group = alice.send_text(&group.id, "secret").await.unwrap();
    let in_direct = alice.send_text(&direct.id, "secret").await.unwrap();

    for (conv, message) in [(&group.id, &in_group.id), (&direct.id, &in_direct.id)] {
        assert_api_error(eve.conversation(conv).await, 404, "not_found");
        assert_api_error(
            eve.messages(conv, &MessageQuery::default()).await,
            404,
            "not_found",
        );
        assert_api_error(eve.send_text(conv, "hi").await, 404, "not_found");
        assert_api_error(eve.rename(conv, "mine").await, 404, "not_found");
        assert_api_error(eve.add_member(conv, &e.id, None).await, 404, "not_found");
        assert_api_error(eve.remove_member(conv, &b.id).await, 404, "not_found");
        assert_api_error(eve.set_role(conv, &b.id, "admin").await, 404, "not_found");
        assert_api_error(eve.message(message).await, 404, "not_found");
        assert_api_error(eve.edit_message(message, "x").await, 404, "not_found");
        assert_api_error(eve.delete_message(message).await, 404, "not_found");
        assert_api_error(eve.delete_message_for_me(message).await, 404, "not_found");
        assert_api_error(eve.mark_delivered(message).await, 404, "not_found");
        assert_api_error(eve.mark_read(message).await, 404, "not_found");
        assert_api_error(eve.receipts(message).await, 404, "not_found");
    }
    assert!(
        eve.conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
    assert_eq!(
        alice.conversation(&group.id).await.unwrap().members.len(),
        2
    );
    assert_eq!(
        alice.message(&in_group.id).await.unwrap().text.as_deref(),
        Some("secret")
    );
}

#[tokio::test]
async fn removed_member_cannot_read_history() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let message = alice.send_text(&group.id, "before").await.unwrap();
    assert_eq!(bob.message(&message.id).await.unwrap().id, message.id);

    alice.remove_member(&group.id, &b.id).await.unwrap();

    assert_api_error(bob.conversation(&group.id).await, 404, "not_found");
    assert_api_error(
        bob.messages(&group.id, &MessageQuery::default()).await,
        404,
        "not_found",
    );
    assert_api_error(bob.message(&message.id).await, 404, "not_found");
    assert_api_error(bob.receipts(&message.id).await, 404, "not_found");
    assert_api_error(
        bob.send_text(&group.id, "still here?").await,
        404,
        "not_found",
    );
    assert!(
        bob.conversations(None, None)
            .await
            .unwrap()
            .conversations
            .is_empty()
    );
}

#[tokio::test]
async fn a_member_who_left_cannot_read_history() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let message = bob.send_text(&group.id, "mine").await.unwrap();

    bob.remove_member(&group.id, "me").await.unwrap();

    assert_api_error(bob.message(&message.id).await, 404, "not_found");
    assert_api_error(
        bob.messages(&group.id, &MessageQuery::default()).await,
        404,
        "not_found",
    );
    assert_api_error(
        bob.edit_message(&message.id, "edit").await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_new_member_sees_only_messages_sent_after_joining() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let group = alice.create_group("team", &[&b.id]).await.unwrap();
    let mut before = Vec::new();
    for text in ["one", "two", "three"] {
        before.push(alice.send_text(&group.id, text).await.unwrap());
    }

    alice.add_member(&group.id, &c.id, None).await.unwrap();

    let page = carol
        .messages(&group.id, &MessageQuery::default())
        .await
        .unwrap();
    assert!(page.messages.is_empty(), "{page:?}");
    assert!(!page.has_more);
    let conv = carol.conversation(&group.id).await.unwrap();
    assert_eq!(conv.unread_count, 0);
    assert_eq!(
        conv.last_message, None,
        "history before joining is not shown"
    );
    for m in &before {
        assert_api_error(carol.message(&m.id).await, 404, "not_found");
    }

    let after = alice.send_text(&group.id, "four").await.unwrap();
    assert_eq!(after.seq, 4);

    let page = carol
        .messages(&group.id, &MessageQuery::default())
        .await
        .unwrap();
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [4]);
    assert!(!page.has_more);
    let from_start = carol
        .messages(
            &group.id,
            &MessageQuery {
                after: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let seqs: Vec<i64> = from_start.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [4]);
    let older = carol
        .messages(
            &group.id,
            &MessageQuery {
                before: Some(4),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(older.messages.is_empty());
    assert!(!older.has_more);
    assert_eq!(
        carol.message(&after.id).await.unwrap().text.as_deref(),
        Some("four")
    );
    let conv = carol.conversation(&group.id).await.unwrap();
    assert_eq!(conv.unread_count, 1);
    assert_eq!(conv.last_message.map(|m| m.id), Some(after.id));
}

/// `member_ids` is bounded before anything is done with it: at most as many ids as the largest
/// group has members, whatever they hold, so that no list costs more than reading it.
#[tokio::test]
async fn member_ids_are_at_most_1024_whatever_they_hold() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let (_, c) = app.user("carol").await;
    let create = |ids: Vec<String>| {
        let alice = &alice;
        async move {
            alice
                .raw_json(
                    "POST",
                    "/api/v1/conversations",
                    &json!({"type": "group", "name": "big", "member_ids": ids}),
                )
                .await
                .unwrap()
        }
    };

    // 1,024 ids, mostly the creator's own: fine, a group of three.
    let mut ids = vec![a.id.clone(); 1022];
    ids.extend([b.id.clone(), c.id.clone()]);
    let fine = create(ids.clone()).await;
    assert_eq!(fine.status, 201, "{}", fine.text());
    assert_eq!(fine.json()["members"].as_array().unwrap().len(), 3);

    // One id more is refused, though the group would still be three.
    ids.push(b.id.clone());
    assert_error_response(&create(ids).await, 400, "invalid_request");

    // 1,025 distinct ids: past the cap, refused for it before their users are looked up.
    let distinct: Vec<String> = (0..1025)
        .map(|i| format!("0190f0f0-0000-7000-8000-{i:012}"))
        .collect();
    let past = create(distinct).await;
    assert_error_response(&past, 400, "invalid_request");
    let message = past.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("1024"), "{message}");

    // A body of ids up to the 1 MiB limit is refused the same way.
    let id = "0190f0f0-0000-7000-8000-000000000000";
    let n = (1024 * 1024 - 100) / (id.len() + 3);
    let huge = create(vec![id.to_owned(); n]).await;
    assert_error_response(&huge, 400, "invalid_request");
    let distinct_huge: Vec<String> = (0..n)
        .map(|i| format!("0190f0f0-0000-7000-8000-{i:012}"))
        .collect();
    assert_error_response(&create(distinct_huge).await, 400, "invalid_request");
    // Only the first group was created.
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
