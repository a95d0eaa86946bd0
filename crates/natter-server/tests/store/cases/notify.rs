//! Reaching people who are not looking: the server's keys, push subscriptions (bound to their
//! sessions), notification settings and mutes, what the push sender reads, the log followers'
//! leases, and webhooks with their cursors and dead letters.

use std::sync::Arc;

use natter_core::{ConversationId, SessionId, UserId};
use natter_server::store::{
    DeadLetterRow, FOREVER, NotificationSettings, PushSubscriptionRow, PushTarget, SessionRow,
    SettingsChange, Store, WebhookRow,
};

use crate::harness::{T0, group, send, users};

const LEASE: i64 = 30_000;

fn session(id: &str, user_id: &str, hash_byte: u8, at: i64) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        token_hash: vec![hash_byte; 32],
        device_name: None,
        created_at: at,
        last_active_at: at,
    }
}

async fn sessions(store: &dyn Store, list: &[(&str, &str, u8)]) {
    for (id, user_id, byte) in list {
        store
            .create_session(&session(id, user_id, *byte, T0))
            .await
            .unwrap_or_else(|e| panic!("create session {id}: {e:?}"));
    }
}

fn sub(id: &str, user_id: &str, session_id: &str, endpoint: &str, at: i64) -> PushSubscriptionRow {
    PushSubscriptionRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        session_id: session_id.to_owned(),
        endpoint: format!("https://push.example/{endpoint}"),
        p256dh: vec![4; 65],
        auth: vec![7; 16],
        created_at: at,
    }
}

async fn put(store: &dyn Store, s: &PushSubscriptionRow) {
    store
        .put_push_subscription(s)
        .await
        .unwrap_or_else(|e| panic!("put subscription {}: {e:?}", s.id));
}

async fn sub_ids(store: &dyn Store, user_id: &str) -> Vec<String> {
    store
        .push_subscriptions_of(UserId::new(user_id))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

async fn settings(store: &dyn Store, user_id: &str, now: i64) -> NotificationSettings {
    let mut s = store
        .notification_settings(UserId::new(user_id), now)
        .await
        .unwrap();
    s.muted.sort();
    s
}

fn webhook(id: &str, user_id: &str, conversation_id: Option<&str>, at: i64) -> WebhookRow {
    WebhookRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        conversation_id: conversation_id.map(str::to_owned),
        url: format!("https://bot.example/{id}"),
        secret: format!("secret-of-{id}"),
        created_at: at,
    }
}

fn letter(webhook_id: &str, pos: i64, attempts: i64) -> DeadLetterRow {
    DeadLetterRow {
        webhook_id: webhook_id.to_owned(),
        pos,
        body: format!("{{\"pos\":{pos}}}"),
        attempts,
        last_error: format!("HTTP 500 at {pos}"),
        failed_at: T0 + pos,
    }
}

// ---- server keys ----

pub async fn a_server_key_keeps_the_first_value_stored(store: Arc<dyn Store>) {
    assert_eq!(store.server_key("vapid", b"first").await.unwrap(), b"first");
    assert_eq!(
        store.server_key("vapid", b"second").await.unwrap(),
        b"first"
    );
    assert_eq!(store.server_key("other", b"x").await.unwrap(), b"x");

    // Nodes racing to create a key all get the one stored first.
    let (a, b) = tokio::join!(
        store.server_key("raced", b"node-a"),
        store.server_key("raced", b"node-b")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == b"node-a" || a == b"node-b", "{a:?}");
    assert_eq!(store.server_key("raced", b"late").await.unwrap(), a);
}

// ---- push subscriptions ----

