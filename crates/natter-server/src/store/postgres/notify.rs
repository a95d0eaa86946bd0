//! The PgStore adapter's part of the `Notify` port. Every write is one transaction (retried
//! after a serialization failure, a deadlock or a lost race, as the other writes are); rows
//! that a check depends on are locked first.
use async_trait::async_trait;
use natter_core::{ConversationId, Error as Rule, UserId};
use sqlx::postgres::PgRow;

use super::tx::{Fail, Wtx, is_foreign_key_violation, is_unique_violation};
use super::*;
use crate::store::notify::*;

type Res<T> = Result<T, Fail>;

fn subscription_row(r: &PgRow) -> sqlx::Result<PushSubscriptionRow> {
    Ok(PushSubscriptionRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        session_id: r.try_get("session_id")?,
        endpoint: r.try_get("endpoint")?,
        p256dh: r.try_get("p256dh")?,
        auth: r.try_get("auth")?,
        created_at: r.try_get("created_at")?,
    })
}

fn webhook_row(r: &PgRow) -> sqlx::Result<WebhookRow> {
    Ok(WebhookRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        conversation_id: r.try_get("conversation_id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        created_at: r.try_get("created_at")?,
    })
}

fn webhook_state(r: &PgRow) -> sqlx::Result<WebhookState> {
    Ok(WebhookState {
        webhook: webhook_row(r)?,
        pos: r.try_get("pos")?,
        delivered_at: r.try_get("delivered_at")?,
        last_error: r.try_get("last_error")?,
        dead_letters: r.try_get("dead_letters")?,
    })
}

// ---- writes, each inside its transaction ----

async fn server_key(tx: &mut Wtx, name: &str, value: &[u8]) -> Res<Vec<u8>> {
    // Two statements: the SELECT's snapshot is taken after the INSERT waited for (and saw
    // committed) a key another transaction was storing.
    sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(tx.c())
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(tx.c())
            .await?,
    )
}

async fn put_push_subscription(tx: &mut Wtx, s: &PushSubscriptionRow) -> Res<()> {
    // The session's earlier subscription, and whichever holds the endpoint, are replaced.
    sqlx::query("DELETE FROM push_subscriptions WHERE session_id = $1 OR endpoint = $2 OR id = $3")
        .bind(&s.session_id)
        .bind(&s.endpoint)
        .bind(&s.id)
        .execute(tx.c())
        .await?;
    let r = sqlx::query(
        "INSERT INTO push_subscriptions (id, user_id, session_id, endpoint, p256dh, auth, created_at) \
         SELECT $1, user_id, id, $2, $3, $4, $5 FROM sessions WHERE id = $6 AND user_id = $7",
    )
    .bind(&s.id)
    .bind(&s.endpoint)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(s.created_at)
    .bind(&s.session_id)
    .bind(&s.user_id)
    .execute(tx.c())
    .await;
    match r {
        Ok(done) if done.rows_affected() == 0 => Err(Rule::not_found("session").into()),
        Ok(_) => Ok(()),
        // A concurrent put of the same session or endpoint committed first: a fresh
        // transaction replaces it.
        Err(e) if is_unique_violation(&e) => Err(Fail::Retry),
        // The session was deleted meanwhile.
        Err(e) if is_foreign_key_violation(&e) => Err(Rule::not_found("session").into()),
        Err(e) => Err(e.into()),
    }
}

async fn set_notification_settings(
    tx: &mut Wtx,
    user_id: &str,
    change: &SettingsChange,
) -> Res<()> {
    let defaults = NotificationSettings::default();
    let (set_dnd, dnd) = match change.dnd_until {
        Some(d) => (true, d),
        None => (false, defaults.dnd_until),
    };
    sqlx::query(
        "INSERT INTO notification_settings (user_id, previews, mentions_when_muted, dnd_until) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET \
           previews = COALESCE($5::BOOLEAN, notification_settings.previews), \
           mentions_when_muted = COALESCE($6::BOOLEAN, notification_settings.mentions_when_muted), \
           dnd_until = CASE WHEN $7::BOOLEAN THEN EXCLUDED.dnd_until \
                            ELSE notification_settings.dnd_until END",
    )
    .bind(user_id)
    .bind(change.previews.unwrap_or(defaults.previews))
    .bind(
        change
            .mentions_when_muted
            .unwrap_or(defaults.mentions_when_muted),
    )
    .bind(dnd)
    .bind(change.previews)
    .bind(change.mentions_when_muted)
    .bind(set_dnd)
    .execute(tx.c())
    .await?;
    Ok(())
}

