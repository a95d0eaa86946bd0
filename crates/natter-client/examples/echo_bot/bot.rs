//! The echo bot's logic, apart from `main` so that `tests/echo_bot.rs` runs the same code.

use std::collections::HashMap;

use natter_client::{
    Client, ControlFrame, EventData, Live, Message, Result, SendMessageRequest, ServerFrame, User,
};

/// A logged-in bot following its account's live stream.
pub struct EchoBot {
    client: Client,
    me: User,
    /// The stream the bot follows; it reconnects and resumes by itself.
    pub live: Live,
    /// Conversation types (`direct` or `group`) by id: a conversation never changes type.
    kinds: HashMap<String, String>,
}

impl EchoBot {
    /// Starts following the events of `client`'s account from now on.
    pub async fn start(client: Client) -> Result<EchoBot> {
        let me = client.me().await?;
        let live = Live::connect(&client, None).await?;
        Ok(EchoBot {
            client,
            me,
            live,
            kinds: HashMap::new(),
        })
    }

    /// Answers messages for ever; returns only when the stream fails for good (the session
    /// was revoked or expired).
    pub async fn run(mut self) -> Result<()> {
        loop {
            let reply = self.next_reply().await?;
            eprintln!(
                "answered {} in {}",
                reply.reply_to.as_deref().unwrap_or_default(),
                reply.conversation_id
            );
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
                    let answered = match self.calls_for_answer(&message).await {
                        Ok(true) => self.answer(&message).await.map(Some),
                        Ok(false) => Ok(None),
                        Err(e) => Err(e),
                    };
                    match answered {
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
