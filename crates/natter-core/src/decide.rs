//! Every write of the domain, decided: each function takes the state it needs (which a storage
//! adapter loads inside its transaction), applies the rules, and returns a [`Decision`]: the
//! changes to store and the events to append, in order. An adapter only loads, calls and
//! applies, in one transaction, so two engines cannot disagree on a rule.
//!
//! Ids are plain strings here; times are milliseconds since the epoch.

use crate::{
    ConversationKind, Error, MessageKind, Role,
    receipts::{self, Marks, Watermarks},
    rules,
};

/// A message to store, as the application built it (the seq is decided here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub media_id: Option<String>,
    pub reply_to: Option<String>,
    pub created_at: i64,
    /// The members its text mentions (`crate::mentions::resolve`).
    pub mentions: Vec<String>,
}

/// One member's standing in a conversation, as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub role: Role,
    /// The conversation's last seq when it joined: it sees only later messages.
    pub joined_seq: i64,
    pub marks: Marks,
}

/// What a decision needs of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversation<'a> {
    pub id: &'a str,
    pub kind: ConversationKind,
    pub last_seq: i64,
    pub member_count: usize,
}

/// What a decision needs of a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub id: &'a str,
    pub conversation_id: &'a str,
    pub seq: i64,
    pub sender_id: &'a str,
    pub deleted: bool,
}

/// A change to the stored state. Each names exactly what to write; none asks the adapter to
/// decide anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new conversation; `direct_key` identifies a direct conversation's pair.
    CreateConversation {
        id: String,
        kind: ConversationKind,
        name: Option<String>,
        direct_key: Option<String>,
        at: i64,
    },
    /// A member joins, after every event logged so far and at `joined_seq`; the conversation's
    /// member count grows by one.
    AddMember {
        conversation_id: String,
        user_id: String,
        role: Role,
        joined_seq: i64,
        at: i64,
    },
    /// A member leaves; the member count shrinks by one.
    RemoveMember {
        conversation_id: String,
        user_id: String,
    },
    /// The conversation and everything in it go.
    DeleteConversation {
        conversation_id: String,
    },
    SetRole {
        conversation_id: String,
        user_id: String,
        role: Role,
    },
    Rename {
        conversation_id: String,
        name: String,
    },
    /// The message is stored at `seq`, which becomes the conversation's last seq.
    InsertMessage {
        message: NewMessage,
        seq: i64,
    },
    SetMarks {
        conversation_id: String,
        user_id: String,
        marks: Marks,
    },
    /// The history of marks (for "message info"): `user_id`'s mark reached `up_to_seq` at `at`.
    RecordMarkMove {
        conversation_id: String,
        user_id: String,
        read: bool,
        up_to_seq: i64,
        at: i64,
    },
    /// The text replaced, and with it the mentions and what search finds it by.
    EditMessage {
        message_id: String,
        text: String,
        mentions: Vec<String>,
        at: i64,
    },
    /// Deleted for everyone: the text, media reference, mentions and reactions erased, and
    /// the message gone from the search index; the tombstone kept.
    EraseMessage {
        message_id: String,
        at: i64,
    },
    /// `user_id` reacts to a message with `emoji`.
    AddReaction {
        message_id: String,
        user_id: String,
        emoji: String,
        at: i64,
    },
    RemoveReaction {
        message_id: String,
        user_id: String,
        emoji: String,
    },
    /// Deleted for one user only.
    HideMessage {
        user_id: String,
        message_id: String,
    },
    SetWatermarks {
        conversation_id: String,
        watermarks: Watermarks,
    },
    /// A user's display name changes.
    SetDisplayName {
        user_id: String,
        name: String,
    },
    SetAdmin {
        user_id: String,
        admin: bool,
    },
    /// A disabled account cannot log in.
    SetDisabled {
        user_id: String,
        disabled: bool,
    },
    SetPasswordHash {
        user_id: String,
        hash: String,
    },
    /// Every session of the user goes (the adapter reads their ids first, to close them).
    DeleteSessions {
        user_id: String,
    },
    /// The account is deleted: its name kept reserved, its display name [`DELETED_NAME`], its
    /// password hash, admin flag and invites gone.
    EraseAccount {
        user_id: String,
        at: i64,
    },
}

/// What a durable event says. Messages and conversations are referred to, not copied: a replay
/// renders them as they are then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    NewMessage {
        message_id: String,
    },
    MessageUpdated {
        message_id: String,
    },
    MessageDeleted {
        message_id: String,
        seq: i64,
        for_me: bool,
    },
    MessageStatus {
        user_id: String,
        read: bool,
        up_to_seq: i64,
    },
    ConversationUpdated,
    ConversationRemoved,
    ConversationStatus(Watermarks),
    /// A user's profile changed; addressed to each user who should hear of it.
    UserUpdated {
        user_id: String,
    },
    /// A member added or removed a reaction; `count` is how many now react with `emoji`.
    ReactionChanged {
        message_id: String,
        seq: i64,
        emoji: String,
        count: i64,
        user_id: String,
        added: bool,
    },
}

/// An event to append to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub conversation_id: String,
    /// Set when only this user receives it; else every member of the conversation.
    pub to: Option<String>,
    pub data: EventData,
    pub at: i64,
}

/// The changes and events of one decision, and its outcome for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<T> {
    /// To apply in order, before the events are appended.
    pub changes: Vec<Change>,
    /// To append in order.
    pub events: Vec<NewEvent>,
    /// Set when a conversation's watermarks may have moved once the changes are applied (the
    /// conversation, and the time of the change): the adapter then loads them and asks
    /// [`watermarks`].
    pub watermarks_of: Option<(String, i64)>,
    pub outcome: T,
}

impl<T> Decision<T> {
    fn new(outcome: T) -> Self {
        Decision {
            changes: Vec::new(),
            events: Vec::new(),
            watermarks_of: None,
            outcome,
        }
    }

    /// A decision that changes nothing.
    pub fn nothing(outcome: T) -> Self {
        Self::new(outcome)
    }

    fn event(&mut self, conversation_id: &str, to: Option<&str>, data: EventData, at: i64) {
        self.events.push(NewEvent {
            conversation_id: conversation_id.to_owned(),
            to: to.map(str::to_owned),
            data,
            at,
        });
    }

