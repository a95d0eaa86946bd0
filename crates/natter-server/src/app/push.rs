//! Web Push: the server's VAPID key, devices' subscriptions, notification settings and
//! muting, and the task that pushes new messages to members that are away.
//!
//! One node at a time pushes (it holds the `push` follower's lease) and it reads the event log
//! from a stored position, so every new message is considered once whatever node stored it,
//! and a restart neither skips nor (beyond the last unsaved batch) repeats one. Sending is
//! apart from the fan-out and from every other subscription's: a slow or failing push service
//! holds up only its own requests.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use natter_core::{
    ConversationId, ConversationKind, MessageId, UserId,
    audience::{self, Subject},
    notify::{self, Away},
    time,
};
use natter_wire as wire;
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::{
    App, Caller,
    events::{NO_VIEWER, join_point},
    fanout::{MemberCache, recv_feed},
    new_id, outbound,
};
use crate::{
    bus::BusMessage,
    error::{AppError, AppResult},
    store::{
        Committed, EventKind, EventRow, FOREVER, MemberRow, MessageRow, NotificationSettings,
        PushSubscriptionRow, SettingsChange,
    },
    webpush::{self, Vapid},
};

/// The follower that pushes.
const FOLLOWER: &str = "push";
/// Events read from the log per query.
const BATCH: u32 = 256;
/// How long the push service keeps a push for a device that is offline.
const TTL_SECS: u64 = 86_400;
/// Pushes in flight at once, all subscriptions together.
const IN_FLIGHT: usize = 64;

/// The push machinery of one node.
pub(super) struct Pusher {
    vapid: Vapid,
    /// VAPID headers by push service origin, with when each was made: a signature costs more
    /// than the rest of a push, and a token may serve until it expires (12 hours).
    tokens: Mutex<HashMap<String, (String, i64)>>,
    /// Keys the `Topic`s (the VAPID key's secret bytes): push services cannot tell that two
    /// subscriptions' pushes are about the same conversation.
    topic_key: Vec<u8>,
    client: reqwest::Client,
    policy: Arc<outbound::UrlPolicy>,
    /// Per subscription: whether a push is being sent, and the pushes waiting, newest per topic.
    queues: Mutex<HashMap<String, Queue>>,
    slots: Arc<Semaphore>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Job>,
}

/// One push to one subscription.
#[derive(Clone)]
struct Job {
    sub: PushSubscriptionRow,
    payload: Vec<u8>,
    urgency: &'static str,
    topic: String,
}

/// How a push ended.
enum Sent {
    Done,
    /// The subscription no longer exists (`404`/`410`).
    Gone,
    Dropped,
}

impl Pusher {
    /// Loads the server's VAPID key from storage, making it on the first start.
    pub(super) async fn open(
        store: &dyn crate::store::Store,
        config: &crate::Config,
    ) -> Result<Pusher, crate::ServeError> {
        let subject = config.vapid_subject.trim().to_owned();
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(crate::ServeError::Config(format!(
                "vapid_subject must be a mailto: or https:// URI, not {subject:?}"
            )));
        }
        let stored = store.server_key("vapid", &Vapid::generate()).await?;
        let vapid = Vapid::new(&stored, &subject).ok_or_else(|| {
            crate::ServeError::Config("the stored VAPID key is not a P-256 key".into())
        })?;
        let policy = Arc::new(
            outbound::UrlPolicy::new(&config.push_allow, true)
                .map_err(|e| crate::ServeError::Config(format!("push_allow: {e}")))?,
        );
        let client = outbound::client(policy.clone(), config.outbound_timeout)
            .map_err(crate::ServeError::Config)?;
        Ok(Pusher {
            vapid,
            tokens: Default::default(),
            topic_key: stored,
            client,
            policy,
            queues: Default::default(),
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        })
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, Queue>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The VAPID header for `url`'s origin: made at most once an hour per origin.
    fn authorization(&self, url: &reqwest::Url) -> String {
        const REUSE_SECS: i64 = 3600;
        let now = time::now() / 1000;
        let origin = url.origin().ascii_serialization();
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((header, made)) = tokens.get(&origin)
            && now - made < REUSE_SECS
        {
            return header.clone();
        }
        if tokens.len() >= 1024 {
            tokens.clear();
        }
        let header = self.vapid.authorization(url, now);
        tokens.insert(origin, (header.clone(), now));
        header
    }