async fn mute(tx: &mut Wtx, user_id: &str, conversation_id: &str, until: i64) -> Res<()> {
    let r = sqlx::query(
        "INSERT INTO mutes (conversation_id, user_id, until) \
         SELECT conversation_id, user_id, $3 FROM members \
         WHERE conversation_id = $1 AND user_id = $2 \
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET until = EXCLUDED.until",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(until)
    .execute(tx.c())
    .await;
    match r {
        Ok(done) if done.rows_affected() == 0 => Err(Rule::not_found("conversation").into()),
        Ok(_) => Ok(()),
        // The member left meanwhile.
        Err(e) if is_foreign_key_violation(&e) => Err(Rule::not_found("conversation").into()),
        Err(e) => Err(e.into()),
    }
}

/// Moves the follower `name` to `pos` with a new lease, if `holder` holds it.
async fn advance(tx: &mut Wtx, name: &str, holder: &str, pos: i64, lease_until: i64) -> Res<bool> {
    let done = sqlx::query(
        "UPDATE followers SET pos = $3, lease_until = $4 WHERE name = $1 AND holder = $2",
    )
    .bind(name)
    .bind(holder)
    .bind(pos)
    .bind(lease_until)
    .execute(tx.c())
    .await?;
    Ok(done.rows_affected() > 0)
}

impl PgStore {
    async fn create_webhook_in(&self, tx: &mut Wtx, w: &WebhookRow, max: u32) -> Res<()> {
        // The user's row, locked: two creations take turns (the second counts the first), and
        // a deletion of the account cannot leave a webhook behind.
        let deleted: Option<Option<i64>> =
            sqlx::query_scalar("SELECT deleted_at FROM users WHERE id = $1 FOR UPDATE")
                .bind(&w.user_id)
                .fetch_optional(tx.c())
                .await?;
        match deleted {
            None => return Err(Rule::not_found("user").into()),
            Some(Some(_)) => return Err(Rule::forbidden("the account is deleted").into()),
            Some(None) => {}
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE user_id = $1")
            .bind(&w.user_id)
            .fetch_one(tx.c())
            .await?;
        if count >= i64::from(max) {
            return Err(Rule::invalid(format!("at most {max} webhooks")).into());
        }
        if let Some(conversation_id) = &w.conversation_id {
            // The member's row, key-share locked: it cannot leave before this commits.
            let member: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2 FOR KEY SHARE",
            )
            .bind(conversation_id)
            .bind(&w.user_id)
            .fetch_optional(tx.c())
            .await?;
            if member.is_none() {
                return Err(Rule::not_found("conversation").into());
            }
        }
        sqlx::query(
            "INSERT INTO webhooks (id, user_id, conversation_id, url, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&w.id)
        .bind(&w.user_id)
        .bind(&w.conversation_id)
        .bind(&w.url)
        .bind(&w.secret)
        .bind(w.created_at)
        .execute(tx.c())
        .await?;
        // The head this transaction sees: a writer that has taken positions but not committed
        // yet took them above it, so every event committed after this is above it too.
        let head = self.head_in(tx.c()).await?;
        sqlx::query(
            "INSERT INTO followers (name, pos, holder, lease_until, webhook_id) \
             VALUES ($1, $2, '', 0, $3) \
             ON CONFLICT (name) DO UPDATE SET pos = EXCLUDED.pos, holder = '', lease_until = 0, \
               webhook_id = EXCLUDED.webhook_id",
        )
        .bind(follower_of(&w.id))
        .bind(head)
        .bind(&w.id)
        .execute(tx.c())
        .await?;
        Ok(())
    }
}

async fn delete_webhook(tx: &mut Wtx, user_id: &str, id: &str) -> Res<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(tx.c())
            .await?;
    if found.is_none() {
        return Ok(false);
    }
    // The follower first, as a delivery locks it first: a delivery under way finishes, or
    // finds it gone. The dead letters go with the webhook by cascade.
    sqlx::query("DELETE FROM followers WHERE name = $1")
        .bind(follower_of(id))
        .execute(tx.c())
        .await?;
    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(tx.c())
        .await?;
    Ok(done.rows_affected() > 0)
}

async fn webhook_delivered(
    tx: &mut Wtx,
    id: &str,
    holder: &str,
    pos: i64,
    now: i64,
    lease_until: i64,
) -> Res<bool> {
    if !advance(tx, &follower_of(id), holder, pos, lease_until).await? {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE webhooks SET delivered_at = $1, last_error = NULL, failed_at = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(tx.c())
    .await?;
    Ok(true)
}

async fn webhook_dead_letter(
    tx: &mut Wtx,
    d: &DeadLetterRow,
    holder: &str,
    lease_until: i64,
) -> Res<bool> {
    if !advance(tx, &follower_of(&d.webhook_id), holder, d.pos, lease_until).await? {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_dead_letters (webhook_id, pos, body, attempts, last_error, failed_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&d.webhook_id)
    .bind(d.pos)
    .bind(&d.body)
    .bind(d.attempts)
    .bind(&d.last_error)
    .bind(d.failed_at)
    .execute(tx.c())
    .await?;
    sqlx::query("UPDATE webhooks SET last_error = $1, failed_at = $2 WHERE id = $3")
        .bind(&d.last_error)
        .bind(d.failed_at)
        .bind(&d.webhook_id)
        .execute(tx.c())
        .await?;
    Ok(true)
}

#[async_trait]
impl Notify for PgStore {
    async fn server_key(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        write_tx!(self, |tx| server_key(tx, name, value).await?)
    }

    async fn put_push_subscription(&self, sub: &PushSubscriptionRow) -> StoreResult<()> {
        write_tx!(self, |tx| put_push_subscription(tx, sub).await?)
    }

    async fn push_subscriptions_of(
        &self,
        user_id: &UserId,
    ) -> StoreResult<Vec<PushSubscriptionRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions WHERE user_id = $1 \
             ORDER BY created_at, id"
        )))
        .bind(user_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(subscription_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn delete_push_subscription(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id.as_str())
                .execute(tx.c())
                .await?
                .rows_affected()
                > 0
        })
    }

    async fn push_subscription_gone(&self, id: &str) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
                .bind(id)
                .execute(tx.c())
                .await?;
        })
    }

    async fn notification_settings(
        &self,
        user_id: &UserId,
        now: i64,
    ) -> StoreResult<NotificationSettings> {
        let mut tx = self.snapshot().await?;
        let row: Option<(bool, bool, Option<i64>)> = sqlx::query_as(
            "SELECT previews, mentions_when_muted, dnd_until FROM notification_settings \
             WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let muted: Vec<(String, i64)> = sqlx::query_as(
            "SELECT conversation_id, until FROM mutes WHERE user_id = $1 AND until > $2 \
             ORDER BY conversation_id",
        )
        .bind(user_id.as_str())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.rollback().await?;
        let mut settings = NotificationSettings {
            muted,
            ..NotificationSettings::default()
        };
        if let Some((previews, mentions_when_muted, dnd_until)) = row {
            settings.previews = previews;
            settings.mentions_when_muted = mentions_when_muted;
            settings.dnd_until = dnd_until;
        }
        Ok(settings)
    }

    async fn set_notification_settings(
        &self,
        user_id: &UserId,
        change: &SettingsChange,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| set_notification_settings(
            tx,
            user_id.as_str(),
            change
        )
        .await?)
    }

    async fn mute(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        until: i64,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| mute(
            tx,
            user_id.as_str(),
            conversation_id.as_str(),
            until
        )
        .await?)
    }

    async fn unmute(&self, user_id: &UserId, conversation_id: &ConversationId) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM mutes WHERE conversation_id = $1 AND user_id = $2")
                .bind(conversation_id.as_str())
                .bind(user_id.as_str())
                .execute(tx.c())
                .await?;
        })
    }

    async fn push_targets(
        &self,
        conversation_id: &ConversationId,
        users: &[String],
        now: i64,
    ) -> StoreResult<Vec<PushTarget>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        // One query: each subscription of the users, with its user's settings and mute, in
        // the order the users were given.
        let rows = sqlx::query(
            "SELECT s.id, s.user_id, s.session_id, s.endpoint, s.p256dh, s.auth, s.created_at, \
               ns.previews, ns.mentions_when_muted, ns.dnd_until, m.until AS muted_until \
             FROM (SELECT DISTINCT ON (t.id) t.id, t.i \
                   FROM UNNEST($1::text[]) WITH ORDINALITY AS t(id, i) ORDER BY t.id, t.i) u \
             JOIN push_subscriptions s ON s.user_id = u.id \
             LEFT JOIN notification_settings ns ON ns.user_id = s.user_id \
             LEFT JOIN mutes m ON m.conversation_id = $2 AND m.user_id = s.user_id AND m.until > $3 \
             ORDER BY u.i, s.created_at, s.id",
        )
        .bind(users)
        .bind(conversation_id.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let defaults = NotificationSettings::default();
        // The rows come grouped by user: one target per group.
        let mut targets: Vec<PushTarget> = Vec::new();
        for r in &rows {
            let sub = subscription_row(r)?;
            if targets.last().is_none_or(|t| t.user_id != sub.user_id) {
                let previews: Option<bool> = r.try_get("previews")?;
                let mentions: Option<bool> = r.try_get("mentions_when_muted")?;
                targets.push(PushTarget {
                    user_id: sub.user_id.clone(),
                    previews: previews.unwrap_or(defaults.previews),
                    mentions_when_muted: mentions.unwrap_or(defaults.mentions_when_muted),
                    dnd_until: r.try_get("dnd_until")?,
                    muted_until: r.try_get("muted_until")?,
                    subscriptions: Vec::new(),
                });
            }
            if let Some(t) = targets.last_mut() {
                t.subscriptions.push(sub);
            }
        }
        Ok(targets)
    }

    async fn claim_follower(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
        start: i64,
    ) -> StoreResult<Option<i64>> {
        // One statement: of holders claiming at once, the first inserts (or takes over) and
        // the others see its row, held.
        let until = lease_end(now, lease_ms);
        write_tx!(self, |tx| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO followers (name, pos, holder, lease_until) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, \
                   lease_until = EXCLUDED.lease_until \
                 WHERE followers.holder = EXCLUDED.holder OR followers.lease_until < $5 \
                 RETURNING pos",
            )
            .bind(name)
            .bind(start)
            .bind(holder)
            .bind(until)
            .bind(now)
            .fetch_optional(tx.c())
            .await?
        })
    }

    async fn advance_follower(
        &self,
        name: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let until = lease_end(now, lease_ms);
        write_tx!(self, |tx| advance(tx, name, holder, pos, until).await?)
    }

    async fn release_follower(&self, name: &str, holder: &str) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE followers SET holder = '', lease_until = 0 WHERE name = $1 AND holder = $2",
            )
            .bind(name)
            .bind(holder)
            .execute(tx.c())
            .await?;
        })
    }

    async fn create_webhook(&self, webhook: &WebhookRow, max: u32) -> StoreResult<()> {
        write_tx!(self, |tx| self.create_webhook_in(tx, webhook, max).await?)
    }

    async fn webhooks_of(&self, user_id: &UserId) -> StoreResult<Vec<WebhookState>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WEBHOOK_STATE} WHERE w.user_id = $1 ORDER BY w.created_at, w.id"
        )))
        .bind(user_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(webhook_state)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookRow>> {
        let rows = sqlx::query(
            "SELECT id, user_id, conversation_id, url, secret, created_at FROM webhooks \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(webhook_row).collect::<sqlx::Result<_>>()?)
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookState>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WEBHOOK_STATE} WHERE w.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(webhook_state).transpose()?)
    }

    async fn delete_webhook(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        write_tx!(self, |tx| delete_webhook(tx, user_id.as_str(), id).await?)
    }

    async fn webhook_delivered(
        &self,
        id: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let until = lease_end(now, lease_ms);
        write_tx!(self, |tx| webhook_delivered(
            tx, id, holder, pos, now, until
        )
        .await?)
    }

    async fn webhook_failed(&self, id: &str, error: &str, at: i64) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE webhooks SET last_error = $1, failed_at = $2 WHERE id = $3")
                .bind(error)
                .bind(at)
                .bind(id)
                .execute(tx.c())
                .await?;
        })
    }

    async fn webhook_dead_letter(
        &self,
        letter: &DeadLetterRow,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let until = lease_end(now, lease_ms);
        write_tx!(self, |tx| webhook_dead_letter(tx, letter, holder, until)
            .await?)
    }

    async fn dead_letters(
        &self,
        webhook_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetterRow>> {
        let rows: Vec<(String, i64, String, i64, String, i64)> = sqlx::query_as(
            "SELECT webhook_id, pos, body, attempts, last_error, failed_at \
             FROM webhook_dead_letters WHERE webhook_id = $1 AND pos > $2 ORDER BY pos LIMIT $3",
        )
        .bind(webhook_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(webhook_id, pos, body, attempts, last_error, failed_at)| DeadLetterRow {
                    webhook_id,
                    pos,
                    body,
                    attempts,
                    last_error,
                    failed_at,
                },
            )
            .collect())
    }
}
