//! The NATS bus adapter against a real NATS server: what one node publishes reaches the other
//! nodes of its cluster once, never another cluster, and survives NATS going away and coming
//! back. Runs when `NATTER_TEST_NATS_URL` names a NATS server (CI always sets it); the restart
//! case runs its own `nats-server` on a free port, so the shared one is never stopped.

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use natter_server::bus::{Bus, BusMessage, PresenceNews, PresenceNote, nats::NatsBus};
use tokio::sync::broadcast;

/// The NATS server the tests use, or none (the test then says so and returns).
fn nats_url() -> Option<String> {
    let url = std::env::var("NATTER_TEST_NATS_URL").ok();
    if url.is_none() {
        eprintln!("NATTER_TEST_NATS_URL is not set: the NATS bus is not tested here");
    }
    url
}

/// A subject prefix no other test uses.
fn fresh_prefix() -> String {
    format!("t{}", uuid::Uuid::now_v7().simple())
}

/// The next message, skipping `Reconnected` (sent when the connection comes up).
async fn next(rx: &mut broadcast::Receiver<BusMessage>) -> BusMessage {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a bus message within 20 s")
            .expect("the bus is open");
        if !matches!(msg, BusMessage::Reconnected) {
            return msg;
        }
    }
}

fn ephemeral(text: &str) -> BusMessage {
    BusMessage::Ephemeral {
        users: Arc::from(vec!["u1".to_owned(), "u2".to_owned()]),
        frame: Bytes::from(format!(r#"{{"type":"typing_start","data":"{text}"}}"#)),
    }
}

#[tokio::test]
async fn nodes_of_a_cluster_hear_each_other_once() {
    let Some(url) = nats_url() else { return };
    let prefix = fresh_prefix();
    let a = NatsBus::connect(&url, &prefix).await.unwrap();
    let b = NatsBus::connect(&url, &prefix).await.unwrap();
    assert_ne!(a.node(), b.node());
    assert!(a.clustered());
    let mut at_a = a.subscribe();
    let mut at_b = b.subscribe();

    a.publish(ephemeral("one"));
    a.publish(BusMessage::SessionRevoked {
        session_id: "s1".into(),
    });
    let note = PresenceNote {
        node: a.node().to_owned(),
        news: PresenceNews::Online { user: "u1".into() },
    };
    a.publish(BusMessage::Presence(Arc::new(note.clone())));
    a.publish(BusMessage::LogAppended { here: true });

    // The other node gets each once, in order (revocations may overtake, so they are
    // matched by kind), with its log wake-up marked as another node's.
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next(&mut at_b).await);
    }
    let frames: Vec<_> = got
        .iter()
        .filter_map(|m| match m {
            BusMessage::Ephemeral { users, frame } => Some((users.to_vec(), frame.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        frames,
        [(
            vec!["u1".to_owned(), "u2".to_owned()],
            Bytes::from_static(br#"{"type":"typing_start","data":"one"}"#)
        )]
    );
    assert!(
        got.iter()
            .any(|m| matches!(m, BusMessage::SessionRevoked { session_id } if session_id == "s1"))
    );
    assert!(
        got.iter()
            .any(|m| matches!(m, BusMessage::Presence(n) if **n == note))
    );
    assert!(
        got.iter()
            .any(|m| matches!(m, BusMessage::LogAppended { here: false }))
    );

    // The publishing node hears its own messages once, locally, not echoed back by NATS:
    // after its four, the next is what b publishes.
    for _ in 0..4 {
        let m = next(&mut at_a).await;
        assert!(
            !matches!(m, BusMessage::LogAppended { here: false }),
            "a node's own wake-up came back from NATS: {m:?}"
        );
    }
    b.publish(ephemeral("from b"));
    match next(&mut at_a).await {
        BusMessage::Ephemeral { frame, .. } => assert!(frame.ends_with(b"\"from b\"}")),
        other => panic!("expected b's frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_prefix_keeps_clusters_apart() {
    let Some(url) = nats_url() else { return };
    let (one, two) = (fresh_prefix(), fresh_prefix());
    let a = NatsBus::connect(&url, &one).await.unwrap();
    let b = NatsBus::connect(&url, &one).await.unwrap();
    let c = NatsBus::connect(&url, &two).await.unwrap();
    let d = NatsBus::connect(&url, &two).await.unwrap();
    let mut at_b = b.subscribe();
    let mut at_c = c.subscribe();

    a.publish(ephemeral("cluster one"));
    // Once b has it, NATS has routed it: c, subscribed since before, would have it queued
    // ahead of anything published later.
    assert!(matches!(
        next(&mut at_b).await,
        BusMessage::Ephemeral { .. }
    ));
    d.publish(ephemeral("cluster two"));
    match next(&mut at_c).await {
        BusMessage::Ephemeral { frame, .. } => assert!(
            frame.ends_with(b"\"cluster two\"}"),
            "cluster two heard cluster one"
        ),
        other => panic!("expected cluster two's frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bad_prefix_or_an_unreachable_server_is_refused_clearly() {
    let Some(url) = nats_url() else { return };
    let err = NatsBus::connect(&url, "a.b").await.err().unwrap();
    assert!(err.contains("--bus-prefix"), "{err}");
    let port = free_port();
    let err = NatsBus::connect(&format!("nats://127.0.0.1:{port}"), "natter")
        .await
        .err()
        .unwrap();
    assert!(err.contains("cannot connect to NATS"), "{err}");
}

/// A `nats-server` of the test's own, killed when dropped.
pub struct OwnNats {
    child: Child,
    port: u16,
}

impl OwnNats {
    pub fn start(port: u16) -> Self {
        let child = Command::new(nats_server())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Waits until it accepts connections.
    pub async fn ready(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("nats-server did not listen on {}", self.port);
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nats_server() -> String {
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if std::path::Path::new(p).exists() {
            return p.to_owned();
        }
    }
    panic!("nats-server is not installed; .ci/run installs it (apt-get install nats-server)");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_node_rides_out_a_nats_restart_and_loses_no_revocation() {
    if nats_url().is_none() {
        return;
    }
    let port = free_port();
    let nats = OwnNats::start(port);
    nats.ready().await;
    let prefix = fresh_prefix();
    let a = NatsBus::connect(&nats.url(), &prefix).await.unwrap();
    let b = NatsBus::connect(&nats.url(), &prefix).await.unwrap();
    let mut at_a = a.subscribe();
    let mut at_b = b.subscribe();
    a.publish(ephemeral("before"));
    assert!(matches!(
        next(&mut at_b).await,
        BusMessage::Ephemeral { .. }
    ));

    drop(nats);
    // While NATS is away, a node still hears itself (its own connections are served) and
    // publishing never blocks.
    for _ in 0..10_000 {
        a.publish(BusMessage::LogAppended { here: true });
        a.publish(ephemeral("while away"));
    }
    a.publish(BusMessage::SessionRevoked {
        session_id: "revoked-while-away".into(),
    });
    let mut heard_revocation = false;
    while !heard_revocation {
        match at_a.try_recv() {
            Ok(BusMessage::SessionRevoked { .. }) => heard_revocation = true,
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(e) => panic!("a did not hear its own revocation: {e}"),
        }
    }

    let nats = OwnNats::start(port);
    nats.ready().await;
    // Once back, b is told (so it reads the log) and gets the revocation made meanwhile.
    let mut reconnected = false;
    let mut revoked = false;
    while !(reconnected && revoked) {
        match tokio::time::timeout(Duration::from_secs(30), at_b.recv())
            .await
            .expect("b hears again within 30 s of NATS's return")
        {
            Ok(BusMessage::Reconnected) => reconnected = true,
            Ok(BusMessage::SessionRevoked { session_id }) => {
                assert_eq!(session_id, "revoked-while-away");
                revoked = true;
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    drop(nats);
}
