//! The echo bot's logic, apart from `main` so that `tests/echo_bot.rs` runs the same code.

use std::collections::HashMap;

use natter_client::{
    Client, ControlFrame, EventData, Live, Message, Result, SendMessageRequest, ServerFrame, User,
};

/// The echo logic both modes share: which messages call for an answer, and the answer.
pub struct Echo {
    client: Client,
    me: User,
    /// Conversation types (`direct` or `group`) by id: a conversation never changes type.
    kinds: HashMap<String, String>,
}

impl Echo {
    /// The echo logic for `client`'s account.
    pub async fn new(client: Client) -> Result<Echo> {
        let me = client.me().await?;
        Ok(Echo {
            client,
            me,
            kinds: HashMap::new(),
        })
    }

    /// Answers `message` if it calls for an answer (and marks it read): the answer, or none.
    /// A message from the bot itself or deleted meanwhile calls for none.
    pub async fn handle(&mut self, message: &Message) -> Result<Option<Message>> {
        if self.calls_for_answer(message).await? {
            self.answer(message).await.map(Some)
        } else {
            Ok(None)
        }
    }

    async fn calls_for_answer(&mut self, message: &Message) -> Result<bool> {
        if message.sender_id == self.me.id || message.deleted {
            return Ok(false);
        }
        if self.kind_of(&message.conversation_id).await? == "direct" {
            return Ok(true);
        }
        let mention = format!("@{}", self.me.username);
        Ok(message.text.as_deref().is_some_and(|text| {
            text.split_whitespace()
                .any(|word| word.trim_end_matches([',', '.', '!', '?', ':', ';']) == mention)
        }))
    }

    async fn kind_of(&mut self, conversation_id: &str) -> Result<&str> {
        if !self.kinds.contains_key(conversation_id) {
            let conversation = self.client.conversation(conversation_id).await?;
            self.kinds
                .insert(conversation_id.to_owned(), conversation.kind);
        }
        Ok(&self.kinds[conversation_id])
    }

    async fn answer(&self, message: &Message) -> Result<Message> {
        let text = match &message.text {
            Some(text) => text.clone(),
            None => format!("(a {} message)", message.kind),
        };
        let reply = self
            .client
            .send_message(
                &message.conversation_id,
                &SendMessageRequest {
                    // Derived from the message, so that a retried send cannot post twice.
                    client_id: Some(format!("echo-{}", message.id)),
                    text: Some(text),
                    reply_to: Some(message.id.clone()),
                    ..Default::default()
                },
            )
            .await?
            .value;
        self.client.mark_read(&message.id).await?;
        Ok(reply)
    }
}

/// A logged-in bot following its account's live stream.
pub struct EchoBot {
    echo: Echo,
    /// The stream the bot follows; it reconnects and resumes by itself.
    pub live: Live,
}

impl EchoBot {
    /// Starts following the events of `client`'s account from now on.
    pub async fn start(client: Client) -> Result<EchoBot> {
        let echo = Echo::new(client.clone()).await?;
        let live = Live::connect(&client, None).await?;
        Ok(EchoBot { echo, live })
    }

    /// Answers messages for ever; returns only when the stream fails for good (the session
    /// was revoked or expired).
    pub async fn run(mut self) -> Result<()> {
        loop {
            let reply = self.next_reply().await?;
            log_reply(&reply);
        }
    }

    /// Follows the stream until a message calls for an answer, answers it, marks it read and
    /// returns the answer. A message that cannot be answered (deleted meanwhile, the bot
    /// removed from the group, …) is logged and skipped: only the stream's end is an error.
    pub async fn next_reply(&mut self) -> Result<Message> {
        loop {
            match self.live.next().await? {
                ServerFrame::Event(event) => {
                    let EventData::NewMessage(message) = event.event else {
                        continue;
                    };
                    match self.echo.handle(&message).await {
                        Ok(Some(reply)) => return Ok(reply),
                        Ok(None) => {}
                        Err(e) => eprintln!("cannot answer message {}: {e}", message.id),
                    }
                }
                // Events older than the server keeps were lost; an echo of old news would be
                // noise, so the bot just goes on from the present.
                ServerFrame::Control(ControlFrame::ResyncRequired { .. }) => {
                    eprintln!("missed events while disconnected; going on from now");
                }
                _ => {}
            }
        }
    }
}

/// Says what the bot answered.
pub fn log_reply(reply: &Message) {
    eprintln!(
        "answered {} in {}",
        reply.reply_to.as_deref().unwrap_or_default(),
        reply.conversation_id
    );
}