    /// The same changes and events with another outcome.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decision<U> {
        Decision {
            changes: self.changes,
            events: self.events,
            watermarks_of: self.watermarks_of,
            outcome: f(self.outcome),
        }
    }

    /// Whether it writes anything.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.events.is_empty() && self.watermarks_of.is_none()
    }
}

/// What removing a member did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The member is gone; others remain (with a new owner if the owner left).
    Member,
    /// The last member left and the group is deleted.
    GroupDeleted,
}

/// The key under which a pair's one direct conversation is stored: length-prefixed, so that no
/// two pairs of opaque ids share it, and the same whichever of the two asks.
pub fn direct_key(a: &str, b: &str) -> String {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    format!("{}:{lo}:{hi}", lo.len())
}

/// The actor's membership, or `404` for the conversation: a non-member may not see it.
pub fn actor(member: Option<&Member>) -> Result<&Member, Error> {
    member.ok_or_else(|| Error::not_found("conversation"))
}

/// Whether `viewer` (its membership of the message's conversation) may see the message: it
/// must have been a member when the message was sent. A message it may not see is `404`.
pub fn visible<'m>(msg: Message<'_>, viewer: Option<&'m Member>) -> Result<&'m Member, Error> {
    match viewer {
        Some(m) if msg.seq > m.joined_seq => Ok(m),
        _ => Err(Error::not_found("message")),
    }
}

/// What a direct conversation's opening or send needs to know of the other user of the pair,
/// as seen from the actor. Read in the same transaction as the write it guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer {
    /// The actor blocked the other user.
    pub blocked_by_actor: bool,
    /// The other user blocked the actor.
    pub blocked_actor: bool,
    /// The other user's account was deleted.
    pub deleted: bool,
}

/// Whether the actor may open or send into a direct conversation with `peer`: not when either
/// blocked the other, nor when the other's account was deleted (`403`). The blocker is refused
/// too, and told why: it must unblock to write again.
pub fn may_reach(peer: Peer) -> Result<(), Error> {
    if peer.deleted {
        Err(Error::forbidden("that account was deleted"))
    } else if peer.blocked_by_actor {
        Err(Error::forbidden("you blocked this user: unblock to send"))
    } else if peer.blocked_actor {
        Err(Error::forbidden("this user does not accept your messages"))
    } else {
        Ok(())
    }
}

/// A direct conversation for the pair `a` (the actor), `b`, unless `existing` is already
/// theirs. The outcome is the conversation's id and whether it is new. Refused when `peer`
/// (`b` as `a` sees it) may not be reached, whether or not the conversation exists.
pub fn create_direct(
    new_id: &str,
    a: &str,
    b: &str,
    existing: Option<String>,
    peer: Peer,
    at: i64,
) -> Result<Decision<(String, bool)>, Error> {
    may_reach(peer)?;
    if let Some(id) = existing {
        return Ok(Decision::nothing((id, false)));
    }
    let mut d = Decision::new((new_id.to_owned(), true));
    d.changes.push(Change::CreateConversation {
        id: new_id.to_owned(),
        kind: ConversationKind::Direct,
        name: None,
        direct_key: Some(direct_key(a, b)),
        at,
    });
    for user in [a, b] {
        d.changes.push(join(new_id, user, Role::Member, 0, at));
    }
    d.event(new_id, None, EventData::ConversationUpdated, at);
    Ok(d)
}

/// A group owned by `owner`, with `members` (the owner not among them).
pub fn create_group(
    id: &str,
    owner: &str,
    name: &str,
    members: &[String],
    at: i64,
) -> Decision<()> {
    let mut d = Decision::new(());
    d.changes.push(Change::CreateConversation {
        id: id.to_owned(),
        kind: ConversationKind::Group,
        name: Some(name.to_owned()),
        direct_key: None,
        at,
    });
    d.changes.push(join(id, owner, Role::Owner, 0, at));
    for m in members {
        d.changes.push(join(id, m, Role::Member, 0, at));
    }
    d.event(id, None, EventData::ConversationUpdated, at);
    d
}

fn join(conversation_id: &str, user_id: &str, role: Role, joined_seq: i64, at: i64) -> Change {
    Change::AddMember {
        conversation_id: conversation_id.to_owned(),
        user_id: user_id.to_owned(),
        role,
        joined_seq,
        at,
    }
}

pub fn rename(
    conv: Conversation<'_>,
    actor: Option<&Member>,
    name: &str,
    at: i64,
) -> Result<Decision<()>, Error> {
    let me = self::actor(actor)?;
    rules::check_rename(conv.kind, me.role)?;
    let mut d = Decision::new(());
    d.changes.push(Change::Rename {
        conversation_id: conv.id.to_owned(),
        name: name.to_owned(),
    });
    d.event(conv.id, None, EventData::ConversationUpdated, at);
    Ok(d)
}

/// What adding a member needs besides the conversation and the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joining<'a> {
    pub user_id: &'a str,
    pub role: Role,
    /// Whether `user_id` names a user.
    pub exists: bool,
    pub already_member: bool,
    pub max_members: usize,
}

pub fn add_member(
    conv: Conversation<'_>,
    actor: Option<&Member>,
    new: Joining<'_>,
    at: i64,
) -> Result<Decision<()>, Error> {
    let me = self::actor(actor)?;
    rules::check_add_member(
        conv.kind,
        me.role,
        new.role,
        new.already_member,
        conv.member_count,
        new.max_members,
    )?;
    if !new.exists {
        return Err(Error::invalid("user_id names no user"));
    }
    let mut d = Decision::new(());
    d.changes
        .push(join(conv.id, new.user_id, new.role, conv.last_seq, at));
    d.event(conv.id, None, EventData::ConversationUpdated, at);
    Ok(d)
}