pub async fn a_subscription_is_replaced_per_session_and_per_endpoint(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    sessions(
        &*store,
        &[("s-a1", &alice, 1), ("s-a2", &alice, 2), ("s-b", &bob, 3)],
    )
    .await;
    let first = sub("p-1", &alice, "s-a1", "one", T0 + 1);
    put(&*store, &first).await;
    put(&*store, &sub("p-2", &alice, "s-a2", "two", T0 + 2)).await;
    assert_eq!(
        store
            .push_subscriptions_of(UserId::new(&alice))
            .await
            .unwrap()[0],
        first
    );
    assert_eq!(sub_ids(&*store, &alice).await, ["p-1", "p-2"]);

    // The session subscribes again, elsewhere: its earlier subscription is replaced.
    put(&*store, &sub("p-3", &alice, "s-a1", "three", T0 + 3)).await;
    assert_eq!(sub_ids(&*store, &alice).await, ["p-2", "p-3"]);

    // Bob's session takes over the endpoint of Alice's second: one subscription per device.
    let bobs = sub("p-4", &bob, "s-b", "two", T0 + 4);
    put(&*store, &bobs).await;
    assert_eq!(sub_ids(&*store, &alice).await, ["p-3"]);
    assert_eq!(
        store
            .push_subscriptions_of(UserId::new(&bob))
            .await
            .unwrap(),
        [bobs]
    );

    // A subscription names a session of its user.
    assert_rule!(
        store
            .put_push_subscription(&sub("p-5", &alice, "s-b", "five", T0 + 5))
            .await,
        NotFound
    );
    assert_rule!(
        store
            .put_push_subscription(&sub("p-6", &alice, "s-none", "six", T0 + 6))
            .await,
        NotFound
    );
    // A refused subscription replaced nothing.
    assert_eq!(sub_ids(&*store, &alice).await, ["p-3"]);
    assert_eq!(sub_ids(&*store, &bob).await, ["p-4"]);
}

pub async fn a_subscription_goes_with_its_session(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    sessions(
        &*store,
        &[
            ("s-revoked", &alice, 1),
            ("s-idle", &alice, 2),
            ("s-off", &alice, 3),
            ("s-kept", &alice, 4),
            ("s-bob", &bob, 5),
        ],
    )
    .await;
    for (id, s) in [
        ("p-revoked", "s-revoked"),
        ("p-idle", "s-idle"),
        ("p-off", "s-off"),
        ("p-kept", "s-kept"),
    ] {
        put(&*store, &sub(id, &alice, s, id, T0)).await;
    }
    put(&*store, &sub("p-bob", &bob, "s-bob", "bob", T0)).await;
    for s in ["s-revoked", "s-off", "s-kept", "s-bob"] {
        store
            .touch_session(SessionId::new(s), T0 + 1000)
            .await
            .unwrap();
    }

    assert!(
        store
            .delete_session(UserId::new(&alice), SessionId::new("s-revoked"))
            .await
            .unwrap()
    );
    assert_eq!(
        sub_ids(&*store, &alice).await,
        ["p-idle", "p-kept", "p-off"]
    );

    assert_eq!(
        store.delete_idle_sessions(T0 + 1).await.unwrap(),
        ["s-idle"]
    );
    assert_eq!(sub_ids(&*store, &alice).await, ["p-kept", "p-off"]);

    // A password change ends every other session, and their subscriptions.
    store
        .create_session(&session("s-new", &alice, 6, T0 + 2000))
        .await
        .unwrap();
    put(&*store, &sub("p-new", &alice, "s-new", "new", T0 + 2000)).await;
    store
        .set_password(UserId::new(&alice), "new-hash", SessionId::new("s-new"))
        .await
        .unwrap();
    assert_eq!(sub_ids(&*store, &alice).await, ["p-new"]);
    assert_eq!(sub_ids(&*store, &bob).await, ["p-bob"]);
}

pub async fn a_subscription_is_deleted_by_its_user_or_when_gone(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    sessions(
        &*store,
        &[("s-a1", &alice, 1), ("s-a2", &alice, 2), ("s-b", &bob, 3)],
    )
    .await;
    put(&*store, &sub("p-1", &alice, "s-a1", "one", T0)).await;
    put(&*store, &sub("p-2", &alice, "s-a2", "two", T0 + 1)).await;
    put(&*store, &sub("p-b", &bob, "s-b", "bob", T0)).await;

    // Bob names Alice's subscription: nothing happens.
    assert!(
        !store
            .delete_push_subscription(UserId::new(&bob), "p-1")
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_push_subscription(UserId::new(&alice), "p-1")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_push_subscription(UserId::new(&alice), "p-1")
            .await
            .unwrap()
    );
    assert_eq!(sub_ids(&*store, &alice).await, ["p-2"]);

    // The push service said it is gone; again is nothing.
    store.push_subscription_gone("p-2").await.unwrap();
    store.push_subscription_gone("p-2").await.unwrap();
    assert!(sub_ids(&*store, &alice).await.is_empty());
    assert_eq!(sub_ids(&*store, &bob).await, ["p-b"]);
}

