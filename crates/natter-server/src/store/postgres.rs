//! The PostgreSQL adapter: for several natter nodes sharing one database.
//!
//! Every write is one transaction on a pooled connection: it loads what its decision needs with
//! row locks (the conversation's row serialises the conversation's writers), asks
//! `natter_core::decide`, applies the changes, and, as its last statement before COMMIT, takes
//! its event positions from the one-row `event_head` table, whose lock it holds until it
//! commits. Positions are so allocated in commit order, without gaps, and a reader of the log
//! can never skip an event that commits late (docs/design/event-order.md). Serialization
//! failures and deadlocks are retried a few times before they become `Unavailable`.
//!
//! Erased content: PostgreSQL keeps dead row versions until they are vacuumed;
//! [`Operations::purge`] vacuums the tables that hold message text and media references. The
//! write-ahead log and the data files' free space may still hold old bytes until PostgreSQL
//! reuses them (see the README).

use std::{
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use natter_core::Role;
use sqlx::{
    PgConnection, Row,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};
use tokio::sync::oneshot;

use super::*;

/// The schema this build reads and writes.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections in the pool unless the URL asks otherwise (`?max_connections=N`).
const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a connection before storage counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages indexed per transaction when the store opens on messages not yet indexed.
const BACKLOG_BATCH: i64 = 2000;
/// Attempts of a write that keeps failing with a serialization failure or a deadlock.
const ATTEMPTS: u32 = 5;

pub struct PgStore {
    /// Reads (the fan-out's tail among them).
    pool: PgPool,
    /// Write transactions, apart: writes queued behind the log head's lock must not take every
    /// connection from the reads, or this node's fan-out would wait behind its own writes.
    writers: PgPool,
    /// Test only: positions from a sequence, taken before commit without `event_head`'s lock
    /// (the naive design, which loses events; see `tests/store/postgres_order.rs`).
    naive_positions: bool,
    fail_next: AtomicBool,
    /// Test only: the next write transaction pauses between taking its positions and COMMIT.
    pause_armed: AtomicBool,
    pause: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
    /// Marks waiting together, coalesced (as the SQLite adapter coalesces them).
    marks: Arc<super::marks::Coalescer>,
}

/// Test only: a write transaction paused before its COMMIT. `reached` fires once it has taken
/// its positions; it commits once `release` is sent (or dropped).
#[doc(hidden)]
pub struct CommitPause {
    pub reached: oneshot::Receiver<()>,
    pub release: oneshot::Sender<()>,
}

/// A SELECT of message columns with whether the viewer, bound as `$1`, hid each one.
macro_rules! select_messages {
    ($tail:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.client_id, m.kind, m.text, \
             m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at, \
             EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $1 AND h.message_id = m.id) AS hidden, \
             m.mentions \
             FROM messages m ",
            $tail
        )
    };
}

mod rows;
mod tx;
mod writes;

use rows::*;
use tx::Fail;

/// Runs `$body` (which uses `$tx: &mut Wtx` and may `?`) in a write transaction and commits it,
/// retrying the whole transaction after a serialization failure, a deadlock or a lost race.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let store: &PgStore = $store;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result: Result<_, Fail> = async {
                let mut w = store.begin_write().await?;
                let $tx = &mut w;
                let out = $body;
                store.commit_write(w).await?;
                Ok(out)
            }
            .await;
            match result {
                Ok(v) => break Ok(v),
                Err(f) if f.retryable() && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(2 * attempt as u64)).await;
                }
                Err(f) => break Err(f.into_store()),
            }
        }
    }};
}