/// Removes `target` (someone leaving, or removed by a manager). `remaining` are the other
/// members in join order: if none, the group goes; if the owner left, the longest-standing
/// admin (else member) becomes owner.
pub fn remove_member(
    conv: Conversation<'_>,
    actor: Option<&Member>,
    target: Option<&Member>,
    remaining: &[Member],
    at: i64,
) -> Result<Decision<Removed>, Error> {
    let me = self::actor(actor)?;
    let target = target.ok_or_else(|| Error::not_found("member"))?;
    rules::check_remove_member(
        conv.kind,
        &me.user_id,
        me.role,
        &target.user_id,
        target.role,
    )?;
    let mut d = Decision::new(Removed::Member);
    d.changes.push(Change::RemoveMember {
        conversation_id: conv.id.to_owned(),
        user_id: target.user_id.clone(),
    });
    d.event(
        conv.id,
        Some(&target.user_id),
        EventData::ConversationRemoved,
        at,
    );
    if remaining.is_empty() {
        d.changes.push(Change::DeleteConversation {
            conversation_id: conv.id.to_owned(),
        });
        d.outcome = Removed::GroupDeleted;
        return Ok(d);
    }
    if target.role == Role::Owner
        && let Some(heir) = rules::next_owner(remaining, |m| m.role)
    {
        d.changes.push(Change::SetRole {
            conversation_id: conv.id.to_owned(),
            user_id: heir.user_id.clone(),
            role: Role::Owner,
        });
    }
    d.event(conv.id, None, EventData::ConversationUpdated, at);
    // A member who held the watermarks back may be gone.
    d.watermarks_of = Some((conv.id.to_owned(), at));
    Ok(d)
}

pub fn set_role(
    conv: Conversation<'_>,
    actor: Option<&Member>,
    target: Option<&Member>,
    role: Role,
    at: i64,
) -> Result<Decision<()>, Error> {
    let me = self::actor(actor)?;
    let target = target.ok_or_else(|| Error::not_found("member"))?;
    rules::check_set_role(conv.kind, me.role, target.role, role)?;
    if target.role == role {
        return Ok(Decision::nothing(()));
    }
    let mut d = Decision::new(());
    d.changes.push(Change::SetRole {
        conversation_id: conv.id.to_owned(),
        user_id: target.user_id.clone(),
        role,
    });
    d.event(conv.id, None, EventData::ConversationUpdated, at);
    Ok(d)
}

/// What a send found stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendState<'a> {
    pub conversation: Conversation<'a>,
    /// The sender's membership.
    pub sender: Option<&'a Member>,
    /// Whether the sender already stored a message under the same `client_id` here.
    pub already_sent: bool,
    /// The conversation and seq of the message `reply_to` names, if it names one.
    pub reply_target: Option<(&'a str, i64)>,
    /// In a direct conversation, the other member as the sender sees it (none if it has no
    /// other member, or it is a group: groups are not affected by blocks).
    pub peer: Option<Peer>,
}

/// What a send does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    /// The message stored earlier under the same `client_id` is the answer; nothing changes.
    AlreadySent,
    /// Stored at this seq.
    Stored(i64),
}

/// Stores `msg` at the next seq, with its event; sending marks everything up to it read for
/// the sender.
pub fn send(state: SendState<'_>, msg: &NewMessage) -> Result<Decision<Send>, Error> {
    let conv = state.conversation;
    let me = actor(state.sender)?;
    if state.already_sent {
        return Ok(Decision::nothing(Send::AlreadySent));
    }
    if conv.kind == ConversationKind::Direct {
        // A direct conversation whose other member is gone has no one to send to.
        may_reach(state.peer.unwrap_or(Peer {
            deleted: true,
            ..Peer::default()
        }))?;
    }
    if msg.reply_to.is_some() {
        match state.reply_target {
            Some((c, seq)) if c == conv.id && seq > me.joined_seq => {}
            _ => {
                return Err(Error::invalid(
                    "reply_to must name a message of the same conversation",
                ));
            }
        }
    }
    let seq = conv.last_seq + 1;
    let mut d = Decision::new(Send::Stored(seq));
    d.changes.push(Change::InsertMessage {
        message: msg.clone(),
        seq,
    });
    d.event(
        conv.id,
        None,
        EventData::NewMessage {
            message_id: msg.id.clone(),
        },
        msg.created_at,
    );
    // Only when the sender's read mark was below the messages of others does sending change
    // anyone's status, so only then is the move recorded and announced.
    if me.marks.read_seq < seq - 1 {
        move_marks(&mut d, conv, me, true, seq, msg.created_at);
    } else {
        d.changes.push(Change::SetMarks {
            conversation_id: conv.id.to_owned(),
            user_id: me.user_id.clone(),
            marks: Marks {
                delivered_seq: seq,
                read_seq: seq,
            },
        });
    }
    // Alone in its group, a member's messages have no recipients: the watermarks follow them.
    d.watermarks_of = Some((conv.id.to_owned(), msg.created_at));
    Ok(d)
}

/// Moves `member`'s delivered (or read) mark up to `seq`, capped at the last seq. The outcome
/// is whether anything moved.
pub fn mark(
    conv: Conversation<'_>,
    member: Option<&Member>,
    read: bool,
    seq: i64,
    at: i64,
) -> Result<Decision<bool>, Error> {
    let me = actor(member)?;
    let mut d = Decision::new(false);
    d.outcome = move_marks(&mut d, conv, me, read, seq.min(conv.last_seq), at);
    Ok(d)
}

fn move_marks<T>(
    d: &mut Decision<T>,
    conv: Conversation<'_>,
    me: &Member,
    read: bool,
    seq: i64,
    at: i64,
) -> bool {
    let mut marks = me.marks;
    let moved = if read {
        marks.mark_read(seq)
    } else {
        marks.mark_delivered(seq)
    };
    if !moved.delivered && !moved.read {
        return false;
    }
    d.changes.push(Change::SetMarks {
        conversation_id: conv.id.to_owned(),
        user_id: me.user_id.clone(),
        marks,
    });
    for (did, read) in [(moved.delivered, false), (moved.read, true)] {
        if did {
            d.changes.push(Change::RecordMarkMove {
                conversation_id: conv.id.to_owned(),
                user_id: me.user_id.clone(),
                read,
                up_to_seq: seq,
                at,
            });
        }
    }
    // In a large group only the member's own devices hear of its marks; everyone else learns
    // of the conversation's watermarks instead.
    let to = (!receipts::status_to_everyone(conv.member_count)).then_some(me.user_id.as_str());
    d.event(
        conv.id,
        to,
        EventData::MessageStatus {
            user_id: me.user_id.clone(),
            read: moved.read,
            up_to_seq: seq,
        },
        at,
    );
    d.watermarks_of = Some((conv.id.to_owned(), at));
    true
}

