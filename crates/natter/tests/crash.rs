//! Crash durability: many clients send with `client_id`s, the server is killed with SIGKILL
//! mid-stream, restarted on the same data, and the clients retry what was not acknowledged.
//! Every acknowledged message must exist exactly once, with the id and seq it was acknowledged
//! with, and every conversation's seqs must be exactly `1..=last_seq`.

mod common;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use natter_client::{Client, MessageQuery, SendMessageRequest};

/// Kill/restart cycles in one test.
const CYCLES: usize = 3;
/// Concurrent sender tasks.
const TASKS: usize = 16;
/// How long the senders run before the server is killed under them (more in later rounds, so
/// that the kill lands at different points).
fn send_for(round: usize) -> Duration {
    Duration::from_millis(500 + 200 * round as u64)
}

/// What one acknowledged send returned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    id: String,
    seq: i64,
}

/// One sender: a user sending numbered messages into one conversation.
struct Sender {
    task: usize,
    user: usize,
    conv: usize,
    next: u64,
    /// Attempted, not (yet) acknowledged, in the order first attempted.
    pending: Vec<String>,
    /// Acknowledged client_ids.
    acked: BTreeMap<String, Ack>,
}

impl Sender {
    fn text(cid: &str) -> String {
        format!("message {cid}")
    }

    async fn send(
        &self,
        client: &Client,
        conv_id: &str,
        cid: &str,
    ) -> natter_client::Result<(Ack, bool)> {
        let r = client
            .send_message(
                conv_id,
                &SendMessageRequest {
                    client_id: Some(cid.to_owned()),
                    text: Some(Self::text(cid)),
                    ..Default::default()
                },
            )
            .await?;
        assert_eq!(r.value.client_id.as_deref(), Some(cid));
        assert_eq!(r.value.text.as_deref(), Some(Self::text(cid).as_str()));
        assert_eq!(r.value.conversation_id, conv_id);
        Ok((
            Ack {
                id: r.value.id,
                seq: r.value.seq,
            },
            r.created,
        ))
    }

