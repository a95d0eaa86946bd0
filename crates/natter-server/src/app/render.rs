//! From storage rows to the wire shapes of API.md.

use natter_core::{MediaId, UserId, receipts, time};
use natter_wire as wire;

use super::App;
use std::collections::HashMap;

use crate::{
    error::AppResult,
    store::{
        ConversationRow, ConversationView, MediaRow, MemberRow, MessageRow, ReactionCount, UserRow,
    },
};

/// Messages' reactions as one viewer sees them, by message id.
pub(crate) type ReactionsOf = HashMap<String, Vec<ReactionCount>>;

/// A user's media usage, shown only to itself.
#[derive(Clone, Copy)]
pub(crate) struct Usage {
    bytes: i64,
    quota: Option<i64>,
}

pub(crate) fn media(m: &MediaRow) -> wire::Media {
    wire::Media {
        id: m.id.clone(),
        content_type: m.content_type.clone(),
        size: m.size,
        filename: m.filename.clone(),
        width: m.width,
        height: m.height,
        has_thumbnail: m.has_thumbnail,
        sha256: m.sha256.clone(),
        created_at: time::format(m.created_at),
    }
}

/// The aggregate status of `msg` over its recipients among `members`.
pub(crate) fn status(msg: &MessageRow, members: &[MemberRow]) -> natter_core::MessageStatus {
    receipts::aggregate(
        msg.seq,
        members
            .iter()
            .filter(|m| receipts::is_recipient(&m.user_id, m.joined_seq, &msg.sender_id, msg.seq))
            .map(|m| m.marks),
    )
}

impl App {
    /// A user as its viewer sees it. Presence is shown only when `presence` (the viewer is the
    /// user or shares a conversation with it); media usage only in the user's own view.
    pub(crate) fn render_user(
        &self,
        u: &UserRow,
        presence: bool,
        usage: Option<Usage>,
    ) -> wire::User {
        // A deleted account is never online, even in the grace after its sockets closed.
        let online = presence && !u.deleted && self.is_online(&u.id);
        wire::User {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            online,
            // While online, "last seen" is now.
            last_seen_at: if online {
                Some(time::format(time::now()))
            } else if presence {
                u.last_seen_at.map(time::format)
            } else {
                None
            },
            created_at: time::format(u.created_at),
            admin: u.admin,
            deleted: u.deleted,
            media_bytes: usage.map(|u| u.bytes),
            media_quota: usage.and_then(|u| u.quota),
            disabled: None,
        }
    }

    /// A user as it sees itself: presence and media usage.
    pub(crate) async fn render_own_user(&self, u: &UserRow) -> AppResult<wire::User> {
        let usage = Usage {
            bytes: self.store().media_bytes_of(UserId::new(&u.id)).await?,
            quota: self
                .config()
                .media_quota
                .map(|q| i64::try_from(q).unwrap_or(i64::MAX)),
        };
        Ok(self.render_user(u, true, Some(usage)))
    }

    /// The reactions of these messages as `viewer` sees them (`me`), by message id.
    pub(crate) async fn reactions_of(
        &self,
        ids: &[String],
        viewer: &str,
    ) -> AppResult<ReactionsOf> {
        let mut out: ReactionsOf = HashMap::new();
        for r in self
            .store()
            .reaction_counts(ids, UserId::new(viewer))
            .await?
        {
            out.entry(r.message_id.clone()).or_default().push(r);
        }
        Ok(out)
    }

    /// One message's reactions as `viewer` sees them.
    pub(crate) async fn reactions_of_one(
        &self,
        msg: &MessageRow,
        viewer: &str,
    ) -> AppResult<Vec<ReactionCount>> {
        Ok(self
            .reactions_of(std::slice::from_ref(&msg.id), viewer)
            .await?
            .remove(&msg.id)
            .unwrap_or_default())
    }

    /// A message as its viewer sees it; `members` are the conversation's, for the status;
    /// `reactions` its reactions as the viewer sees them.
    pub(crate) async fn render_message(
        &self,
        msg: &MessageRow,
        members: &[MemberRow],
        reactions: &[ReactionCount],
    ) -> AppResult<wire::Message> {
        let gone = msg.deleted || msg.hidden;
        let media = match (&msg.media_id, gone) {
            (Some(id), false) => self
                .store()
                .media(MediaId::new(id))
                .await?
                .as_ref()
                .map(media),
            _ => None,
        };
        Ok(wire::Message {
            id: msg.id.clone(),
            conversation_id: msg.conversation_id.clone(),
            seq: msg.seq,
            sender_id: msg.sender_id.clone(),
            client_id: msg.client_id.clone(),
            kind: msg.kind.as_str().to_owned(),
            text: if gone { None } else { msg.text.clone() },
            media,
            reply_to: msg.reply_to.clone(),
            created_at: time::format(msg.created_at),
            edited_at: msg.edited_at.map(time::format),
            deleted: gone,
            status: status(msg, members).as_str().to_owned(),
            reactions: if gone {
                Vec::new()
            } else {
                reactions
                    .iter()
                    .filter(|r| r.message_id == msg.id)
                    .map(|r| wire::ReactionCount {
                        emoji: r.emoji.clone(),
                        count: r.count,
                        me: r.me,
                    })
                    .collect()
            },
            mentions: if gone {
                Vec::new()
            } else {
                msg.mentions.clone()
            },
        })
    }

    /// A conversation as `viewer` sees it.
    pub(crate) async fn render_conversation(
        &self,
        v: &ConversationView,
        viewer: &str,
    ) -> AppResult<wire::Conversation> {
        let reactions = match &v.last_message {
            Some(m) => self.reactions_of_one(m, viewer).await?,
            None => Vec::new(),
        };
        self.render_conversation_with(v, &reactions).await
    }

    /// A conversation as its viewer sees it, given its last message's reactions as the viewer
    /// sees them (or more: only the last message's are used).
    pub(crate) async fn render_conversation_with(
        &self,
        v: &ConversationView,
        reactions: &[ReactionCount],
    ) -> AppResult<wire::Conversation> {
        let mut c = conversation_shared(&v.conversation, &v.members);
        c.last_message = match &v.last_message {
            Some(m) => Some(self.render_message(m, &v.members, reactions).await?),
            None => None,
        };
        c.unread_count = v.unread_count;
        c.read_seq = v.read_seq;
        c.mention_count = v.mention_count;
        Ok(c)
    }
}

/// A conversation's fields that every member sees alike; the viewer's own ([`PER_VIEWER`])
/// are left empty.
pub(crate) fn conversation_shared(
    c: &ConversationRow,
    members: &[MemberRow],
) -> wire::Conversation {
    wire::Conversation {
        id: c.id.clone(),
        kind: c.kind.as_str().to_owned(),
        name: c.name.clone(),
        members: members
            .iter()
            .map(|m| wire::Member {
                user_id: m.user_id.clone(),
                role: m.role.as_str().to_owned(),
                joined_at: time::format(m.joined_at),
            })
            .collect(),
        created_at: time::format(c.created_at),
        last_message_at: time::format(c.last_message_at),
        last_seq: c.last_seq,
        last_message: None,
        unread_count: 0,
        read_seq: 0,
        all_delivered_seq: c.all_delivered_seq,
        all_read_seq: c.all_read_seq,
        mention_count: 0,
    }
}

/// The fields of a Conversation that depend on who views it: the last message (none for a
/// member that joined after it, a tombstone for one that hid it) and the viewer's own counts.
pub(crate) const PER_VIEWER: [&str; 4] =
    ["last_message", "unread_count", "read_seq", "mention_count"];