/// The conversation's watermarks after a change: `stored` are those kept, `now` those its
/// current members' marks give. When they moved, they are kept and every member told.
pub fn watermarks(
    conversation_id: &str,
    stored: Watermarks,
    now: Watermarks,
    at: i64,
) -> Decision<()> {
    let mut d = Decision::new(());
    if let Some(after) = receipts::advance(stored, now) {
        d.changes.push(Change::SetWatermarks {
            conversation_id: conversation_id.to_owned(),
            watermarks: after,
        });
        d.event(
            conversation_id,
            None,
            EventData::ConversationStatus(after),
            at,
        );
    }
    d
}

/// Replaces the text of `actor`'s message (`viewer` is the actor's membership).
pub fn edit(
    msg: Message<'_>,
    viewer: Option<&Member>,
    text: &str,
    mentions: &[String],
    at: i64,
) -> Result<Decision<()>, Error> {
    let me = visible(msg, viewer)?;
    rules::check_edit(msg.sender_id, &me.user_id, msg.deleted)?;
    let mut d = Decision::new(());
    d.changes.push(Change::EditMessage {
        message_id: msg.id.to_owned(),
        text: text.to_owned(),
        mentions: mentions.to_vec(),
        at,
    });
    d.event(
        msg.conversation_id,
        None,
        EventData::MessageUpdated {
            message_id: msg.id.to_owned(),
        },
        at,
    );
    Ok(d)
}

/// Deletes a message for everyone. Deleting it again changes nothing. The outcome is whether
/// it erased the message now.
pub fn delete_for_everyone(
    msg: Message<'_>,
    kind: ConversationKind,
    viewer: Option<&Member>,
    at: i64,
) -> Result<Decision<bool>, Error> {
    let me = visible(msg, viewer)?;
    rules::check_delete_for_everyone(kind, msg.sender_id, &me.user_id, me.role)?;
    if msg.deleted {
        return Ok(Decision::nothing(false));
    }
    let mut d = Decision::new(true);
    d.changes.push(Change::EraseMessage {
        message_id: msg.id.to_owned(),
        at,
    });
    d.event(
        msg.conversation_id,
        None,
        EventData::MessageDeleted {
            message_id: msg.id.to_owned(),
            seq: msg.seq,
            for_me: false,
        },
        at,
    );
    Ok(d)
}

/// A message's reactions as a reaction decision needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reactions {
    /// How many react with the emoji at hand.
    pub count: i64,
    /// Whether the reacting member is among them.
    pub mine: bool,
    /// How many distinct emoji the message carries.
    pub distinct: usize,
}

/// `viewer` adds (or removes) its reaction `emoji` (validated) to a message it can see. Adding
/// one it has, or removing one it has not, changes nothing. A message deleted for everyone takes
/// no reaction (`409`); one that carries `max_distinct` emoji takes no other (`400`). The
/// outcome is whether anything changed.
pub fn react(
    msg: Message<'_>,
    viewer: Option<&Member>,
    emoji: &str,
    add: bool,
    now: Reactions,
    max_distinct: usize,
    at: i64,
) -> Result<Decision<bool>, Error> {
    let me = visible(msg, viewer)?;
    if msg.deleted {
        if add {
            return Err(Error::conflict("a deleted message takes no reactions"));
        }
        return Ok(Decision::nothing(false));
    }
    if now.mine == add {
        return Ok(Decision::nothing(false));
    }
    if add && now.count == 0 && now.distinct >= max_distinct {
        return Err(Error::invalid(format!(
            "a message can carry at most {max_distinct} different reactions"
        )));
    }
    let mut d = Decision::new(true);
    let (message_id, user_id, emoji) = (msg.id.to_owned(), me.user_id.clone(), emoji.to_owned());
    d.changes.push(if add {
        Change::AddReaction {
            message_id: message_id.clone(),
            user_id: user_id.clone(),
            emoji: emoji.clone(),
            at,
        }
    } else {
        Change::RemoveReaction {
            message_id: message_id.clone(),
            user_id: user_id.clone(),
            emoji: emoji.clone(),
        }
    });
    d.event(
        msg.conversation_id,
        None,
        EventData::ReactionChanged {
            message_id,
            seq: msg.seq,
            emoji,
            count: if add { now.count + 1 } else { now.count - 1 },
            user_id,
            added: add,
        },
        at,
    );
    Ok(d)
}

/// Hides a message for `viewer` only. Hiding it again changes nothing.
pub fn hide(
    msg: Message<'_>,
    viewer: Option<&Member>,
    already_hidden: bool,
    at: i64,
) -> Result<Decision<()>, Error> {
    let me = visible(msg, viewer)?;
    if already_hidden {
        return Ok(Decision::nothing(()));
    }
    let mut d = Decision::new(());
    d.changes.push(Change::HideMessage {
        user_id: me.user_id.clone(),
        message_id: msg.id.to_owned(),
    });
    d.event(
        msg.conversation_id,
        Some(&me.user_id),
        EventData::MessageDeleted {
            message_id: msg.id.to_owned(),
            seq: msg.seq,
            for_me: true,
        },
        at,
    );
    Ok(d)
}

// ---- accounts ----

/// Who may register (`--registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// Anyone.
    Open,
    /// Only with a valid invite code.
    #[default]
    Invite,
    /// No one by themselves (admins create accounts).
    Closed,
}

/// Who may create invites (`--invites`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvitePolicy {
    #[default]
    Admins,
    Members,
}

/// What a registration needs of a stored invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invite {
    pub uses_left: i64,
    pub expires_at: i64,
}

/// How a registration is let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The new user is an admin (the first user of the server).
    pub admin: bool,
    /// One use of the invite given is consumed.
    pub use_invite: bool,
}

/// Whether a registration may proceed, and how. `users` is how many users exist, read in the
/// same transaction that creates the user (and serialised with every other registration), so
/// that exactly one registration can be the first. `invite` is the stored invite of the code
/// given (none when no code was given or none such exists).
///
/// While the server has no user the first registration is open whatever the mode, and makes
/// an admin; it uses no invite. Else `Open` lets anyone in (an invite given is not used),
/// `Invite` needs an invite with a use left that has not expired, and `Closed` refuses.
pub fn admit(
    mode: Registration,
    users: i64,
    invite: Option<Invite>,
    now: i64,
) -> Result<Admission, Error> {
    if users == 0 {
        return Ok(Admission {
            admin: true,
            use_invite: false,
        });
    }
    match mode {
        Registration::Open => Ok(Admission {
            admin: false,
            use_invite: false,
        }),
        Registration::Closed => Err(Error::forbidden("registration is closed")),
        Registration::Invite => match invite {
            Some(i) if i.uses_left > 0 && i.expires_at > now => Ok(Admission {
                admin: false,
                use_invite: true,
            }),
            _ => Err(Error::forbidden("registration needs a valid invite")),
        },
    }
}

