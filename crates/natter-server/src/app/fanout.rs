//! The fan-out: one task per node tails the event log in position order and queues each event
//! for every connected device of its audience.
//!
//! Tailing the log, rather than forwarding what writers announce, is what keeps delivery in
//! order and complete: announcements only wake the tail. One task handles every conversation,
//! so each connection receives its events in log order and its cursor never passes one it has
//! not received; the price is that no event may cost more than O(members) work, or one busy
//! group would hold up every other conversation's delivery.
//!
//! Nor is an event ever skipped: one that cannot be read or rendered, after a few quick
//! retries, closes with 4008 every connection that might have been owed it, before any of them
//! can take a later frame; each resumes from its cursor and reads the event from the log.
//!
//! The audience is `natter_core::audience`'s rule over the members. Each event is rendered and
//! serialized once and the bytes shared among its recipients. Where the content depends on the
//! viewer, it is rendered once per variant, not once per viewer: `message_updated` in two (as
//! shown, and as a tombstone for whoever hid the message), `conversation_updated` as one shared
//! part that every member's frame holds, with its own counts spliced after it.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use natter_core::{
    ConversationId, MessageId,
    audience::{self, Subject},
};
use tokio::sync::broadcast::error::RecvError;

use super::{
    App,
    events::{Content, NO_VIEWER, join_point},
    render::{PER_VIEWER, conversation_shared},
};
use crate::{
    bus::BusMessage,
    error::{AppError, AppResult},
    hub::{Frame, Outbound, close},
    store::{
        Committed, ConversationRow, EventKind, EventRow, MemberRow, MessageRow, ReactionCount,
        ViewerState,
    },
};

/// Events read from the log per query.
const BATCH: u32 = 512;
/// Conversations whose members are cached before the cache is cleared.
const CACHE_MAX: usize = 10_000;
/// Tries at fanning out one event before its audience is closed instead. One task serves
/// every conversation, so an event's retries hold up all delivery: a few short ones ride out
/// a passing fault (a locked database, a read that timed out) and no more.
const FAN_OUT_ATTEMPTS: u32 = 3;
/// The wait before the second try; the third waits twice as long.
const FAN_OUT_BACKOFF: Duration = Duration::from_millis(25);

/// Members by conversation, dropped when the fan-out reaches a change of members. Read after
/// the event at hand was logged, a list is never older than it.
pub(super) type MemberCache = HashMap<String, Arc<Vec<MemberRow>>>;

