//! Persistence port for reaching people who are not looking: Web Push subscriptions, muting
//! and do-not-disturb, webhooks, and the durable positions ("followers") of the tasks that
//! deliver them from the event log.

use async_trait::async_trait;
use natter_core::{ConversationId, UserId};

use super::StoreResult;

/// A time that never comes: a mute or do-not-disturb "until turned off".
pub const FOREVER: i64 = i64::MAX;

/// A browser's push subscription, bound to the session that registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscriptionRow {
    pub id: String,
    pub user_id: String,
    pub session_id: String,
    /// The push service's URL for this subscription.
    pub endpoint: String,
    /// The subscription's public key (65 bytes, an uncompressed P-256 point).
    pub p256dh: Vec<u8>,
    /// The subscription's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    pub created_at: i64,
}

/// A user's notification settings; defaults when the user never changed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// Whether pushes carry a preview of the message.
    pub previews: bool,
    /// Whether a muted conversation still pushes the messages that mention the user.
    pub mentions_when_muted: bool,
    /// Do not disturb until then (ms; [`FOREVER`] until turned off); none when off.
    pub dnd_until: Option<i64>,
    /// Conversations muted, with until when (ms; [`FOREVER`] until unmuted), in no order.
    /// Mutes that ended are not listed.
    pub muted: Vec<(String, i64)>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            previews: false,
            mentions_when_muted: true,
            dnd_until: None,
            muted: Vec::new(),
        }
    }
}

/// A change of settings: each field given is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub previews: Option<bool>,
    pub mentions_when_muted: Option<bool>,
    /// `Some(None)` turns do-not-disturb off.
    pub dnd_until: Option<Option<i64>>,
}

/// What the push sender needs to know of one member of a conversation: its settings, whether
/// it muted that conversation, and where to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub user_id: String,
    pub previews: bool,
    pub mentions_when_muted: bool,
    pub dnd_until: Option<i64>,
    /// Until when this member muted the conversation; none when not muted (or no more).
    pub muted_until: Option<i64>,
    pub subscriptions: Vec<PushSubscriptionRow>,
}

/// A webhook: a user's (a bot's) HTTP endpoint that receives the durable events of one
/// conversation, or of all its conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub user_id: String,
    /// None: every conversation the user is a member of.
    pub conversation_id: Option<String>,
    pub url: String,
    /// The HMAC-SHA256 key its deliveries are signed with.
    pub secret: String,
    pub created_at: i64,
}

/// A webhook with how its delivery goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookState {
    pub webhook: WebhookRow,
    /// The position of the last event delivered, or given up on.
    pub pos: i64,
    /// When an event was last delivered.
    pub delivered_at: Option<i64>,
    /// Why the last attempt failed, when the last attempt failed.
    pub last_error: Option<String>,
    pub dead_letters: i64,
}

/// An event a webhook gave up delivering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    pub webhook_id: String,
    /// The event's position (its cursor).
    pub pos: i64,
    /// The JSON body that was posted.
    pub body: String,
    pub attempts: i64,
    pub last_error: String,
    pub failed_at: i64,
}

/// The columns of `push_subscriptions`, in the order of [`PushSubscriptionRow`].
pub(crate) const SUBSCRIPTION_COLUMNS: &str =
    "id, user_id, session_id, endpoint, p256dh, auth, created_at";

/// A webhook's columns (`w`), its follower's position (`f`) and its dead letters' count: the
/// same SQL on both engines.
pub(crate) const WEBHOOK_STATE: &str = "SELECT w.id, w.user_id, w.conversation_id, w.url, w.secret, \
       w.created_at, w.delivered_at, w.last_error, COALESCE(f.pos, 0) AS pos, \
       (SELECT COUNT(*) FROM webhook_dead_letters d WHERE d.webhook_id = w.id) AS dead_letters \
     FROM webhooks w LEFT JOIN followers f ON f.name = 'webhook:' || w.id ";