/// Whether a user may create invites: admins always, others only under `Members`.
pub fn may_create_invite(admin: bool, policy: InvitePolicy) -> Result<(), Error> {
    if admin || policy == InvitePolicy::Members {
        Ok(())
    } else {
        Err(Error::forbidden("only admins may create invites"))
    }
}

/// Whether `actor` may revoke an invite created by `creator`: its creator or an admin.
pub fn may_revoke_invite(creator: &str, actor: &str, actor_admin: bool) -> Result<(), Error> {
    if creator == actor || actor_admin {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only its creator or an admin may revoke an invite",
        ))
    }
}

/// A user's display name changes: a `user_updated` event for the user itself (its other
/// devices) and for each of `contacts` (the users sharing a conversation with it).
pub fn set_display_name(user_id: &str, name: &str, contacts: &[String], at: i64) -> Decision<()> {
    let mut d = Decision::new(());
    d.changes.push(Change::SetDisplayName {
        user_id: user_id.to_owned(),
        name: name.to_owned(),
    });
    for to in std::iter::once(user_id).chain(contacts.iter().map(String::as_str)) {
        d.event(
            "",
            Some(to),
            EventData::UserUpdated {
                user_id: user_id.to_owned(),
            },
            at,
        );
    }
    d
}

/// What the account decisions need of a stored user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    pub id: &'a str,
    pub admin: bool,
    pub disabled: bool,
    pub deleted: bool,
}

/// Who manages an account: an admin through the API, or the server's operator from the shell
/// (on the server's data, for recovery), whom no rule of the API binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager<'a> {
    Admin(Account<'a>),
    Operator,
}

/// What an admin changes of an account (`PATCH /admin/users/{id}`); `None` leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpdate {
    pub disabled: Option<bool>,
    pub admin: Option<bool>,
    /// The new password's hash.
    pub password_hash: Option<String>,
}

/// The name a deleted account is shown under.
pub const DELETED_NAME: &str = "Deleted account";

/// An admin (or the operator) changes `target`. `admins` is how many admins can still act
/// (neither disabled nor deleted), read in the same transaction. The outcome is whether every
/// session of the target is to be revoked (it was disabled, or its password set).
///
/// Only admins manage accounts; a deleted account cannot be changed; an admin cannot disable
/// itself, nor remove its own admin flag while it is the last admin (the server would be left
/// without one; the operator can, and can make another from the shell).
pub fn update_account(
    manager: Manager<'_>,
    target: Option<Account<'_>>,
    update: &AccountUpdate,
    admins: i64,
    at: i64,
) -> Result<Decision<bool>, Error> {
    if let Manager::Admin(me) = manager
        && (!me.admin || me.disabled || me.deleted)
    {
        return Err(Error::forbidden("only admins may manage accounts"));
    }
    let target = target.ok_or_else(|| Error::not_found("user"))?;
    if target.deleted {
        return Err(Error::conflict("the account was deleted"));
    }
    if let Manager::Admin(me) = manager
        && me.id == target.id
    {
        if update.disabled == Some(true) {
            return Err(Error::conflict("an admin cannot disable its own account"));
        }
        if update.admin == Some(false) && admins <= 1 {
            return Err(Error::conflict(
                "the last admin cannot remove its own admin flag: make another user an admin first",
            ));
        }
    }
    let mut d = Decision::new(false);
    if let Some(admin) = update.admin.filter(|a| *a != target.admin) {
        d.changes.push(Change::SetAdmin {
            user_id: target.id.to_owned(),
            admin,
        });
        // The account's own devices learn of it (an admin's client shows its admin page).
        d.event(
            "",
            Some(target.id),
            EventData::UserUpdated {
                user_id: target.id.to_owned(),
            },
            at,
        );
    }
    if let Some(disabled) = update.disabled.filter(|x| *x != target.disabled) {
        d.changes.push(Change::SetDisabled {
            user_id: target.id.to_owned(),
            disabled,
        });
        d.outcome |= disabled;
    }
    if let Some(hash) = &update.password_hash {
        d.changes.push(Change::SetPasswordHash {
            user_id: target.id.to_owned(),
            hash: hash.clone(),
        });
        d.outcome = true;
    }
    if d.outcome {
        d.changes.push(Change::DeleteSessions {
            user_id: target.id.to_owned(),
        });
    }
    Ok(d)
}

/// A user deletes its own account (after leaving its groups, each decided by
/// [`remove_member`]). `contacts` are the users who shared a conversation with it before it
/// left: they, and its own devices, get a `user_updated` event showing it deleted. The last
/// admin cannot leave (`409`): the server would be left without one.
pub fn delete_account(
    user: Option<Account<'_>>,
    admins: i64,
    contacts: &[String],
    at: i64,
) -> Result<Decision<()>, Error> {
    let user = user
        .filter(|u| !u.deleted)
        .ok_or_else(|| Error::not_found("user"))?;
    if user.admin && !user.disabled && admins <= 1 {
        return Err(Error::conflict(
            "the last admin cannot delete its account: make another user an admin first",
        ));
    }
    let mut d = Decision::new(());
    d.changes.push(Change::DeleteSessions {
        user_id: user.id.to_owned(),
    });
    d.changes.push(Change::EraseAccount {
        user_id: user.id.to_owned(),
        at,
    });
    for to in std::iter::once(user.id).chain(contacts.iter().map(String::as_str)) {
        d.event(
            "",
            Some(to),
            EventData::UserUpdated {
                user_id: user.id.to_owned(),
            },
            at,
        );
    }
    Ok(d)
}

