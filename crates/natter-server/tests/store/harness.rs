//! The suite's scaffolding: a store under test, and small helpers that build a world through
//! the `Store` trait only, so that the cases read like the behaviour they check.

use std::{
    any::Any,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use natter_core::{ConversationId, MessageKind, UserId};
use natter_server::store::{EventKind, EventRow, MessageRow, NewMessage, Store, UserRow};

/// A store under test and whatever keeps it alive (a temporary directory, a scratch schema),
/// released only when the test is over.
pub struct TestStore {
    store: Arc<dyn Store>,
    _backing: Box<dyn Any + Send + Sync>,
}

impl TestStore {
    pub fn new(store: Arc<dyn Store>, backing: impl Any + Send + Sync) -> Self {
        Self {
            store,
            _backing: Box::new(backing),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Closes the store before its backing goes away.
    pub async fn close(self) {
        self.store.close().await;
    }
}

/// A fixed point in time (2026-01-01T00:00:00Z): cases give every change an explicit time.
pub const T0: i64 = 1_767_225_600_000;

/// A fresh id, unique within the test run, readable in failure messages.
pub fn fresh_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The id the helpers give the user named `username`.
pub fn user_id(username: &str) -> String {
    format!("user-{username}")
}

pub fn user_row(username: &str) -> UserRow {
    UserRow {
        id: user_id(username),
        username: username.to_owned(),
        display_name: format!("{username} (display)"),
        password_hash: format!("hash-of-{username}"),
        created_at: T0,
        last_seen_at: None,
        admin: false,
        deleted: false,
        disabled: false,
    }
}

/// Creates users by username and returns their ids, in order.
pub async fn users<const N: usize>(store: &dyn Store, usernames: [&str; N]) -> [String; N] {
    for name in usernames {
        store
            .create_user(&user_row(name))
            .await
            .unwrap_or_else(|e| panic!("create user {name}: {e:?}"));
    }
    usernames.map(user_id)
}

/// The direct conversation of `a` and `b`, newly created.
pub async fn direct(store: &dyn Store, a: &str, b: &str) -> String {
    let (id, created) = store
        .create_direct(
            ConversationId::new(&fresh_id("direct")),
            UserId::new(a),
            UserId::new(b),
            T0,
        )
        .await
        .expect("create a direct conversation");
    assert!(created, "the pair already had a direct conversation");
    id
}

/// A new group named "group", owned by `owner`, with `members` after it in join order.
pub async fn group(store: &dyn Store, owner: &str, members: &[&str]) -> String {
    group_at(store, owner, members, T0).await
}

pub async fn group_at(store: &dyn Store, owner: &str, members: &[&str], at: i64) -> String {
    let id = fresh_id("group");
    let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    store
        .create_group(
            ConversationId::new(&id),
            UserId::new(owner),
            "group",
            &members,
            at,
        )
        .await
        .expect("create a group");
    id
}

/// A text message without a client id.
pub fn text(conversation_id: &str, sender_id: &str, text: &str, at: i64) -> NewMessage {
    NewMessage {
        id: fresh_id("msg"),
        conversation_id: conversation_id.to_owned(),
        sender_id: sender_id.to_owned(),
        client_id: None,
        kind: MessageKind::Text,
        text: Some(text.to_owned()),
        media_id: None,
        reply_to: None,
        created_at: at,
        mentions: Vec::new(),
    }
}

/// Sends a text message that must be stored as new, and returns it.
pub async fn send(
    store: &dyn Store,
    conversation_id: &str,
    sender_id: &str,
    body: &str,
    at: i64,
) -> MessageRow {
    let sent = store
        .send(&text(conversation_id, sender_id, body, at))
        .await
        .unwrap_or_else(|e| panic!("send {body:?}: {e:?}"));
    assert!(sent.created, "send {body:?} was not stored as new");
    sent.message
}

/// Sends `n` messages from `sender`, at `T0 + 1 ..= T0 + n`; returns them in order.
pub async fn send_n(
    store: &dyn Store,
    conversation_id: &str,
    sender_id: &str,
    n: i64,
) -> Vec<MessageRow> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(
            send(
                store,
                conversation_id,
                sender_id,
                &format!("message {i}"),
                T0 + i,
            )
            .await,
        );
    }
    out
}

/// Every event `user_id` sees after `after`.
pub async fn events_after(store: &dyn Store, user_id: &str, after: i64) -> Vec<EventRow> {
    store
        .events_for(UserId::new(user_id), after, 10_000)
        .await
        .expect("read the event log")
}

/// The kinds of `events`, in order.
pub fn kinds(events: &[EventRow]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

/// An event's `data`, parsed.
pub fn data(event: &EventRow) -> serde_json::Value {
    let raw = event
        .data
        .as_deref()
        .unwrap_or_else(|| panic!("event {} has no data", event.pos));
    serde_json::from_str(raw).unwrap_or_else(|e| panic!("event {} data {raw:?}: {e}", event.pos))
}

/// The seqs of `messages`, in order.
pub fn seqs(messages: &[MessageRow]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}
