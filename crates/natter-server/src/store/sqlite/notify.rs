//! The SqliteStore adapter's part of the `Notify` port. Reads go to the read-only pool; every
//! write runs on the writer thread (one transaction's savepoint each, so a write that fails
//! leaves nothing behind), which also makes the checks-then-writes below race-free.
use std::collections::HashMap;

use async_trait::async_trait;
use natter_core::{ConversationId, UserId};
use rusqlite::{OptionalExtension, params};

use super::writer::Tx;
use super::*;
use crate::store::notify::*;

type Sql<T> = rusqlite::Result<T>;

fn subscription_row(r: &SqliteRow) -> sqlx::Result<PushSubscriptionRow> {
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

fn webhook_row(r: &SqliteRow) -> sqlx::Result<WebhookRow> {
    Ok(WebhookRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        conversation_id: r.try_get("conversation_id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        created_at: r.try_get("created_at")?,
    })
}

fn webhook_state(r: &SqliteRow) -> sqlx::Result<WebhookState> {
    Ok(WebhookState {
        webhook: webhook_row(r)?,
        pos: r.try_get("pos")?,
        delivered_at: r.try_get("delivered_at")?,
        last_error: r.try_get("last_error")?,
        dead_letters: r.try_get("dead_letters")?,
    })
}

// ---- writes, on the writer thread ----

fn server_key(c: &Tx, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
    c.prepare_cached("INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING")?
        .execute(params![name, value])?;
    Ok(
        c.prepare_cached("SELECT value FROM server_keys WHERE name = ?")?
            .query_row([name], |r| r.get(0))?,
    )
}

fn put_push_subscription(c: &Tx, s: &PushSubscriptionRow) -> StoreResult<()> {
    // The session's earlier subscription, and whichever holds the endpoint, are replaced.
    c.prepare_cached(
        "DELETE FROM push_subscriptions WHERE session_id = ?1 OR endpoint = ?2 OR id = ?3",
    )?
    .execute([&s.session_id, &s.endpoint, &s.id])?;
    let n = c
        .prepare_cached(
            "INSERT INTO push_subscriptions (id, user_id, session_id, endpoint, p256dh, auth, created_at) \
             SELECT ?1, user_id, id, ?2, ?3, ?4, ?5 FROM sessions WHERE id = ?6 AND user_id = ?7",
        )?
        .execute(params![
            s.id,
            s.endpoint,
            s.p256dh,
            s.auth,
            s.created_at,
            s.session_id,
            s.user_id
        ])?;
    if n == 0 {
        return Err(Rule::not_found("session").into());
    }
    Ok(())
}

fn set_notification_settings(c: &Tx, user_id: &str, change: &SettingsChange) -> StoreResult<()> {
    let defaults = NotificationSettings::default();
    let (set_dnd, dnd) = match change.dnd_until {
        Some(d) => (true, d),
        None => (false, defaults.dnd_until),
    };
    c.prepare_cached(
        "INSERT INTO notification_settings (user_id, previews, mentions_when_muted, dnd_until) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_id) DO UPDATE SET \
           previews = COALESCE(?5, previews), \
           mentions_when_muted = COALESCE(?6, mentions_when_muted), \
           dnd_until = CASE WHEN ?7 THEN excluded.dnd_until ELSE dnd_until END",
    )?
    .execute(params![
        user_id,
        change.previews.unwrap_or(defaults.previews),
        change
            .mentions_when_muted
            .unwrap_or(defaults.mentions_when_muted),
        dnd,
        change.previews,
        change.mentions_when_muted,
        set_dnd
    ])?;
    Ok(())
}

fn mute(c: &Tx, user_id: &str, conversation_id: &str, until: i64) -> StoreResult<()> {
    // Only a member's row can be muted (WHERE true: the upsert's parse needs it after SELECT).
    let n = c
        .prepare_cached(
            "INSERT INTO mutes (conversation_id, user_id, until) \
             SELECT conversation_id, user_id, ?3 FROM members \
             WHERE conversation_id = ?1 AND user_id = ?2 AND true \
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET until = excluded.until",
        )?
        .execute(params![conversation_id, user_id, until])?;
    if n == 0 {
        return Err(Rule::not_found("conversation").into());
    }
    Ok(())
}

fn claim_follower(
    c: &Tx,
    name: &str,
    holder: &str,
    now: i64,
    lease_until: i64,
    start: i64,
) -> StoreResult<Option<i64>> {
    Ok(c.prepare_cached(
        "INSERT INTO followers (name, pos, holder, lease_until) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until \
         WHERE followers.holder = excluded.holder OR followers.lease_until < ?5 \
         RETURNING pos",
    )?
    .query_row(params![name, start, holder, lease_until, now], |r| r.get(0))
    .optional()?)
}

/// Moves the follower `name` to `pos` with a new lease, if `holder` holds it.
fn advance(c: &Tx, name: &str, holder: &str, pos: i64, lease_until: i64) -> Sql<bool> {
    let n = c
        .prepare_cached(
            "UPDATE followers SET pos = ?3, lease_until = ?4 WHERE name = ?1 AND holder = ?2",
        )?
        .execute(params![name, holder, pos, lease_until])?;
    Ok(n > 0)
}

fn create_webhook(c: &Tx, w: &WebhookRow, max: u32) -> StoreResult<()> {
    let deleted: Option<Option<i64>> = c
        .prepare_cached("SELECT deleted_at FROM users WHERE id = ?")?
        .query_row([&w.user_id], |r| r.get(0))
        .optional()?;
    match deleted {
        None => return Err(Rule::not_found("user").into()),
        Some(Some(_)) => return Err(Rule::forbidden("the account is deleted").into()),
        Some(None) => {}
    }
    let count: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM webhooks WHERE user_id = ?")?
        .query_row([&w.user_id], |r| r.get(0))?;
    if count >= i64::from(max) {
        return Err(Rule::invalid(format!("at most {max} webhooks")).into());
    }
    if let Some(conversation_id) = &w.conversation_id {
        let member = c
            .prepare_cached("SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?")?
            .query_row([conversation_id, &w.user_id], |_| Ok(()))
            .optional()?;
        if member.is_none() {
            return Err(Rule::not_found("conversation").into());
        }
    }
    c.prepare_cached(
        "INSERT INTO webhooks (id, user_id, conversation_id, url, secret, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        w.id,
        w.user_id,
        w.conversation_id,
        w.url,
        w.secret,
        w.created_at
    ])?;
    // The writer allocates positions in commit order: every event logged after this commit is
    // above the head read here.
    let head: i64 = c
        .prepare_cached(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        )?
        .query_row([], |r| r.get(0))?;
    c.prepare_cached(
        "INSERT INTO followers (name, pos, holder, lease_until, webhook_id) VALUES (?, ?, '', 0, ?) \
         ON CONFLICT (name) DO UPDATE SET pos = excluded.pos, holder = '', lease_until = 0, \
           webhook_id = excluded.webhook_id",
    )?
    .execute(params![follower_of(&w.id), head, w.id])?;
    Ok(())
}

