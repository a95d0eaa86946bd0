//! The admin API, disabled accounts, and account deletion.

use natter_client::{
    AdminCreateUserRequest, AdminUpdateUserRequest, Client, EventData, LoginRequest,
    RegisterRequest, SendMessageRequest, User,
};
use natter_core::MediaId;
use natter_server::config::Registration;
use serde_json::json;

use crate::helpers::*;

fn login_req(username: &str, password: &str) -> LoginRequest {
    LoginRequest {
        username: username.into(),
        password: password.into(),
        device_name: None,
    }
}

fn new_user(username: &str, admin: bool) -> AdminCreateUserRequest {
    AdminCreateUserRequest {
        username: username.into(),
        password: PASSWORD.into(),
        display_name: None,
        admin,
    }
}

fn disable(disabled: bool) -> AdminUpdateUserRequest {
    AdminUpdateUserRequest {
        disabled: Some(disabled),
        ..Default::default()
    }
}

fn make_admin(admin: bool) -> AdminUpdateUserRequest {
    AdminUpdateUserRequest {
        admin: Some(admin),
        ..Default::default()
    }
}

/// The first user of a fresh server (an admin) and another, plain user.
async fn root_and(app: &TestApp, other: &str) -> ((Client, User), (Client, User)) {
    let root = app.user("root").await;
    assert!(root.1.admin);
    let user = app.user(other).await;
    assert!(!user.1.admin);
    (root, user)
}

#[tokio::test]
async fn only_admins_reach_the_admin_endpoints() {
    let app = spawn_app().await;
    let ((root, _), (bob, bob_user)) = root_and(&app, "bob").await;
    let anon = app.anon();
    for c in [&bob, &anon] {
        let want = if c.token().is_some() {
            (403, "forbidden")
        } else {
            (401, "unauthorized")
        };
        assert_api_error(c.admin_users(None, None, None).await, want.0, want.1);
        assert_api_error(c.admin_stats().await, want.0, want.1);
        assert_api_error(
            c.admin_create_user(&new_user("carol", false)).await,
            want.0,
            want.1,
        );
        assert_api_error(
            c.admin_update_user(&bob_user.id, &make_admin(true)).await,
            want.0,
            want.1,
        );
    }
    // Nothing was created or changed by the refused calls.
    assert!(
        app.anon()
            .login(&login_req("carol", PASSWORD))
            .await
            .is_err()
    );
    assert!(!bob.me().await.unwrap().admin);
    // An admin demoted by another loses the endpoints at once.
    root.admin_update_user(&bob_user.id, &make_admin(true))
        .await
        .unwrap();
    bob.admin_stats().await.unwrap();
    root.admin_update_user(&bob_user.id, &make_admin(false))
        .await
        .unwrap();
    assert_api_error(bob.admin_stats().await, 403, "forbidden");
}

#[tokio::test]
async fn an_admin_creates_accounts_even_when_registration_is_closed() {
    let app = spawn_app_with(|c| c.registration = Registration::Closed).await;
    let (root, _) = app.user("root").await;
    let refused = app
        .anon()
        .register(&RegisterRequest {
            username: "carol".into(),
            password: PASSWORD.into(),
            display_name: None,
            invite: None,
        })
        .await;
    assert_api_error(refused, 403, "forbidden");

    let carol = root
        .admin_create_user(&AdminCreateUserRequest {
            display_name: Some("Carol C.".into()),
            ..new_user("carol", false)
        })
        .await
        .unwrap();
    assert_eq!(carol.username, "carol");
    assert_eq!(carol.display_name, "Carol C.");
    assert_eq!(carol.disabled, Some(false));
    assert!(!carol.admin);
    let (_, login) = app
        .anon()
        .login(&login_req("carol", PASSWORD))
        .await
        .unwrap();
    assert_eq!(login.user.id, carol.id);

    let dave = root
        .admin_create_user(&new_user("dave", true))
        .await
        .unwrap();
    assert!(dave.admin);

    // The same rules as registration: a taken name, a bad name, a short password.
    assert_api_error(
        root.admin_create_user(&new_user("carol", false)).await,
        409,
        "conflict",
    );
    for body in [
        json!({"username": "No Spaces", "password": PASSWORD}),
        json!({"username": "erin", "password": "short"}),
        json!({"username": "erin"}),
    ] {
        let resp = root
            .raw_json("POST", "/api/v1/admin/users", &body)
            .await
            .unwrap();
        assert!(resp.status == 400, "{body}: {}", resp.status);
    }
}

