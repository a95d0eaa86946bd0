//! Several nodes: servers in this process sharing one PostgreSQL schema, one NATS server (under
//! a prefix of their own) and one media directory. Users on different nodes must not be able
//! to tell. Runs when both `NATTER_TEST_POSTGRES_URL` and `NATTER_TEST_NATS_URL` are set (CI
//! sets them); the kill -9 case is in the `natter` crate's tests, which run real processes.

use std::time::Duration;

use natter_client::{Client, Ephemeral, Event, EventData, SendMessageRequest, ServerFrame, Socket};
use natter_server::{Config, Server};
use tempfile::TempDir;

use crate::{helpers::*, pg::Schema};

/// Nodes of one cluster, and what they share.
struct Cluster {
    nodes: Vec<Option<Server>>,
    urls: Vec<String>,
    _media: TempDir,
    _data: Vec<TempDir>,
    _schema: Schema,
}

impl Cluster {
    async fn start(n: usize) -> Option<Cluster> {
        Self::start_on(n, None).await
    }

    /// `n` nodes on the NATS server at `nats`, or on `NATTER_TEST_NATS_URL`'s.
    async fn start_on(n: usize, nats: Option<String>) -> Option<Cluster> {
        Self::start_with(n, nats, |_| {}).await
    }

    /// [`Cluster::start_on`] with each node's configuration adjusted by `tweak`.
    async fn start_with(
        n: usize,
        nats: Option<String>,
        tweak: impl Fn(&mut Config),
    ) -> Option<Cluster> {
        let (Some(pg), Ok(shared_nats)) = (
            crate::pg::postgres_url(),
            std::env::var("NATTER_TEST_NATS_URL"),
        ) else {
            eprintln!(
                "NATTER_TEST_POSTGRES_URL and NATTER_TEST_NATS_URL are not both set: several nodes are not tested here"
            );
            return None;
        };
        let nats = nats.unwrap_or(shared_nats);
        let schema = Schema::create(&pg).await;
        let media = tempfile::tempdir().unwrap();
        let prefix = format!("t{}", uuid::Uuid::now_v7().simple());
        let mut nodes = Vec::new();
        let mut urls = Vec::new();
        let mut data = Vec::new();
        for _ in 0..n {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config {
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.path().to_path_buf(),
                database_url: Some(schema.url.clone()),
                bus_url: Some(nats.clone()),
                bus_prefix: prefix.clone(),
                media_dir: Some(media.path().to_path_buf()),
                rate_limit: false,
                registration: natter_server::config::Registration::Open,
                presence_debounce: Duration::from_millis(100),
                presence_timeout: Duration::from_secs(2),
                // Long, so that no indicator ends by running out while a test waits for it.
                typing_timeout: Duration::from_secs(60),
                ..Config::default()
            };
            tweak(&mut config);
            let server = natter_server::start(config).await.expect("a node starts");
            urls.push(server.url());
            nodes.push(Some(server));
            data.push(dir);
        }
        Some(Cluster {
            nodes,
            urls,
            _media: media,
            _data: data,
            _schema: schema,
        })
    }

    fn anon(&self, node: usize) -> Client {
        Client::new(&self.urls[node])
    }

    /// Signs `username` up on `node`.
    async fn user(&self, node: usize, username: &str) -> (Client, String) {
        let (c, u) = self
            .anon(node)
            .sign_up(username, PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("cannot sign up {username}: {e}"));
        (c, u.id)
    }

    /// The same session, talking to another node.
    fn on(&self, node: usize, client: &Client) -> Client {
        Client::new(&self.urls[node]).with_token(client.token().unwrap())
    }

    async fn stop(&mut self, node: usize) {
        if let Some(s) = self.nodes[node].take() {
            s.shutdown().await.expect("a clean shutdown");
        }
    }
}

