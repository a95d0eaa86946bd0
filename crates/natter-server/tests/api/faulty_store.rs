//! A `Store` that fails chosen reads on demand, as a store whose disk or lock misbehaves for a
//! moment does, and otherwise is the SQLite store it wraps.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use natter_core::{
    ConversationId, MediaId, MessageId, Role, SessionId, UserId, decide::Registration,
};
use natter_server::store::{
    AccountDeleted, AccountUpdate, Accounts, Backlog, ConversationRow, ConversationView,
    ConversationViews, Conversations, EventLog, EventRow, InviteRow, MarkKind, MarkTimes,
    MediaRecords, MediaRow, MemberRow, MessageRow, Messages, NewMessage, Operations, ReactionCount,
    ReactionCursor, ReactionRow, Removed, SearchScope, Sent, SessionRow, StoreError, StoreResult,
    StoreStats, UserRow, notify::*, sqlite::SqliteStore,
};

/// The viewer the fan-out reads messages as: no one in particular, so that one rendering
/// serves every recipient. Failing its reads fails the fan-out and nothing else.
pub const FAN_OUT_VIEWER: &str = "";

pub struct FaultyStore {
    inner: SqliteStore,
    faults: Mutex<Faults>,
}

/// How many of the next reads of each kind fail.
#[derive(Default)]
struct Faults {
    /// `message` reads, by viewer.
    message_reads: HashMap<String, usize>,
    /// `events_after` reads: the fan-out's reads of the log.
    log_reads: usize,
    /// `members` reads.
    member_reads: usize,
    /// Reads of a session by its token.
    session_reads: usize,
    /// Reads of whom to push to.
    push_target_reads: usize,
    /// Saves of a webhook's delivery.
    webhook_saves: usize,
}

impl FaultyStore {
    pub async fn open(url: &str) -> Arc<Self> {
        Arc::new(Self {
            inner: SqliteStore::open(url).await.expect("the database opens"),
            faults: Mutex::default(),
        })
    }

    /// The next `n` reads of a message as `viewer` sees it fail.
    pub fn fail_message_reads(&self, viewer: &str, n: usize) {
        self.faults().message_reads.insert(viewer.to_owned(), n);
    }

    /// The next `n` reads of the log by the fan-out fail.
    pub fn fail_log_reads(&self, n: usize) {
        self.faults().log_reads = n;
    }

    /// The next `n` reads of a conversation's members fail.
    pub fn fail_member_reads(&self, n: usize) {
        self.faults().member_reads = n;
    }

    /// The next `n` reads of a session by its token fail.
    pub fn fail_session_reads(&self, n: usize) {
        self.faults().session_reads = n;
    }

    /// The next `n` reads of whom to push to fail.
    pub fn fail_push_target_reads(&self, n: usize) {
        self.faults().push_target_reads = n;
    }

    /// The next `n` saves of a webhook's delivery fail (after the receiver got it).
    pub fn fail_webhook_saves(&self, n: usize) {
        self.faults().webhook_saves = n;
    }