/// The name of a webhook's follower.
pub(crate) fn follower_of(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

/// When a lease taken at `now` for `lease_ms` runs out.
pub(crate) fn lease_end(now: i64, lease_ms: i64) -> i64 {
    now.saturating_add(lease_ms)
}

/// Persistence port: push, muting, webhooks, and log followers.
#[async_trait]
pub trait Notify: Send + Sync + 'static {
    /// The value stored under `name` if there is one; else stores `value` and returns it.
    /// Nodes racing to create a key all get the one that was stored first.
    async fn server_key(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>>;

    /// Stores a subscription. The session's earlier subscription, and any subscription with
    /// the same endpoint (whoever's), are replaced: a device has one.
    async fn put_push_subscription(&self, sub: &PushSubscriptionRow) -> StoreResult<()>;
    /// A user's subscriptions, oldest first.
    async fn push_subscriptions_of(
        &self,
        user_id: &UserId,
    ) -> StoreResult<Vec<PushSubscriptionRow>>;
    /// Deletes one of a user's subscriptions; false if it had none with that id.
    async fn delete_push_subscription(&self, user_id: &UserId, id: &str) -> StoreResult<bool>;
    /// Deletes a subscription the push service said is gone (`404`/`410`).
    async fn push_subscription_gone(&self, id: &str) -> StoreResult<()>;

    /// A user's settings at `now` (mutes that ended by `now` are not listed).
    async fn notification_settings(
        &self,
        user_id: &UserId,
        now: i64,
    ) -> StoreResult<NotificationSettings>;
    /// Changes a user's settings.
    async fn set_notification_settings(
        &self,
        user_id: &UserId,
        change: &SettingsChange,
    ) -> StoreResult<()>;
    /// Mutes a conversation for a member until `until` (ms, or [`FOREVER`]). `NotFound`
    /// (a rule error) when the user is no member. A member that leaves loses its mute.
    async fn mute(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        until: i64,
    ) -> StoreResult<()>;
    /// Unmutes; nothing if it was not muted.
    async fn unmute(&self, user_id: &UserId, conversation_id: &ConversationId) -> StoreResult<()>;
    /// For each of `users` with at least one subscription: what the push sender needs, in
    /// one or two queries. Users without subscriptions are left out.
    async fn push_targets(
        &self,
        conversation_id: &ConversationId,
        users: &[String],
        now: i64,
    ) -> StoreResult<Vec<PushTarget>>;

    /// Claims the follower `name` for `holder` until `now + lease_ms`, if no other holder's
    /// lease runs at `now`; creates it at position `start` if it does not exist. Returns its
    /// position when claimed (or renewed), none when another node holds it.
    async fn claim_follower(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
        start: i64,
    ) -> StoreResult<Option<i64>>;
    /// Moves the follower to `pos` and renews the lease, if `holder` still holds it; false if
    /// it does not (another node took over, or the follower was deleted).
    async fn advance_follower(
        &self,
        name: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool>;
    /// Lets the follower go, if `holder` holds it (a node shutting down).
    async fn release_follower(&self, name: &str, holder: &str) -> StoreResult<()>;

    /// Stores a webhook, unless the user has `max` already (`Rule(Error::Invalid)`), with its
    /// follower `webhook:<id>` at the log's head read in the same transaction; `Rule(NotFound)`
    /// when the user is no member of its conversation.
    async fn create_webhook(&self, webhook: &WebhookRow, max: u32) -> StoreResult<()>;
    /// A user's webhooks, oldest first.
    async fn webhooks_of(&self, user_id: &UserId) -> StoreResult<Vec<WebhookState>>;
    /// Every webhook (the delivery tasks' list).
    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookRow>>;
    /// One webhook, with how its delivery goes.
    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookState>>;
    /// Deletes a user's webhook with its follower and dead letters; false if none.
    async fn delete_webhook(&self, user_id: &UserId, id: &str) -> StoreResult<bool>;
    /// The event at `pos` was delivered: the follower moves there (lease renewed), the error
    /// clears. False when `holder` no longer holds it.
    async fn webhook_delivered(
        &self,
        id: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool>;
    /// An attempt failed: records why (the event is tried again).
    async fn webhook_failed(&self, id: &str, error: &str, at: i64) -> StoreResult<()>;
    /// Gives up on an event: stores it as a dead letter and moves the follower past it, in
    /// one transaction. False when `holder` no longer holds it (nothing stored).
    async fn webhook_dead_letter(
        &self,
        letter: &DeadLetterRow,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool>;
    /// A webhook's dead letters, oldest first, after position `after`.
    async fn dead_letters(
        &self,
        webhook_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetterRow>>;
}