/// Whether `blocker` may block (or unblock) `target`: not itself (`400`), and only a user that
/// exists (`404`). Blocking is idempotent: blocking again, or unblocking one not blocked,
/// changes nothing and is no error.
pub fn may_block(blocker: &str, target: &str, target_exists: bool) -> Result<(), Error> {
    if blocker == target {
        Err(Error::invalid("you cannot block yourself"))
    } else if !target_exists {
        Err(Error::not_found("user"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, role: Role, joined_seq: i64, read: i64) -> Member {
        Member {
            user_id: id.into(),
            role,
            joined_seq,
            marks: Marks {
                delivered_seq: read,
                read_seq: read,
            },
        }
    }

    fn group(last_seq: i64, member_count: usize) -> Conversation<'static> {
        Conversation {
            id: "c",
            kind: ConversationKind::Group,
            last_seq,
            member_count,
        }
    }

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            id: id.into(),
            conversation_id: "c".into(),
            sender_id: "s".into(),
            client_id: None,
            kind: MessageKind::Text,
            text: Some("hi".into()),
            media_id: None,
            reply_to: None,
            created_at: 5,
            mentions: Vec::new(),
        }
    }

    fn kinds<T>(d: &Decision<T>) -> Vec<&EventData> {
        d.events.iter().map(|e| &e.data).collect()
    }

    #[test]
    fn direct_keys_are_the_same_either_way_and_unambiguous() {
        assert_eq!(direct_key("a", "b"), direct_key("b", "a"));
        assert_ne!(direct_key("a:b", "c"), direct_key("a", "b:c"));
    }

    #[test]
    fn a_pair_has_one_direct_conversation() {
        let free = Peer::default();
        let d = create_direct("new", "a", "b", Some("old".into()), free, 1).unwrap();
        assert_eq!(d.outcome, ("old".into(), false));
        assert!(d.is_empty());
        let d = create_direct("new", "a", "b", None, free, 1).unwrap();
        assert_eq!(d.outcome, ("new".into(), true));
        assert_eq!(d.changes.len(), 3);
        assert_eq!(kinds(&d), [&EventData::ConversationUpdated]);
    }

    #[test]
    fn a_send_takes_the_next_seq_and_reads_up_to_it_for_the_sender() {
        let s = member("s", Role::Member, 0, 3);
        let state = SendState {
            conversation: group(3, 2),
            sender: Some(&s),
            already_sent: false,
            reply_target: None,
            peer: None,
        };
        let d = send(state, &msg("m")).unwrap();
        assert_eq!(d.outcome, Send::Stored(4));
        // Its mark was at the last message: nothing of others' status changes.
        assert_eq!(
            kinds(&d),
            [&EventData::NewMessage {
                message_id: "m".into()
            }]
        );
        assert!(d.changes.contains(&Change::SetMarks {
            conversation_id: "c".into(),
            user_id: "s".into(),
            marks: Marks {
                delivered_seq: 4,
                read_seq: 4
            }
        }));
        // Behind: sending reads others' messages, and says so.
        let s = member("s", Role::Member, 0, 1);
        let state = SendState {
            sender: Some(&s),
            ..state
        };
        let d = send(state, &msg("m")).unwrap();
        assert!(matches!(
            d.events[1].data,
            EventData::MessageStatus {
                read: true,
                up_to_seq: 4,
                ..
            }
        ));
        assert_eq!(d.events[1].to, None, "a small group hears of every mark");
    }

    #[test]
    fn a_send_is_refused_or_answered_from_what_is_stored() {
        let s = member("s", Role::Member, 2, 3);
        let state = SendState {
            conversation: group(3, 2),
            sender: None,
            already_sent: false,
            reply_target: None,
            peer: None,
        };
        assert_eq!(
            send(state, &msg("m")).unwrap_err(),
            Error::not_found("conversation")
        );
        let state = SendState {
            sender: Some(&s),
            already_sent: true,
            ..state
        };
        assert_eq!(send(state, &msg("m")).unwrap().outcome, Send::AlreadySent);
        let mut reply = msg("m");
        reply.reply_to = Some("r".into());
        for target in [None, Some(("other", 3)), Some(("c", 2))] {
            let state = SendState {
                already_sent: false,
                reply_target: target,
                ..state
            };
            assert!(matches!(send(state, &reply), Err(Error::Invalid(_))));
        }
        let state = SendState {
            already_sent: false,
            reply_target: Some(("c", 3)),
            ..state
        };
        assert!(send(state, &reply).is_ok());
    }

    fn direct(last_seq: i64) -> Conversation<'static> {
        Conversation {
            kind: ConversationKind::Direct,
            ..group(last_seq, 2)
        }
    }

    const BLOCKED_BY_ME: Peer = Peer {
        blocked_by_actor: true,
        blocked_actor: false,
        deleted: false,
    };
    const BLOCKED_ME: Peer = Peer {
        blocked_by_actor: false,
        blocked_actor: true,
        deleted: false,
    };
    const DELETED: Peer = Peer {
        blocked_by_actor: false,
        blocked_actor: false,
        deleted: true,
    };

    #[test]
    fn a_direct_conversation_is_not_opened_across_a_block_or_with_a_deleted_account() {
        for peer in [BLOCKED_BY_ME, BLOCKED_ME, DELETED] {
            for existing in [None, Some("old".to_owned())] {
                assert!(
                    matches!(
                        create_direct("new", "a", "b", existing.clone(), peer, 1),
                        Err(Error::Forbidden(_))
                    ),
                    "{peer:?} {existing:?}"
                );
            }
        }
        // The blocker is told how to write again.
        assert_eq!(
            may_reach(BLOCKED_BY_ME).unwrap_err(),
            Error::forbidden("you blocked this user: unblock to send")
        );
    }

    #[test]
    fn a_direct_send_is_refused_across_a_block_either_way_or_to_a_deleted_account() {
        let s = member("s", Role::Member, 0, 3);
        let state = SendState {
            conversation: direct(3),
            sender: Some(&s),
            already_sent: false,
            reply_target: None,
            peer: Some(Peer::default()),
        };
        assert!(send(state, &msg("m")).is_ok());
        for peer in [Some(BLOCKED_BY_ME), Some(BLOCKED_ME), Some(DELETED), None] {
            let refused = send(SendState { peer, ..state }, &msg("m"));
            assert!(matches!(refused, Err(Error::Forbidden(_))), "{peer:?}");
        }
        // A retry of a message stored before the block is answered, not refused.
        let retry = SendState {
            already_sent: true,
            peer: Some(BLOCKED_ME),
            ..state
        };
        assert_eq!(send(retry, &msg("m")).unwrap().outcome, Send::AlreadySent);
        // Not a member: still 404, whatever the peer.
        let stranger = SendState {
            sender: None,
            peer: Some(BLOCKED_ME),
            ..state
        };
        assert_eq!(
            send(stranger, &msg("m")).unwrap_err(),
            Error::not_found("conversation")
        );
    }

    #[test]
    fn groups_are_not_affected_by_blocks() {
        let s = member("s", Role::Member, 0, 3);
        let state = SendState {
            conversation: group(3, 3),
            sender: Some(&s),
            already_sent: false,
            reply_target: None,
            peer: Some(BLOCKED_ME),
        };
        assert!(send(state, &msg("m")).is_ok());
    }

    #[test]
    fn a_user_blocks_another_existing_user_but_not_itself() {
        assert!(may_block("a", "b", true).is_ok());
        assert_eq!(
            may_block("a", "a", true).unwrap_err(),
            Error::invalid("you cannot block yourself")
        );
        assert_eq!(
            may_block("a", "b", false).unwrap_err(),
            Error::not_found("user")
        );
    }

    #[test]
    fn marks_move_forward_only_and_large_groups_tell_only_the_member() {
        let m = member("m", Role::Member, 0, 2);
        let d = mark(group(5, 2), Some(&m), true, 9, 7).unwrap();
        assert!(d.outcome);
        assert!(matches!(
            d.events[0].data,
            EventData::MessageStatus { up_to_seq: 5, .. }
        ));
        assert_eq!(d.watermarks_of, Some(("c".into(), 7)));
        let d = mark(group(5, 2), Some(&m), false, 2, 7).unwrap();
        assert!(!d.outcome);
        assert!(d.is_empty());
        let d = mark(group(5, 1000), Some(&m), false, 4, 7).unwrap();
        assert_eq!(d.events[0].to.as_deref(), Some("m"));
        assert!(mark(group(5, 2), None, true, 1, 1).is_err());
    }

    #[test]
    fn watermarks_never_move_back() {
        let w = |d, r| Watermarks {
            all_delivered_seq: d,
            all_read_seq: r,
        };
        assert!(watermarks("c", w(5, 3), w(4, 3), 1).is_empty());
        let d = watermarks("c", w(5, 3), w(4, 4), 1);
        assert_eq!(kinds(&d), [&EventData::ConversationStatus(w(5, 4))]);
    }

    #[test]
    fn the_owner_leaving_hands_the_group_on_and_the_last_member_deletes_it() {
        let o = member("o", Role::Owner, 0, 0);
        let m = member("m", Role::Member, 0, 0);
        let a = member("a", Role::Admin, 0, 0);
        let d = remove_member(group(0, 3), Some(&o), Some(&o), &[m.clone(), a.clone()], 1).unwrap();
        assert_eq!(d.outcome, Removed::Member);
        assert!(d.changes.contains(&Change::SetRole {
            conversation_id: "c".into(),
            user_id: "a".into(),
            role: Role::Owner
        }));
        assert_eq!(
            kinds(&d),
            [
                &EventData::ConversationRemoved,
                &EventData::ConversationUpdated
            ]
        );
        assert_eq!(d.events[0].to.as_deref(), Some("o"));
        let d = remove_member(group(0, 1), Some(&o), Some(&o), &[], 1).unwrap();
        assert_eq!(d.outcome, Removed::GroupDeleted);
        assert!(d.changes.contains(&Change::DeleteConversation {
            conversation_id: "c".into()
        }));
        assert!(matches!(
            remove_member(group(0, 3), Some(&a), Some(&o), &[m], 1),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn only_visible_messages_are_edited_deleted_or_hidden() {
        let stored = Message {
            id: "x",
            conversation_id: "c",
            seq: 3,
            sender_id: "s",
            deleted: false,
        };
        let late = member("s", Role::Member, 3, 3);
        assert_eq!(
            edit(stored, Some(&late), "t", &[], 1).unwrap_err(),
            Error::not_found("message")
        );
        let s = member("s", Role::Member, 0, 3);
        assert_eq!(
            edit(stored, Some(&s), "t", &[], 1).unwrap().changes.len(),
            1
        );
        let gone = Message {
            deleted: true,
            ..stored
        };
        assert!(
            delete_for_everyone(gone, ConversationKind::Group, Some(&s), 1)
                .unwrap()
                .is_empty()
        );
        assert!(hide(stored, Some(&s), true, 1).unwrap().is_empty());
        let d = hide(stored, Some(&s), false, 1).unwrap();
        assert_eq!(d.events[0].to.as_deref(), Some("s"));
    }

    #[test]
    fn reactions_add_remove_and_their_limits() {
        let stored = Message {
            id: "x",
            conversation_id: "c",
            seq: 3,
            sender_id: "s",
            deleted: false,
        };
        let m = member("m", Role::Member, 0, 3);
        let none = Reactions::default();
        let d = react(stored, Some(&m), "👍", true, none, 20, 9).unwrap();
        assert!(d.outcome);
        assert_eq!(
            kinds(&d),
            [&EventData::ReactionChanged {
                message_id: "x".into(),
                seq: 3,
                emoji: "👍".into(),
                count: 1,
                user_id: "m".into(),
                added: true,
            }]
        );
        // Idempotent both ways.
        let mine = Reactions {
            count: 2,
            mine: true,
            distinct: 1,
        };
        assert!(
            react(stored, Some(&m), "👍", true, mine, 20, 9)
                .unwrap()
                .is_empty()
        );
        assert!(
            react(stored, Some(&m), "👍", false, none, 20, 9)
                .unwrap()
                .is_empty()
        );
        let d = react(stored, Some(&m), "👍", false, mine, 20, 9).unwrap();
        assert!(matches!(
            kinds(&d)[0],
            EventData::ReactionChanged {
                count: 1,
                added: false,
                ..
            }
        ));
        // At the limit of distinct emoji: one more is refused, an existing one still taken.
        let full = Reactions {
            count: 0,
            mine: false,
            distinct: 20,
        };
        assert!(matches!(
            react(stored, Some(&m), "🎉", true, full, 20, 9),
            Err(Error::Invalid(_))
        ));
        let joining = Reactions { count: 1, ..full };
        assert!(
            react(stored, Some(&m), "🎉", true, joining, 20, 9)
                .unwrap()
                .outcome
        );
        let nearly = Reactions {
            distinct: 19,
            ..full
        };
        assert!(
            react(stored, Some(&m), "🎉", true, nearly, 20, 9)
                .unwrap()
                .outcome
        );
        // Deleted: no new reaction; removing is a no-op. Not visible: 404.
        let gone = Message {
            deleted: true,
            ..stored
        };
        assert!(matches!(
            react(gone, Some(&m), "👍", true, none, 20, 9),
            Err(Error::Conflict(_))
        ));
        assert!(
            react(gone, Some(&m), "👍", false, mine, 20, 9)
                .unwrap()
                .is_empty()
        );
        let late = member("m", Role::Member, 3, 3);
        assert_eq!(
            react(stored, Some(&late), "👍", true, none, 20, 9).unwrap_err(),
            Error::not_found("message")
        );
        assert!(react(stored, None, "👍", true, none, 20, 9).is_err());
    }

    // ---- accounts ----

    const NOW: i64 = 1_000_000;
    const GOOD: Invite = Invite {
        uses_left: 1,
        expires_at: NOW + 1,
    };

    #[test]
    fn the_first_user_registers_freely_and_is_admin_in_every_mode() {
        for mode in [
            Registration::Open,
            Registration::Invite,
            Registration::Closed,
        ] {
            let a = admit(mode, 0, None, NOW).unwrap();
            assert!(a.admin && !a.use_invite, "{mode:?}");
        }
    }

    #[test]
    fn later_users_follow_the_mode() {
        let open = admit(Registration::Open, 1, None, NOW).unwrap();
        assert!(!open.admin && !open.use_invite);
        assert!(
            !admit(Registration::Open, 1, Some(GOOD), NOW)
                .unwrap()
                .use_invite
        );
        assert!(matches!(
            admit(Registration::Closed, 1, Some(GOOD), NOW),
            Err(Error::Forbidden(_))
        ));
        let invited = admit(Registration::Invite, 1, Some(GOOD), NOW).unwrap();
        assert!(!invited.admin && invited.use_invite);
        for bad in [
            None,
            Some(Invite {
                uses_left: 0,
                ..GOOD
            }),
            Some(Invite {
                expires_at: NOW,
                ..GOOD
            }),
        ] {
            assert!(
                matches!(
                    admit(Registration::Invite, 5, bad, NOW),
                    Err(Error::Forbidden(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invites_are_created_by_admins_or_by_members_when_allowed() {
        assert!(may_create_invite(true, InvitePolicy::Admins).is_ok());
        assert!(may_create_invite(false, InvitePolicy::Admins).is_err());
        assert!(may_create_invite(false, InvitePolicy::Members).is_ok());
        assert!(may_revoke_invite("a", "a", false).is_ok());
        assert!(may_revoke_invite("a", "b", true).is_ok());
        assert!(may_revoke_invite("a", "b", false).is_err());
    }

    #[test]
    fn a_new_display_name_is_told_to_the_user_and_its_contacts() {
        let d = set_display_name("u", "Ann", &["c1".into(), "c2".into()], 5);
        assert_eq!(d.changes.len(), 1);
        let to: Vec<_> = d.events.iter().map(|e| e.to.as_deref().unwrap()).collect();
        assert_eq!(to, ["u", "c1", "c2"]);
    }

    fn account(id: &str, admin: bool) -> Account<'_> {
        Account {
            id,
            admin,
            disabled: false,
            deleted: false,
        }
    }

    #[test]
    fn only_admins_manage_accounts_and_the_last_admin_stays() {
        let (root, bob) = (account("root", true), account("bob", false));
        let promote = AccountUpdate {
            admin: Some(true),
            ..Default::default()
        };
        let r = update_account(Manager::Admin(bob), Some(root), &promote, 1, 1);
        assert!(matches!(r, Err(Error::Forbidden(_))));
        let r = update_account(Manager::Admin(root), None, &promote, 1, 1);
        assert!(matches!(r, Err(Error::NotFound(_))));
        // The last admin cannot demote or disable itself; the operator can.
        let demote = AccountUpdate {
            admin: Some(false),
            ..Default::default()
        };
        let r = update_account(Manager::Admin(root), Some(root), &demote, 1, 1);
        assert!(matches!(r, Err(Error::Conflict(_))));
        let d = update_account(Manager::Admin(root), Some(root), &demote, 2, 1).unwrap();
        assert_eq!(kinds(&d).len(), 1);
        assert!(!d.outcome);
        let disable = AccountUpdate {
            disabled: Some(true),
            ..Default::default()
        };
        let r = update_account(Manager::Admin(root), Some(root), &disable, 2, 1);
        assert!(matches!(r, Err(Error::Conflict(_))));
        assert!(update_account(Manager::Operator, Some(root), &demote, 1, 1).is_ok());
        // Disabling revokes every session; so does setting a password; enabling does not.
        let d = update_account(Manager::Admin(root), Some(bob), &disable, 1, 1).unwrap();
        assert!(d.outcome);
        assert!(d.changes.contains(&Change::DeleteSessions {
            user_id: "bob".into()
        }));
        let off = Account {
            disabled: true,
            ..bob
        };
        let enable = AccountUpdate {
            disabled: Some(false),
            ..Default::default()
        };
        let d = update_account(Manager::Admin(root), Some(off), &enable, 1, 1).unwrap();
        assert!(!d.outcome);
        let password = AccountUpdate {
            password_hash: Some("h".into()),
            ..Default::default()
        };
        assert!(
            update_account(Manager::Operator, Some(bob), &password, 1, 1)
                .unwrap()
                .outcome
        );
        // Nothing to change changes nothing; a deleted account cannot be changed.
        assert!(
            update_account(Manager::Admin(root), Some(bob), &demote, 1, 1)
                .unwrap()
                .is_empty()
        );
        let gone = Account {
            deleted: true,
            ..bob
        };
        let r = update_account(Manager::Admin(root), Some(gone), &enable, 1, 1);
        assert!(matches!(r, Err(Error::Conflict(_))));
    }

    #[test]
    fn deleting_an_account_tells_its_contacts_and_keeps_an_admin() {
        let d = delete_account(Some(account("bob", false)), 1, &["ann".into()], 7).unwrap();
        assert_eq!(d.events.len(), 2);
        assert!(d.changes.contains(&Change::EraseAccount {
            user_id: "bob".into(),
            at: 7
        }));
        let r = delete_account(Some(account("root", true)), 1, &[], 7);
        assert!(matches!(r, Err(Error::Conflict(_))));
        assert!(delete_account(Some(account("root", true)), 2, &[], 7).is_ok());
        let gone = Account {
            deleted: true,
            ..account("bob", false)
        };
        assert!(matches!(
            delete_account(Some(gone), 1, &[], 7),
            Err(Error::NotFound(_))
        ));
    }
}