fn delete_webhook(c: &Tx, user_id: &str, id: &str) -> StoreResult<bool> {
    let n = c
        .prepare_cached("DELETE FROM webhooks WHERE id = ? AND user_id = ?")?
        .execute([id, user_id])?;
    if n == 0 {
        return Ok(false);
    }
    // Its dead letters and its follower go by cascade; a follower claimed under its name
    // without the reference goes too.
    c.prepare_cached("DELETE FROM followers WHERE name = ?")?
        .execute([follower_of(id)])?;
    Ok(true)
}

fn webhook_delivered(
    c: &Tx,
    id: &str,
    holder: &str,
    pos: i64,
    now: i64,
    lease_until: i64,
) -> StoreResult<bool> {
    if !advance(c, &follower_of(id), holder, pos, lease_until)? {
        return Ok(false);
    }
    c.prepare_cached(
        "UPDATE webhooks SET delivered_at = ?, last_error = NULL, failed_at = NULL WHERE id = ?",
    )?
    .execute(params![now, id])?;
    Ok(true)
}

fn webhook_dead_letter(
    c: &Tx,
    d: &DeadLetterRow,
    holder: &str,
    lease_until: i64,
) -> StoreResult<bool> {
    if !advance(c, &follower_of(&d.webhook_id), holder, d.pos, lease_until)? {
        return Ok(false);
    }
    c.prepare_cached(
        "INSERT INTO webhook_dead_letters (webhook_id, pos, body, attempts, last_error, failed_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        d.webhook_id,
        d.pos,
        d.body,
        d.attempts,
        d.last_error,
        d.failed_at
    ])?;
    c.prepare_cached("UPDATE webhooks SET last_error = ?, failed_at = ? WHERE id = ?")?
        .execute(params![d.last_error, d.failed_at, d.webhook_id])?;
    Ok(true)
}

