//! The example echo bot against a real server: it answers what it should, once, across a
//! dropped connection.

#[path = "../examples/echo_bot/bot.rs"]
mod bot;

use std::time::Duration;

use bot::EchoBot;
use natter_client::{Client, EventData, Live, Message, MessageQuery, ServerFrame};
use natter_server::{Config, Server};
use tempfile::TempDir;

const PASSWORD: &str = "correct horse";
/// How long an awaited answer may take before the test gives up (generous: the machine may be
/// busy); nothing here depends on timing otherwise.
const ARRIVES: Duration = Duration::from_secs(10);

async fn start_server() -> (Server, TempDir) {
    let data = tempfile::tempdir().expect("a temporary directory");
    let server = natter_server::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        rate_limit: false,
        registration: natter_server::config::Registration::Open,
        ..Config::default()
    })
    .await
    .expect("the server starts");
    (server, data)
}

async fn next_reply(bot: &mut EchoBot) -> Message {
    tokio::time::timeout(ARRIVES, bot.next_reply())
        .await
        .expect("the bot answers in time")
        .expect("the bot's stream works")
}

/// The next new message on `live` sent by `sender_id`.
async fn next_message_from(live: &mut Live, sender_id: &str) -> Message {
    let wait = async {
        loop {
            if let ServerFrame::Event(event) = live.next().await.expect("the stream works")
                && let EventData::NewMessage(message) = event.event
                && message.sender_id == sender_id
            {
                return message;
            }
        }
    };
    tokio::time::timeout(ARRIVES, wait)
        .await
        .expect("a message arrives in time")
}

#[tokio::test]
async fn echoes_direct_messages_once_across_a_dropped_connection() {
    let (server, _data) = start_server().await;
    let anon = Client::new(server.url());
    let (bot_client, bot_user) = anon.sign_up("echo", PASSWORD).await.unwrap();
    let (alice, _) = anon.sign_up("alice", PASSWORD).await.unwrap();
    let mut bot = EchoBot::start(bot_client).await.unwrap();

    let conversation = alice.direct(&bot_user.id).await.unwrap().value;
    let first = alice
        .send_text(&conversation.id, "hello bot")
        .await
        .unwrap();
    let reply = next_reply(&mut bot).await;
    assert_eq!(reply.text.as_deref(), Some("hello bot"));
    assert_eq!(reply.reply_to.as_deref(), Some(first.id.as_str()));
    assert_eq!(reply.sender_id, bot_user.id);
    assert_eq!(alice.receipts(&first.id).await.unwrap().status, "read");

    // Sent while the bot is offline: it resumes from its cursor, answers this one, and does
    // not see the first message again.
    bot.live.disconnect();
    let second = alice
        .send_text(&conversation.id, "still there?")
        .await
        .unwrap();
    let reply = next_reply(&mut bot).await;
    assert_eq!(reply.text.as_deref(), Some("still there?"));
    assert_eq!(reply.reply_to.as_deref(), Some(second.id.as_str()));
    assert_eq!(alice.receipts(&second.id).await.unwrap().status, "read");

    let third = alice.send_text(&conversation.id, "bye").await.unwrap();
    let reply = next_reply(&mut bot).await;
    assert_eq!(reply.reply_to.as_deref(), Some(third.id.as_str()));

    // The conversation holds Alice's three messages, each followed by its one answer.
    let page = alice
        .messages(&conversation.id, &MessageQuery::default())
        .await
        .unwrap();
    let mut messages = page.messages;
    messages.sort_by_key(|m| m.seq);
    let shape: Vec<(&str, Option<&str>)> = messages
        .iter()
        .map(|m| (m.text.as_deref().unwrap_or_default(), m.reply_to.as_deref()))
        .collect();
    assert_eq!(
        shape,
        [
            ("hello bot", None),
            ("hello bot", Some(first.id.as_str())),
            ("still there?", None),
            ("still there?", Some(second.id.as_str())),
            ("bye", None),
            ("bye", Some(third.id.as_str())),
        ]
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn running_bot_answers_only_mentions_in_groups() {
    let (server, _data) = start_server().await;
    let anon = Client::new(server.url());
    let (bot_client, bot_user) = anon.sign_up("echo", PASSWORD).await.unwrap();
    let (alice, _) = anon.sign_up("alice", PASSWORD).await.unwrap();
    let group = alice
        .create_group("climbing", &[&bot_user.id])
        .await
        .unwrap();
    let mut alice_live = Live::connect(&alice, None).await.unwrap();

    let bot = EchoBot::start(bot_client).await.unwrap();
    let running = tokio::spawn(bot.run());

    alice.send_text(&group.id, "echo is a bot").await.unwrap();
    alice
        .send_text(&group.id, "@echos are not it")
        .await
        .unwrap();
    let mention = alice.send_text(&group.id, "ping, @echo!").await.unwrap();
    // The bot handles messages in order, so an answer to the first two would come first.
    let reply = next_message_from(&mut alice_live, &bot_user.id).await;
    assert_eq!(reply.text.as_deref(), Some("ping, @echo!"));
    assert_eq!(reply.reply_to.as_deref(), Some(mention.id.as_str()));

    running.abort();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_message_deleted_before_the_bot_resumes_is_not_answered() {
    let (server, _data) = start_server().await;
    let anon = Client::new(server.url());
    let (bot_client, bot_user) = anon.sign_up("echo", PASSWORD).await.unwrap();
    let (alice, _) = anon.sign_up("alice", PASSWORD).await.unwrap();
    let mut bot = EchoBot::start(bot_client).await.unwrap();
    let conversation = alice.direct(&bot_user.id).await.unwrap().value;

    // While the bot is offline: its resumed stream replays the first message as a tombstone.
    bot.live.disconnect();
    let regretted = alice.send_text(&conversation.id, "oops").await.unwrap();
    alice.delete_message(&regretted.id).await.unwrap();
    let kept = alice.send_text(&conversation.id, "this one").await.unwrap();

    let reply = next_reply(&mut bot).await;
    assert_eq!(reply.reply_to.as_deref(), Some(kept.id.as_str()));
    assert_eq!(reply.text.as_deref(), Some("this one"));
    server.shutdown().await.unwrap();
}
