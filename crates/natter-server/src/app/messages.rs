//! Messages: send, read, edit, delete; delivered and read marks; receipts.

use natter_core::{
    ConversationId, Error as Rule, MediaId, MessageId, MessageKind, MessageStatus, UserId,
    mentions, receipts, time, validate,
};
use natter_wire as wire;

use super::{App, Caller, new_id};
use crate::{
    error::{AppError, AppResult},
    store::{MarkKind, MemberRow, MessageRow, NewMessage},
};

/// Which messages a page holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: u32,
}

impl App {
    /// The caller's membership, or `404` for the conversation.
    async fn membership(&self, caller: &Caller, conversation_id: &str) -> AppResult<MemberRow> {
        self.store()
            .member(ConversationId::new(conversation_id), caller.user_id())
            .await?
            .ok_or_else(|| AppError::not_found("conversation"))
    }

    /// A message the caller may see, with the conversation's members; else `404`.
    pub(super) async fn visible_message(
        &self,
        caller: &Caller,
        id: &str,
    ) -> AppResult<(MessageRow, Vec<MemberRow>)> {
        let msg = self
            .store()
            .message(MessageId::new(id), caller.user_id())
            .await?
            .ok_or_else(|| AppError::not_found("message"))?;
        let members = self
            .store()
            .members(ConversationId::new(&msg.conversation_id))
            .await?;
        match members.iter().find(|m| m.user_id == caller.user_id) {
            Some(me) if msg.seq > me.joined_seq => Ok((msg, members)),
            _ => Err(AppError::not_found("message")),
        }
    }

