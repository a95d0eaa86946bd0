//! Losing a node: two `natter serve` processes share one PostgreSQL schema and one NATS server.
//! Clients send on both; one node is killed with SIGKILL while they do. Its clients move to the
//! other node, resume their sockets from their cursors and retry what was not acknowledged with
//! the same `client_id`. At the end every acknowledged message exists exactly once, and every
//! receiver holds every message of its conversations, in order, with no gap.
//!
//! Runs when `NATTER_TEST_POSTGRES_URL` and `NATTER_TEST_NATS_URL` are set (CI sets both).

mod common;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use natter_client::{Client, EventData, MessageQuery, SendMessageRequest, ServerFrame, Socket};

/// Sender tasks, half starting on each node.
const TASKS: usize = 8;

/// One sender: numbered messages into one conversation, as one user, on one node until it dies.
struct Sender {
    task: usize,
    token: String,
    conv: String,
    next: u64,
    /// Attempted and not acknowledged.
    pending: Vec<String>,
    /// client_id → (id, seq) acknowledged.
    acked: BTreeMap<String, (String, i64)>,
    /// Sends that failed for want of a node and were retried on another.
    retried: usize,
}

impl Sender {
    fn text(cid: &str) -> String {
        format!("message {cid}")
    }

    async fn send(&self, url: &str, cid: &str) -> natter_client::Result<(String, i64)> {
        let client = Client::new(url).with_token(self.token.clone());
        let r = client
            .send_message(
                &self.conv,
                &SendMessageRequest {
                    client_id: Some(cid.to_owned()),
                    text: Some(Self::text(cid)),
                    ..Default::default()
                },
            )
            .await?;
        assert_eq!(r.value.text.as_deref(), Some(Self::text(cid).as_str()));
        Ok((r.value.id, r.value.seq))
    }