#[async_trait]
impl Notify for SqliteStore {
    async fn server_key(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.writer
            .write(move |c| server_key(c, &name, &value))
            .await
    }

    async fn put_push_subscription(&self, sub: &PushSubscriptionRow) -> StoreResult<()> {
        let sub = sub.clone();
        self.writer
            .write(move |c| put_push_subscription(c, &sub))
            .await
    }

    async fn push_subscriptions_of(
        &self,
        user_id: &UserId,
    ) -> StoreResult<Vec<PushSubscriptionRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions WHERE user_id = ? \
             ORDER BY created_at, id"
        )))
        .bind(user_id.as_str())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .iter()
            .map(subscription_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn delete_push_subscription(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        let (user_id, id) = (user_id.as_str().to_owned(), id.to_owned());
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached("DELETE FROM push_subscriptions WHERE id = ? AND user_id = ?")?
                    .execute([&id, &user_id])?;
                Ok(n > 0)
            })
            .await
    }

    async fn push_subscription_gone(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.writer
            .write(move |c| {
                c.prepare_cached("DELETE FROM push_subscriptions WHERE id = ?")?
                    .execute([&id])?;
                Ok(())
            })
            .await
    }

    async fn notification_settings(
        &self,
        user_id: &UserId,
        now: i64,
    ) -> StoreResult<NotificationSettings> {
        let mut tx = self.readers.begin().await?;
        let row: Option<(bool, bool, Option<i64>)> = sqlx::query_as(
            "SELECT previews, mentions_when_muted, dnd_until FROM notification_settings \
             WHERE user_id = ?",
        )
        .bind(user_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let muted: Vec<(String, i64)> = sqlx::query_as(
            "SELECT conversation_id, until FROM mutes WHERE user_id = ? AND until > ? \
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
        let (user_id, change) = (user_id.as_str().to_owned(), change.clone());
        self.writer
            .write(move |c| set_notification_settings(c, &user_id, &change))
            .await
    }

    async fn mute(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        until: i64,
    ) -> StoreResult<()> {
        let (user_id, conversation_id) = (
            user_id.as_str().to_owned(),
            conversation_id.as_str().to_owned(),
        );
        self.writer
            .write(move |c| mute(c, &user_id, &conversation_id, until))
            .await
    }

    async fn unmute(&self, user_id: &UserId, conversation_id: &ConversationId) -> StoreResult<()> {
        let (user_id, conversation_id) = (
            user_id.as_str().to_owned(),
            conversation_id.as_str().to_owned(),
        );
        self.writer
            .write(move |c| {
                c.prepare_cached("DELETE FROM mutes WHERE conversation_id = ? AND user_id = ?")?
                    .execute([&conversation_id, &user_id])?;
                Ok(())
            })
            .await
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
        let ids = serde_json::to_string(users).map_err(|e| StoreError::Internal(e.to_string()))?;
        // One query: each subscription of the users, with its user's settings and mute.
        let rows = sqlx::query(
            "SELECT s.id, s.user_id, s.session_id, s.endpoint, s.p256dh, s.auth, s.created_at, \
               ns.previews, ns.mentions_when_muted, ns.dnd_until, m.until AS muted_until \
             FROM push_subscriptions s \
             LEFT JOIN notification_settings ns ON ns.user_id = s.user_id \
             LEFT JOIN mutes m ON m.conversation_id = ?2 AND m.user_id = s.user_id AND m.until > ?3 \
             WHERE s.user_id IN (SELECT value FROM json_each(?1)) \
             ORDER BY s.user_id, s.created_at, s.id",
        )
        .bind(ids)
        .bind(conversation_id.as_str())
        .bind(now)
        .fetch_all(&self.readers)
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
        // In the order the users were given.
        let order: HashMap<&str, usize> = users
            .iter()
            .enumerate()
            .rev()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        targets.sort_by_key(|t| order.get(t.user_id.as_str()).copied());
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
        let (name, holder) = (name.to_owned(), holder.to_owned());
        let until = lease_end(now, lease_ms);
        self.writer
            .write(move |c| claim_follower(c, &name, &holder, now, until, start))
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
        let (name, holder) = (name.to_owned(), holder.to_owned());
        let until = lease_end(now, lease_ms);
        self.writer
            .write(move |c| Ok(advance(c, &name, &holder, pos, until)?))
            .await
    }

    async fn release_follower(&self, name: &str, holder: &str) -> StoreResult<()> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE followers SET holder = '', lease_until = 0 WHERE name = ? AND holder = ?",
                )?
                .execute([&name, &holder])?;
                Ok(())
            })
            .await
    }

    async fn create_webhook(&self, webhook: &WebhookRow, max: u32) -> StoreResult<()> {
        let webhook = webhook.clone();
        self.writer
            .write(move |c| create_webhook(c, &webhook, max))
            .await
    }

    async fn webhooks_of(&self, user_id: &UserId) -> StoreResult<Vec<WebhookState>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WEBHOOK_STATE} WHERE w.user_id = ? ORDER BY w.created_at, w.id"
        )))
        .bind(user_id.as_str())
        .fetch_all(&self.readers)
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
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(webhook_row).collect::<sqlx::Result<_>>()?)
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookState>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WEBHOOK_STATE} WHERE w.id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.as_ref().map(webhook_state).transpose()?)
    }

    async fn delete_webhook(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        let (user_id, id) = (user_id.as_str().to_owned(), id.to_owned());
        self.writer
            .write(move |c| delete_webhook(c, &user_id, &id))
            .await
    }

    async fn webhook_delivered(
        &self,
        id: &str,
        holder: &str,
        pos: i64,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let (id, holder) = (id.to_owned(), holder.to_owned());
        let until = lease_end(now, lease_ms);
        self.writer
            .write(move |c| webhook_delivered(c, &id, &holder, pos, now, until))
            .await
    }

    async fn webhook_failed(&self, id: &str, error: &str, at: i64) -> StoreResult<()> {
        let (id, error) = (id.to_owned(), error.to_owned());
        self.writer
            .write(move |c| {
                c.prepare_cached("UPDATE webhooks SET last_error = ?, failed_at = ? WHERE id = ?")?
                    .execute(params![error, at, id])?;
                Ok(())
            })
            .await
    }

    async fn webhook_dead_letter(
        &self,
        letter: &DeadLetterRow,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let (letter, holder) = (letter.clone(), holder.to_owned());
        let until = lease_end(now, lease_ms);
        self.writer
            .write(move |c| webhook_dead_letter(c, &letter, &holder, until))
            .await
    }

    async fn dead_letters(
        &self,
        webhook_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetterRow>> {
        let rows: Vec<(String, i64, String, i64, String, i64)> = sqlx::query_as(
            "SELECT webhook_id, pos, body, attempts, last_error, failed_at \
             FROM webhook_dead_letters WHERE webhook_id = ? AND pos > ? ORDER BY pos LIMIT ?",
        )
        .bind(webhook_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
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