impl App {
    /// Starts the fan-out after `head`, the log's head before any connection could exist.
    pub(super) fn spawn_fanout(&self, head: i64) {
        let app = self.clone();
        let mut bus = self.bus().subscribe();
        let mut stop = self.inner.stop.subscribe();
        // What this node's own commits logged, in hand: fanned out without reading it back.
        // Without it (or when the fan-out fell behind it), the log is read instead.
        let mut feed = self.store().committed();
        tokio::spawn(async move {
            let mut last = head;
            let mut members: MemberCache = HashMap::new();
            // A safety net: if a wake-up were ever missed, the tail still moves within a second.
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    committed = recv_feed(&mut feed) => match committed {
                        Ok(batch) => {
                            last = app.fan_out_in_hand(last, &batch, &mut members).await;
                            continue;
                        }
                        // Fell behind the feed: the log has it all.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => feed = None,
                    },
                    msg = bus.recv() => match msg {
                        // This node's own commits arrive on the feed; only another node's
                        // need the log read, and whatever the bus lost during an outage.
                        Ok(BusMessage::LogAppended { here: true }) if feed.is_some() => continue,
                        Ok(BusMessage::LogAppended { .. } | BusMessage::Reconnected)
                        | Err(RecvError::Lagged(_)) => {}
                        Ok(BusMessage::Presence(_)) => continue,
                        Ok(BusMessage::TypingEnded { conversation_id, user_id }) => {
                            // Reads the members: off the fan-out's path.
                            let app = app.clone();
                            tokio::spawn(async move {
                                app.typing_ended_by_another_node(
                                    natter_core::ConversationId::new(&conversation_id),
                                    natter_core::UserId::new(&user_id),
                                )
                                .await;
                            });
                            continue;
                        }
                        Ok(BusMessage::Ephemeral { users, frame }) => {
                            let out = Outbound::Ephemeral(frame);
                            for u in users.iter() {
                                app.deliver(u, &out);
                            }
                            continue;
                        }
                        Ok(BusMessage::SessionRevoked { session_id }) => {
                            app.inner.sessions.evict(&session_id);
                            app.hub().close_session(&session_id, close::AUTH);
                            continue;
                        }
                        Err(RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                last = app.tail(last, &mut members).await;
            }
        });
    }

    /// Fans out a batch this node committed, from the rows in hand. The feed carries every
    /// commit in position order, but the fan-out may have started, or fallen behind, between
    /// two of them: if the batch does not follow `last` without a gap, the log is read up to
    /// its end instead (covering the batch too). Returns the new last position.
    async fn fan_out_in_hand(&self, last: i64, batch: &Committed, cache: &mut MemberCache) -> i64 {
        let fresh: Vec<&EventRow> = batch.events.iter().filter(|e| e.pos > last).collect();
        let Some(first) = fresh.first() else {
            return last;
        };
        if first.pos != last + 1 {
            return self.tail(last, cache).await;
        }
        self.metrics().events_fanned_out.inc_by(fresh.len() as u64);
        let mut last = last;
        // The writer logs each send's event and its message in the same order, so one pass over
        // the messages finds each (no search per event: a batch holds up to hundreds).
        let mut messages = batch.messages.iter();
        for e in fresh {
            let message = e
                .message_id
                .as_deref()
                .filter(|_| e.kind == EventKind::NewMessage)
                .and_then(|id| messages.find(|m| m.id == id));
            self.fan_out_or_close(e, message, cache).await;
            last = e.pos;
        }
        last
    }

    /// Queues a frame for a user's connections, counting what happened.
    fn deliver(&self, user_id: &str, out: &Outbound) {
        let (took, slow) = self.hub().deliver(user_id, out);
        let m = self.metrics();
        m.frames_delivered.inc_by(took as u64);
        if slow > 0 {
            m.slow_consumer_closes.inc_by(slow as u64);
        }
    }

    /// Delivers every event after `last`; returns the new last position.
    async fn tail(&self, mut last: i64, cache: &mut MemberCache) -> i64 {
        loop {
            let rows = match self.store().events_after(last, BATCH).await {
                Ok(r) => r,
                Err(e) => {
                    // Nothing after `last` was delivered, so no cursor passed it: the next
                    // wake-up, or the tick within a second, reads again from there.
                    tracing::error!(error = %e, "fan-out cannot read the log");
                    return last;
                }
            };
            self.metrics().events_fanned_out.inc_by(rows.len() as u64);
            let messages = self.messages_of(&rows).await;
            for e in &rows {
                let message = e
                    .message_id
                    .as_ref()
                    .filter(|_| e.kind == EventKind::NewMessage)
                    .and_then(|id| messages.get(id));
                self.fan_out_or_close(e, message, cache).await;
                last = e.pos;
            }
            if rows.len() < BATCH as usize {
                return last;
            }
        }
    }

    /// The messages of a page's `new_message` events, read in one query; any it could not
    /// read are then read one by one as each event is fanned out.
    async fn messages_of(&self, rows: &[EventRow]) -> HashMap<String, MessageRow> {
        let ids: Vec<String> = rows
            .iter()
            .filter(|e| e.kind == EventKind::NewMessage)
            .filter_map(|e| e.message_id.clone())
            .collect();
        match self.store().messages_by_id(&ids).await {
            Ok(found) => found.into_iter().map(|m| (m.id.clone(), m)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "fan-out cannot read a page's messages at once");
                HashMap::new()
            }
        }
    }

    /// Fans `e` out, retrying a failure a few times; if it still fails, closes every
    /// connection that might have been owed it, so that no connection takes a later frame and
    /// its cursor never passes `e`: each resumes from before it and reads it from the log.
    /// `message` is the message of a `new_message` event, when in hand.
    async fn fan_out_or_close(
        &self,
        e: &EventRow,
        message: Option<&MessageRow>,
        cache: &mut MemberCache,
    ) {
        let mut attempt = 1;
        loop {
            let err = match self.fan_out(e, message, cache).await {
                Ok(()) => return,
                Err(err) => err,
            };
            if attempt == FAN_OUT_ATTEMPTS {
                tracing::error!(error = %err, pos = e.pos, "fan-out of an event failed: closing its audience");
                self.close_audience(e).await;
                return;
            }
            tracing::warn!(error = %err, pos = e.pos, attempt, "fan-out of an event failed: retrying");
            tokio::time::sleep(FAN_OUT_BACKOFF * attempt).await;
            attempt += 1;
        }
    }