// ---- settings and mutes ----

pub async fn settings_default_until_changed_field_by_field(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let defaults = NotificationSettings {
        previews: false,
        mentions_when_muted: true,
        dnd_until: None,
        muted: Vec::new(),
    };
    assert_eq!(settings(&*store, &alice, T0).await, defaults);

    store
        .set_notification_settings(
            UserId::new(&alice),
            &SettingsChange {
                previews: Some(true),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        settings(&*store, &alice, T0).await,
        NotificationSettings {
            previews: true,
            ..defaults.clone()
        }
    );

    // Do not disturb on, with the other fields left as they are.
    store
        .set_notification_settings(
            UserId::new(&alice),
            &SettingsChange {
                mentions_when_muted: Some(false),
                dnd_until: Some(Some(T0 + 3_600_000)),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        settings(&*store, &alice, T0).await,
        NotificationSettings {
            previews: true,
            mentions_when_muted: false,
            dnd_until: Some(T0 + 3_600_000),
            muted: Vec::new(),
        }
    );

    // An empty change changes nothing; then until turned off; then off.
    store
        .set_notification_settings(UserId::new(&alice), &SettingsChange::default())
        .await
        .unwrap();
    assert_eq!(
        settings(&*store, &alice, T0).await.dnd_until,
        Some(T0 + 3_600_000)
    );
    store
        .set_notification_settings(
            UserId::new(&alice),
            &SettingsChange {
                dnd_until: Some(Some(FOREVER)),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(settings(&*store, &alice, T0).await.dnd_until, Some(FOREVER));
    store
        .set_notification_settings(
            UserId::new(&alice),
            &SettingsChange {
                previews: Some(false),
                dnd_until: Some(None),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        settings(&*store, &alice, T0).await,
        NotificationSettings {
            mentions_when_muted: false,
            ..defaults.clone()
        }
    );

    // A first change that only turns do-not-disturb off stores the defaults.
    store
        .set_notification_settings(
            UserId::new(&bob),
            &SettingsChange {
                dnd_until: Some(None),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(settings(&*store, &bob, T0).await, defaults);
}

pub async fn mutes_are_listed_until_they_end_and_need_membership(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g1 = group(&*store, &alice, &[&bob]).await;
    let g2 = group(&*store, &alice, &[]).await;
    let g3 = group(&*store, &alice, &[]).await;
    let me = UserId::new(&alice);

    store
        .mute(me, ConversationId::new(&g1), T0 + 1000)
        .await
        .unwrap();
    store
        .mute(me, ConversationId::new(&g2), FOREVER)
        .await
        .unwrap();
    store
        .mute(me, ConversationId::new(&g3), T0 + 10)
        .await
        .unwrap();
    let mut expected = vec![
        (g1.clone(), T0 + 1000),
        (g2.clone(), FOREVER),
        (g3.clone(), T0 + 10),
    ];
    expected.sort();
    assert_eq!(settings(&*store, &alice, T0).await.muted, expected);

    // A mute that ended by `now` is not listed: at its very end, nor after.
    let mut later = vec![(g1.clone(), T0 + 1000), (g2.clone(), FOREVER)];
    later.sort();
    assert_eq!(settings(&*store, &alice, T0 + 10).await.muted, later);
    assert_eq!(
        settings(&*store, &alice, T0 + 5000).await.muted,
        [(g2.clone(), FOREVER)]
    );

    // Muting again moves the end; unmuting twice is fine.
    store
        .mute(me, ConversationId::new(&g1), T0 + 9000)
        .await
        .unwrap();
    assert_eq!(settings(&*store, &alice, T0 + 5000).await.muted, {
        let mut v = vec![(g1.clone(), T0 + 9000), (g2.clone(), FOREVER)];
        v.sort();
        v
    });
    store.unmute(me, ConversationId::new(&g2)).await.unwrap();
    store.unmute(me, ConversationId::new(&g2)).await.unwrap();
    assert_eq!(
        settings(&*store, &alice, T0 + 5000).await.muted,
        [(g1.clone(), T0 + 9000)]
    );

    // Mutes are each member's own.
    assert!(settings(&*store, &bob, T0).await.muted.is_empty());

    // Carol is no member; no conversation is none either.
    assert_rule!(
        store
            .mute(UserId::new(&carol), ConversationId::new(&g1), FOREVER)
            .await,
        NotFound
    );
    assert_rule!(
        store
            .mute(me, ConversationId::new("group-none"), FOREVER)
            .await,
        NotFound
    );
    assert!(settings(&*store, &carol, T0).await.muted.is_empty());
}

pub async fn a_member_that_leaves_loses_its_mute(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob, &carol]).await;
    let conv = ConversationId::new(&g);
    for u in [&bob, &carol] {
        store.mute(UserId::new(u), conv, FOREVER).await.unwrap();
    }

    // Bob leaves; Carol is removed by the owner.
    store
        .remove_member(UserId::new(&bob), conv, UserId::new(&bob), T0 + 1)
        .await
        .unwrap();
    store
        .remove_member(UserId::new(&alice), conv, UserId::new(&carol), T0 + 2)
        .await
        .unwrap();
    assert!(settings(&*store, &bob, T0).await.muted.is_empty());
    assert!(settings(&*store, &carol, T0).await.muted.is_empty());

    // Added again, Bob is not muted.
    store
        .add_member(
            UserId::new(&alice),
            conv,
            UserId::new(&bob),
            natter_core::Role::Member,
            100,
            T0 + 3,
        )
        .await
        .unwrap();
    assert!(settings(&*store, &bob, T0).await.muted.is_empty());
    store.mute(UserId::new(&bob), conv, T0 + 50).await.unwrap();
    assert_eq!(
        settings(&*store, &bob, T0).await.muted,
        [(g.clone(), T0 + 50)]
    );
}

// ---- what the push sender reads ----

pub async fn push_targets_carry_settings_mutes_and_subscriptions(store: Arc<dyn Store>) {
    let [alice, bob, carol, dave] = users(&*store, ["alice", "bob", "carol", "dave"]).await;
    let g = group(&*store, &alice, &[&bob, &carol, &dave]).await;
    let other = group(&*store, &bob, &[]).await;
    sessions(
        &*store,
        &[
            ("s-b1", &bob, 1),
            ("s-b2", &bob, 2),
            ("s-c", &carol, 3),
            ("s-d", &dave, 4),
        ],
    )
    .await;
    let b2 = sub("p-b2", &bob, "s-b2", "b2", T0 + 1);
    let b1 = sub("p-b1", &bob, "s-b1", "b1", T0 + 2);
    let c = sub("p-c", &carol, "s-c", "c", T0 + 3);
    let d = sub("p-d", &dave, "s-d", "d", T0 + 4);
    for s in [&b2, &b1, &c, &d] {
        put(&*store, s).await;
    }
    store
        .set_notification_settings(
            UserId::new(&bob),
            &SettingsChange {
                previews: Some(true),
                mentions_when_muted: Some(false),
                dnd_until: Some(Some(T0 + 500)),
            },
        )
        .await
        .unwrap();
    let conv = ConversationId::new(&g);
    store.mute(UserId::new(&bob), conv, FOREVER).await.unwrap();
    // Carol's mute ends before `now`: not muted.
    store.mute(UserId::new(&carol), conv, T0 + 5).await.unwrap();
    // A mute of another conversation does not count.
    store
        .mute(UserId::new(&bob), ConversationId::new(&other), T0 + 99)
        .await
        .unwrap();
    store
        .mute(UserId::new(&dave), conv, T0 + 100)
        .await
        .unwrap();

    let wanted = [carol.clone(), alice.clone(), bob.clone(), dave.clone()];
    let mut targets = store.push_targets(conv, &wanted, T0 + 10).await.unwrap();
    targets.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    // Alice has no subscription: left out.
    assert_eq!(
        targets,
        [
            PushTarget {
                user_id: bob.clone(),
                previews: true,
                mentions_when_muted: false,
                dnd_until: Some(T0 + 500),
                muted_until: Some(FOREVER),
                // Oldest first.
                subscriptions: vec![b2.clone(), b1.clone()],
            },
            PushTarget {
                user_id: carol.clone(),
                previews: false,
                mentions_when_muted: true,
                dnd_until: None,
                muted_until: None,
                subscriptions: vec![c.clone()],
            },
            PushTarget {
                user_id: dave.clone(),
                previews: false,
                mentions_when_muted: true,
                dnd_until: None,
                muted_until: Some(T0 + 100),
                subscriptions: vec![d.clone()],
            },
        ]
    );

    // Only the users asked about; none asked, none answered.
    let only = store
        .push_targets(conv, &[dave.clone(), "user-nobody".to_owned()], T0 + 200)
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].user_id, dave);
    assert_eq!(only[0].muted_until, None, "the mute ended at T0 + 100");
    assert!(store.push_targets(conv, &[], T0).await.unwrap().is_empty());
    assert!(
        store
            .push_targets(conv, std::slice::from_ref(&alice), T0)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- followers ----

pub async fn a_follower_is_claimed_renewed_taken_over_and_released(store: Arc<dyn Store>) {
    let name = "fanout";
    // Created at `start` for the first claimer.
    assert_eq!(
        store
            .claim_follower(name, "node-a", T0, LEASE, 42)
            .await
            .unwrap(),
        Some(42)
    );
    // Held: another node does not get it, whatever its start.
    assert_eq!(
        store
            .claim_follower(name, "node-b", T0 + 1, LEASE, 7)
            .await
            .unwrap(),
        None
    );
    // The holder advances and renews; a non-holder cannot advance.
    assert!(
        store
            .advance_follower(name, "node-a", 50, T0 + 10, LEASE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_follower(name, "node-b", 99, T0 + 10, LEASE)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .claim_follower(name, "node-a", T0 + 20, LEASE, 0)
            .await
            .unwrap(),
        Some(50)
    );
    // Until the lease (renewed at T0 + 20) has run out, it stays node-a's.
    assert_eq!(
        store
            .claim_follower(name, "node-b", T0 + 20 + LEASE, LEASE, 0)
            .await
            .unwrap(),
        None
    );
    let later = T0 + 21 + LEASE;
    assert_eq!(
        store
            .claim_follower(name, "node-b", later, LEASE, 0)
            .await
            .unwrap(),
        Some(50)
    );
    // Node-a was taken over: it can no longer advance, nor reclaim during node-b's lease.
    assert!(
        !store
            .advance_follower(name, "node-a", 60, later, LEASE)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .claim_follower(name, "node-a", later + 1, LEASE, 0)
            .await
            .unwrap(),
        None
    );
    // A release by a non-holder does nothing; by the holder, lets it go at once.
    store.release_follower(name, "node-a").await.unwrap();
    assert_eq!(
        store
            .claim_follower(name, "node-c", later + 2, LEASE, 0)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .advance_follower(name, "node-b", 70, later + 3, LEASE)
            .await
            .unwrap()
    );
    store.release_follower(name, "node-b").await.unwrap();
    assert!(
        !store
            .advance_follower(name, "node-b", 71, later + 4, LEASE)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .claim_follower(name, "node-c", later + 4, LEASE, 0)
            .await
            .unwrap(),
        Some(70)
    );
    // Followers are independent of each other.
    assert_eq!(
        store
            .claim_follower("other", "node-a", later + 4, LEASE, 3)
            .await
            .unwrap(),
        Some(3)
    );
}

pub async fn of_nodes_claiming_a_follower_at_once_one_wins(store: Arc<dyn Store>) {
    for round in 0..5 {
        let name = format!("raced-{round}");
        let (a, b, c) = tokio::join!(
            store.claim_follower(&name, "node-a", T0, LEASE, 10),
            store.claim_follower(&name, "node-b", T0, LEASE, 20),
            store.claim_follower(&name, "node-c", T0, LEASE, 30),
        );
        let won: Vec<Option<i64>> = [a, b, c].into_iter().map(Result::unwrap).collect();
        let winners: Vec<usize> = (0..3).filter(|i| won[*i].is_some()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {won:?}");
        let start = [10, 20, 30][winners[0]];
        assert_eq!(won[winners[0]], Some(start));

        // The same race once the lease has run out: again exactly one.
        let later = T0 + LEASE + 1;
        let (a, b) = tokio::join!(
            store.claim_follower(&name, "node-d", later, LEASE, 0),
            store.claim_follower(&name, "node-e", later, LEASE, 0),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.is_some() != b.is_some(), "round {round}: {a:?} {b:?}");
        assert_eq!(a.or(b), Some(start));
    }
}

// ---- webhooks ----

pub async fn a_webhook_starts_at_the_logs_head_within_the_users_limit(store: Arc<dyn Store>) {
    let [alice, bob, carol] = users(&*store, ["alice", "bob", "carol"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    send(&*store, &g, &alice, "before", T0 + 1).await;
    let head = store.head().await.unwrap();
    assert!(head > 0);

    store
        .create_webhook(&webhook("w-1", &bob, Some(&g), T0 + 2), 2)
        .await
        .unwrap();
    let state = store.webhook("w-1").await.unwrap().unwrap();
    assert_eq!(state.webhook, webhook("w-1", &bob, Some(&g), T0 + 2));
    assert_eq!(state.pos, head);
    assert_eq!(state.delivered_at, None);
    assert_eq!(state.last_error, None);
    assert_eq!(state.dead_letters, 0);

    // Every event logged after the creation is past its cursor.
    let sent = send(&*store, &g, &alice, "after", T0 + 3).await;
    let after = store.events_after(state.pos, 100).await.unwrap();
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .any(|e| e.message_id.as_deref() == Some(sent.id.as_str()))
    );
    assert!(after.iter().all(|e| e.pos > state.pos));

    // A second, for every conversation: at the limit. A third is past it.
    store
        .create_webhook(&webhook("w-2", &bob, None, T0 + 4), 2)
        .await
        .unwrap();
    assert_eq!(
        store.webhook("w-2").await.unwrap().unwrap().pos,
        store.head().await.unwrap()
    );
    assert_rule!(
        store
            .create_webhook(&webhook("w-3", &bob, None, T0 + 5), 2)
            .await,
        Invalid
    );
    assert!(store.webhook("w-3").await.unwrap().is_none());
    // The limit is per user, and a larger one admits more.
    store
        .create_webhook(&webhook("w-3", &bob, None, T0 + 5), 3)
        .await
        .unwrap();

    // Carol is no member of the conversation.
    assert_rule!(
        store
            .create_webhook(&webhook("w-4", &carol, Some(&g), T0 + 6), 2)
            .await,
        NotFound
    );
    assert_rule!(
        store
            .create_webhook(&webhook("w-5", &carol, Some("group-none"), T0 + 6), 2)
            .await,
        NotFound
    );
    assert!(
        store
            .webhooks_of(UserId::new(&carol))
            .await
            .unwrap()
            .is_empty()
    );
    // None stored left a follower: the next claim of w-4's creates it afresh.
    assert_eq!(
        store
            .claim_follower("webhook:w-4", "node-a", T0, LEASE, 1234)
            .await
            .unwrap(),
        Some(1234)
    );
}

pub async fn concurrent_webhook_creations_respect_the_limit(store: Arc<dyn Store>) {
    let [bot] = users(&*store, ["bot"]).await;
    let hooks: Vec<WebhookRow> = (0..6)
        .map(|i| webhook(&format!("w-{i}"), &bot, None, T0 + i))
        .collect();
    let results = futures::future::join_all(hooks.iter().map(|w| store.create_webhook(w, 3))).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 3, "{results:?}");
    for r in results.into_iter().filter(Result::is_err) {
        assert_rule!(r, Invalid);
    }
    assert_eq!(store.webhooks_of(UserId::new(&bot)).await.unwrap().len(), 3);
}

pub async fn webhooks_are_listed_and_deleted_by_their_owner(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[]).await;
    store
        .create_webhook(&webhook("w-late", &alice, None, T0 + 5), 10)
        .await
        .unwrap();
    store
        .create_webhook(&webhook("w-early", &alice, Some(&g), T0 + 1), 10)
        .await
        .unwrap();
    store
        .create_webhook(&webhook("w-bob", &bob, None, T0 + 3), 10)
        .await
        .unwrap();

    // Oldest first.
    let listed = store.webhooks_of(UserId::new(&alice)).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.webhook.id.as_str()).collect();
    assert_eq!(ids, ["w-early", "w-late"]);
    assert_eq!(
        listed[0].webhook,
        webhook("w-early", &alice, Some(&g), T0 + 1)
    );
    let all: Vec<String> = store
        .all_webhooks()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(all, ["w-early", "w-bob", "w-late"]);

    // Bob cannot delete Alice's.
    assert!(
        !store
            .delete_webhook(UserId::new(&bob), "w-late")
            .await
            .unwrap()
    );
    assert!(store.webhook("w-late").await.unwrap().is_some());

    // Deleted with its follower and its dead letters.
    store
        .claim_follower("webhook:w-late", "node-a", T0, LEASE, 0)
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    assert!(
        store
            .webhook_dead_letter(&letter("w-late", head + 1, 3), "node-a", T0, LEASE)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_webhook(UserId::new(&alice), "w-late")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_webhook(UserId::new(&alice), "w-late")
            .await
            .unwrap()
    );
    assert!(store.webhook("w-late").await.unwrap().is_none());
    assert!(
        store
            .dead_letters("w-late", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .advance_follower("webhook:w-late", "node-a", head + 2, T0, LEASE)
            .await
            .unwrap(),
        "the follower went with its webhook"
    );
    let ids: Vec<String> = store
        .webhooks_of(UserId::new(&alice))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.webhook.id)
        .collect();
    assert_eq!(ids, ["w-early"]);
}

pub async fn a_webhook_records_deliveries_failures_and_dead_letters(store: Arc<dyn Store>) {
    let [bot] = users(&*store, ["bot"]).await;
    store
        .create_webhook(&webhook("w", &bot, None, T0), 5)
        .await
        .unwrap();
    let start = store.webhook("w").await.unwrap().unwrap().pos;
    let name = "webhook:w";
    // The follower exists, at the head, held by no one.
    assert_eq!(
        store
            .claim_follower(name, "node-a", T0, LEASE, start + 999)
            .await
            .unwrap(),
        Some(start)
    );

    // Delivered: the cursor moves, the time is recorded.
    assert!(
        store
            .webhook_delivered("w", "node-a", start + 1, T0 + 10, LEASE)
            .await
            .unwrap()
    );
    let s = store.webhook("w").await.unwrap().unwrap();
    assert_eq!(
        (
            s.pos,
            s.delivered_at,
            s.last_error.as_deref(),
            s.dead_letters
        ),
        (start + 1, Some(T0 + 10), None, 0)
    );

    // A failed attempt records why, and moves nothing; a delivery clears it.
    store
        .webhook_failed("w", "connection refused", T0 + 20)
        .await
        .unwrap();
    let s = store.webhook("w").await.unwrap().unwrap();
    assert_eq!(
        (s.pos, s.delivered_at, s.last_error.as_deref()),
        (start + 1, Some(T0 + 10), Some("connection refused"))
    );
    assert!(
        store
            .webhook_delivered("w", "node-a", start + 2, T0 + 30, LEASE)
            .await
            .unwrap()
    );
    let s = store.webhook("w").await.unwrap().unwrap();
    assert_eq!(
        (s.pos, s.delivered_at, s.last_error.as_deref()),
        (start + 2, Some(T0 + 30), None)
    );

    // Given up: stored as dead letters, the cursor past each.
    for pos in [start + 3, start + 5, start + 6, start + 8] {
        assert!(
            store
                .webhook_dead_letter(&letter("w", pos, 5), "node-a", T0 + 40, LEASE)
                .await
                .unwrap()
        );
    }
    // Stored once: the same letter again changes nothing.
    assert!(
        store
            .webhook_dead_letter(&letter("w", start + 8, 9), "node-a", T0 + 41, LEASE)
            .await
            .unwrap()
    );
    let s = store.webhook("w").await.unwrap().unwrap();
    let expected_error = format!("HTTP 500 at {}", start + 8);
    assert_eq!(
        (
            s.pos,
            s.delivered_at,
            s.last_error.as_deref(),
            s.dead_letters
        ),
        (start + 8, Some(T0 + 30), Some(expected_error.as_str()), 4)
    );

    // Paged, oldest first, after a position.
    assert_eq!(
        store.dead_letters("w", 0, 2).await.unwrap(),
        [letter("w", start + 3, 5), letter("w", start + 5, 5)]
    );
    assert_eq!(
        store.dead_letters("w", start + 5, 2).await.unwrap(),
        [letter("w", start + 6, 5), letter("w", start + 8, 5)]
    );
    assert!(
        store
            .dead_letters("w", start + 8, 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .dead_letters("w-none", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Another node took over: the former holder stores nothing.
    let later = T0 + 41 + LEASE + 1;
    assert_eq!(
        store
            .claim_follower(name, "node-b", later, LEASE, 0)
            .await
            .unwrap(),
        Some(start + 8)
    );
    assert!(
        !store
            .webhook_delivered("w", "node-a", start + 9, later, LEASE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .webhook_dead_letter(&letter("w", start + 9, 5), "node-a", later, LEASE)
            .await
            .unwrap()
    );
    let s = store.webhook("w").await.unwrap().unwrap();
    assert_eq!((s.pos, s.dead_letters), (start + 8, 4));
    assert!(
        store
            .dead_letters("w", start + 8, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .webhook_delivered("w", "node-b", start + 9, later, LEASE)
            .await
            .unwrap()
    );
    let s = store.webhook("w").await.unwrap().unwrap();
    assert_eq!(
        (s.pos, s.delivered_at, s.last_error),
        (start + 9, Some(later), None)
    );
}

// ---- accounts ----

pub async fn deleting_an_account_removes_its_webhooks_and_settings(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    let d = crate::harness::direct(&*store, &alice, &bob).await;
    sessions(&*store, &[("s-a", &alice, 1), ("s-b", &bob, 2)]).await;
    put(&*store, &sub("p-a", &alice, "s-a", "a", T0)).await;
    put(&*store, &sub("p-b", &bob, "s-b", "b", T0)).await;
    for (id, user, conv) in [
        ("w-a1", &alice, Some(g.as_str())),
        ("w-a2", &alice, None),
        ("w-b", &bob, Some(g.as_str())),
    ] {
        store
            .create_webhook(&webhook(id, user, conv, T0), 5)
            .await
            .unwrap();
    }
    for u in [&alice, &bob] {
        store
            .set_notification_settings(
                UserId::new(u),
                &SettingsChange {
                    previews: Some(true),
                    ..SettingsChange::default()
                },
            )
            .await
            .unwrap();
        store
            .mute(UserId::new(u), ConversationId::new(&d), FOREVER)
            .await
            .unwrap();
    }

    store
        .delete_account(UserId::new(&alice), T0 + 10)
        .await
        .unwrap();

    assert!(
        store
            .webhooks_of(UserId::new(&alice))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.webhook("w-a1").await.unwrap().is_none());
    let all: Vec<String> = store
        .all_webhooks()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(all, ["w-b"]);
    assert_eq!(
        store
            .claim_follower("webhook:w-a2", "node-a", T0, LEASE, 777)
            .await
            .unwrap(),
        Some(777),
        "its follower went with it"
    );
    assert_eq!(
        settings(&*store, &alice, T0).await,
        NotificationSettings::default()
    );
    assert!(sub_ids(&*store, &alice).await.is_empty());
    // Bob keeps his.
    assert_eq!(sub_ids(&*store, &bob).await, ["p-b"]);
    let bobs = settings(&*store, &bob, T0).await;
    assert!(bobs.previews);
    assert_eq!(bobs.muted, [(d.clone(), FOREVER)]);
    assert!(store.webhook("w-b").await.unwrap().is_some());
    // A deleted account creates none.
    assert_rule!(
        store
            .create_webhook(&webhook("w-a3", &alice, None, T0 + 20), 5)
            .await,
        Forbidden
    );
}