// After `write_tx!`, which it uses.
mod notify;

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`; `?max_connections=N` sizes the pool,
    /// 10 by default) and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::connect(url, None, false).await
    }

    /// Test only: [`PgStore::open`] with every table in `schema` (which must exist).
    #[doc(hidden)]
    pub async fn open_in_schema(url: &str, schema: &str) -> StoreResult<Self> {
        Self::connect(url, Some(schema), false).await
    }

    /// Test only: the naive design, whose event positions come from a sequence, taken without
    /// the head's lock: a reader can skip an event that commits late.
    #[doc(hidden)]
    pub async fn open_naive_in_schema(url: &str, schema: &str) -> StoreResult<Self> {
        Self::connect(url, Some(schema), true).await
    }

    async fn connect(url: &str, schema: Option<&str>, naive_positions: bool) -> StoreResult<Self> {
        let (url, max_connections) = split_max_connections(url)?;
        let mut opts = PgConnectOptions::from_str(&url)?.application_name("natter");
        if let Some(schema) = schema {
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts.clone())
            .await?;
        let writers = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        if naive_positions {
            sqlx::query("CREATE SEQUENCE IF NOT EXISTS naive_event_pos")
                .execute(&pool)
                .await?;
        }
        let store = Self {
            pool,
            writers,
            naive_positions,
            fail_next: AtomicBool::new(false),
            pause_armed: AtomicBool::new(false),
            pause: Mutex::new(None),
            marks: Arc::default(),
        };
        // Messages stored before the search index existed, indexed in batches (one
        // transaction each) before the server takes requests. Nodes opening at once share the
        // work (each skips the rows another holds).
        loop {
            let indexed = write_tx!(&store, |tx| writes::index_backlog(tx, BACKLOG_BATCH)
                .await?)?;
            if indexed == 0 {
                break;
            }
        }
        Ok(store)
    }

    /// Test only: the next write transaction to commit pauses after taking its positions,
    /// holding whatever it locked, until released.
    #[doc(hidden)]
    pub fn pause_next_commit(&self) -> CommitPause {
        let (reached_tx, reached) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        *self.pause.lock().unwrap_or_else(|p| p.into_inner()) = Some((reached_tx, release_rx));
        self.pause_armed.store(true, Ordering::SeqCst);
        CommitPause { reached, release }
    }

    /// A read transaction that sees one snapshot from its first read to its end.
    async fn snapshot(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn head_in(&self, conn: &mut PgConnection) -> sqlx::Result<i64> {
        if self.naive_positions {
            naive_head(conn).await
        } else {
            sqlx::query_scalar("SELECT pos FROM event_head WHERE id = 1")
                .fetch_one(conn)
                .await
        }
    }
}

async fn naive_head(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(pos), 0)::BIGINT FROM events")
        .fetch_one(conn)
        .await
}

/// Takes `max_connections=N` out of the URL's query (sqlx does not know it).
fn split_max_connections(url: &str) -> StoreResult<(String, u32)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), DEFAULT_MAX_CONNECTIONS));
    };
    let mut max = DEFAULT_MAX_CONNECTIONS;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("max_connections", n)) => {
                max = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::Internal(format!("database URL: max_connections={n:?}"))
                })?;
            }
            _ if pair.is_empty() => {}
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, max))
}

#[async_trait]
impl Accounts for PgStore {
    async fn create_user(&self, user: &UserRow) -> StoreResult<()> {
        write_tx!(self, |tx| writes::create_user(tx, user).await?)
    }

    async fn register(
        &self,
        user: &UserRow,
        mode: Registration,
        invite: Option<&str>,
    ) -> StoreResult<UserRow> {
        write_tx!(self, |tx| writes::register(tx, user, mode, invite).await?)
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn set_display_name(&self, user_id: &UserId, name: &str, at: i64) -> StoreResult<()> {
        write_tx!(self, |tx| writes::set_display_name(
            tx,
            user_id.as_str(),
            name,
            at
        )
        .await?)
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep: &SessionId,
    ) -> StoreResult<Vec<String>> {
        write_tx!(self, |tx| writes::set_password(
            tx,
            user_id.as_str(),
            password_hash,
            keep.as_str()
        )
        .await?)
    }

    async fn update_account(
        &self,
        manager: Option<&UserId>,
        target: &UserId,
        update: &AccountUpdate,
        at: i64,
    ) -> StoreResult<(UserRow, Vec<String>)> {
        let manager = manager.map(UserId::as_str);
        let target = target.as_str();
        write_tx!(self, |tx| writes::update_account(
            tx, manager, target, update, at
        )
        .await?)
    }

    async fn delete_account(&self, user_id: &UserId, at: i64) -> StoreResult<AccountDeleted> {
        let user_id = user_id.as_str();
        write_tx!(self, |tx| writes::delete_account(tx, user_id, at).await?)
    }

    async fn list_users(
        &self,
        prefix: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query(
            "SELECT * FROM users WHERE username >= $1 AND substr(username, 1, length($1)) = $1 \
             AND ($2::BIGINT IS NULL OR created_at < $2) ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(prefix)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let (users, conversations, messages, media_bytes): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL), \
                    (SELECT COUNT(*) FROM conversations), \
                    (SELECT COUNT(*) FROM messages WHERE deleted_at IS NULL), \
                    (SELECT COALESCE(SUM(size), 0)::BIGINT FROM media)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreStats {
            users,
            conversations,
            messages,
            media_bytes,
        })
    }

    async fn create_invite(&self, invite: &InviteRow) -> StoreResult<()> {
        write_tx!(self, |tx| writes::create_invite(tx, invite).await?)
    }

    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>> {
        let row = sqlx::query("SELECT * FROM invites WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(invite_row).transpose()?)
    }

    async fn invites_of(&self, creator_id: &UserId) -> StoreResult<Vec<InviteRow>> {
        let rows = sqlx::query(
            "SELECT * FROM invites WHERE creator_id = $1 ORDER BY created_at DESC, code DESC",
        )
        .bind(creator_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(invite_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_invite(&self, code: &str, actor: &UserId) -> StoreResult<()> {
        write_tx!(self, |tx| writes::delete_invite(tx, code, actor.as_str())
            .await?)
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRow>> {
        let id = id.as_str();
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn search_users(
        &self,
        viewer: &UserId,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        // A range scan on the unique index (byte order); no LIKE, so '%' and '_' are literal.
        // Whether a user blocked the viewer is a primary key look-up per user scanned.
        let rows = sqlx::query(
            "SELECT * FROM users u WHERE username >= $1 AND substr(username, 1, length($1)) = $1 \
             AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $3) \
             ORDER BY username LIMIT $2",
        )
        .bind(prefix)
        .bind(i64::from(limit))
        .bind(viewer.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn set_last_seen(&self, user_id: &UserId, at: i64) -> StoreResult<()> {
        let user_id = user_id.as_str();
        write_tx!(self, |tx| writes::set_last_seen(tx, user_id, at).await?)
    }

    async fn contacts_of(&self, user_id: &UserId) -> StoreResult<Vec<String>> {
        let user_id = user_id.as_str();
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT other.user_id FROM members mine \
             JOIN members other ON other.conversation_id = mine.conversation_id \
             WHERE mine.user_id = $1 AND other.user_id <> $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn contacts_among(&self, user_id: &UserId, ids: &[String]) -> StoreResult<Vec<String>> {
        let user_id = user_id.as_str();
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM UNNEST($2::text[]) WITH ORDINALITY AS t(id, i) \
             WHERE EXISTS (SELECT 1 FROM members mine JOIN members other \
                 ON other.conversation_id = mine.conversation_id AND other.user_id = t.id \
                 WHERE mine.user_id = $1) \
             ORDER BY t.i",
        )
        .bind(user_id)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn existing_users(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM UNNEST($1::text[]) WITH ORDINALITY AS t(id, i) \
             WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.id) ORDER BY t.i",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn block(&self, blocker: &UserId, blocked: &UserId, at: i64) -> StoreResult<()> {
        write_tx!(self, |tx| writes::block(
            tx,
            blocker.as_str(),
            blocked.as_str(),
            at
        )
        .await?)
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<()> {
        write_tx!(self, |tx| writes::unblock(
            tx,
            blocker.as_str(),
            blocked.as_str()
        )
        .await?)
    }

    async fn blocked_by(&self, blocker: &UserId) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query(
            "SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id \
             WHERE b.blocker_id = $1 ORDER BY u.username",
        )
        .bind(blocker.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn blocked_ids(&self, blocker: &UserId) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT blocked_id FROM blocks WHERE blocker_id = $1")
                .bind(blocker.as_str())
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn has_blocked(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2)",
        )
        .bind(blocker.as_str())
        .bind(blocked.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn create_session(&self, s: &SessionRow) -> StoreResult<()> {
        write_tx!(self, |tx| writes::create_session(tx, s).await?)
    }

    async fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session_row).transpose()?)
    }

    async fn touch_session(&self, id: &SessionId, at: i64) -> StoreResult<()> {
        let id = id.as_str();
        write_tx!(self, |tx| writes::touch_session(tx, id, at).await?)
    }

    async fn sessions_of(&self, user_id: &UserId) -> StoreResult<Vec<SessionRow>> {
        let user_id = user_id.as_str();
        let rows = sqlx::query("SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(session_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_session(&self, user_id: &UserId, id: &SessionId) -> StoreResult<bool> {
        let user_id = user_id.as_str();
        let id = id.as_str();
        write_tx!(self, |tx| writes::delete_session(tx, user_id, id).await?)
    }

    async fn delete_idle_sessions(&self, before: i64) -> StoreResult<Vec<String>> {
        write_tx!(self, |tx| writes::delete_idle_sessions(tx, before).await?)
    }
}

#[async_trait]
impl Conversations for PgStore {
    async fn create_direct(
        &self,
        new_id: &ConversationId,
        a: &UserId,
        b: &UserId,
        at: i64,
    ) -> StoreResult<(String, bool)> {
        let new_id = new_id.as_str();
        let a = a.as_str();
        let b = b.as_str();
        write_tx!(self, |tx| writes::create_direct(tx, new_id, a, b, at)
            .await?)
    }

    async fn create_group(
        &self,
        id: &ConversationId,
        owner: &UserId,
        name: &str,
        members: &[String],
        at: i64,
    ) -> StoreResult<()> {
        let id = id.as_str();
        let owner = owner.as_str();
        write_tx!(self, |tx| writes::create_group(
            tx, id, owner, name, members, at
        )
        .await?)
    }

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<ConversationRow>> {
        let id = id.as_str();
        let mut conn = self.pool.acquire().await?;
        Ok(conversation_in(&mut conn, id).await?)
    }

    async fn member(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
    ) -> StoreResult<Option<MemberRow>> {
        let conversation_id = conversation_id.as_str();
        let user_id = user_id.as_str();
        let mut conn = self.pool.acquire().await?;
        Ok(member_in(&mut conn, conversation_id, user_id).await?)
    }

    async fn members(&self, conversation_id: &ConversationId) -> StoreResult<Vec<MemberRow>> {
        let conversation_id = conversation_id.as_str();
        let mut conn = self.pool.acquire().await?;
        Ok(members_in(&mut conn, conversation_id).await?)
    }

    async fn member_usernames(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.username FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.conversation_id = $1 ORDER BY m.join_order",
        )
        .bind(conversation_id.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn conversation_view(
        &self,
        conversation_id: &ConversationId,
        viewer: &UserId,
    ) -> StoreResult<Option<ConversationView>> {
        let conversation_id = conversation_id.as_str();
        let viewer = viewer.as_str();
        let mut tx = self.snapshot().await?;
        let v = view_in(&mut tx, conversation_id, viewer).await?;
        tx.commit().await?;
        Ok(v)
    }

    async fn conversation_views(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Option<ConversationViews>> {
        let conversation_id = conversation_id.as_str();
        let mut tx = self.snapshot().await?;
        let Some(conversation) = conversation_in(&mut tx, conversation_id).await? else {
            return Ok(None);
        };
        // Read as no one: "" is no user's id, so nothing counts as hidden.
        let last_message = sqlx::query(select_messages!(
            "WHERE m.conversation_id = $2 AND m.seq = $3"
        ))
        .bind("")
        .bind(conversation_id)
        .bind(conversation.last_seq)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(message_row)
        .transpose()?;
        let rows = sqlx::query(
            "SELECT mb.user_id, mb.role, mb.joined_at, mb.joined_seq, mb.joined_pos, \
                    mb.delivered_seq, mb.read_seq, \
                    (SELECT COUNT(*) FROM messages m \
                     WHERE m.conversation_id = mb.conversation_id \
                       AND m.seq > GREATEST(mb.read_seq, mb.joined_seq) \
                       AND m.sender_id <> mb.user_id AND m.deleted_at IS NULL \
                       AND NOT EXISTS (SELECT 1 FROM hidden_messages h \
                                       WHERE h.user_id = mb.user_id AND h.message_id = m.id) \
                    ) AS unread_count, \
                    (SELECT COUNT(*) FROM mentions n JOIN messages m ON m.id = n.message_id \
                     WHERE n.user_id = mb.user_id AND n.conversation_id = mb.conversation_id \
                       AND n.seq > GREATEST(mb.read_seq, mb.joined_seq) AND m.deleted_at IS NULL \
                       AND NOT EXISTS (SELECT 1 FROM hidden_messages h \
                                       WHERE h.user_id = mb.user_id AND h.message_id = m.id) \
                    ) AS mention_count, \
                    EXISTS (SELECT 1 FROM hidden_messages h \
                            WHERE h.user_id = mb.user_id AND h.message_id = $2) AS hid_last \
             FROM members mb WHERE mb.conversation_id = $1 ORDER BY mb.join_order",
        )
        .bind(conversation_id)
        .bind(last_message.as_ref().map(|m| m.id.as_str()))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut members = Vec::with_capacity(rows.len());
        let mut viewers = Vec::with_capacity(rows.len());
        for r in &rows {
            members.push(member_row(r)?);
            viewers.push(ViewerState {
                unread_count: r.try_get("unread_count")?,
                mention_count: r.try_get("mention_count")?,
                hid_last_message: r.try_get("hid_last")?,
            });
        }
        Ok(Some(ConversationViews {
            conversation,
            members,
            last_message,
            viewers,
        }))
    }

    async fn conversations_of(
        &self,
        viewer: &UserId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationView>> {
        let viewer = viewer.as_str();
        let mut tx = self.snapshot().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM conversations c JOIN members m ON m.conversation_id = c.id \
             WHERE m.user_id = $1 AND ($2::BIGINT IS NULL OR c.last_message_at < $2) \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT $3",
        )
        .bind(viewer)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(view_in(&mut tx, &id, viewer).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn rename(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        name: &str,
        at: i64,
    ) -> StoreResult<()> {
        let actor = actor.as_str();
        let conversation_id = conversation_id.as_str();
        write_tx!(self, |tx| writes::rename(
            tx,
            actor,
            conversation_id,
            name,
            at
        )
        .await?)
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
        let actor = actor.as_str();
        let conversation_id = conversation_id.as_str();
        let user_id = user_id.as_str();
        write_tx!(self, |tx| writes::add_member(
            tx,
            actor,
            conversation_id,
            user_id,
            role,
            max_members,
            at
        )
        .await?)
    }

    async fn remove_member(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        at: i64,
    ) -> StoreResult<Removed> {
        let actor = actor.as_str();
        let conversation_id = conversation_id.as_str();
        let user_id = user_id.as_str();
        write_tx!(self, |tx| writes::remove_member(
            tx,
            actor,
            conversation_id,
            user_id,
            at
        )
        .await?)
    }

    async fn set_role(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        role: Role,
        at: i64,
    ) -> StoreResult<()> {
        let actor = actor.as_str();
        let conversation_id = conversation_id.as_str();
        let user_id = user_id.as_str();
        write_tx!(self, |tx| writes::set_role(
            tx,
            actor,
            conversation_id,
            user_id,
            role,
            at
        )
        .await?)
    }
}

#[async_trait]
impl Messages for PgStore {
    async fn send(&self, msg: &NewMessage) -> StoreResult<Sent> {
        write_tx!(self, |tx| writes::send(tx, msg).await?)
    }

    async fn message_by_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &UserId,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>> {
        let conversation_id = conversation_id.as_str();
        let sender = sender.as_str();
        let row = sqlx::query(select_messages!(
            "WHERE m.conversation_id = $2 AND m.sender_id = $1 AND m.client_id = $3"
        ))
        .bind(sender)
        .bind(conversation_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(message_row).transpose()?)
    }

    async fn message(&self, id: &MessageId, viewer: &UserId) -> StoreResult<Option<MessageRow>> {
        let id = id.as_str();
        let viewer = viewer.as_str();
        let mut conn = self.pool.acquire().await?;
        Ok(message_in(&mut conn, id, viewer).await?)
    }

    async fn messages_by_id(&self, ids: &[String]) -> StoreResult<Vec<MessageRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(select_messages!("WHERE m.id = ANY($2)"))
            .bind("")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(message_row).collect::<sqlx::Result<_>>()?)
    }

    async fn hidden_by(&self, message_id: &MessageId) -> StoreResult<Vec<String>> {
        let message_id = message_id.as_str();
        Ok(sqlx::query_scalar(
            "SELECT mb.user_id FROM messages m \
             JOIN members mb ON mb.conversation_id = m.conversation_id \
             WHERE m.id = $1 AND EXISTS (SELECT 1 FROM hidden_messages h \
                                         WHERE h.user_id = mb.user_id AND h.message_id = $1) \
             ORDER BY mb.join_order",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?)
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
        let conversation_id = conversation_id.as_str();
        let viewer = viewer.as_str();
        let lower = after.unwrap_or(0).max(min_seq);
        let upper = before.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        let rows = if after.is_some() {
            sqlx::query(select_messages!(
                "WHERE m.conversation_id = $2 AND m.seq > $3 AND m.seq < $4 ORDER BY m.seq ASC LIMIT $5"
            ))
        } else {
            sqlx::query(select_messages!(
                "WHERE m.conversation_id = $2 AND m.seq > $3 AND m.seq < $4 ORDER BY m.seq DESC LIMIT $5"
            ))
        }
        .bind(viewer)
        .bind(conversation_id)
        .bind(lower)
        .bind(upper)
        .bind(fetch)
        .fetch_all(&self.pool)
        .await?;
        let mut msgs = rows
            .iter()
            .map(message_row)
            .collect::<sqlx::Result<Vec<_>>>()?;
        let has_more = msgs.len() > limit as usize;
        msgs.truncate(limit as usize);
        if after.is_none() {
            msgs.reverse();
        }
        Ok((msgs, has_more))
    }

    async fn edit(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        text: &str,
        mentions: &[String],
        at: i64,
    ) -> StoreResult<()> {
        let actor = actor.as_str();
        let message_id = message_id.as_str();
        write_tx!(self, |tx| writes::edit(
            tx, actor, message_id, text, mentions, at
        )
        .await?)
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
        let user_id = user_id.as_str();
        let message_id = message_id.as_str();
        write_tx!(self, |tx| writes::react(
            tx,
            user_id,
            message_id,
            emoji,
            add,
            max_distinct,
            at
        )
        .await?)
    }

    async fn reaction_counts(
        &self,
        message_ids: &[String],
        viewer: &UserId,
    ) -> StoreResult<Vec<ReactionCount>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, i64, bool)> = sqlx::query_as(
            "SELECT r.message_id, r.emoji, COUNT(*), bool_or(r.user_id = $2) \
             FROM reactions r WHERE r.message_id = ANY($1) \
             GROUP BY r.message_id, r.emoji ORDER BY r.message_id, MIN(r.created_at), r.emoji",
        )
        .bind(message_ids)
        .bind(viewer.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(message_id, emoji, count, me)| ReactionCount {
                message_id,
                emoji,
                count,
                me,
            })
            .collect())
    }

    async fn reactions(
        &self,
        message_id: &MessageId,
        emoji: Option<&str>,
        after: Option<&ReactionCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ReactionRow>> {
        let (at, user, em) = match after {
            Some((at, user, em)) => (Some(*at), user.as_str(), em.as_str()),
            None => (None, "", ""),
        };
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT emoji, user_id, created_at FROM reactions \
             WHERE message_id = $1 AND ($2::text IS NULL OR emoji = $2) \
               AND ($3::bigint IS NULL OR (created_at, user_id, emoji) > ($3, $4, $5)) \
             ORDER BY created_at, user_id, emoji LIMIT $6",
        )
        .bind(message_id.as_str())
        .bind(emoji)
        .bind(at)
        .bind(user)
        .bind(em)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(emoji, user_id, created_at)| ReactionRow {
                emoji,
                user_id,
                created_at,
            })
            .collect())
    }

    async fn search(
        &self,
        query: &natter_core::search::Query,
        scope: &SearchScope<'_>,
    ) -> StoreResult<Vec<MessageRow>> {
        let (before_at, before_id) = match &scope.before {
            Some((at, id)) => (Some(*at), id.as_str()),
            None => (None, ""),
        };
        // The query is cast, not parsed: its terms are the words the index holds.
        let rows = sqlx::query(select_messages!(
            "JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $1 \
             WHERE m.search @@ $2::tsquery \
               AND m.seq > mb.joined_seq AND m.deleted_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $1 AND h.message_id = m.id) \
               AND ($3::text IS NULL OR m.conversation_id = $3) \
               AND ($4::bigint IS NULL OR (m.created_at, m.id) < ($4, $5)) \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $6"
        ))
        .bind(scope.viewer.as_str())
        .bind(query.tsquery())
        .bind(scope.conversation_id.map(|c| c.as_str()))
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(scope.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(message_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_for_everyone(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        at: i64,
    ) -> StoreResult<Option<String>> {
        let actor = actor.as_str();
        let message_id = message_id.as_str();
        write_tx!(self, |tx| writes::delete_for_everyone(
            tx, actor, message_id, at
        )
        .await?)
    }

    async fn hide(&self, user_id: &UserId, message_id: &MessageId, at: i64) -> StoreResult<()> {
        let user_id = user_id.as_str();
        let message_id = message_id.as_str();
        write_tx!(self, |tx| writes::hide(tx, user_id, message_id, at).await?)
    }

    async fn mark(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        kind: MarkKind,
        seq: i64,
        at: i64,
    ) -> StoreResult<bool> {
        let user_id = user_id.as_str();
        let conversation_id = conversation_id.as_str();
        // Marks of one key that arrive while one is on its way join it: the transaction takes
        // the highest seq asked only once it has begun.
        let key = (
            conversation_id.to_owned(),
            user_id.to_owned(),
            kind == MarkKind::Read,
        );
        let pending = match self.marks.join(&key, seq, at) {
            super::marks::Turn::Follow(done) => {
                return super::marks::follow(done).await;
            }
            super::marks::Turn::Lead(p) => p,
        };
        let answer = write_tx!(self, |tx| {
            let (seq, at) = self.marks.start(&key, &pending);
            writes::mark(tx, user_id, conversation_id, kind, seq, at).await?
        });
        self.marks.finish(&key, &pending, &answer);
        answer
    }

    async fn mark_times(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        seq: i64,
    ) -> StoreResult<MarkTimes> {
        let conversation_id = conversation_id.as_str();
        let user_id = user_id.as_str();
        let (delivered_at, read_at): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT \
               (SELECT MIN(at) FROM mark_moves WHERE conversation_id = $1 AND user_id = $2 AND kind = 'delivered' AND up_to_seq >= $3), \
               (SELECT MIN(at) FROM mark_moves WHERE conversation_id = $1 AND user_id = $2 AND kind = 'read' AND up_to_seq >= $3)",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(seq)
        .fetch_one(&self.pool)
        .await?;
        Ok(MarkTimes {
            delivered_at,
            read_at,
        })
    }
}

#[async_trait]
impl MediaRecords for PgStore {
    async fn media(&self, id: &MediaId) -> StoreResult<Option<MediaRow>> {
        let id = id.as_str();
        let row = sqlx::query("SELECT * FROM media WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(media_row).transpose()?)
    }

    async fn insert_media(&self, m: &MediaRow) -> StoreResult<()> {
        write_tx!(self, |tx| writes::insert_media(tx, m).await?)
    }

    async fn media_visible_to(&self, media_id: &MediaId, user_id: &UserId) -> StoreResult<bool> {
        let media_id = media_id.as_str();
        let user_id = user_id.as_str();
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM media WHERE id = $1 AND uploader_id = $2) \
                 OR EXISTS (SELECT 1 FROM messages m JOIN members mb \
                            ON mb.conversation_id = m.conversation_id AND mb.user_id = $2 \
                            WHERE m.media_id = $1 AND m.seq > mb.joined_seq)",
        )
        .bind(media_id)
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn delete_media_if_unused(&self, id: &MediaId) -> StoreResult<Option<String>> {
        let id = id.as_str();
        write_tx!(self, |tx| writes::delete_media_if_unused(tx, id).await?)
    }

    async fn media_bytes_of(&self, user_id: &UserId) -> StoreResult<i64> {
        let user_id = user_id.as_str();
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0)::BIGINT FROM media WHERE uploader_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn orphan_media(&self, before: i64, limit: u32) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM media md WHERE md.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_id = md.id) \
             ORDER BY md.created_at LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }
}

#[async_trait]
impl EventLog for PgStore {
    async fn head(&self) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await?;
        Ok(self.head_in(&mut conn).await?)
    }

    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT pos, kind, conversation_id, user_id, message_id, data, created_at FROM events WHERE pos > $1 ORDER BY pos LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_row).collect::<sqlx::Result<_>>()?)
    }

    async fn prune_events(&self, before: i64) -> StoreResult<i64> {
        write_tx!(self, |tx| writes::prune_events(tx, before).await?)
    }

    async fn pruned_up_to(&self) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await?;
        Ok(pruned_in(&mut conn).await?)
    }

    async fn events_for(
        &self,
        user_id: &UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<EventRow>> {
        let user_id = user_id.as_str();
        let mut conn = self.pool.acquire().await?;
        Ok(events_for_in(&mut conn, user_id, after, limit).await?)
    }

    async fn backlog(&self, user_id: &UserId, after: i64, limit: u32) -> StoreResult<Backlog> {
        let user_id = user_id.as_str();
        // One snapshot: the head, the pruned bound and the events agree.
        let mut tx = self.snapshot().await?;
        let head = self.head_in(&mut tx).await?;
        let pruned_up_to = pruned_in(&mut tx).await?;
        let events = events_for_in(&mut tx, user_id, after, limit).await?;
        tx.rollback().await?;
        Ok(Backlog {
            head,
            pruned_up_to,
            events,
        })
    }
}

#[async_trait]
impl Operations for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn fail_next_commit(&self) -> StoreResult<()> {
        self.fail_next.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Vacuums the tables that hold message text (and the search words made of it), mentions,
    /// reactions, media references and the log, so that the dead row versions an edit or a
    /// deletion left behind are removed (outside any transaction, as VACUUM must run). Then
    /// rebuilds the search index: a GIN index never deletes a key, so a word only an erased
    /// text held would stay in it for good; `REINDEX … CONCURRENTLY` builds a fresh one from
    /// the live rows without blocking reads or writes. Old bytes may still linger in free
    /// space and in the write-ahead log until PostgreSQL reuses them; `VACUUM FULL` would
    /// rewrite the tables but locks them, so it is left to the operator.
    async fn purge(&self) -> StoreResult<()> {
        // One statement per query: several in one string would run in one transaction.
        for sql in [
            "VACUUM messages, hidden_messages, mentions, reactions, media, events",
            "REINDEX INDEX CONCURRENTLY messages_search",
        ] {
            sqlx::raw_sql(sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn close(&self) {
        self.writers.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_connections_is_taken_out_of_the_url() {
        let (url, n) = split_max_connections("postgres://u@h/db").unwrap();
        assert_eq!(
            (url.as_str(), n),
            ("postgres://u@h/db", DEFAULT_MAX_CONNECTIONS)
        );
        let (url, n) =
            split_max_connections("postgres://u@h/db?sslmode=require&max_connections=3").unwrap();
        assert_eq!((url.as_str(), n), ("postgres://u@h/db?sslmode=require", 3));
        let (url, n) = split_max_connections("postgres://u@h/db?max_connections=7").unwrap();
        assert_eq!((url.as_str(), n), ("postgres://u@h/db", 7));
        assert!(split_max_connections("postgres://u@h/db?max_connections=0").is_err());
        assert!(split_max_connections("postgres://u@h/db?max_connections=x").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_database_is_unavailable() {
        // Port 1 on the loopback: nothing listens there, the connection is refused at once.
        match PgStore::open("postgres://natter@127.0.0.1:1/natter").await {
            Err(StoreError::Unavailable(_)) => {}
            Err(e) => panic!("expected Unavailable, got {e:?}"),
            Ok(_) => panic!("connected to nothing"),
        }
    }
}