    /// Closes with 4008 every connection that `e` could not be delivered to and that might
    /// have been owed it: its addressee's, else the conversation's members', else (their list
    /// unreadable) every connection on this node. Closing more than the audience costs only a
    /// reconnection; long polls read the log themselves and are only woken.
    async fn close_audience(&self, e: &EventRow) {
        let users = match &e.user_id {
            Some(u) => Some(vec![u.clone()]),
            None => match self
                .store()
                .members(ConversationId::new(&e.conversation_id))
                .await
            {
                Ok(members) => Some(members.into_iter().map(|m| m.user_id).collect()),
                Err(err) => {
                    tracing::error!(error = %err, pos = e.pos, "cannot read the audience: closing every connection");
                    None
                }
            },
        };
        self.hub()
            .undeliverable(users.as_deref(), e.pos, close::TOO_SLOW);
    }

    /// The members of a conversation, from the cache if there.
    pub(super) async fn members_cached(
        &self,
        conversation_id: &str,
        cache: &mut MemberCache,
    ) -> AppResult<Arc<Vec<MemberRow>>> {
        if let Some(m) = cache.get(conversation_id) {
            return Ok(m.clone());
        }
        let m = Arc::new(
            self.store()
                .members(ConversationId::new(conversation_id))
                .await?,
        );
        remember(cache, conversation_id, m.clone());
        Ok(m)
    }

    async fn fan_out(
        &self,
        e: &EventRow,
        message: Option<&MessageRow>,
        cache: &mut MemberCache,
    ) -> AppResult<()> {
        if matches!(
            e.kind,
            EventKind::ConversationUpdated | EventKind::ConversationRemoved
        ) {
            cache.remove(&e.conversation_id);
        }
        if e.kind == EventKind::ConversationUpdated {
            return self.fan_out_conversation(e, cache).await;
        }
        // A message in hand is the message as stored, hidden for no one: what reading it as
        // `NO_VIEWER` would return.
        let content = match message {
            Some(m) => Content::Message(m.clone()),
            None => match self.load_event(e, NO_VIEWER).await? {
                Some(c) => c,
                None => return Ok(()),
            },
        };
        let subject = content.subject();
        // A removal addressed to its member needs no membership; everything else does.
        let members = match (&e.user_id, subject) {
            (Some(_), Subject::Conversation) => Arc::new(Vec::new()),
            _ => self.members_cached(&e.conversation_id, cache).await?,
        };
        let audience: Vec<&str> = match &e.user_id {
            Some(u) => {
                let joined = members.iter().find(|m| &m.user_id == u).map(join_point);
                if audience::receives(joined, true, e.pos, subject) {
                    vec![u.as_str()]
                } else {
                    vec![]
                }
            }
            None => members
                .iter()
                .filter(|m| audience::receives(Some(join_point(m)), false, e.pos, subject))
                .map(|m| m.user_id.as_str())
                .collect(),
        };
        let audience: Vec<&str> = audience
            .into_iter()
            .filter(|u| self.hub().wants(u))
            .collect();
        if audience.is_empty() {
            return Ok(());
        }
        match content {
            Content::Message(msg) => {
                self.fan_out_message(e, msg, message.is_some(), &members, &audience)
                    .await
            }
            content => {
                let frame = self.frame(e, content, &members, &[]).await?;
                if let Some(frame) = frame {
                    let out = Outbound::Durable { pos: e.pos, frame };
                    for u in &audience {
                        self.deliver(u, &out);
                    }
                }
                Ok(())
            }
        }
    }

    /// Renders and serializes `content` (not a `conversation_updated`, whose rendering depends
    /// on the viewer); a message with `reactions` as its receivers see them.
    async fn frame(
        &self,
        e: &EventRow,
        content: Content,
        members: &[MemberRow],
        reactions: &[ReactionCount],
    ) -> AppResult<Option<Frame>> {
        let Some(ev) = self
            .render_content(NO_VIEWER, e, content, members, Some(reactions))
            .await?
        else {
            return Ok(None);
        };
        let bytes = serde_json::to_vec(&ev).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(Some(Frame::Whole(bytes.into())))
    }