    /// Sends new messages until `stop` (or until the server is gone); returns how many were
    /// acknowledged and how many failed.
    async fn send_until(
        &mut self,
        client: &Client,
        conv_id: &str,
        stop: &AtomicBool,
    ) -> (usize, usize) {
        let (mut ok, mut failed) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            self.next += 1;
            let cid = format!("t{}-{}", self.task, self.next);
            match self.send(client, conv_id, &cid).await {
                Ok((ack, created)) => {
                    assert!(created, "{cid}: a first send must be 201");
                    self.acked.insert(cid, ack);
                    ok += 1;
                }
                Err(e) => {
                    // The server was killed: this one may or may not be stored.
                    assert!(
                        e.status().is_none(),
                        "{cid}: the server refused a send: {e}"
                    );
                    self.pending.push(cid);
                    failed += 1;
                    // Once the server is gone, every further send fails at once.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        (ok, failed)
    }

    /// After a restart: retries every pending client_id, and re-sends a few acknowledged ones,
    /// which must come back `200` with the original id and seq. Returns (newly stored, stored
    /// before the crash but not acknowledged).
    async fn retry(&mut self, client: &Client, conv_id: &str) -> (usize, usize) {
        let (mut fresh, mut found) = (0, 0);
        for cid in std::mem::take(&mut self.pending) {
            let (ack, created) = self
                .send(client, conv_id, &cid)
                .await
                .unwrap_or_else(|e| panic!("{cid}: retry after restart failed: {e}"));
            if created {
                fresh += 1;
            } else {
                found += 1;
            }
            assert!(
                self.acked.insert(cid.clone(), ack).is_none(),
                "{cid} acked twice"
            );
        }
        // The last few acknowledged (the likeliest to be lost), and the first.
        let mut sample: Vec<(String, Ack)> = self
            .acked
            .iter()
            .rev()
            .take(3)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some((k, v)) = self.acked.iter().next() {
            sample.push((k.clone(), v.clone()));
        }
        for (cid, want) in sample {
            let (got, created) = self
                .send(client, conv_id, &cid)
                .await
                .unwrap_or_else(|e| panic!("{cid}: re-send after restart failed: {e}"));
            assert!(
                !created,
                "{cid}: acknowledged as {want:?} but a re-send after restart stored it again as {got:?} (lost)"
            );
            assert_eq!(
                got, want,
                "{cid}: re-send after restart returned another message"
            );
        }
        (fresh, found)
    }
}

/// Reads every message of a conversation, oldest first.
async fn all_messages(client: &Client, conv_id: &str) -> Vec<natter_client::Message> {
    let mut out: Vec<natter_client::Message> = Vec::new();
    loop {
        let page = client
            .messages(
                conv_id,
                &MessageQuery {
                    after: Some(out.last().map_or(0, |m| m.seq)),
                    limit: Some(200),
                    ..Default::default()
                },
            )
            .await
            .expect("paging messages");
        let more = page.has_more;
        if more {
            assert!(!page.messages.is_empty(), "has_more with an empty page");
        }
        out.extend(page.messages);
        if !more {
            return out;
        }
    }
}

/// Checks that every acknowledged message exists once with its id and seq, that nothing else is
/// stored, and that seqs are gapless.
async fn verify(
    client: &Client,
    conv_ids: &[String],
    user_ids: &[String],
    senders: &[Sender],
    round: usize,
) {
    for (ci, conv_id) in conv_ids.iter().enumerate() {
        let msgs = all_messages(client, conv_id).await;
        let mut expected: HashMap<&str, (&Ack, &str)> = HashMap::new();
        for s in senders.iter().filter(|s| s.conv == ci) {
            assert!(s.pending.is_empty());
            for (cid, ack) in &s.acked {
                expected.insert(cid, (ack, &user_ids[s.user]));
            }
        }
        let mut seen = HashSet::new();
        let mut problems = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            if m.seq != i as i64 + 1 {
                problems.push(format!(
                    "position {}: seq {} (expected {}; gap or duplicate seq)",
                    i,
                    m.seq,
                    i + 1
                ));
            }
            let Some(cid) = m.client_id.as_deref() else {
                problems.push(format!("seq {}: message {} without client_id", m.seq, m.id));
                continue;
            };
            if !seen.insert(cid) {
                problems.push(format!(
                    "client_id {cid} stored twice (again at seq {}, id {})",
                    m.seq, m.id
                ));
                continue;
            }
            match expected.get(cid) {
                None => problems.push(format!(
                    "seq {}: client_id {cid} was never acknowledged",
                    m.seq
                )),
                Some((ack, sender)) => {
                    if (ack.id.as_str(), ack.seq) != (m.id.as_str(), m.seq) {
                        problems.push(format!(
                            "{cid}: acknowledged as id {} seq {}, stored as id {} seq {}",
                            ack.id, ack.seq, m.id, m.seq
                        ));
                    }
                    if m.sender_id != *sender
                        || m.text.as_deref() != Some(Sender::text(cid).as_str())
                    {
                        problems.push(format!("{cid}: wrong sender or text: {m:?}"));
                    }
                }
            }
        }
        for (cid, (ack, _)) in &expected {
            if !seen.contains(cid) {
                problems.push(format!(
                    "{cid}: acknowledged as id {} seq {} but missing",
                    ack.id, ack.seq
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "round {round}, conversation {conv_id}: {} stored, {} acknowledged:\n{}",
            msgs.len(),
            expected.len(),
            problems.join("\n")
        );
        assert_eq!(msgs.len(), expected.len());
        let conv = client
            .conversation(conv_id)
            .await
            .expect("the conversation");
        assert_eq!(
            conv.last_seq,
            msgs.len() as i64,
            "round {round}: last_seq of {conv_id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_messages_survive_sigkill_exactly_once() {
    let began = Instant::now();
    let data = tempfile::tempdir().expect("a temporary data directory");
    let mut server = common::serve_at(data.path(), "127.0.0.1:0", Some("warn"));

    // Three users in a group, and a direct conversation between the first two.
    let anon = Client::new(server.url.clone());
    let mut tokens = Vec::new();
    let mut user_ids = Vec::new();
    for name in ["crash_alice", "crash_bob", "crash_carol"] {
        let (c, u) = anon
            .sign_up(name, "correct horse battery")
            .await
            .expect("sign up");
        tokens.push(c.token().expect("a session token").to_owned());
        user_ids.push(u.id);
    }
    let alice = anon.with_token(tokens[0].clone());
    let group = alice
        .create_group("crash", &[user_ids[1].as_str(), user_ids[2].as_str()])
        .await
        .expect("create the group");
    let dm = alice
        .direct(&user_ids[1])
        .await
        .expect("open the direct conversation");
    let conv_ids = vec![group.id, dm.value.id];

    // 12 senders in the group (4 per user), 4 in the direct conversation (2 per user).
    let mut senders: Vec<Sender> = (0..TASKS)
        .map(|task| {
            let (user, conv) = if task < 12 {
                (task % 3, 0)
            } else {
                (task % 2, 1)
            };
            Sender {
                task,
                user,
                conv,
                next: 0,
                pending: Vec::new(),
                acked: BTreeMap::new(),
            }
        })
        .collect();

    for round in 0..=CYCLES {
        let clients: Vec<Client> = tokens
            .iter()
            .map(|t| Client::new(server.url.clone()).with_token(t.clone()))
            .collect();

        if round > 0 {
            let (status, health) = clients[0].health().await.expect("/healthz after restart");
            assert_eq!(status, 200, "/healthz after restart: {health:?}");
            // Retry what was not acknowledged, concurrently, with no crash.
            let handles: Vec<_> = senders
                .drain(..)
                .map(|mut s| {
                    let client = clients[s.user].clone();
                    let conv_id = conv_ids[s.conv].clone();
                    tokio::spawn(async move {
                        let r = s.retry(&client, &conv_id).await;
                        (s, r)
                    })
                })
                .collect();
            let (mut fresh, mut found) = (0, 0);
            for h in handles {
                let (s, (f, d)) = h.await.expect("a retry task");
                fresh += f;
                found += d;
                senders.push(s);
            }
            println!(
                "round {round}: retried after restart: {fresh} newly stored, {found} stored before the crash but unacknowledged"
            );
        }

        verify(&clients[0], &conv_ids, &user_ids, &senders, round).await;
        let total: usize = senders.iter().map(|s| s.acked.len()).sum();
        println!(
            "round {round}: verified {total} messages ({:.1?} elapsed)",
            began.elapsed()
        );

        if round == CYCLES {
            break;
        }

        // Send from every task, and kill the server under them.
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = senders
            .drain(..)
            .map(|mut s| {
                let client = clients[s.user].clone();
                let conv_id = conv_ids[s.conv].clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let r = s.send_until(&client, &conv_id, &stop).await;
                    (s, r)
                })
            })
            .collect();
        tokio::time::sleep(send_for(round)).await;
        tokio::task::block_in_place(|| server.kill());
        stop.store(true, Ordering::Relaxed);
        let (mut ok, mut failed) = (0, 0);
        for h in handles {
            let (s, (o, f)) = h.await.expect("a sender task");
            ok += o;
            failed += f;
            senders.push(s);
        }
        senders.sort_by_key(|s| s.task);
        println!("round {round}: SIGKILL after {ok} acknowledged sends; {failed} sends failed");
        assert!(
            ok >= 50,
            "too few sends before the kill to test anything: {ok}"
        );

        server = common::serve_at(data.path(), "127.0.0.1:0", Some("warn"));
    }
}
