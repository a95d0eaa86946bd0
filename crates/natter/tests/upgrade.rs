//! Data written by an earlier version opens with this one, and every user sees the same: each
//! directory under `tests/fixtures/` holds a data directory made by a released version
//! (`make_fixture.py`) and what each user saw in it then (`expected.json`). This version starts
//! on a copy, migrates it, and must show every user the same conversations and history, field
//! for field (fields added since are not compared), with the same media bytes; and it must take
//! new writes.

mod common;

use std::path::Path;

use natter_client::{Client, LoginRequest, MessageQuery, SendMessageRequest};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every field of `expected` is in `actual` with the same value, recursively; arrays match
/// element by element and have the same length. Fields that `actual` has beyond `expected` were
/// added by later versions and are not compared.
fn assert_covers(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let got = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} is missing; expected {v}"));
                assert_covers(v, got, &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{at}: length");
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                assert_covers(ev, av, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{at}"),
    }
}

/// What `user` sees now, in the shape `make_fixture.py` recorded.
async fn observe(client: &Client) -> Vec<Value> {
    let mut convs = client
        .conversations(Some(200), None)
        .await
        .unwrap()
        .conversations;
    convs.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::new();
    for conv in convs {
        let page = client
            .messages(
                &conv.id,
                &MessageQuery {
                    limit: Some(200),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut messages = Vec::new();
        for m in page.messages {
            let mut v = serde_json::to_value(&m).unwrap();
            if let Some(media) = &m.media {
                let bytes = client.download(&media.id, &[]).await.unwrap();
                v["media_bytes_sha256"] = hex(&Sha256::digest(&bytes.body)).into();
            }
            messages.push(v);
        }
        out.push(serde_json::json!({
            "conversation": serde_json::to_value(&conv).unwrap(),
            "messages": messages,
        }));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_opens_and_every_user_sees_the_same_history() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("expected.json").is_file() {
            continue;
        }
        let expected: Value =
            serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(&dir.join("data"), scratch.path());
        let server = common::serve_at(scratch.path(), "127.0.0.1:0", Some("warn"));
        let url = server.url.clone();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for (username, seen) in expected["users"].as_object().unwrap() {
            let (client, _) = Client::new(&url)
                .login(&LoginRequest {
                    username: username.clone(),
                    password: seen["password"].as_str().unwrap().into(),
                    device_name: None,
                })
                .await
                .unwrap_or_else(|e| panic!("{name}: {username} cannot log in: {e}"));
            let now = Value::Array(observe(&client).await);
            assert_covers(&seen["conversations"], &now, &format!("{name}/{username}"));
            // The messages stored before search existed were indexed when it opened: each
            // one the user sees is found by its words.
            for c in seen["conversations"].as_array().unwrap() {
                let conv = c["conversation"]["id"].as_str().unwrap();
                for m in c["messages"].as_array().unwrap() {
                    let (Some(text), false) = (m["text"].as_str(), m["deleted"] == true) else {
                        continue;
                    };
                    let found = client.search(text, Some(conv), None, None).await.unwrap();
                    assert!(
                        found.messages.iter().any(|h| h.message.id == m["id"]),
                        "{name}/{username}: {text:?} is not found"
                    );
                }
            }
        }
        // The upgraded data takes new writes.
        let alice = expected["users"]["alice"]["password"].as_str().unwrap();
        let (client, _) = Client::new(&url)
            .login(&LoginRequest {
                username: "alice".into(),
                password: alice.into(),
                device_name: None,
            })
            .await
            .unwrap();
        let conv = &expected["users"]["alice"]["conversations"][0]["conversation"];
        let sent = client
            .send_message(
                conv["id"].as_str().unwrap(),
                &SendMessageRequest {
                    text: Some("written after the upgrade".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(sent.value.seq, conv["last_seq"].as_i64().unwrap() + 1);
        drop(server);
        checked += 1;
    }
    assert!(checked > 0, "no fixture under {}", fixtures.display());
}