    /// `new_message` and `message_updated`: rendered once per variant of what its receivers
    /// see. A message edited shows as a tombstone to whoever hid it; a message with reactions
    /// shows `me` set for each receiver's own, so those who reacted get a rendering per set of
    /// emoji they reacted with (at most one per receiver). A `new_message` whose message is in
    /// hand (from the commit, or read with its page of the log) is rendered without reading its
    /// reactions: it had none when stored, and any given since are `reaction_changed` events
    /// later in the log, which carry the absolute count and who reacted.
    async fn fan_out_message(
        &self,
        e: &EventRow,
        msg: MessageRow,
        in_hand: bool,
        cached: &[MemberRow],
        audience: &[&str],
    ) -> AppResult<()> {
        let edited = e.kind == EventKind::MessageUpdated;
        // An edit's status is rendered from the members' current marks: read now, not cached.
        let fresh;
        let members = if edited {
            fresh = self
                .store()
                .members(ConversationId::new(&e.conversation_id))
                .await?;
            &fresh[..]
        } else {
            cached
        };
        let hidden: HashSet<String> = if edited {
            self.store()
                .hidden_by(MessageId::new(&msg.id))
                .await?
                .into_iter()
                .collect()
        } else {
            HashSet::new()
        };
        let counts = if in_hand {
            Vec::new()
        } else {
            self.reactions_of_one(&msg, NO_VIEWER).await?
        };
        // Each receiver's own emoji, for those who reacted.
        let mut own: HashMap<String, Vec<String>> = HashMap::new();
        if !counts.is_empty() {
            for r in self
                .store()
                .reactions(MessageId::new(&msg.id), None, None, u32::MAX)
                .await?
            {
                own.entry(r.user_id).or_default().push(r.emoji);
            }
        }
        // Receivers by what they see: hidden or not, and the emoji they reacted with.
        let mut variants: HashMap<(bool, Vec<String>), Vec<&str>> = HashMap::new();
        for u in audience {
            let hid = hidden.contains(*u);
            let mut mine = if hid {
                Vec::new()
            } else {
                own.get(*u).cloned().unwrap_or_default()
            };
            mine.sort();
            variants.entry((hid, mine)).or_default().push(u);
        }
        for ((hid, mine), receivers) in variants {
            let mut shown = msg.clone();
            shown.hidden = hid;
            let reactions: Vec<ReactionCount> = counts
                .iter()
                .map(|c| ReactionCount {
                    me: mine.contains(&c.emoji),
                    ..c.clone()
                })
                .collect();
            let Some(frame) = self
                .frame(e, Content::Message(shown), members, &reactions)
                .await?
            else {
                continue;
            };
            let out = Outbound::Durable { pos: e.pos, frame };
            for u in receivers {
                self.deliver(u, &out);
            }
        }
        Ok(())
    }