    /// `POST /conversations/{id}/messages`: the message and whether it was newly stored.
    pub async fn send(
        &self,
        caller: &Caller,
        conversation_id: &str,
        req: wire::SendMessageRequest,
    ) -> AppResult<(wire::Message, bool)> {
        let client_id = req
            .client_id
            .as_deref()
            .map(|c| validate::client_id(c, self.limits()))
            .transpose()?;
        let msg = match self
            .prepare(caller, conversation_id, client_id.clone(), req)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                // A retry gets what was stored the first time, whatever its body says now.
                if let Some(cid) = &client_id
                    && self.membership(caller, conversation_id).await.is_ok()
                    && let Some(found) = self
                        .store()
                        .message_by_client_id(
                            ConversationId::new(conversation_id),
                            caller.user_id(),
                            cid,
                        )
                        .await?
                {
                    return Ok((self.render_in(&found).await?, false));
                }
                return Err(e);
            }
        };
        // Membership, idempotency and `reply_to` are checked in the storing transaction.
        let began = std::time::Instant::now();
        let sent = self.store().send(&msg).await?;
        self.metrics()
            .observe_store("send", began.elapsed().as_secs_f64());
        if !sent.created {
            return Ok((self.render_in(&sent.message).await?, false));
        }
        self.metrics().messages_stored.inc();
        self.log_appended();
        self.typing_ended_by_send(ConversationId::new(conversation_id), caller.user_id())
            .await;
        // A message just stored has been delivered to no one and has no reactions: its status
        // is "sent", so the members need not be read.
        Ok((self.render_message(&sent.message, &[], &[]).await?, true))
    }

    /// Validates a send request into the message to store.
    async fn prepare(
        &self,
        caller: &Caller,
        conversation_id: &str,
        client_id: Option<String>,
        req: wire::SendMessageRequest,
    ) -> AppResult<NewMessage> {
        let l = self.limits();
        let kind = match req.kind.as_deref() {
            None => MessageKind::Text,
            Some(k) => MessageKind::parse(k)
                .ok_or_else(|| AppError::invalid("kind must be \"text\", \"image\" or \"file\""))?,
        };
        let text = match kind {
            MessageKind::Text => Some(validate::message_text(
                req.text
                    .as_deref()
                    .ok_or_else(|| AppError::invalid("text is required"))?,
                l,
            )?),
            MessageKind::Image | MessageKind::File => validate::caption(req.text.as_deref(), l)?,
        };
        let body = natter_core::MessageBody::from_parts(kind, text, req.media_id)?;
        if let Some(media_id) = body.media_id() {
            let media = self
                .store()
                .media(MediaId::new(media_id))
                .await?
                .filter(|m| m.uploader_id == caller.user_id)
                .ok_or_else(|| AppError::not_found("media"))?;
            if kind == MessageKind::Image && !media.is_image {
                return Err(Rule::Unsupported(
                    "kind \"image\" needs media that is an image".into(),
                )
                .into());
            }
        }
        let mentions = match body.text() {
            Some(text) => self.mentions(caller, conversation_id, text).await?,
            None => Vec::new(),
        };
        Ok(NewMessage {
            id: new_id(),
            conversation_id: conversation_id.to_owned(),
            sender_id: caller.user_id.clone(),
            client_id,
            kind,
            text: body.text().map(str::to_owned),
            media_id: body.media_id().map(str::to_owned),
            reply_to: req.reply_to,
            created_at: time::now(),
            mentions,
        })
    }

    /// The members `text`, sent by the caller into the conversation, mentions
    /// (`natter_core::mentions`). Reads nothing when the text has no `@`. A member removed
    /// meanwhile may stay mentioned; it sees nothing of the conversation then, and counts
    /// nothing of it if it comes back (it sees only later messages).
    async fn mentions(
        &self,
        caller: &Caller,
        conversation_id: &str,
        text: &str,
    ) -> AppResult<Vec<String>> {
        if !text.contains('@') {
            return Ok(Vec::new());
        }
        let id = ConversationId::new(conversation_id);
        let (Some(conversation), Some(me)) = (
            self.store().conversation(id).await?,
            self.store().member(id, caller.user_id()).await?,
        ) else {
            // Not a member: the send is refused in its transaction.
            return Ok(Vec::new());
        };
        let members = self.store().member_usernames(id).await?;
        let candidates: Vec<mentions::Candidate<'_>> = members
            .iter()
            .map(|(user_id, username)| mentions::Candidate { user_id, username })
            .collect();
        Ok(mentions::resolve(
            text,
            conversation.kind,
            &caller.user_id,
            me.role,
            &candidates,
        ))
    }

    /// Renders a message with its conversation's current members.
    async fn render_in(&self, msg: &MessageRow) -> AppResult<wire::Message> {
        let members = self
            .store()
            .members(ConversationId::new(&msg.conversation_id))
            .await?;
        let reactions = self.reactions_of_one(msg, &msg.sender_id).await?;
        self.render_message(msg, &members, &reactions).await
    }

    /// `GET /conversations/{id}/messages`
    pub async fn messages(
        &self,
        caller: &Caller,
        conversation_id: &str,
        page: Page,
    ) -> AppResult<wire::MessagePage> {
        let me = self.membership(caller, conversation_id).await?;
        let (rows, has_more) = self
            .store()
            .messages(
                ConversationId::new(conversation_id),
                caller.user_id(),
                me.joined_seq,
                page.before,
                page.after,
                page.limit,
            )
            .await?;
        let members = self
            .store()
            .members(ConversationId::new(conversation_id))
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let reactions = self.reactions_of(&ids, &caller.user_id).await?;
        let mut messages = Vec::with_capacity(rows.len());
        for r in &rows {
            let mine = reactions.get(&r.id).map_or(&[][..], Vec::as_slice);
            messages.push(self.render_message(r, &members, mine).await?);
        }
        Ok(wire::MessagePage { messages, has_more })
    }

    /// `GET /messages/{id}`
    pub async fn message(&self, caller: &Caller, id: &str) -> AppResult<wire::Message> {
        let (msg, members) = self.visible_message(caller, id).await?;
        let reactions = self.reactions_of_one(&msg, &caller.user_id).await?;
        self.render_message(&msg, &members, &reactions).await
    }

    /// `PATCH /messages/{id}`
    pub async fn edit(
        &self,
        caller: &Caller,
        id: &str,
        req: wire::EditMessageRequest,
    ) -> AppResult<wire::Message> {
        let text = validate::message_text(&req.text, self.limits())?;
        // Whether the caller may edit it is decided in the storing transaction; here, only
        // whom the new text mentions.
        let mentions = match self.visible_message(caller, id).await {
            Ok((msg, _)) => self.mentions(caller, &msg.conversation_id, &text).await?,
            Err(_) => Vec::new(),
        };
        self.store()
            .edit(
                caller.user_id(),
                MessageId::new(id),
                &text,
                &mentions,
                time::now(),
            )
            .await?;
        self.log_appended();
        // The old text may linger in the database's files until the next purge.
        self.erased();
        self.message(caller, id).await
    }

    /// `DELETE /messages/{id}`: for everyone; its text is erased from storage.
    pub async fn delete_for_everyone(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let media = self
            .store()
            .delete_for_everyone(caller.user_id(), MessageId::new(id), time::now())
            .await?;
        self.log_appended();
        self.erased();
        if let Some(media_id) = media {
            self.collect_media(&media_id).await?;
        }
        Ok(())
    }

    /// `DELETE /messages/{id}?for=me`
    pub async fn delete_for_me(&self, caller: &Caller, id: &str) -> AppResult<()> {
        self.store()
            .hide(caller.user_id(), MessageId::new(id), time::now())
            .await?;
        self.log_appended();
        Ok(())
    }

    /// `PUT /messages/{id}/delivered` and `/read`: marks it and every earlier message.
    pub async fn mark_message(&self, caller: &Caller, id: &str, kind: MarkKind) -> AppResult<()> {
        let (msg, _) = self.visible_message(caller, id).await?;
        self.mark_up_to(caller, &msg.conversation_id, kind, msg.seq)
            .await
    }

    /// The `delivered` and `read` WebSocket frames: marks up to a seq of a conversation.
    pub async fn mark_up_to(
        &self,
        caller: &Caller,
        conversation_id: &str,
        kind: MarkKind,
        seq: i64,
    ) -> AppResult<()> {
        if seq < 0 {
            return Err(AppError::invalid("up_to_seq must not be negative"));
        }
        let moved = self
            .store()
            .mark(
                caller.user_id(),
                ConversationId::new(conversation_id),
                kind,
                seq,
                time::now(),
            )
            .await?;
        if moved {
            self.log_appended();
        }
        Ok(())
    }

    /// `GET /messages/{id}/receipts`
    pub async fn receipts(&self, caller: &Caller, id: &str) -> AppResult<wire::Receipts> {
        let (msg, members) = self.visible_message(caller, id).await?;
        let mut recipients = Vec::new();
        let mut marks = Vec::new();
        for m in members
            .iter()
            .filter(|m| receipts::is_recipient(&m.user_id, m.joined_seq, &msg.sender_id, msg.seq))
        {
            let status = m.marks.status_of(msg.seq);
            let times = if status == MessageStatus::Sent {
                Default::default()
            } else {
                self.store()
                    .mark_times(
                        ConversationId::new(&msg.conversation_id),
                        UserId::new(&m.user_id),
                        msg.seq,
                    )
                    .await?
            };
            marks.push(m.marks);
            recipients.push(wire::RecipientStatus {
                user_id: m.user_id.clone(),
                status: status.as_str().to_owned(),
                delivered_at: times.delivered_at.map(time::format),
                read_at: times.read_at.map(time::format),
            });
        }
        Ok(wire::Receipts {
            message_id: msg.id.clone(),
            status: receipts::aggregate(msg.seq, marks).as_str().to_owned(),
            recipients,
        })
    }
}
