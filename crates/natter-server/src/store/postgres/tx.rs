//! The PostgreSQL adapter's write transactions: why one fails (and whether to retry it), the
//! events it queues, and its commit, which appends them at the log's head.

use std::sync::atomic::Ordering;

use natter_core::Error as Rule;
use sqlx::{PgConnection, Postgres};

use super::{PgStore, naive_head};
use crate::store::{EventKind, StoreError};

/// Why a write transaction did not commit: an engine error (perhaps one worth retrying), an
/// answer of the port, or a race the transaction lost and that a retry resolves.
#[derive(Debug)]
pub(super) enum Fail {
    Sql(sqlx::Error),
    Store(StoreError),
    /// Lost a race on a unique key that a fresh transaction sees resolved (a concurrent
    /// `create_direct` of the same pair).
    Retry,
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<Rule> for Fail {
    fn from(e: Rule) -> Self {
        Fail::Store(StoreError::Rule(e))
    }
}

impl Fail {
    /// Whether a fresh transaction may succeed: a serialization failure, a deadlock, or a lost
    /// race.
    pub(super) fn retryable(&self) -> bool {
        match self {
            Fail::Sql(e) => matches!(sqlstate(e).as_deref(), Some("40001" | "40P01")),
            Fail::Retry => true,
            Fail::Store(_) => false,
        }
    }

    pub(super) fn into_store(self) -> StoreError {
        match self {
            Fail::Sql(e) => e.into(),
            Fail::Store(e) => e,
            Fail::Retry => StoreError::Unavailable("a write kept losing a race; retry".into()),
        }
    }
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// A unique violation (23505).
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some("23505")
}

/// A foreign key violation (23503).
pub(super) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some("23503")
}

/// An event waiting for its position.
pub(super) struct Queued {
    pub kind: EventKind,
    pub conversation_id: String,
    pub user_id: Option<String>,
    pub message_id: Option<String>,
    pub data: Option<String>,
    pub at: i64,
}

/// A write transaction, with the events it will append and the members whose join point is the
/// log's head at that moment.
pub(super) struct Wtx {
    pub tx: sqlx::Transaction<'static, Postgres>,
    pub events: Vec<Queued>,
    pub joined: Vec<(String, String)>,
}

impl Wtx {
    pub(super) fn new(tx: sqlx::Transaction<'static, Postgres>) -> Self {
        Self {
            tx,
            events: Vec::new(),
            joined: Vec::new(),
        }
    }

    pub(super) fn c(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

impl PgStore {
    pub(super) async fn begin_write(&self) -> Result<Wtx, Fail> {
        Ok(Wtx::new(self.writers.begin().await?))
    }

    /// Appends the transaction's events at the log's head (its last statement: the head's lock
    /// is held from here to COMMIT only), sets the join points of the members it added, and
    /// commits.
    pub(super) async fn commit_write(&self, mut w: Wtx) -> Result<(), Fail> {
        if !w.events.is_empty() || !w.joined.is_empty() {
            let n = w.events.len() as i64;
            let mut kinds = Vec::with_capacity(w.events.len());
            let mut conversations = Vec::with_capacity(w.events.len());
            let mut users = Vec::with_capacity(w.events.len());
            let mut messages = Vec::with_capacity(w.events.len());
            let mut datas = Vec::with_capacity(w.events.len());
            let mut ats = Vec::with_capacity(w.events.len());
            for e in w.events.drain(..) {
                kinds.push(e.kind.as_str());
                conversations.push(e.conversation_id);
                users.push(e.user_id);
                messages.push(e.message_id);
                datas.push(e.data);
                ats.push(e.at);
            }
            // The head just before this transaction's events: its new members' join point.
            let before: i64 = if self.naive_positions {
                let positions: Vec<i64> = sqlx::query_scalar(
                    "SELECT nextval('naive_event_pos') FROM generate_series(1, $1)",
                )
                .bind(n)
                .fetch_all(&mut *w.tx)
                .await?;
                sqlx::query(
                    "INSERT INTO events (pos, kind, conversation_id, user_id, message_id, data, created_at) \
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])",
                )
                .bind(&positions)
                .bind(&kinds)
                .bind(&conversations)
                .bind(&users)
                .bind(&messages)
                .bind(&datas)
                .bind(&ats)
                .execute(&mut *w.tx)
                .await?;
                match positions.first() {
                    Some(p) => p - 1,
                    None => naive_head(&mut w.tx).await?,
                }
            } else {
                // One statement: take n positions (locking the head until COMMIT) and store
                // the events at them.
                let head: i64 = sqlx::query_scalar(
                    "WITH h AS (UPDATE event_head SET pos = pos + $1 WHERE id = 1 RETURNING pos), \
                     ins AS (INSERT INTO events (pos, kind, conversation_id, user_id, message_id, data, created_at) \
                       SELECT h.pos - $1 + t.i, t.kind, t.conversation_id, t.user_id, t.message_id, t.data, t.created_at \
                       FROM h, UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) \
                            WITH ORDINALITY AS t(kind, conversation_id, user_id, message_id, data, created_at, i)) \
                     SELECT pos FROM h",
                )
                .bind(n)
                .bind(&kinds)
                .bind(&conversations)
                .bind(&users)
                .bind(&messages)
                .bind(&datas)
                .bind(&ats)
                .fetch_one(&mut *w.tx)
                .await?;
                head - n
            };
            for (conversation_id, user_id) in &w.joined {
                sqlx::query(
                    "UPDATE members SET joined_pos = $1 WHERE conversation_id = $2 AND user_id = $3",
                )
                .bind(before)
                .bind(conversation_id)
                .bind(user_id)
                .execute(&mut *w.tx)
                .await?;
            }
        }
        if self.pause_armed.load(Ordering::Relaxed)
            && self.pause_armed.swap(false, Ordering::SeqCst)
        {
            let pause = self.pause.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some((reached, release)) = pause {
                let _ = reached.send(());
                let _ = release.await;
            }
        }
        if self.fail_next.load(Ordering::Relaxed) && self.fail_next.swap(false, Ordering::SeqCst) {
            w.tx.rollback().await?;
            return Err(Fail::Store(StoreError::Unavailable(
                "the commit failed (injected); nothing was stored".into(),
            )));
        }
        w.tx.commit().await?;
        Ok(())
    }
}