    /// Encrypts and sends one push, once.
    async fn send_once(&self, job: &Job) -> Result<reqwest::StatusCode, String> {
        let url = self.policy.check(&job.sub.endpoint)?;
        let body = webpush::encrypt(&job.sub.p256dh, &job.sub.auth, job.payload.clone())?;
        let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
        let answer = self
            .client
            .post(url.clone())
            .header("TTL", TTL_SECS)
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Urgency", job.urgency)
            .header("Topic", &job.topic)
            .header("Authorization", self.authorization(&url))
            .body(body)
            .send()
            .await
            .map_err(|e| outbound::describe(&e))?;
        Ok(answer.status())
    }
}

/// The `Topic` of a conversation's pushes to one subscription: at most 32 characters of
/// base64url (RFC 8030). Keyed, and different per subscription, so that it tells a push
/// service nothing about who talks with whom.
fn topic(key: &[u8], subscription_id: &str, conversation_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(subscription_id.as_bytes());
    mac.update(b"/");
    mac.update(conversation_id.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())[..32].to_owned()
}

/// Parses an `until` of the API: a time in the future, or none for "until turned off".
fn parse_until(until: Option<&str>, now: i64) -> AppResult<i64> {
    match until {
        None => Ok(FOREVER),
        Some(s) => {
            let at = time::parse(s)
                .ok_or_else(|| natter_core::Error::invalid("until must be an RFC 3339 time"))?;
            if at <= now {
                return Err(natter_core::Error::invalid("until must be in the future").into());
            }
            Ok(at)
        }
    }
}

fn until_wire(until: i64) -> Option<String> {
    (until != FOREVER).then(|| time::format(until))
}

fn settings_wire(s: NotificationSettings) -> wire::NotificationSettings {
    let mut muted: Vec<wire::Mute> = s
        .muted
        .into_iter()
        .map(|(conversation_id, until)| wire::Mute {
            conversation_id,
            until: until_wire(until),
        })
        .collect();
    muted.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
    wire::NotificationSettings {
        previews: s.previews,
        mentions_when_muted: s.mentions_when_muted,
        dnd: s.dnd_until.map(|u| wire::Until {
            until: until_wire(u),
        }),
        muted,
    }
}

fn subscription_wire(s: PushSubscriptionRow) -> wire::PushSubscription {
    wire::PushSubscription {
        id: s.id,
        endpoint: s.endpoint,
        session_id: s.session_id,
        created_at: time::format(s.created_at),
    }
}

/// Decodes base64url, padded or not.
fn base64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

impl App {
    fn pusher(&self) -> &Pusher {
        &self.inner.push
    }

    /// The VAPID public key browsers subscribe with.
    pub fn vapid_key(&self) -> wire::VapidKey {
        wire::VapidKey {
            public_key: self.pusher().vapid.public_key().to_owned(),
        }
    }

    /// Registers the caller's device for pushes, replacing its earlier subscription.
    pub async fn add_push_subscription(
        &self,
        caller: &Caller,
        new: wire::NewPushSubscription,
    ) -> AppResult<wire::PushSubscription> {
        let invalid = |m: &str| AppError::Rule(natter_core::Error::invalid(m));
        self.pusher()
            .policy
            .check(&new.endpoint)
            .map_err(|why| invalid(&format!("endpoint: {why}")))?;
        let p256dh = base64url(&new.keys.p256dh)
            .filter(|k| k.len() == 65 && p256::PublicKey::from_sec1_bytes(k).is_ok())
            .ok_or_else(|| {
                invalid("keys.p256dh must be base64url of an uncompressed P-256 public key")
            })?;
        let auth = base64url(&new.keys.auth)
            .filter(|a| a.len() == 16)
            .ok_or_else(|| invalid("keys.auth must be base64url of 16 bytes"))?;
        let row = PushSubscriptionRow {
            id: new_id(),
            user_id: caller.user_id.clone(),
            session_id: caller.session_id.clone(),
            endpoint: new.endpoint,
            p256dh,
            auth,
            created_at: time::now(),
        };
        self.store().put_push_subscription(&row).await?;
        Ok(subscription_wire(row))
    }