    /// No read fails any more.
    pub fn heal(&self) {
        *self.faults() = Faults::default();
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails if the counter `pick` finds is above zero, counting the failure down.
    fn fault(&self, pick: impl FnOnce(&mut Faults) -> Option<&mut usize>) -> StoreResult<()> {
        let mut faults = self.faults();
        match pick(&mut faults) {
            Some(left) if *left > 0 => {
                *left -= 1;
                Err(StoreError::Unavailable("injected fault".into()))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Accounts for FaultyStore {
    async fn create_user(&self, user: &UserRow) -> StoreResult<()> {
        self.inner.create_user(user).await
    }

    async fn register(
        &self,
        user: &UserRow,
        mode: Registration,
        invite: Option<&str>,
    ) -> StoreResult<UserRow> {
        self.inner.register(user, mode, invite).await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        self.inner.count_users().await
    }

    async fn set_display_name(&self, user_id: &UserId, name: &str, at: i64) -> StoreResult<()> {
        self.inner.set_display_name(user_id, name, at).await
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep: &SessionId,
    ) -> StoreResult<Vec<String>> {
        self.inner.set_password(user_id, password_hash, keep).await
    }

    async fn update_account(
        &self,
        manager: Option<&UserId>,
        target: &UserId,
        update: &AccountUpdate,
        at: i64,
    ) -> StoreResult<(UserRow, Vec<String>)> {
        self.inner.update_account(manager, target, update, at).await
    }

    async fn delete_account(&self, user_id: &UserId, at: i64) -> StoreResult<AccountDeleted> {
        self.inner.delete_account(user_id, at).await
    }

    async fn list_users(
        &self,
        prefix: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        self.inner.list_users(prefix, before, limit).await
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.inner.stats().await
    }

    async fn create_invite(&self, invite: &InviteRow) -> StoreResult<()> {
        self.inner.create_invite(invite).await
    }

    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>> {
        self.inner.invite(code).await
    }

    async fn invites_of(&self, creator_id: &UserId) -> StoreResult<Vec<InviteRow>> {
        self.inner.invites_of(creator_id).await
    }

    async fn delete_invite(&self, code: &str, actor: &UserId) -> StoreResult<()> {
        self.inner.delete_invite(code, actor).await
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRow>> {
        self.inner.user_by_id(id).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        self.inner.user_by_username(username).await
    }

    async fn search_users(
        &self,
        viewer: &UserId,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        self.inner.search_users(viewer, prefix, limit).await
    }

    async fn set_last_seen(&self, user_id: &UserId, at: i64) -> StoreResult<()> {
        self.inner.set_last_seen(user_id, at).await
    }

    async fn contacts_of(&self, user_id: &UserId) -> StoreResult<Vec<String>> {
        self.inner.contacts_of(user_id).await
    }

    async fn contacts_among(&self, user_id: &UserId, ids: &[String]) -> StoreResult<Vec<String>> {
        self.inner.contacts_among(user_id, ids).await
    }

    async fn existing_users(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        self.inner.existing_users(ids).await
    }

    async fn block(&self, blocker: &UserId, blocked: &UserId, at: i64) -> StoreResult<()> {
        self.inner.block(blocker, blocked, at).await
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<()> {
        self.inner.unblock(blocker, blocked).await
    }

    async fn blocked_by(&self, blocker: &UserId) -> StoreResult<Vec<UserRow>> {
        self.inner.blocked_by(blocker).await
    }

    async fn blocked_ids(&self, blocker: &UserId) -> StoreResult<Vec<String>> {
        self.inner.blocked_ids(blocker).await
    }

    async fn has_blocked(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<bool> {
        self.inner.has_blocked(blocker, blocked).await
    }

    async fn create_session(&self, session: &SessionRow) -> StoreResult<()> {
        self.inner.create_session(session).await
    }

    async fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRow>> {
        self.fault(|f| Some(&mut f.session_reads))?;
        self.inner.session_by_token_hash(hash).await
    }

    async fn touch_session(&self, id: &SessionId, at: i64) -> StoreResult<()> {
        self.inner.touch_session(id, at).await
    }

    async fn sessions_of(&self, user_id: &UserId) -> StoreResult<Vec<SessionRow>> {
        self.inner.sessions_of(user_id).await
    }

    async fn delete_session(&self, user_id: &UserId, id: &SessionId) -> StoreResult<bool> {
        self.inner.delete_session(user_id, id).await
    }

    async fn delete_idle_sessions(&self, before: i64) -> StoreResult<Vec<String>> {
        self.inner.delete_idle_sessions(before).await
    }
}

#[async_trait]
impl Conversations for FaultyStore {
    async fn create_direct(
        &self,
        new_id: &ConversationId,
        a: &UserId,
        b: &UserId,
        at: i64,
    ) -> StoreResult<(String, bool)> {
        self.inner.create_direct(new_id, a, b, at).await
    }

    async fn create_group(
        &self,
        id: &ConversationId,
        owner: &UserId,
        name: &str,
        members: &[String],
        at: i64,
    ) -> StoreResult<()> {
        self.inner.create_group(id, owner, name, members, at).await
    }

    async fn member_usernames(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Vec<(String, String)>> {
        self.inner.member_usernames(conversation_id).await
    }

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<ConversationRow>> {
        self.inner.conversation(id).await
    }

    async fn member(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
    ) -> StoreResult<Option<MemberRow>> {
        self.inner.member(conversation_id, user_id).await
    }

    async fn members(&self, conversation_id: &ConversationId) -> StoreResult<Vec<MemberRow>> {
        self.fault(|f| Some(&mut f.member_reads))?;
        self.inner.members(conversation_id).await
    }

    async fn conversation_view(
        &self,
        conversation_id: &ConversationId,
        viewer: &UserId,
    ) -> StoreResult<Option<ConversationView>> {
        self.inner.conversation_view(conversation_id, viewer).await
    }

    async fn conversation_views(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Option<ConversationViews>> {
        self.inner.conversation_views(conversation_id).await
    }

    async fn conversations_of(
        &self,
        viewer: &UserId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationView>> {
        self.inner.conversations_of(viewer, before, limit).await
    }

    async fn rename(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        name: &str,
        at: i64,
    ) -> StoreResult<()> {
        self.inner.rename(actor, conversation_id, name, at).await
    }

    async fn add_member(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        role: Role,
        max_members: usize,
        at: i64,
    ) -> StoreResult<()> {
        self.inner
            .add_member(actor, conversation_id, user_id, role, max_members, at)
            .await
    }

    async fn remove_member(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        at: i64,
    ) -> StoreResult<Removed> {
        self.inner
            .remove_member(actor, conversation_id, user_id, at)
            .await
    }

    async fn set_role(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        role: Role,
        at: i64,
    ) -> StoreResult<()> {
        self.inner
            .set_role(actor, conversation_id, user_id, role, at)
            .await
    }
}

#[async_trait]
impl Messages for FaultyStore {
    async fn send(&self, msg: &NewMessage) -> StoreResult<Sent> {
        self.inner.send(msg).await
    }

    async fn message_by_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &UserId,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>> {
        self.inner
            .message_by_client_id(conversation_id, sender, client_id)
            .await
    }

    /// Finds nothing: the fan-out then reads each message alone, through `message`, where
    /// the faults are injected.
    async fn messages_by_id(&self, _ids: &[String]) -> StoreResult<Vec<MessageRow>> {
        Ok(Vec::new())
    }

    async fn message(&self, id: &MessageId, viewer: &UserId) -> StoreResult<Option<MessageRow>> {
        self.fault(|f| f.message_reads.get_mut(viewer.as_str()))?;
        self.inner.message(id, viewer).await
    }

    async fn messages(
        &self,
        conversation_id: &ConversationId,
        viewer: &UserId,
        min_seq: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<(Vec<MessageRow>, bool)> {
        self.inner
            .messages(conversation_id, viewer, min_seq, before, after, limit)
            .await
    }

    async fn hidden_by(&self, message_id: &MessageId) -> StoreResult<Vec<String>> {
        self.inner.hidden_by(message_id).await
    }

    async fn edit(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        text: &str,
        mentions: &[String],
        at: i64,
    ) -> StoreResult<()> {
        self.inner.edit(actor, message_id, text, mentions, at).await
    }

    async fn react(
        &self,
        user_id: &UserId,
        message_id: &MessageId,
        emoji: &str,
        add: bool,
        max_distinct: usize,
        at: i64,
    ) -> StoreResult<bool> {
        self.inner
            .react(user_id, message_id, emoji, add, max_distinct, at)
            .await
    }

    async fn reaction_counts(
        &self,
        message_ids: &[String],
        viewer: &UserId,
    ) -> StoreResult<Vec<ReactionCount>> {
        self.inner.reaction_counts(message_ids, viewer).await
    }

    async fn reactions(
        &self,
        message_id: &MessageId,
        emoji: Option<&str>,
        after: Option<&ReactionCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ReactionRow>> {
        self.inner.reactions(message_id, emoji, after, limit).await
    }

    async fn search(
        &self,
        query: &natter_core::search::Query,
        scope: &SearchScope<'_>,
    ) -> StoreResult<Vec<MessageRow>> {
        self.inner.search(query, scope).await
    }

    async fn delete_for_everyone(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        at: i64,
    ) -> StoreResult<Option<String>> {
        self.inner.delete_for_everyone(actor, message_id, at).await
    }

    async fn hide(&self, user_id: &UserId, message_id: &MessageId, at: i64) -> StoreResult<()> {
        self.inner.hide(user_id, message_id, at).await
    }

    async fn mark(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        kind: MarkKind,
        seq: i64,
        at: i64,
    ) -> StoreResult<bool> {
        self.inner
            .mark(user_id, conversation_id, kind, seq, at)
            .await
    }

    async fn mark_times(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        seq: i64,
    ) -> StoreResult<MarkTimes> {
        self.inner.mark_times(conversation_id, user_id, seq).await
    }
}

#[async_trait]
impl MediaRecords for FaultyStore {
    async fn media(&self, id: &MediaId) -> StoreResult<Option<MediaRow>> {
        self.inner.media(id).await
    }

    async fn insert_media(&self, media: &MediaRow) -> StoreResult<()> {
        self.inner.insert_media(media).await
    }

    async fn media_visible_to(&self, media_id: &MediaId, user_id: &UserId) -> StoreResult<bool> {
        self.inner.media_visible_to(media_id, user_id).await
    }

    async fn delete_media_if_unused(&self, id: &MediaId) -> StoreResult<Option<String>> {
        self.inner.delete_media_if_unused(id).await
    }

    async fn media_bytes_of(&self, user_id: &UserId) -> StoreResult<i64> {
        self.inner.media_bytes_of(user_id).await
    }

    async fn orphan_media(&self, before: i64, limit: u32) -> StoreResult<Vec<String>> {
        self.inner.orphan_media(before, limit).await
    }
}

#[async_trait]
impl EventLog for FaultyStore {
    async fn head(&self) -> StoreResult<i64> {
        self.inner.head().await
    }

    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<EventRow>> {
        self.fault(|f| Some(&mut f.log_reads))?;
        self.inner.events_after(after, limit).await
    }

    async fn prune_events(&self, before: i64) -> StoreResult<i64> {
        self.inner.prune_events(before).await
    }

    async fn pruned_up_to(&self) -> StoreResult<i64> {
        self.inner.pruned_up_to().await
    }

    async fn events_for(
        &self,
        user_id: &UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<EventRow>> {
        self.inner.events_for(user_id, after, limit).await
    }

    async fn backlog(&self, user_id: &UserId, after: i64, limit: u32) -> StoreResult<Backlog> {
        self.inner.backlog(user_id, after, limit).await
    }
}

#[async_trait]
impl Operations for FaultyStore {
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn fail_next_commit(&self) -> StoreResult<()> {
        self.inner.fail_next_commit().await
    }

    async fn purge(&self) -> StoreResult<()> {
        self.inner.purge().await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

#[async_trait]
impl Notify for FaultyStore {
    async fn server_key(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        self.inner.server_key(name, value).await
    }

    async fn put_push_subscription(&self, sub: &PushSubscriptionRow) -> StoreResult<()> {
        self.inner.put_push_subscription(sub).await
    }

    async fn push_subscriptions_of(
        &self,
        user_id: &UserId,
    ) -> StoreResult<Vec<PushSubscriptionRow>> {
        self.inner.push_subscriptions_of(user_id).await
    }

    async fn delete_push_subscription(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        self.inner.delete_push_subscription(user_id, id).await
    }

    async fn push_subscription_gone(&self, id: &str) -> StoreResult<()> {
        self.inner.push_subscription_gone(id).await
    }

    async fn notification_settings(
        &self,
        user_id: &UserId,
        now: i64,
    ) -> StoreResult<NotificationSettings> {
        self.inner.notification_settings(user_id, now).await
    }

    async fn set_notification_settings(
        &self,
        user_id: &UserId,
        change: &SettingsChange,
    ) -> StoreResult<()> {
        self.inner.set_notification_settings(user_id, change).await
    }

    async fn mute(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        until: i64,
    ) -> StoreResult<()> {
        self.inner.mute(user_id, conversation_id, until).await
    }

    async fn unmute(&self, user_id: &UserId, conversation_id: &ConversationId) -> StoreResult<()> {
        self.inner.unmute(user_id, conversation_id).await
    }

    async fn push_targets(
        &self,
        conversation_id: &ConversationId,
        users: &[String],
        now: i64,
    ) -> StoreResult<Vec<PushTarget>> {
        self.fault(|f| Some(&mut f.push_target_reads))?;
        self.inner.push_targets(conversation_id, users, now).await
    }

    async fn claim_follower(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
        start: i64,
    ) -> StoreResult<Option<i64>> {
        self.inner
            .claim_follower(name, holder, now, lease_ms, start)
            .await
    }

    async fn advance_follower(
        &self,
        name: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        self.inner
            .advance_follower(name, holder, pos, now, lease_ms)
            .await
    }

    async fn release_follower(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.inner.release_follower(name, holder).await
    }

    async fn create_webhook(&self, webhook: &WebhookRow, max: u32) -> StoreResult<()> {
        self.inner.create_webhook(webhook, max).await
    }

    async fn webhooks_of(&self, user_id: &UserId) -> StoreResult<Vec<WebhookState>> {
        self.inner.webhooks_of(user_id).await
    }

    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookRow>> {
        self.inner.all_webhooks().await
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookState>> {
        self.inner.webhook(id).await
    }

    async fn delete_webhook(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        self.inner.delete_webhook(user_id, id).await
    }

    async fn webhook_delivered(
        &self,
        id: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        self.fault(|f| Some(&mut f.webhook_saves))?;
        self.inner
            .webhook_delivered(id, holder, pos, now, lease_ms)
            .await
    }

    async fn webhook_failed(&self, id: &str, error: &str, at: i64) -> StoreResult<()> {
        self.inner.webhook_failed(id, error, at).await
    }

    async fn webhook_dead_letter(
        &self,
        letter: &DeadLetterRow,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        self.inner
            .webhook_dead_letter(letter, holder, now, lease_ms)
            .await
    }

    async fn dead_letters(
        &self,
        webhook_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetterRow>> {
        self.inner.dead_letters(webhook_id, after, limit).await
    }
}