#[tokio::test]
async fn the_user_list_holds_everyone_newest_first_and_pages() {
    let app = spawn_app().await;
    let ((root, _), (bob, _)) = root_and(&app, "bob").await;
    let (_, carol) = app.user("carol").await;
    let (_, dave) = app.user("dave").await;
    root.admin_update_user(&carol.id, &disable(true))
        .await
        .unwrap();
    bob.delete_account(PASSWORD).await.unwrap();

    let all = root.admin_users(None, None, None).await.unwrap().users;
    let names: Vec<&str> = all.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["dave", "carol", "bob", "root"]);
    let by_name = |n: &str| all.iter().find(|u| u.username == n).unwrap();
    assert_eq!(by_name("carol").disabled, Some(true));
    assert!(by_name("bob").deleted);
    assert_eq!(by_name("bob").display_name, "Deleted account");
    assert_eq!(by_name("dave").disabled, Some(false));
    assert!(by_name("root").admin);

    // Pages: `before` is the last one's created_at.
    let first = root.admin_users(None, Some(2), None).await.unwrap().users;
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].id, dave.id);
    let rest = root
        .admin_users(None, Some(2), Some(&first[1].created_at))
        .await
        .unwrap()
        .users;
    let names: Vec<&str> = rest.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["bob", "root"]);

    // A prefix.
    let found = root
        .admin_users(Some("ca"), None, None)
        .await
        .unwrap()
        .users;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, carol.id);

    for bad in ["limit=0", "limit=201", "before=yesterday"] {
        let resp = root
            .raw("GET", &format!("/api/v1/admin/users?{bad}"), None)
            .await
            .unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }
}

#[tokio::test]
async fn a_disabled_account_is_signed_out_everywhere_and_cannot_log_in() {
    let app = spawn_app().await;
    let ((root, _), (bob, bob_user)) = root_and(&app, "bob").await;
    let (phone, _) = app.login("bob", Some("phone")).await;
    let mut ws = phone.connect(None).await.unwrap();

    let changed = root
        .admin_update_user(&bob_user.id, &disable(true))
        .await
        .unwrap();
    assert_eq!(changed.disabled, Some(true));
    assert_eq!(closed_code(&mut ws).await, 4001);
    assert_api_error(bob.me().await, 401, "unauthorized");
    assert_api_error(phone.me().await, 401, "unauthorized");
    let refused = app.anon().login(&login_req("bob", PASSWORD)).await;
    assert_api_error(refused, 401, "unauthorized");
    // Disabling again changes nothing; an admin cannot disable itself.
    root.admin_update_user(&bob_user.id, &disable(true))
        .await
        .unwrap();
    let root_id = root.me().await.unwrap().id;
    assert_api_error(
        root.admin_update_user(&root_id, &disable(true)).await,
        409,
        "conflict",
    );

    let enabled = root
        .admin_update_user(&bob_user.id, &disable(false))
        .await
        .unwrap();
    assert_eq!(enabled.disabled, Some(false));
    app.anon().login(&login_req("bob", PASSWORD)).await.unwrap();
}