    /// `conversation_updated`: every member's frame shares one rendering of the conversation
    /// and adds its own counts; all are read in one query, not one view per member.
    async fn fan_out_conversation(&self, e: &EventRow, cache: &mut MemberCache) -> AppResult<()> {
        let Some(views) = self
            .store()
            .conversation_views(ConversationId::new(&e.conversation_id))
            .await?
        else {
            return Ok(());
        };
        let members = Arc::new(views.members);
        remember(cache, &e.conversation_id, members.clone());
        let audience: Vec<usize> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| e.user_id.as_ref().is_none_or(|u| *u == m.user_id))
            .filter(|(_, m)| {
                audience::receives(
                    Some(join_point(m)),
                    e.user_id.is_some(),
                    e.pos,
                    Subject::Conversation,
                )
            })
            .filter(|(_, m)| self.hub().wants(&m.user_id))
            .map(|(i, _)| i)
            .collect();
        if audience.is_empty() {
            return Ok(());
        }
        let shared = self
            .shared_conversation(e.pos, &views.conversation, &members, views.last_message)
            .await?;
        for i in audience {
            let m = &members[i];
            let frame = shared.frame_for(m, views.viewers[i]);
            self.deliver(&m.user_id, &Outbound::Durable { pos: e.pos, frame });
        }
        Ok(())
    }

    /// Renders what every member's `conversation_updated` frame shares.
    async fn shared_conversation(
        &self,
        pos: i64,
        conversation: &ConversationRow,
        members: &[MemberRow],
        last_message: Option<MessageRow>,
    ) -> AppResult<SharedConversation> {
        let internal = |e: serde_json::Error| AppError::Internal(e.to_string());
        let mut data =
            serde_json::to_value(conversation_shared(conversation, members)).map_err(internal)?;
        let fields = data
            .as_object_mut()
            .ok_or_else(|| AppError::Internal("a conversation is no JSON object".into()))?;
        for k in PER_VIEWER {
            fields.remove(k);
        }
        // `{"id": …, …}` without its closing brace: the viewer's fields follow. It is never
        // `{` alone, since `id` is always there.
        let data = serde_json::to_string(&data).map_err(internal)?;
        let open = data.strip_suffix('}').unwrap_or(&data);
        let head = format!(
            r#"{{"cursor":"{pos}","type":"{}","data":{open},"last_message":"#,
            EventKind::ConversationUpdated.as_str()
        );
        let render = |msg: MessageRow, reactions: Vec<ReactionCount>| async move {
            let json = serde_json::to_vec(&self.render_message(&msg, members, &reactions).await?)
                .map_err(internal)?;
            AppResult::Ok(Bytes::from(json))
        };
        let (shown, hidden, own) = match last_message {
            Some(msg) => {
                let mut tombstone = msg.clone();
                tombstone.hidden = true;
                let counts = self.reactions_of_one(&msg, NO_VIEWER).await?;
                // Those who reacted to it see their own reactions (`me`): one rendering each.
                let mut mine: HashMap<String, Vec<String>> = HashMap::new();
                if !counts.is_empty() {
                    for r in self
                        .store()
                        .reactions(MessageId::new(&msg.id), None, None, u32::MAX)
                        .await?
                    {
                        mine.entry(r.user_id).or_default().push(r.emoji);
                    }
                }
                let mut own = HashMap::with_capacity(mine.len());
                for (user, emoji) in mine {
                    let reactions = counts
                        .iter()
                        .map(|c| ReactionCount {
                            me: emoji.contains(&c.emoji),
                            ..c.clone()
                        })
                        .collect();
                    own.insert(user, render(msg.clone(), reactions).await?);
                }
                let seq = msg.seq;
                let shown = render(msg, counts).await?;
                let hidden = render(tombstone, Vec::new()).await?;
                (Some((seq, shown)), hidden, own)
            }
            None => (None, Bytes::from_static(b"null"), HashMap::new()),
        };
        Ok(SharedConversation {
            head: head.into(),
            shown,
            hidden,
            own,
        })
    }
}

/// The next batch of the feed; never, without one.
pub(super) async fn recv_feed(
    feed: &mut Option<tokio::sync::broadcast::Receiver<Arc<Committed>>>,
) -> Result<Arc<Committed>, RecvError> {
    match feed {
        Some(f) => f.recv().await,
        None => std::future::pending().await,
    }
}

/// Caches a conversation's members, clearing the cache when full.
fn remember(cache: &mut MemberCache, conversation_id: &str, members: Arc<Vec<MemberRow>>) {
    if cache.len() >= CACHE_MAX {
        cache.clear();
    }
    cache.insert(conversation_id.to_owned(), members);
}

/// A `conversation_updated` frame in parts: the contract sends every member the Conversation as
/// it sees it, which differs between members only in [`PER_VIEWER`]'s fields.
struct SharedConversation {
    /// `{"cursor", "type", "data": {` and every shared field, up to `"last_message":`.
    head: Bytes,
    /// The last message's seq and JSON, as shown to a member that can see it.
    shown: Option<(i64, Bytes)>,
    /// The last message as a member that hid it sees it.
    hidden: Bytes,
    /// The last message as each member that reacted to it sees it.
    own: HashMap<String, Bytes>,
}

impl SharedConversation {
    fn frame_for(&self, m: &MemberRow, own: ViewerState) -> Frame {
        let last = match &self.shown {
            // Joined after it: it is no message of this member's history.
            Some((seq, _)) if *seq <= m.joined_seq => Bytes::from_static(b"null"),
            Some(_) if own.hid_last_message => self.hidden.clone(),
            Some((_, shown)) => self.own.get(&m.user_id).unwrap_or(shown).clone(),
            None => Bytes::from_static(b"null"),
        };
        let tail = format!(
            r#","unread_count":{},"read_seq":{},"mention_count":{}}}}}"#,
            own.unread_count, m.marks.read_seq, own.mention_count
        );
        Frame::Parts(Arc::new([self.head.clone(), last, Bytes::from(tail)]))
    }
}