/// The next durable event on `socket` that `want` accepts, skipping others.
async fn until(socket: &mut Socket, want: impl Fn(&EventData) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(left).await {
            Ok(Some(ServerFrame::Event(e))) if want(&e.event) => return *e,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the awaited event did not arrive within {ARRIVES:?}"),
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
}

/// The next ephemeral frame on `socket` that `want` accepts, skipping others.
async fn until_ephemeral(socket: &mut Socket, want: impl Fn(&Ephemeral) -> bool) -> Ephemeral {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(left).await {
            Ok(Some(ServerFrame::Ephemeral(e))) if want(&e) => return e,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the awaited frame did not arrive within {ARRIVES:?}"),
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
}

#[tokio::test]
async fn a_direct_and_a_group_conversation_cross_nodes() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (alice, a) = cluster.user(0, "alice").await;
    let (bob, b) = cluster.user(1, "bob").await;
    let (carol, c) = cluster.user(1, "carol").await;
    let mut alice_ws = alice.connect(None).await.unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();
    let mut carol_ws = carol.connect(None).await.unwrap();

    // A direct conversation made on node 0 reaches bob on node 1.
    let direct = alice.direct(&b).await.unwrap().value.id;
    until(
        &mut bob_ws,
        |e| matches!(e, EventData::ConversationUpdated(c) if c.id == direct),
    )
    .await;

    // Messages both ways, each in order.
    for i in 1..=5 {
        alice.send_text(&direct, &format!("a{i}")).await.unwrap();
    }
    let mut seqs = Vec::new();
    for _ in 1..=5 {
        let e = until(&mut bob_ws, |e| matches!(e, EventData::NewMessage(_))).await;
        let EventData::NewMessage(m) = e.event else {
            unreachable!()
        };
        assert_eq!(m.text.as_deref(), Some(format!("a{}", m.seq).as_str()));
        seqs.push(m.seq);
    }
    assert_exactly_once_in_order(&seqs, 5);
    // Marks from node 1 reach the sender on node 0, with the watermarks.
    bob_ws.read(&direct, 5).await.unwrap();
    let e = until(&mut alice_ws, |e| matches!(e, EventData::MessageStatus(_))).await;
    let EventData::MessageStatus(s) = e.event else {
        unreachable!()
    };
    assert_eq!(
        (s.user_id.as_str(), s.status.as_str(), s.up_to_seq),
        (b.as_str(), "read", 5)
    );
    let e = until(&mut alice_ws, |e| {
        matches!(e, EventData::ConversationStatus(_))
    })
    .await;
    let EventData::ConversationStatus(w) = e.event else {
        unreachable!()
    };
    assert_eq!((w.all_delivered_seq, w.all_read_seq), (5, 5));

    let reply = bob.send_text(&direct, "b6").await.unwrap();
    let e = until(
        &mut alice_ws,
        |e| matches!(e, EventData::NewMessage(m) if m.sender_id == b),
    )
    .await;
    let EventData::NewMessage(m) = e.event else {
        unreachable!()
    };
    assert_eq!((m.seq, m.text.as_deref()), (6, Some("b6")));

    // An edit and a delete made on node 1 reach node 0.
    bob.edit_message(&reply.id, "b6, edited").await.unwrap();
    let e = until(&mut alice_ws, |e| matches!(e, EventData::MessageUpdated(_))).await;
    let EventData::MessageUpdated(m) = e.event else {
        unreachable!()
    };
    assert_eq!(m.text.as_deref(), Some("b6, edited"));
    bob.delete_message(&reply.id).await.unwrap();
    let e = until(&mut alice_ws, |e| matches!(e, EventData::MessageDeleted(_))).await;
    let EventData::MessageDeleted(d) = e.event else {
        unreachable!()
    };
    assert_eq!(d.message_id, reply.id);

    // Typing from node 0 reaches node 1.
    alice_ws.typing(&direct, true).await.unwrap();
    let t = until_ephemeral(&mut bob_ws, |e| matches!(e, Ephemeral::TypingStart(_))).await;
    let Ephemeral::TypingStart(t) = t else {
        unreachable!()
    };
    assert_eq!(
        (t.user_id.as_str(), t.conversation_id.as_str()),
        (a.as_str(), direct.as_str())
    );

    // A group with members on both nodes: a rename and a message reach everyone.
    let group = alice.create_group("across", &[&b, &c]).await.unwrap().id;
    carol.send_text(&group, "hello from node 1").await.unwrap();
    for ws in [&mut alice_ws, &mut bob_ws] {
        let e = until(
            ws,
            |e| matches!(e, EventData::NewMessage(m) if m.conversation_id == group),
        )
        .await;
        let EventData::NewMessage(m) = e.event else {
            unreachable!()
        };
        assert_eq!(m.text.as_deref(), Some("hello from node 1"));
    }
    alice.rename(&group, "across nodes").await.unwrap();
    for ws in [&mut bob_ws, &mut carol_ws] {
        until(ws, |e| {
            matches!(e, EventData::ConversationUpdated(c) if c.name.as_deref() == Some("across nodes"))
        })
        .await;
    }

    // The history is one: read from either node, it is the same.
    let on0 = alice.messages(&direct, &Default::default()).await.unwrap();
    let on1 = cluster
        .on(1, &alice)
        .messages(&direct, &Default::default())
        .await
        .unwrap();
    assert_eq!(on0.messages, on1.messages);
    assert_eq!(on0.messages.len(), 6);
}

#[tokio::test]
async fn presence_is_the_clusters_and_a_revocation_closes_sockets_on_every_node() {
    let Some(mut cluster) = Cluster::start(2).await else {
        return;
    };
    let (alice, a) = cluster.user(0, "alice").await;
    let (bob, _) = cluster.user(1, "bob").await;
    alice.direct(&bob.me().await.unwrap().id).await.unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();

    // Alice online on node 0: bob, on node 1, hears it.
    let alice0 = alice.connect(None).await.unwrap();
    let online = |want: bool| {
        let a = a.clone();
        move |e: &Ephemeral| matches!(e, Ephemeral::PresenceUpdate(p) if p.user_id == a && p.online == want)
    };
    until_ephemeral(&mut bob_ws, online(true)).await;
    assert!(bob.user(&a).await.unwrap().online);

    // A second device on node 1, then the first leaves: alice stays online.
    let (alice_b, login) = cluster
        .anon(1)
        .login(&natter_client::LoginRequest {
            username: "alice".into(),
            password: PASSWORD.into(),
            device_name: Some("second".into()),
        })
        .await
        .unwrap();
    let alice1 = alice_b.connect(None).await.unwrap();
    alice0.close().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        bob.user(&a).await.unwrap().online,
        "online while a device is on node 1"
    );

    // Revoking the second device's session from node 0 closes its socket on node 1 (4001);
    // alice is then offline on both.
    let mut alice1 = alice1;
    alice.revoke_session(&login.session_id).await.unwrap();
    assert_eq!(closed_code(&mut alice1).await, 4001);
    until_ephemeral(&mut bob_ws, online(false)).await;
    assert!(!bob.user(&a).await.unwrap().online);

    // A node that goes away takes its users' presence with it, within --presence-timeout.
    let alice_again = cluster.on(0, &alice);
    let _alice0 = alice_again.connect(None).await.unwrap();
    until_ephemeral(&mut bob_ws, online(true)).await;
    cluster.stop(0).await;
    until_ephemeral(&mut bob_ws, online(false)).await;
}