    /// The caller's subscriptions, every device's.
    pub async fn push_subscriptions(&self, caller: &Caller) -> AppResult<wire::PushSubscriptions> {
        let subs = self.store().push_subscriptions_of(caller.user_id()).await?;
        Ok(wire::PushSubscriptions {
            subscriptions: subs.into_iter().map(subscription_wire).collect(),
        })
    }

    pub async fn delete_push_subscription(&self, caller: &Caller, id: &str) -> AppResult<()> {
        if !self
            .store()
            .delete_push_subscription(caller.user_id(), id)
            .await?
        {
            return Err(natter_core::Error::not_found("push subscription").into());
        }
        Ok(())
    }

    pub async fn notification_settings(
        &self,
        caller: &Caller,
    ) -> AppResult<wire::NotificationSettings> {
        let s = self
            .store()
            .notification_settings(caller.user_id(), time::now())
            .await?;
        Ok(settings_wire(s))
    }

    pub async fn update_notification_settings(
        &self,
        caller: &Caller,
        change: wire::NotificationSettingsChange,
    ) -> AppResult<wire::NotificationSettings> {
        let now = time::now();
        let dnd_until = match change.dnd {
            None => None,
            Some(None) => Some(None),
            Some(Some(u)) => Some(Some(parse_until(u.until.as_deref(), now)?)),
        };
        let change = SettingsChange {
            previews: change.previews,
            mentions_when_muted: change.mentions_when_muted,
            dnd_until,
        };
        self.store()
            .set_notification_settings(caller.user_id(), &change)
            .await?;
        self.notification_settings(caller).await
    }

    /// Mutes a conversation of the caller's until `until` (none: until unmuted).
    pub async fn mute(
        &self,
        caller: &Caller,
        conversation_id: &str,
        until: Option<&str>,
    ) -> AppResult<wire::Mute> {
        let until = parse_until(until, time::now())?;
        self.store()
            .mute(
                caller.user_id(),
                ConversationId::new(conversation_id),
                until,
            )
            .await?;
        Ok(wire::Mute {
            conversation_id: conversation_id.to_owned(),
            until: until_wire(until),
        })
    }

    pub async fn unmute(&self, caller: &Caller, conversation_id: &str) -> AppResult<()> {
        let id = ConversationId::new(conversation_id);
        if self.store().member(id, caller.user_id()).await?.is_none() {
            return Err(natter_core::Error::not_found("conversation").into());
        }
        self.store().unmute(caller.user_id(), id).await?;
        Ok(())
    }

    /// Starts the task that pushes new messages to members that are away, while this node
    /// holds the `push` follower.
    pub(super) fn spawn_push(&self) {
        use tokio::sync::broadcast::error::RecvError;
        let app = self.clone();
        let mut bus = self.bus().subscribe();
        let mut stop = self.inner.stop.subscribe();
        // This node's own commits, in hand: read from the log only when it fell behind them.
        let mut feed = self.store().committed();
        let lease = self.config().delivery_lease;
        tokio::spawn(async move {
            let node = app.bus().node().to_owned();
            let lease_ms = lease.as_millis() as i64;
            // The position reached while this node holds the follower (saved at least at each
            // tick, and at once after anything was pushed).
            let mut held: Option<i64> = None;
            let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(50)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut members = MemberCache::new();
            loop {
                let mut renew = false;
                let mut in_hand = None;
                tokio::select! {
                    committed = recv_feed(&mut feed) => match committed {
                        Ok(batch) => in_hand = Some(batch),
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => {
                            feed = None;
                            continue;
                        }
                    },
                    msg = bus.recv() => match msg {
                        // This node's own commits arrive on the feed.
                        Ok(BusMessage::LogAppended { here: true }) if feed.is_some() => continue,
                        Ok(BusMessage::LogAppended { .. } | BusMessage::Reconnected)
                        | Err(RecvError::Lagged(_)) => {
                            // One read of the log serves every wake-up that came meanwhile.
                            while bus.try_recv().is_ok() {}
                        }
                        Err(RecvError::Closed) => return,
                        _ => continue,
                    },
                    _ = tick.tick() => renew = true,
                    _ = stop.changed() => {
                        if let Some(pos) = held {
                            let store = app.store();
                            let _ = store
                                .advance_follower(FOLLOWER, &node, pos, time::now(), lease_ms)
                                .await;
                            let _ = store.release_follower(FOLLOWER, &node).await;
                        }
                        return;
                    }
                }
                let pos = match held {
                    Some(pos) => pos,
                    None => match app.claim_push(&node, lease_ms).await {
                        Some(pos) => {
                            renew = true;
                            pos
                        }
                        None => continue,
                    },
                };
                held = app
                    .push_from(
                        &node,
                        pos,
                        lease_ms,
                        renew,
                        in_hand.as_deref(),
                        &mut members,
                    )
                    .await;
            }
        });
    }

