//! Registration modes, invites, the first admin, profile and password changes.

use std::time::Duration;

use natter_client::{
    Client, CreateInviteRequest, EventData, Invite, LoginRequest, RegisterRequest, User,
};
use natter_server::config::{InvitePolicy, Registration};
use natter_server::store::InviteRow;
use serde_json::json;

use crate::helpers::*;

async fn app_in(mode: Registration, invites: InvitePolicy) -> TestApp {
    spawn_app_with(|c| {
        c.registration = mode;
        c.invites = invites;
    })
    .await
}

fn register_req(username: &str, invite: Option<&str>) -> RegisterRequest {
    RegisterRequest {
        username: username.into(),
        password: PASSWORD.into(),
        display_name: None,
        invite: invite.map(Into::into),
    }
}

/// Registers `username` with `invite` and logs it in.
async fn join(app: &TestApp, username: &str, invite: Option<&str>) -> (Client, User) {
    app.anon()
        .register(&register_req(username, invite))
        .await
        .unwrap_or_else(|e| panic!("cannot register {username}: {e}"));
    let (c, resp) = app.login(username, None).await;
    (c, resp.user)
}

async fn invite(c: &Client, uses: i64) -> Invite {
    c.create_invite(&CreateInviteRequest {
        uses: Some(uses),
        expires_in_s: None,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_first_user_registers_freely_and_is_admin_in_every_mode() {
    for mode in [
        Registration::Open,
        Registration::Invite,
        Registration::Closed,
    ] {
        let app = app_in(mode, InvitePolicy::Admins).await;
        let first = app
            .anon()
            .register(&register_req("root", None))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(first.admin, "{mode:?}");
        assert!(!first.deleted);
        let second = app.anon().register(&register_req("second", None)).await;
        match mode {
            Registration::Open => assert!(!second.unwrap().admin),
            _ => assert_api_error(second, 403, "forbidden"),
        }
    }
}

#[tokio::test]
async fn the_default_mode_is_invite_only() {
    let app =
        spawn_app_with(|c| c.registration = natter_server::Config::default().registration).await;
    let (root, _) = join(&app, "root", None).await;
    assert_api_error(
        app.anon().register(&register_req("stranger", None)).await,
        403,
        "forbidden",
    );
    let code = invite(&root, 1).await.code;
    let (_, friend) = join(&app, "friend", Some(&code)).await;
    assert!(!friend.admin);
}

#[tokio::test]
async fn concurrent_first_registrations_make_exactly_one_admin() {
    let app = app_in(Registration::Open, InvitePolicy::Admins).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let anon = app.anon();
            tokio::spawn(async move {
                anon.register(&register_req(&format!("user{i}"), None))
                    .await
            })
        })
        .collect();
    let mut admins = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().admin {
            admins += 1;
        }
    }
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn invite_mode_takes_a_valid_invite_and_refuses_used_up_revoked_expired_and_unknown_ones() {
    let app = app_in(Registration::Invite, InvitePolicy::Admins).await;
    let (root, root_user) = join(&app, "root", None).await;

    // Without a code, or with one that does not exist.
    assert_api_error(
        app.anon().register(&register_req("user_a1", None)).await,
        403,
        "forbidden",
    );
    assert_api_error(
        app.anon()
            .register(&register_req("user_a2", Some("no-such-code")))
            .await,
        403,
        "forbidden",
    );

    // A two-use invite admits two, then no one.
    let two = invite(&root, 2).await;
    assert_eq!(two.uses_left, 2);
    assert!(two.code.len() >= 22, "at least 128 bits: {}", two.code);
    assert!(
        two.code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "URL-safe: {}",
        two.code
    );
    join(&app, "user_b1", Some(&two.code)).await;
    join(&app, "user_b2", Some(&two.code)).await;
    assert_api_error(
        app.anon()
            .register(&register_req("user_b3", Some(&two.code)))
            .await,
        403,
        "forbidden",
    );
    let listed = root.invites().await.unwrap().invites;
    assert_eq!(listed[0].code, two.code);
    assert_eq!(listed[0].uses_left, 0);

    // Revoked.
    let revoked = invite(&root, 5).await;
    root.revoke_invite(&revoked.code).await.unwrap();
    assert_api_error(
        app.anon()
            .register(&register_req("user_c1", Some(&revoked.code)))
            .await,
        403,
        "forbidden",
    );
    assert_api_error(root.revoke_invite(&revoked.code).await, 404, "not_found");

    // Expired (arranged in the database: the shortest lifetime the API gives is a minute).
    let store = app.store().await;
    store
        .create_invite(&InviteRow {
            code: "expired-code".into(),
            creator_id: root_user.id.clone(),
            uses_left: 3,
            expires_at: natter_core::time::now() - 1,
            created_at: natter_core::time::now() - 60_000,
        })
        .await
        .unwrap();
    drop(store);
    assert_api_error(
        app.anon()
            .register(&register_req("user_d1", Some("expired-code")))
            .await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn a_one_use_invite_admits_exactly_one_of_concurrent_registrations() {
    let app = app_in(Registration::Invite, InvitePolicy::Admins).await;
    let (root, _) = join(&app, "root", None).await;
    let code = invite(&root, 1).await.code;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (anon, code) = (app.anon(), code.clone());
            tokio::spawn(async move {
                anon.register(&register_req(&format!("racer{i}"), Some(&code)))
                    .await
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(natter_client::Error::Api { status: 403, .. }) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(admitted, 1);
}

#[tokio::test]
async fn closed_mode_refuses_even_with_an_invite() {
    let app = app_in(Registration::Closed, InvitePolicy::Admins).await;
    let (root, _) = join(&app, "root", None).await;
    let code = invite(&root, 1).await.code;
    assert_api_error(
        app.anon()
            .register(&register_req("user_x1", Some(&code)))
            .await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn open_mode_needs_no_invite() {
    let app = app_in(Registration::Open, InvitePolicy::Admins).await;
    join(&app, "root", None).await;
    let (_, u) = join(&app, "anyone", None).await;
    assert!(!u.admin);
}

#[tokio::test]
async fn only_admins_create_invites_unless_members_may() {
    let app = app_in(Registration::Open, InvitePolicy::Admins).await;
    let (root, _) = join(&app, "root", None).await;
    let (member, _) = join(&app, "member", None).await;
    invite(&root, 1).await;
    assert_api_error(
        member.create_invite(&CreateInviteRequest::default()).await,
        403,
        "forbidden",
    );

    let app = app_in(Registration::Invite, InvitePolicy::Members).await;
    let (root, _) = join(&app, "root", None).await;
    let code = invite(&root, 1).await.code;
    let (member, _) = join(&app, "member", Some(&code)).await;
    let mine = invite(&member, 1).await;
    join(&app, "friend", Some(&mine.code)).await;
    // Each lists its own, newest first.
    let newer = invite(&member, 3).await;
    let listed: Vec<String> = member
        .invites()
        .await
        .unwrap()
        .invites
        .into_iter()
        .map(|i| i.code)
        .collect();
    assert_eq!(listed, [newer.code.clone(), mine.code.clone()]);
    assert_eq!(root.invites().await.unwrap().invites.len(), 1);
    // Another member may not revoke it; its creator and an admin may.
    let (other, _) = join(&app, "other", Some(&invite(&root, 1).await.code)).await;
    assert_api_error(other.revoke_invite(&newer.code).await, 403, "forbidden");
    root.revoke_invite(&newer.code).await.unwrap();
    member.revoke_invite(&mine.code).await.unwrap();
}

#[tokio::test]
async fn invite_terms_out_of_range_are_400() {
    let app = app_in(Registration::Invite, InvitePolicy::Admins).await;
    let (root, _) = join(&app, "root", None).await;
    for body in [
        json!({"uses": 0}),
        json!({"uses": 1001}),
        json!({"expires_in_s": 59}),
        json!({"expires_in_s": 90 * 86_400 + 1}),
    ] {
        let resp = root
            .raw_json("POST", "/api/v1/invites", &body)
            .await
            .unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }
    let resp = root
        .raw_json("POST", "/api/v1/invites", &json!({}))
        .await
        .unwrap();
    assert_eq!(resp.status, 201, "{}", resp.text());
    let i: Invite = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(i.uses_left, 1);
    assert_timestamp(&i.expires_at);
}

#[tokio::test]
async fn a_new_display_name_reaches_contacts_and_own_devices_but_not_strangers() {
    let app = spawn_app().await;
    let (alice, a) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (stranger, _) = app.user("stranger").await;
    let (alice_phone, _) = app.login("alice", Some("phone")).await;
    alice.direct(&b.id).await.unwrap();

    let mut bob_ws = bob.connect(None).await.unwrap();
    let mut phone_ws = alice_phone.connect(None).await.unwrap();
    let mut stranger_ws = stranger.connect(None).await.unwrap();

    let me = alice.update_profile("  Alice L.  ").await.unwrap();
    assert_eq!(me.display_name, "Alice L.");
    assert_eq!(me.id, a.id);
    assert_eq!(alice.me().await.unwrap().display_name, "Alice L.");

    for ws in [&mut bob_ws, &mut phone_ws] {
        let e = next_event(ws).await;
        match e.event {
            EventData::UserUpdated(u) => {
                assert_eq!(u.id, a.id);
                assert_eq!(u.display_name, "Alice L.");
            }
            other => panic!("expected user_updated, got {other:?}"),
        }
    }
    assert_silent(&mut stranger_ws, Duration::from_millis(300)).await;

    // It replays, as every durable event does.
    let sync = bob.sync(Some("0"), None, None).await.unwrap();
    assert!(
        sync.events
            .iter()
            .any(|e| matches!(&e.event, EventData::UserUpdated(u) if u.id == a.id))
    );

    for bad in ["", "   ", &"x".repeat(65)] {
        let resp = alice
            .raw_json("PATCH", "/api/v1/users/me", &json!({"display_name": bad}))
            .await
            .unwrap();
        assert_error_response(&resp, 400, "invalid_request");
    }
}

#[tokio::test]
async fn a_password_change_revokes_the_other_sessions_and_keeps_the_callers() {
    let app = spawn_app().await;
    let (laptop, _) = app.user("alice").await;
    let (phone, _) = app.login("alice", Some("phone")).await;
    let mut phone_ws = phone.connect(None).await.unwrap();

    assert_api_error(
        laptop
            .change_password("not the password", "a new password")
            .await,
        403,
        "forbidden",
    );
    let resp = laptop
        .raw_json(
            "PUT",
            "/api/v1/users/me/password",
            &json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await
        .unwrap();
    assert_error_response(&resp, 400, "invalid_request");
    // Nothing changed so far: the phone still works.
    phone.me().await.unwrap();

    laptop
        .change_password(PASSWORD, "a brand new password")
        .await
        .unwrap();
    assert_eq!(closed_code(&mut phone_ws).await, 4001);
    assert_api_error(phone.me().await, 401, "unauthorized");
    laptop.me().await.unwrap();
    assert_eq!(laptop.sessions().await.unwrap().sessions.len(), 1);

    // The old password no longer logs in; the new one does.
    let login = |password: &str| LoginRequest {
        username: "alice".into(),
        password: password.into(),
        device_name: None,
    };
    assert_api_error(
        app.anon().login(&login(PASSWORD)).await,
        401,
        "unauthorized",
    );
    app.anon()
        .login(&login("a brand new password"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_registration_does_not_tell_whether_the_name_is_taken() {
    let app = app_in(Registration::Invite, InvitePolicy::Admins).await;
    join(&app, "root", None).await;
    assert_api_error(
        app.anon().register(&register_req("root", None)).await,
        403,
        "forbidden",
    );
}