#[tokio::test]
async fn a_profile_change_and_a_password_change_reach_every_node() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (alice, a) = cluster.user(0, "alice").await;
    let (bob, _) = cluster.user(1, "bob").await;
    alice.direct(&bob.me().await.unwrap().id).await.unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();
    let (alice_phone, _) = cluster
        .anon(1)
        .login(&natter_client::LoginRequest {
            username: "alice".into(),
            password: PASSWORD.into(),
            device_name: Some("phone".into()),
        })
        .await
        .unwrap();
    let mut phone_ws = alice_phone.connect(None).await.unwrap();

    // A new display name set through node 0 reaches bob and alice's phone on node 1.
    alice.update_profile("Alice L.").await.unwrap();
    for ws in [&mut bob_ws, &mut phone_ws] {
        let e = until(ws, |d| matches!(d, EventData::UserUpdated(u) if u.id == a)).await;
        let EventData::UserUpdated(u) = e.event else {
            unreachable!()
        };
        assert_eq!(u.display_name, "Alice L.");
    }

    // A new password set through node 0 closes the phone's socket on node 1, and its token
    // stops working on both nodes; the caller's session goes on.
    alice
        .change_password(PASSWORD, "a brand new password")
        .await
        .unwrap();
    assert_eq!(closed_code(&mut phone_ws).await, 4001);
    assert_api_error(alice_phone.me().await, 401, "unauthorized");
    assert_api_error(cluster.on(0, &alice_phone).me().await, 401, "unauthorized");
    cluster.on(1, &alice).me().await.unwrap();
}

