//! A full disk, as an operator meets it: the data directory on a small tmpfs, filled up while two
//! users talk. No send may be acknowledged unless it is stored: every `201` is in the database
//! while the disk is full, after space comes back and after a restart; a refused send is `503
//! unavailable` with `Retry-After`, and its retry with the same `client_id` is stored once.
//! `/healthz` says `503` while writes fail and recovers by itself. A receiver on a resuming
//! WebSocket sees every stored message exactly once, in order.
//!
//! Mounting needs root (these machines run the tests as root); where mounting is refused the
//! test says so and does nothing else.

mod common;

use std::{
    collections::{BTreeMap, HashSet},
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use natter_client::{Client, Live, MessageQuery};
use natter_client::{EventData, ServerFrame};
use tokio::sync::{mpsc, oneshot};

/// The tmpfs size, as in the report this test reproduces.
const DISK: &str = "size=12m";
/// Text of the sends made while the disk is full: big enough not to fit in what is left.
const BIG: usize = 15_000;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", DISK, "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// What the sender was told, by `client_id`.
#[derive(Default)]
struct Ledger {
    /// Acknowledged (`201` or `200`): the message id and seq.
    acked: BTreeMap<String, (String, i64)>,
    /// Refused with `503`, not yet retried successfully.
    refused: Vec<String>,
}

impl Ledger {
    /// One send; any answer but `201` or `503 unavailable` (with `Retry-After`) fails the test.
    async fn send(&mut self, client: &Client, conv: &str, cid: &str, text: &str) {
        let resp = client
            .raw_with_headers(
                "POST",
                &format!("/api/v1/conversations/{conv}/messages"),
                &[],
                Some((
                    "application/json",
                    serde_json::to_vec(&serde_json::json!({"client_id": cid, "text": text}))
                        .unwrap(),
                )),
            )
            .await
            .expect("the server answers");
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
        match resp.status {
            201 => {
                let id = body["id"].as_str().unwrap().to_owned();
                let seq = body["seq"].as_i64().unwrap();
                let before = self.acked.insert(cid.to_owned(), (id, seq));
                assert!(before.is_none(), "{cid} was stored twice");
                self.refused.retain(|c| c != cid);
            }
            503 => {
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                let retry = resp.header("retry-after").expect("503 carries Retry-After");
                assert!(retry.parse::<u64>().is_ok_and(|s| s > 0), "{retry}");
                if !self.refused.iter().any(|c| c == cid) {
                    self.refused.push(cid.to_owned());
                }
            }
            other => panic!("send {cid}: {other} {body}"),
        }
    }

    /// The history must hold exactly what was acknowledged, under the same ids and seqs, and
    /// seqs 1..=n without a gap.
    async fn check_history(&self, client: &Client, conv: &str, when: &str) {
        let page = client
            .messages(
                conv,
                &MessageQuery {
                    limit: Some(200),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let stored: BTreeMap<String, (String, i64)> = page
            .messages
            .iter()
            .map(|m| (m.client_id.clone().unwrap(), (m.id.clone(), m.seq)))
            .collect();
        assert_eq!(
            stored, self.acked,
            "{when}: the history is what was acknowledged"
        );
        let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
        assert_eq!(
            seqs,
            (1..=self.acked.len() as i64).collect::<Vec<_>>(),
            "{when}"
        );
    }
}

/// Fills the file system holding `dir` until a write fails.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    // The last, partial chunk.
    while f.write_all(&chunk[..512]).is_ok() {}
    let _ = f.sync_all();
    path
}

/// Polls `/healthz` until it answers `want` (it probes storage at most once a second).
async fn health_becomes(client: &Client, want: u16) {
    for _ in 0..100 {
        let (status, body) = client.health().await.unwrap();
        if status == want {
            assert_eq!(body.status, if want == 200 { "ok" } else { "unavailable" });
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/healthz never answered {want}");
}

/// A receiver on an auto-resuming WebSocket: the seqs of the `new_message` events it got, in
/// the order it got them, once `stop` says how many to wait for.
fn receiver(mut live: Live) -> (mpsc::UnboundedSender<usize>, oneshot::Receiver<Vec<i64>>) {
    let (want_tx, mut want_rx) = mpsc::unbounded_channel::<usize>();
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut want = None;
        loop {
            if let Ok(n) = want_rx.try_recv() {
                want = Some(n);
            }
            if want.is_some_and(|n| seen.len() >= n) {
                break;
            }
            let frame = tokio::select! {
                f = live.next() => f.expect("the receiver's connection"),
                n = want_rx.recv(), if want.is_none() => {
                    want = n;
                    continue;
                }
            };
            if let ServerFrame::Event(e) = frame
                && let EventData::NewMessage(m) = e.event
            {
                seen.push(m.seq);
            }
        }
        let _ = done_tx.send(seen);
    });
    (want_tx, done_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_never_acknowledges_an_unstored_message() {
    let disk = match Tmpfs::mount() {
        Ok(d) => d,
        Err(why) => {
            eprintln!(
                "SKIPPED a_full_disk_never_acknowledges_an_unstored_message: cannot mount a tmpfs here ({why})"
            );
            return;
        }
    };
    let data = disk.path().join("data");
    let server = common::serve_at(&data, "127.0.0.1:0", Some("error"));
    let listen = server.url.trim_start_matches("http://").to_owned();
    let anon = Client::new(&server.url);
    let (alice, _) = anon.sign_up("alice", "correct horse").await.unwrap();
    let (bob, bob_user) = anon.sign_up("bobby", "battery staple").await.unwrap();
    let conv = alice.direct(&bob_user.id).await.unwrap().value.id;
    let (want, seen) = receiver(Live::connect(&bob, None).await.unwrap());

    let mut ledger = Ledger::default();
    for i in 0..3 {
        ledger
            .send(
                &alice,
                &conv,
                &format!("before-{i}"),
                &format!("before {i}"),
            )
            .await;
    }
    assert_eq!(ledger.acked.len(), 3, "the disk had room");

    let filler = fill(disk.path());
    for i in 0..6 {
        let text = format!("{i}{}", "x".repeat(BIG));
        ledger
            .send(&alice, &conv, &format!("full-{i}"), &text)
            .await;
    }
    assert!(
        !ledger.refused.is_empty(),
        "a full disk refused nothing: the test did not fill it"
    );
    ledger
        .check_history(&bob, &conv, "while the disk is full")
        .await;
    health_becomes(&anon, 503).await;

    std::fs::remove_file(filler).unwrap();
    health_becomes(&anon, 200).await;
    // Each refused send, retried with its client_id, is stored now, once.
    for cid in ledger.refused.clone() {
        let i: usize = cid.trim_start_matches("full-").parse().unwrap();
        let text = format!("{i}{}", "x".repeat(BIG));
        ledger.send(&alice, &conv, &cid, &text).await;
    }
    assert!(
        ledger.refused.is_empty(),
        "retries refused: {:?}",
        ledger.refused
    );
    for i in 0..3 {
        ledger
            .send(&alice, &conv, &format!("after-{i}"), &format!("after {i}"))
            .await;
    }
    ledger
        .check_history(&bob, &conv, "after space came back")
        .await;

    server.stop();
    let server = common::serve_at(&data, &listen, Some("error"));
    ledger.check_history(&bob, &conv, "after a restart").await;
    ledger
        .send(&alice, &conv, "after-restart", "after the restart")
        .await;
    ledger
        .check_history(&bob, &conv, "after a send on the restarted server")
        .await;

    // The receiver resumed across everything and saw each stored message once, in order.
    want.send(ledger.acked.len()).unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(30), seen)
        .await
        .expect("the receiver got every message")
        .unwrap();
    assert_eq!(
        seen,
        (1..=ledger.acked.len() as i64).collect::<Vec<_>>(),
        "the receiver's stream"
    );
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len());
    drop(server);
}