#[tokio::test]
async fn the_last_admin_cannot_remove_its_own_admin_flag() {
    let app = spawn_app().await;
    let ((root, root_user), (bob, bob_user)) = root_and(&app, "bob").await;
    assert_api_error(
        root.admin_update_user(&root_user.id, &make_admin(false))
            .await,
        409,
        "conflict",
    );
    assert!(root.me().await.unwrap().admin);

    // With a second admin it can; then the second is the last one.
    root.admin_update_user(&bob_user.id, &make_admin(true))
        .await
        .unwrap();
    let demoted = root
        .admin_update_user(&root_user.id, &make_admin(false))
        .await
        .unwrap();
    assert!(!demoted.admin);
    assert_api_error(
        bob.admin_update_user(&bob_user.id, &make_admin(false))
            .await,
        409,
        "conflict",
    );
    assert_api_error(root.admin_stats().await, 403, "forbidden");
    // A disabled admin does not count: the last one that can act stays.
    let (_, carol) = app.user("carol").await;
    bob.admin_update_user(&carol.id, &make_admin(true))
        .await
        .unwrap();
    bob.admin_update_user(&carol.id, &disable(true))
        .await
        .unwrap();
    assert_api_error(
        bob.admin_update_user(&bob_user.id, &make_admin(false))
            .await,
        409,
        "conflict",
    );
    assert_api_error(
        bob.admin_update_user("no-such-user", &make_admin(true))
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_password_set_by_an_admin_revokes_every_session() {
    let app = spawn_app().await;
    let ((root, _), (bob, bob_user)) = root_and(&app, "bob").await;
    let mut ws = bob.connect(None).await.unwrap();
    let short = root
        .raw_json(
            "PATCH",
            &format!("/api/v1/admin/users/{}", bob_user.id),
            &json!({"password": "short"}),
        )
        .await
        .unwrap();
    assert_error_response(&short, 400, "invalid_request");
    bob.me().await.unwrap();

    root.admin_update_user(
        &bob_user.id,
        &AdminUpdateUserRequest {
            password: Some("a password from the admin".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(closed_code(&mut ws).await, 4001);
    assert_api_error(bob.me().await, 401, "unauthorized");
    assert_api_error(
        app.anon().login(&login_req("bob", PASSWORD)).await,
        401,
        "unauthorized",
    );
    app.anon()
        .login(&login_req("bob", "a password from the admin"))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_stats_count_what_the_server_holds() {
    let app = spawn_app().await;
    let ((root, _), (bob, bob_user)) = root_and(&app, "bob").await;
    let before = root.admin_stats().await.unwrap();
    assert_eq!(before.users, 2);
    assert_eq!(before.conversations, 0);
    assert_eq!(before.messages, 0);
    assert_eq!(before.media_bytes, 0);
    assert_eq!(before.connections, 0);

    let conv = bob
        .direct(&root.me().await.unwrap().id)
        .await
        .unwrap()
        .value;
    bob.send_text(&conv.id, "one").await.unwrap();
    let two = bob.send_text(&conv.id, "two").await.unwrap();
    bob.delete_message(&two.id).await.unwrap();
    bob.upload(vec![7; 1000], "application/octet-stream", Some("f.bin"))
        .await
        .unwrap();
    let _ws = bob.connect(None).await.unwrap();
    let _ = bob_user;

    let after = root.admin_stats().await.unwrap();
    assert_eq!(after.users, 2);
    assert_eq!(after.conversations, 1);
    assert_eq!(
        after.messages, 1,
        "a message deleted for everyone is not counted"
    );
    assert_eq!(after.media_bytes, 1000);
    assert_eq!(after.connections, 1);
}

#[tokio::test]
async fn deleting_an_account_needs_the_password_and_keeps_an_admin() {
    let app = spawn_app().await;
    let ((root, _), (bob, _)) = root_and(&app, "bob").await;
    assert_api_error(
        bob.delete_account("not the password").await,
        403,
        "forbidden",
    );
    bob.me().await.unwrap();
    let resp = bob
        .raw_json("DELETE", "/api/v1/users/me", &json!({}))
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
    // The only admin cannot leave; with another admin it can.
    assert_api_error(root.delete_account(PASSWORD).await, 409, "conflict");
    root.me().await.unwrap();
    let bob_id = bob.me().await.unwrap().id;
    root.admin_update_user(&bob_id, &make_admin(true))
        .await
        .unwrap();
    root.delete_account(PASSWORD).await.unwrap();
    assert_api_error(root.me().await, 401, "unauthorized");
}

#[tokio::test]
async fn a_deleted_account_leaves_its_groups_and_its_name_behind() {
    let app = spawn_app().await;
    let (_root, _) = app.user("root").await;
    let (alice, alice_user) = app.user("alice").await;
    let (bob, bob_user) = app.user("bob").await;
    let (carol, carol_user) = app.user("carol").await;
    let (_, dave) = app.user("dave").await;

    // Alice owns a group where Carol is admin and Bob a member, and talks to Bob directly.
    let group = alice
        .create_group("trip", &[&bob_user.id, &carol_user.id])
        .await
        .unwrap();
    alice
        .set_role(&group.id, &carol_user.id, "admin")
        .await
        .unwrap();
    let direct = alice.direct(&bob_user.id).await.unwrap().value;
    let hello = alice.send_text(&group.id, "hello group").await.unwrap();
    let psst = alice.send_text(&direct.id, "psst").await.unwrap();
    // One upload carried by a message, one never sent.
    let sent = alice
        .upload(
            b"kept bytes".to_vec(),
            "application/octet-stream",
            Some("a.bin"),
        )
        .await
        .unwrap();
    alice
        .send_message(
            &direct.id,
            &SendMessageRequest {
                kind: Some("file".into()),
                media_id: Some(sent.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let unsent = alice
        .upload(
            b"never sent".to_vec(),
            "application/octet-stream",
            Some("b.bin"),
        )
        .await
        .unwrap();
    let mut alice_ws = alice.connect(None).await.unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();
    let mut dave_ws = {
        let (dave_c, _) = app.login("dave", None).await;
        dave_c.connect(None).await.unwrap()
    };
    let _ = dave;

    alice.delete_account(PASSWORD).await.unwrap();
    assert_eq!(closed_code(&mut alice_ws).await, 4001);
    assert_api_error(alice.me().await, 401, "unauthorized");

    // Bob hears that Alice left the group (Carol, the longest-standing admin, now owns it)
    // and that her account is gone.
    let mut saw_group = false;
    let mut saw_user = false;
    while !(saw_group && saw_user) {
        match next_event(&mut bob_ws).await.event {
            EventData::ConversationUpdated(c) if c.id == group.id => {
                assert!(!member_ids(&c).contains(&alice_user.id));
                assert_eq!(role_of(&c, &carol_user.id), Some("owner"));
                saw_group = true;
            }
            EventData::UserUpdated(u) if u.id == alice_user.id => {
                assert!(u.deleted);
                assert_eq!(u.display_name, "Deleted account");
                saw_user = true;
            }
            _ => {}
        }
    }
    // Someone who shared nothing with her hears nothing.
    assert_quiet(&mut dave_ws).await;

    let g = carol.conversation(&group.id).await.unwrap();
    assert_eq!(role_of(&g, &carol_user.id), Some("owner"));
    assert_eq!(g.members.len(), 2);
    // Her messages remain for the others, in the group and in the direct conversation.
    assert_eq!(
        carol.message(&hello.id).await.unwrap().text.as_deref(),
        Some("hello group")
    );
    assert_eq!(
        bob.message(&psst.id).await.unwrap().text.as_deref(),
        Some("psst")
    );
    bob.download(&sent.id, &[]).await.unwrap();
    let shown = bob.user(&alice_user.id).await.unwrap();
    assert!(shown.deleted);
    assert_eq!(shown.display_name, "Deleted account");
    assert!(!shown.online);

    // The upload no message carried is erased.
    let store = app.store().await;
    assert!(
        store
            .media(MediaId::new(&unsent.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.media(MediaId::new(&sent.id)).await.unwrap().is_some());
    drop(store);

    // The name stays reserved; it logs in no more; no one finds it.
    let again = app
        .anon()
        .register(&RegisterRequest {
            username: "alice".into(),
            password: PASSWORD.into(),
            display_name: None,
            invite: None,
        })
        .await;
    assert_api_error(again, 409, "conflict");
    assert_api_error(
        app.anon().login(&login_req("alice", PASSWORD)).await,
        401,
        "unauthorized",
    );
    assert!(
        bob.search_users("ali", None)
            .await
            .unwrap()
            .users
            .is_empty()
    );
}

#[tokio::test]
async fn the_last_member_deleting_its_account_deletes_the_group() {
    let app = spawn_app().await;
    let ((_root, _), (bob, _)) = root_and(&app, "bob").await;
    let group = bob.create_group("alone", &[]).await.unwrap();
    bob.send_text(&group.id, "echo").await.unwrap();
    bob.delete_account(PASSWORD).await.unwrap();
    let store = app.store().await;
    assert!(
        store
            .conversation(natter_core::ConversationId::new(&group.id))
            .await
            .unwrap()
            .is_none()
    );
}