#[tokio::test]
async fn media_uploaded_on_one_node_downloads_from_another() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (alice, _) = cluster.user(0, "alice").await;
    let (bob, b) = cluster.user(1, "bob").await;
    let direct = alice.direct(&b).await.unwrap().value.id;
    let bytes = b"a file shared across nodes".to_vec();
    let media = alice
        .upload(bytes.clone(), "text/plain", Some("notes.txt"))
        .await
        .unwrap();
    alice
        .send_message(
            &direct,
            &SendMessageRequest {
                kind: Some("file".into()),
                media_id: Some(media.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = bob.download(&media.id, &[]).await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bytes);
}

#[tokio::test]
async fn nodes_that_lose_nats_go_on_serving_and_catch_up() {
    if std::env::var("NATTER_TEST_NATS_URL").is_err() {
        return;
    }
    let port = crate::bus_nats::free_port();
    let nats = crate::bus_nats::OwnNats::start(port);
    nats.ready().await;
    let Some(cluster) = Cluster::start_on(2, Some(nats.url())).await else {
        return;
    };
    let (alice, _) = cluster.user(0, "alice").await;
    let (bob, b) = cluster.user(1, "bob").await;
    let direct = alice.direct(&b).await.unwrap().value.id;
    let mut alice_ws = alice.connect(None).await.unwrap();
    let mut bob_ws = bob.connect(None).await.unwrap();

    drop(nats);
    // Without NATS: each node serves its own connections at once, and the other node's
    // messages still arrive, read from the shared log (within its one-second tail).
    let sent = alice
        .send_text(&direct, "while NATS is down")
        .await
        .unwrap();
    for ws in [&mut alice_ws, &mut bob_ws] {
        let e = until(ws, |e| matches!(e, EventData::NewMessage(_))).await;
        let EventData::NewMessage(m) = e.event else {
            unreachable!()
        };
        assert_eq!(m.id, sent.id);
    }
    bob.send_text(&direct, "reply while NATS is down")
        .await
        .unwrap();
    until(
        &mut alice_ws,
        |e| matches!(e, EventData::NewMessage(m) if m.seq == 2),
    )
    .await;

    // NATS returns: typing, which only NATS carries, crosses again.
    let nats = crate::bus_nats::OwnNats::start(port);
    nats.ready().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        alice_ws.typing(&direct, true).await.unwrap();
        match bob_ws.next_within(Duration::from_millis(300)).await {
            Ok(Some(ServerFrame::Ephemeral(Ephemeral::TypingStart(_)))) => break,
            Ok(_) => {}
            Err(e) => panic!("bob's socket failed: {e}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "typing did not cross within 30 s of NATS's return"
        );
        alice_ws.typing(&direct, false).await.unwrap();
    }
    drop(nats);
}

#[tokio::test]
async fn a_typing_indicator_ends_whichever_node_ends_it() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (alice, a) = cluster.user(0, "alice").await;
    let (bob, b) = cluster.user(1, "bob").await;
    let direct = alice.direct(&b).await.unwrap().value.id;
    let mut bob_ws = bob.connect(None).await.unwrap();
    let alice_on_1 = cluster.on(1, &alice);
    let is_stop = |e: &Ephemeral| matches!(e, Ephemeral::TypingStop(_));

    // Started on node 0, ended by a send through node 1.
    alice.set_typing(&direct, true).await.unwrap();
    until_ephemeral(&mut bob_ws, |e| matches!(e, Ephemeral::TypingStart(_))).await;
    alice_on_1
        .send_text(&direct, "sent through node 1")
        .await
        .unwrap();
    let Ephemeral::TypingStop(t) = until_ephemeral(&mut bob_ws, is_stop).await else {
        unreachable!()
    };
    assert_eq!(
        (t.user_id.as_str(), t.conversation_id.as_str()),
        (a.as_str(), direct.as_str())
    );

    // Started on node 0, stopped through node 1.
    alice.set_typing(&direct, true).await.unwrap();
    until_ephemeral(&mut bob_ws, |e| matches!(e, Ephemeral::TypingStart(_))).await;
    alice_on_1.set_typing(&direct, false).await.unwrap();
    until_ephemeral(&mut bob_ws, is_stop).await;
}