    /// Sends on `urls[0]` until `stop`; when a send fails (the node died), keeps it pending and
    /// moves to the next URL, where it first retries what is pending.
    async fn run(mut self, urls: Vec<String>, stop: Arc<AtomicBool>) -> Sender {
        let mut node = 0;
        while !stop.load(Ordering::Relaxed) {
            if !self.pending.is_empty() {
                let cid = self.pending[0].clone();
                match self.send(&urls[node], &cid).await {
                    Ok(ack) => {
                        self.pending.remove(0);
                        assert!(self.acked.insert(cid.clone(), ack).is_none(), "{cid} twice");
                    }
                    Err(e) => {
                        assert!(e.status().is_none(), "{cid}: refused: {e}");
                        node = (node + 1).min(urls.len() - 1);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                continue;
            }
            self.next += 1;
            let cid = format!("k{}-{}", self.task, self.next);
            match self.send(&urls[node], &cid).await {
                Ok(ack) => {
                    self.acked.insert(cid, ack);
                }
                Err(e) => {
                    assert!(e.status().is_none(), "{cid}: refused: {e}");
                    self.pending.push(cid);
                    self.retried += 1;
                    node = (node + 1).min(urls.len() - 1);
                }
            }
        }
        // Whatever is still pending is retried until it is acknowledged.
        while let Some(cid) = self.pending.first().cloned() {
            let ack = self
                .send(urls.last().unwrap(), &cid)
                .await
                .unwrap_or_else(|e| panic!("{cid}: retry on the surviving node: {e}"));
            self.pending.remove(0);
            self.acked.insert(cid, ack);
        }
        self
    }
}

/// A receiver: one user's socket on `urls[0]`, moving to the next node (resuming from its
/// cursor) when its node dies. Collects (conversation, seq, client_id) of every new message
/// until `total` messages arrived.
async fn receive(
    urls: Vec<String>,
    token: String,
    since: String,
    want: Arc<std::sync::Mutex<Option<usize>>>,
) -> Vec<(String, i64, String)> {
    let mut got = Vec::new();
    let mut cursor = since;
    let mut node = 0;
    let mut socket: Option<Socket> = None;
    loop {
        if want.lock().unwrap().is_some_and(|n| got.len() >= n) {
            return got;
        }
        if socket.is_none() {
            let client = Client::new(&urls[node]).with_token(token.clone());
            match client.connect(Some(&cursor)).await {
                Ok(s) => socket = Some(s),
                Err(_) => {
                    node = (node + 1).min(urls.len() - 1);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let s = socket.as_mut().unwrap();
        match s.next_within(Duration::from_millis(500)).await {
            Ok(Some(ServerFrame::Event(e))) => {
                cursor = e.cursor.clone();
                if let EventData::NewMessage(m) = e.event {
                    got.push((m.conversation_id, m.seq, m.client_id.unwrap_or_default()));
                }
            }
            Ok(Some(ServerFrame::Control(natter_client::ControlFrame::ResyncRequired {
                ..
            }))) => {
                panic!("a receiver was told to resync: its cursor could not resume")
            }
            Ok(_) => {}
            Err(_) => {
                socket = None;
                node = (node + 1).min(urls.len() - 1);
            }
        }
    }
}

async fn all_messages(client: &Client, conv: &str) -> Vec<natter_client::Message> {
    let mut out: Vec<natter_client::Message> = Vec::new();
    loop {
        let page = client
            .messages(
                conv,
                &MessageQuery {
                    after: Some(out.last().map_or(0, |m| m.seq)),
                    limit: Some(200),
                    ..Default::default()
                },
            )
            .await
            .expect("paging messages");
        let more = page.has_more;
        out.extend(page.messages);
        if !more {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_a_node_loses_no_acknowledged_message_and_leaves_no_gap() {
    let (Ok(pg), Ok(nats)) = (
        std::env::var("NATTER_TEST_POSTGRES_URL"),
        std::env::var("NATTER_TEST_NATS_URL"),
    ) else {
        eprintln!("NATTER_TEST_POSTGRES_URL and NATTER_TEST_NATS_URL are not both set: not run");
        return;
    };
    let schema = common::Schema::create(&pg).await;
    let media = tempfile::tempdir().unwrap();
    let prefix = format!("kill{}", std::process::id());
    let media_dir = media.path().to_str().unwrap().to_owned();
    let args = [
        "--database-url",
        &schema.url,
        "--bus-url",
        &nats,
        "--bus-prefix",
        &prefix,
        "--media-dir",
        &media_dir,
    ];
    let (d0, d1) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let doomed = common::serve_with(d0.path(), "127.0.0.1:0", Some("warn"), &args);
    let survivor = common::serve_with(d1.path(), "127.0.0.1:0", Some("warn"), &args);
    let urls = [doomed.url.clone(), survivor.url.clone()];

    // alice signs up on the doomed node, bob and carol on the survivor; a group of three and a
    // direct conversation of alice and bob.
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for (name, node) in [("alice", 0), ("bob", 1), ("carol", 1)] {
        let (c, u) = Client::new(&urls[node])
            .sign_up(name, "correct horse battery")
            .await
            .expect("sign up");
        tokens.push(c.token().unwrap().to_owned());
        ids.push(u.id);
    }
    let alice = Client::new(&urls[0]).with_token(tokens[0].clone());
    let group = alice
        .create_group("failover", &[ids[1].as_str(), ids[2].as_str()])
        .await
        .unwrap()
        .id;
    let direct = alice.direct(&ids[1]).await.unwrap().value.id;

    // Receivers: alice on the doomed node, bob and carol on the survivor, from now.
    let mut receivers = Vec::new();
    for (u, node) in [(0usize, 0usize), (1, 1), (2, 1)] {
        let want = Arc::new(std::sync::Mutex::new(None));
        let client = Client::new(&urls[node]).with_token(tokens[u].clone());
        let since = client.connect(None).await.unwrap().ready.cursor.clone();
        let order: Vec<String> = if node == 0 {
            urls.to_vec()
        } else {
            vec![urls[1].clone()]
        };
        receivers.push((
            u,
            tokio::spawn(receive(order, tokens[u].clone(), since, want.clone())),
            want,
        ));
    }

    // Senders: half on each node; in the group all three users, in the direct one alice and bob.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (user, conv) = if task < 6 {
            (task % 3, group.clone())
        } else {
            (task % 2, direct.clone())
        };
        let node = task % 2;
        let order: Vec<String> = if node == 0 {
            urls.to_vec()
        } else {
            vec![urls[1].clone()]
        };
        let sender = Sender {
            task,
            token: tokens[user].clone(),
            conv,
            next: 0,
            pending: Vec::new(),
            acked: BTreeMap::new(),
            retried: 0,
        };
        tasks.push(tokio::spawn(sender.run(order, stop.clone())));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    doomed.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut senders = Vec::new();
    for t in tasks {
        senders.push(t.await.expect("a sender"));
    }

    // The kill landed while the doomed node's senders were sending: each had to move.
    for s in senders.iter().filter(|s| s.task % 2 == 0) {
        assert!(s.retried > 0, "sender {} never lost its node", s.task);
    }
    eprintln!(
        "acknowledged {} messages; {} sends retried on the surviving node",
        senders.iter().map(|s| s.acked.len()).sum::<usize>(),
        senders.iter().map(|s| s.retried).sum::<usize>()
    );

    // Every acknowledged message exists once, where it was acknowledged; seqs are gapless.
    let bob = Client::new(&urls[1]).with_token(tokens[1].clone());
    let mut stored: HashMap<String, Vec<natter_client::Message>> = HashMap::new();
    for conv in [&group, &direct] {
        let msgs = all_messages(&bob, conv).await;
        let mut acked: HashMap<&str, &(String, i64)> = HashMap::new();
        for s in senders.iter().filter(|s| &s.conv == conv) {
            for (cid, ack) in &s.acked {
                acked.insert(cid, ack);
            }
        }
        assert_eq!(
            msgs.len(),
            acked.len(),
            "{conv}: {} stored, {} acknowledged",
            msgs.len(),
            acked.len()
        );
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m.seq, i as i64 + 1, "{conv}: gap or duplicate seq");
            let cid = m.client_id.as_deref().expect("a client_id");
            let (id, seq) = acked
                .get(cid)
                .unwrap_or_else(|| panic!("{cid} never acknowledged"));
            assert_eq!((id.as_str(), *seq), (m.id.as_str(), m.seq), "{cid}");
        }
        stored.insert(conv.clone(), msgs);
    }
    let total_for = |u: usize| -> usize {
        stored[&group].len() + if u < 2 { stored[&direct].len() } else { 0 }
    };

    // Every receiver gets every message of its conversations once, in order.
    for (u, r, want) in receivers {
        *want.lock().unwrap() = Some(total_for(u));
        let got = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .unwrap_or_else(|_| panic!("receiver {u} did not get every message within 60 s"))
            .expect("a receiver");
        for conv in [&group, &direct] {
            if u == 2 && conv == &direct {
                continue;
            }
            let seqs: Vec<i64> = got.iter().filter(|g| &g.0 == conv).map(|g| g.1).collect();
            let want: Vec<i64> = (1..=stored[conv].len() as i64).collect();
            assert_eq!(
                seqs, want,
                "receiver {u}, {conv}: every message once, in order"
            );
        }
    }
    drop(survivor);
    schema.drop_it().await;
}

#[tokio::test]
async fn the_users_of_a_killed_node_show_offline_within_the_presence_timeout() {
    let (Ok(pg), Ok(nats)) = (
        std::env::var("NATTER_TEST_POSTGRES_URL"),
        std::env::var("NATTER_TEST_NATS_URL"),
    ) else {
        eprintln!("NATTER_TEST_POSTGRES_URL and NATTER_TEST_NATS_URL are not both set: not run");
        return;
    };
    let schema = common::Schema::create(&pg).await;
    let prefix = format!("presence{}", std::process::id());
    let args = [
        "--database-url",
        &schema.url,
        "--bus-url",
        &nats,
        "--bus-prefix",
        &prefix,
        "--presence-timeout",
        "2s",
    ];
    let (d0, d1) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let doomed = common::serve_with(d0.path(), "127.0.0.1:0", Some("warn"), &args);
    let survivor = common::serve_with(d1.path(), "127.0.0.1:0", Some("warn"), &args);

    let (alice, _) = Client::new(&doomed.url)
        .sign_up("alice", "correct horse battery")
        .await
        .unwrap();
    let (bob, b) = Client::new(&survivor.url)
        .sign_up("bob", "correct horse battery")
        .await
        .unwrap();
    alice.direct(&b.id).await.unwrap();
    let a = alice.me().await.unwrap().id;
    let mut bob_ws = bob.connect(None).await.unwrap();
    let _alice_ws = alice.connect(None).await.unwrap();

    presence(&mut bob_ws, &a, true).await;
    assert!(bob.user(&a).await.unwrap().online);

    // SIGKILL: the node says nothing more; the survivor lets alice go when it stops hearing it.
    let killed = std::time::Instant::now();
    doomed.kill();
    presence(&mut bob_ws, &a, false).await;
    eprintln!(
        "alice shown offline {:?} after her node was killed",
        killed.elapsed()
    );
    assert!(!bob.user(&a).await.unwrap().online);
    drop(survivor);
    schema.drop_it().await;
}

/// Waits for a `presence_update` of `user` saying `online`.
async fn presence(ws: &mut Socket, user: &str, online: bool) {
    loop {
        match ws.next_within(Duration::from_secs(20)).await {
            Ok(Some(ServerFrame::Ephemeral(natter_client::Ephemeral::PresenceUpdate(p))))
                if p.user_id == user && p.online == online =>
            {
                return;
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("no presence_update online={online} within 20 s"),
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
}