    /// Claims the `push` follower for this node; its position if it got it.
    async fn claim_push(&self, node: &str, lease_ms: i64) -> Option<i64> {
        let head = match self.store().head().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "push: cannot read the log's head");
                return None;
            }
        };
        match self
            .store()
            .claim_follower(FOLLOWER, node, time::now(), lease_ms, head)
            .await
        {
            Ok(pos) => pos,
            Err(e) => {
                tracing::warn!(error = %e, "push: cannot claim the follower");
                None
            }
        }
    }

    /// Pushes for the new messages after `pos`: those of `in_hand` (a batch this node
    /// committed) if it follows `pos` without a gap, else those the log holds. Saves the
    /// position reached when something was pushed, or to renew the lease; returns it, or none
    /// once another node holds the follower. After a failure the position stays where it was,
    /// so the same events are considered again at the next turn: a push may be sent twice,
    /// none is lost.
    async fn push_from(
        &self,
        node: &str,
        pos: i64,
        lease_ms: i64,
        renew: bool,
        in_hand: Option<&Committed>,
        members: &mut MemberCache,
    ) -> Option<i64> {
        let mut reached = pos;
        let mut pushed = false;
        // The part of the batch after `pos` (the feed may run behind or ahead of it).
        let fresh: Option<&[EventRow]> = in_hand.map(|b| {
            let from = b.events.partition_point(|e| e.pos <= pos);
            &b.events[from..]
        });
        match fresh {
            Some([]) => {}
            Some(events) if events[0].pos == pos + 1 => {
                let messages = in_hand.map_or(&[][..], |b| &b.messages[..]);
                match self.push_batch(events, messages, members).await {
                    Ok(p) => {
                        pushed = p;
                        reached = events.last().map_or(pos, |e| e.pos);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "push: a batch failed");
                        return Some(pos);
                    }
                }
            }
            _ => loop {
                let rows = match self.store().events_after(reached, BATCH).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "push: cannot read the log");
                        break;
                    }
                };
                match self.push_batch(&rows, &[], members).await {
                    Ok(p) => pushed |= p,
                    Err(e) => {
                        tracing::warn!(error = %e, "push: a batch failed");
                        break;
                    }
                }
                reached = rows.last().map_or(reached, |e| e.pos);
                if rows.len() < BATCH as usize {
                    break;
                }
            },
        }
        if !(pushed || renew) {
            return Some(reached);
        }
        match self
            .store()
            .advance_follower(FOLLOWER, node, reached, time::now(), lease_ms)
            .await
        {
            Ok(true) => Some(reached),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e, "push: cannot save the position");
                Some(reached)
            }
        }
    }

    /// Pushes the new messages of `rows` (their messages read unless in `in_hand`); whether
    /// anything was pushed.
    async fn push_batch(
        &self,
        rows: &[EventRow],
        in_hand: &[MessageRow],
        cache: &mut MemberCache,
    ) -> AppResult<bool> {
        // A change of members makes the cached list stale: the log says when.
        for e in rows {
            if matches!(
                e.kind,
                EventKind::ConversationUpdated | EventKind::ConversationRemoved
            ) {
                cache.remove(&e.conversation_id);
            }
        }
        // The new messages with a member away; the messages themselves are read only for them
        // (while everyone is connected, pushing costs no read but the log's).
        let mut wanted = Vec::new();
        for e in rows {
            if e.kind != EventKind::NewMessage || e.user_id.is_some() || e.message_id.is_none() {
                continue;
            }
            let members = self.members_cached(&e.conversation_id, cache).await?;
            if members
                .iter()
                .any(|m| m.joined_pos < e.pos && !self.is_online(&m.user_id))
            {
                wanted.push((e, members));
            }
        }
        if wanted.is_empty() {
            return Ok(false);
        }
        let mut messages: HashMap<String, MessageRow> = HashMap::new();
        for (e, _) in &wanted {
            if let Some(m) = e
                .message_id
                .as_deref()
                .and_then(|id| in_hand.iter().find(|m| m.id == id))
            {
                messages.insert(m.id.clone(), m.clone());
            }
        }
        let ids: Vec<String> = wanted
            .iter()
            .filter_map(|(e, _)| e.message_id.clone())
            .filter(|id| !messages.contains_key(id))
            .collect();
        if !ids.is_empty() {
            for m in self.store().messages_by_id(&ids).await? {
                messages.insert(m.id.clone(), m);
            }
        }
        let mut pushed = false;
        let mut names: HashMap<String, String> = HashMap::new();
        for (e, members) in wanted {
            let Some(id) = e.message_id.as_deref() else {
                continue;
            };
            // Any the batch read left out is read on its own; none is skipped unread.
            let read;
            let m = match messages.get(id) {
                Some(m) => m,
                None => match self
                    .store()
                    .message(MessageId::new(id), UserId::new(NO_VIEWER))
                    .await?
                {
                    Some(m) => {
                        read = m;
                        &read
                    }
                    None => continue,
                },
            };
            if !m.deleted {
                pushed |= self.push_message(e, m, &members, &mut names).await?;
            }
        }
        Ok(pushed)
    }

    /// Pushes one new message to the members that are away and want it; whether it did.
    async fn push_message(
        &self,
        e: &EventRow,
        m: &MessageRow,
        members: &[MemberRow],
        names: &mut HashMap<String, String>,
    ) -> AppResult<bool> {
        let conversation_id = ConversationId::new(&m.conversation_id);
        let away: Vec<String> = members
            .iter()
            .filter(|mem| mem.user_id != m.sender_id)
            .filter(|mem| {
                audience::receives(
                    Some(join_point(mem)),
                    false,
                    e.pos,
                    Subject::Message { seq: m.seq },
                )
            })
            .filter(|mem| !self.is_online(&mem.user_id))
            .map(|mem| mem.user_id.clone())
            .collect();
        if away.is_empty() {
            return Ok(false);
        }
        let now = time::now();
        let targets = self
            .store()
            .push_targets(conversation_id, &away, now)
            .await?;
        if targets.is_empty() {
            return Ok(false);
        }
        let Some(conversation) = self.store().conversation(conversation_id).await? else {
            return Ok(false);
        };
        let sender = match names.get(&m.sender_id) {
            Some(n) => n.clone(),
            None => {
                let n = self
                    .store()
                    .user_by_id(UserId::new(&m.sender_id))
                    .await?
                    .map(|u| u.display_name)
                    .unwrap_or_default();
                names.insert(m.sender_id.clone(), n.clone());
                n
            }
        };
        let direct = conversation.kind == ConversationKind::Direct;
        // Whose message it replies to: a reply counts as a mention for its author.
        let replied_to = match m.reply_to.as_deref() {
            Some(id) => self
                .store()
                .message(MessageId::new(id), UserId::new(NO_VIEWER))
                .await?
                .map(|r| r.sender_id),
            None => None,
        };
        let mut pushed = false;
        let topic_key = &self.pusher().topic_key;
        for target in targets {
            let mentioned = m.mentions.contains(&target.user_id);
            let replied = replied_to.as_ref() == Some(&target.user_id);
            let wants = notify::pushes(
                Away {
                    dnd_until: target.dnd_until,
                    muted_until: target.muted_until,
                    mentioned,
                    replied,
                    mentions_when_muted: target.mentions_when_muted,
                },
                now,
            );
            if !wants {
                continue;
            }
            let payload = wire::PushPayload {
                kind: "new_message".into(),
                conversation_id: m.conversation_id.clone(),
                conversation_kind: conversation.kind.as_str().into(),
                conversation_name: if direct {
                    None
                } else {
                    conversation.name.clone()
                },
                message_id: m.id.clone(),
                seq: m.seq,
                sender: wire::PushSender {
                    id: m.sender_id.clone(),
                    display_name: sender.clone(),
                },
                mention: mentioned,
                reply: replied,
                sent_at: time::format(m.created_at),
                preview: target
                    .previews
                    .then(|| notify::preview(m.kind, m.text.as_deref())),
            };
            let payload =
                serde_json::to_vec(&payload).map_err(|e| AppError::Internal(e.to_string()))?;
            for sub in target.subscriptions {
                pushed = true;
                let topic = topic(topic_key, &sub.id, &m.conversation_id);
                self.enqueue_push(Job {
                    sub,
                    payload: payload.clone(),
                    urgency: if direct || mentioned || replied {
                        "high"
                    } else {
                        "normal"
                    },
                    topic,
                });
            }
        }
        Ok(pushed)
    }

    /// Sends `job` now, or, while its subscription has a push in flight, after it: waiting in
    /// place of an older push of the same conversation, which it supersedes.
    fn enqueue_push(&self, job: Job) {
        {
            let mut queues = self.pusher().queues();
            if let Some(q) = queues.get_mut(&job.sub.id) {
                match q.waiting.iter_mut().find(|w| w.topic == job.topic) {
                    Some(older) => *older = job,
                    None => q.waiting.push(job),
                }
                return;
            }
            queues.insert(job.sub.id.clone(), Queue::default());
        }
        let app = self.clone();
        tokio::spawn(async move {
            let mut job = job;
            loop {
                let id = job.sub.id.clone();
                if let Sent::Gone = app.send_push(&job).await {
                    app.pusher().queues().remove(&id);
                    if let Err(e) = app.store().push_subscription_gone(&id).await {
                        tracing::warn!(error = %e, "push: cannot delete a gone subscription");
                    }
                    return;
                }
                let mut queues = app.pusher().queues();
                let next = queues
                    .get_mut(&id)
                    .and_then(|q| (!q.waiting.is_empty()).then(|| q.waiting.remove(0)));
                match next {
                    Some(n) => job = n,
                    None => {
                        queues.remove(&id);
                        return;
                    }
                }
            }
        });
    }

    /// Sends one push, trying again after a failure that may pass, a few times.
    async fn send_push(&self, job: &Job) -> Sent {
        let config = self.config();
        let mut wait = config.push_backoff;
        for attempt in 1..=config.push_attempts.max(1) {
            match self.pusher().send_once(job).await {
                Ok(s) if s.is_success() => {
                    self.metrics().push("sent");
                    return Sent::Done;
                }
                Ok(s) if s == reqwest::StatusCode::NOT_FOUND || s == reqwest::StatusCode::GONE => {
                    self.metrics().push("gone");
                    return Sent::Gone;
                }
                Ok(s) if s.is_client_error() && s != reqwest::StatusCode::TOO_MANY_REQUESTS => {
                    tracing::warn!(status = %s, "push refused by the push service: dropped");
                    self.metrics().push("dropped");
                    return Sent::Dropped;
                }
                Ok(s) => tracing::debug!(status = %s, attempt, "push failed"),
                Err(why) => tracing::debug!(%why, attempt, "push failed"),
            }
            if attempt < config.push_attempts {
                self.metrics().push("retried");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        tracing::warn!(subscription = %job.sub.id, "push dropped after its attempts");
        self.metrics().push("dropped");
        Sent::Dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_32_base64url_characters_per_subscription_and_conversation() {
        let a = topic(b"key", "sub1", "0190-aaaa");
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(a, topic(b"key", "sub1", "0190-aaaa"));
        assert_ne!(a, topic(b"key", "sub1", "0190-aaab"));
        assert_ne!(a, topic(b"key", "sub2", "0190-aaaa"));
        assert_ne!(a, topic(b"other key", "sub1", "0190-aaaa"));
    }

    #[test]
    fn until_is_a_future_time_or_forever() {
        let now = time::parse("2026-12-01T10:00:00.000Z").unwrap();
        assert_eq!(parse_until(None, now).unwrap(), FOREVER);
        assert_eq!(
            parse_until(Some("2026-12-01T11:00:00.000Z"), now).unwrap(),
            now + 3_600_000
        );
        assert!(parse_until(Some("2026-12-01T10:00:00.000Z"), now).is_err());
        assert!(parse_until(Some("tomorrow"), now).is_err());
    }
}
