//! Micro-benchmarks of the hot paths: serializing an event, fanning a frame out to many
//! connections, storing messages (with group commit) in SQLite, and sealing a Web Push
//! request (the payload's encryption and the VAPID signature: the CPU each push costs).
//!
//! `cargo bench -p natter-server --bench hot_paths`

use std::sync::Arc;

use bytes::Bytes;
use natter_core::{ConversationId, MessageKind, UserId, time};
use natter_server::{
    hub::{Frame, Hub, Outbound},
    store::{NewMessage, Store, UserRow, sqlite::SqliteStore},
};
use natter_wire as wire;

fn main() {
    divan::main();
}

/// A push's payload (typical size) and a subscription's keys, for the push benchmarks.
fn push_parts() -> (Vec<u8>, [u8; 16], Vec<u8>) {
    use natter_server::webpush::Vapid;
    // A browser's subscription: any P-256 public key and 16 bytes.
    let browser = Vapid::new(&Vapid::generate(), "mailto:x@example.com").unwrap();
    let p256dh = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        browser.public_key(),
    )
    .unwrap();
    let payload = serde_json::to_vec(&serde_json::json!({
        "type": "new_message", "conversation_id": "01a21fe2-4ee8-75a2-92fa-23a2b285f215",
        "conversation_kind": "group", "conversation_name": "Team",
        "message_id": "01a21fe2-4f4b-711c-90a8-94eed5164c89", "seq": 42,
        "sender": {"id": "01a21fe2-33ef-719c-914f-142b1bc7ff55", "display_name": "Ada"},
        "mention": false, "sent_at": "2026-12-01T10:00:00.000Z", "preview": "x".repeat(120),
    }))
    .unwrap();
    (p256dh, [7u8; 16], payload)
}

/// One push's payload encrypted for its subscription (RFC 8291: an ephemeral P-256 key, ECDH,
/// HKDF, AES-128-GCM): the CPU every push costs.
#[divan::bench]
fn encrypt_push(b: divan::Bencher) {
    let (p256dh, auth, payload) = push_parts();
    b.bench(|| natter_server::webpush::encrypt(&p256dh, &auth, payload.clone()).unwrap());
}

/// A VAPID token signed (ECDSA P-256): once per push service origin and hour, as the server
/// reuses it.
#[divan::bench]
fn sign_vapid(b: divan::Bencher) {
    use natter_server::webpush::Vapid;
    let vapid = Vapid::new(&Vapid::generate(), "mailto:ops@example.com").unwrap();
    let url: reqwest::Url = "https://push.example.net/wpush/v2/abcdef".parse().unwrap();
    b.bench(|| vapid.authorization(&url, 1_800_000_000));
}

fn message() -> wire::Message {
    wire::Message {
        id: "01a21fe2-4f4b-711c-90a8-94eed5164c89".into(),
        conversation_id: "01a21fe2-4ee8-75a2-92fa-23a2b285f215".into(),
        seq: 123_456,
        sender_id: "01a21fe2-33ef-719c-914f-142b1bc7ff55".into(),
        client_id: Some("c-42".into()),
        kind: "text".into(),
        text: Some("x".repeat(64)),
        media: None,
        reply_to: None,
        created_at: time::format(1_795_910_399_123),
        edited_at: None,
        deleted: false,
        status: "sent".into(),
        reactions: Vec::new(),
        mentions: Vec::new(),
    }
}

/// One `new_message` event to the bytes every recipient shares.
#[divan::bench]
fn serialize_new_message(b: divan::Bencher) {
    let ev = wire::Event {
        cursor: "987654".into(),
        event: wire::EventData::NewMessage(message()),
    };
    b.bench(|| Bytes::from(serde_json::to_vec(divan::black_box(&ev)).unwrap()));
}

/// Queuing one shared frame for every connection of a group of `n` online members.
#[divan::bench(args = [10, 100, 1000])]
fn fan_out_to_members(b: divan::Bencher, n: usize) {
    let hub = Hub::new(1 << 20);
    let users: Vec<String> = (0..n).map(|i| format!("user-{i}")).collect();
    let regs: Vec<_> = users.iter().map(|u| hub.register(u, "s")).collect();
    let frame = Bytes::from(serde_json::to_vec(&message()).unwrap());
    let mut pos = 0;
    b.bench_local(|| {
        pos += 1;
        let out = Outbound::Durable {
            pos,
            frame: Frame::Whole(frame.clone()),
        };
        for u in &users {
            hub.deliver(u, &out);
        }
    });
    drop(regs);
}

/// Storing `n` messages sent at once into one conversation: group commit makes them share
/// transactions (and fsyncs).
#[divan::bench(args = [1, 64], sample_count = 20)]
fn store_concurrent_sends(b: divan::Bencher, n: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = rt.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
        for id in ["a", "b"] {
            s.create_user(&UserRow {
                id: id.into(),
                username: id.repeat(3),
                display_name: id.into(),
                password_hash: "x".into(),
                created_at: 0,
                last_seen_at: None,
                admin: false,
                deleted: false,
                disabled: false,
            })
            .await
            .unwrap();
        }
        s.create_direct(
            ConversationId::new("c"),
            UserId::new("a"),
            UserId::new("b"),
            0,
        )
        .await
        .unwrap();
        s
    });
    let mut k = 0u64;
    b.bench_local(|| {
        rt.block_on(async {
            let mut tasks = Vec::with_capacity(n);
            for _ in 0..n {
                k += 1;
                let store = store.clone();
                let msg = NewMessage {
                    id: format!("m{k}"),
                    conversation_id: "c".into(),
                    sender_id: "a".into(),
                    client_id: None,
                    kind: MessageKind::Text,
                    text: Some("hello".into()),
                    media_id: None,
                    reply_to: None,
                    created_at: time::now(),
                    mentions: Vec::new(),
                };
                tasks.push(tokio::spawn(async move { store.send(&msg).await.unwrap() }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
}