#[tokio::test]
async fn reactions_mentions_and_search_cross_nodes() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (alice, _) = cluster.user(0, "alice").await;
    let (bob, b) = cluster.user(1, "bob").await;
    let (carol, c) = cluster.user(1, "carol").await;
    let g = alice
        .create_group("g", &[b.as_str(), c.as_str()])
        .await
        .unwrap();
    let mut alice_ws = alice.connect(None).await.unwrap();
    let mut carol_ws = carol.connect(None).await.unwrap();

    // Sent through node 0, mentioning bob on node 1; found on node 1.
    let m = alice
        .send_text(&g.id, "@bob the quarterly figures")
        .await
        .unwrap();
    assert_eq!(m.mentions, [b.as_str()]);
    assert_eq!(bob.conversation(&g.id).await.unwrap().mention_count, 1);
    let found = bob.search("quarterly fig", None, None, None).await.unwrap();
    assert_eq!(found.messages[0].message.id, m.id);

    // A reaction through node 1 reaches node 0 and node 1 live.
    bob.add_reaction(&m.id, "👍").await.unwrap();
    for ws in [&mut alice_ws, &mut carol_ws] {
        let e = until(ws, |d| matches!(d, EventData::ReactionChanged(_))).await;
        let EventData::ReactionChanged(r) = e.event else {
            unreachable!()
        };
        assert_eq!(
            (r.message_id.as_str(), r.emoji.as_str(), r.count),
            (m.id.as_str(), "👍", 1)
        );
        assert_eq!(r.user_id, b);
    }
    let seen = cluster.on(0, &bob).message(&m.id).await.unwrap();
    assert_eq!(seen.reactions.len(), 1);
    assert!(seen.reactions[0].me);

    // Deleted through node 0: no node finds it any more.
    alice.delete_message(&m.id).await.unwrap();
    assert!(
        bob.search("quarterly", None, None, None)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
    assert!(
        cluster
            .on(0, &carol)
            .search("quarterly", None, None, None)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
}

#[tokio::test]
async fn one_node_at_a_time_delivers_webhooks_and_pushes_and_another_takes_over() {
    let receiver = crate::webhooks::Receiver::start().await;
    let push = crate::push_service::PushService::start().await;
    let (hooks, pushes) = (receiver.prefix(), push.prefix());
    let Some(mut cluster) = Cluster::start_with(2, None, move |cfg| {
        cfg.webhook_allow = vec![hooks.clone()];
        cfg.push_allow = vec![pushes.clone()];
        cfg.delivery_lease = Duration::from_secs(1);
        cfg.webhook_backoff = Duration::from_millis(20);
    })
    .await
    else {
        return;
    };
    let (alice, _) = cluster.user(1, "alice").await;
    let (bot, bot_id) = cluster.user(0, "bot").await;
    let (bob, bob_id) = cluster.user(0, "bob").await;
    push.expect_vapid_key(&cluster.anon(1).vapid_key().await.unwrap().public_key);
    let bob_sub = push.subscription();
    bob.add_push_subscription(&bob_sub.to_wire()).await.unwrap();
    let to_bot = alice.direct(&bot_id).await.unwrap().value;
    let to_bob = alice.direct(&bob_id).await.unwrap().value;
    bot.create_webhook(&natter_wire::NewWebhook {
        url: receiver.url("bot"),
        conversation_id: Some(to_bot.id.clone()),
    })
    .await
    .unwrap();
    for i in 0..10 {
        alice.send_text(&to_bot.id, &format!("m{i}")).await.unwrap();
    }
    let mut last_to_bob = None;
    for i in 0..3 {
        last_to_bob = Some(alice.send_text(&to_bob.id, &format!("b{i}")).await.unwrap());
    }
    let got = receiver.wait_accepted("/hooks/bot", 10).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(texts, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
    // Each push once, whichever node sent it.
    let last_to_bob = last_to_bob.unwrap();
    while push.next_push(&bob_sub).await.payload.message_id != last_to_bob.id {}
    let mut ids: Vec<String> = push
        .received(&bob_sub)
        .into_iter()
        .map(|p| p.payload.message_id)
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a message pushed twice");

    // The first node stops: whichever held the webhook, the other delivers what follows.
    cluster.stop(0).await;
    for i in 10..15 {
        alice.send_text(&to_bot.id, &format!("m{i}")).await.unwrap();
    }
    let got = receiver.wait_accepted("/hooks/bot", 15).await;
    let texts: Vec<&str> = got.iter().filter_map(|d| d.text()).collect();
    assert_eq!(
        texts,
        (0..15).map(|i| format!("m{i}")).collect::<Vec<_>>(),
        "each event once, in order, across the takeover"
    );
    assert!(push.errors().is_empty(), "{:?}", push.errors());
}
