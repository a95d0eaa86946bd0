//! The SQLite adapter: the embedded default, one file, nothing else to run.
//!
//! One writer connection and a pool of readers. SQLite allows one writer at a time anyway;
//! funnelling every write through one connection makes the order in which event positions are
//! allocated the order in which they commit, so a reader of the log can never skip an event
//! that commits late. WAL lets readers run beside the writer. `secure_delete` overwrites erased
//! content in the database file; [`Store::purge`] then checkpoints and truncates the WAL, whose
//! old frames would still hold it.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use natter_core::{
    ConversationKind, Error as Rule, MessageKind, Role,
    decide::{self, Change, Decision, NewEvent},
    receipts::{self, Marks},
};
use sqlx::{
    Connection, Row, SqliteConnection,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};

use tokio::sync::{mpsc, oneshot};

use super::*;

/// The schema this build reads and writes.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    /// Sends go to the group-commit task.
    sends: mpsc::Sender<Job>,
    /// Whether writes are failing for want of storage, and the health probe's last answer.
    health: Arc<WriteHealth>,
    /// The database file, whose file system `ping` checks for free space.
    path: PathBuf,
}

/// Writes fail for want of storage (a full disk, an I/O error): `ping` says so until a write
/// commits again. Set by every write that fails so, cleared by every write that commits.
#[derive(Default)]
struct WriteHealth {
    failing: AtomicBool,
    /// When the write path was last probed, and whether the probe committed. `/healthz` is
    /// unauthenticated, so a probe (one small commit) runs at most once per [`PROBE_EVERY`].
    probe: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

/// How often, at most, `ping` proves the write path with a real commit.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Free space below which the database's file system counts as full: a send of the longest
/// text, its event and the WAL frames around them need less than this.
const MIN_FREE_BYTES: u64 = 1 << 20;

impl WriteHealth {
    fn note<T>(&self, r: &StoreResult<T>) {
        match r {
            Ok(_) => {
                if self.failing.load(Ordering::Relaxed) {
                    self.failing.store(false, Ordering::Relaxed);
                }
            }
            Err(StoreError::Unavailable(_)) => self.failing.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
    }
}

/// Whether SQLite itself has a transaction open on this connection (it is out of autocommit
/// mode). sqlx keeps its own count of open transactions, which a failed `COMMIT` or a
/// transaction that SQLite rolled back on its own (after `SQLITE_FULL`, `SQLITE_IOERR`,
/// `SQLITE_BUSY`, an interrupt) leaves wrong; only the engine knows for sure, and sqlx has no
/// safe call that asks it.
async fn engine_in_transaction(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is locked, so no other thread uses the connection meanwhile, and
    // `sqlite3_get_autocommit` only reads one flag of it.
    let autocommit =
        unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) };
    Ok(autocommit == 0)
}

/// A pooled connection is handed out only when neither sqlx nor SQLite has a transaction open
/// on it; otherwise the pool closes it (closing rolls back whatever was open) and opens a new
/// one. This is what makes a failed commit harmless: without it the next `BEGIN` would become a
/// `SAVEPOINT` inside a transaction that never commits, and every later "commit" would store
/// nothing while its caller is told that it did.
async fn is_idle(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    if conn.is_in_transaction() {
        tracing::warn!("discarding a database connection left inside a transaction");
        return Ok(false);
    }
    if engine_in_transaction(conn).await? {
        tracing::warn!("discarding a database connection that SQLite keeps in a transaction");
        return Ok(false);
    }
    Ok(true)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a send is acknowledged only once it survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON");
        let path = PathBuf::from(opts.get_filename());
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Internal(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .before_acquire(|conn, _| Box::pin(is_idle(conn)))
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .before_acquire(|conn, _| Box::pin(is_idle(conn)))
            .connect_with(opts.read_only(true))
            .await?;
        let (sends, jobs) = mpsc::channel(SEND_QUEUE);
        let health = Arc::new(WriteHealth::default());
        tokio::spawn(group_commit(writer.clone(), jobs, health.clone()));
        Ok(Self {
            writer,
            readers,
            sends,
            health,
            path,
        })
    }

    /// Records what a write did for [`Store::ping`], and passes its result on.
    fn note<T>(&self, r: StoreResult<T>) -> StoreResult<T> {
        self.health.note(&r);
        r
    }

    /// Proves that a write can commit now: free space on the database's file system, and one
    /// small commit.
    async fn probe_write(&self) -> StoreResult<()> {
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(st) = rustix::fs::statvfs(dir) {
                let free = st.f_bavail.saturating_mul(st.f_frsize);
                if free < MIN_FREE_BYTES {
                    return Err(StoreError::Unavailable(format!(
                        "{free} bytes free on the database's file system"
                    )));
                }
            }
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO health_probe (id, at) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(natter_core::time::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Writes a consistent copy of the database at `url` (`sqlite://path`) to `path`, whether or not
/// a server is running on it, and changes nothing of it: it is opened read-only, nothing is
/// migrated or checkpointed, and no writer starts. A database whose schema is not this build's
/// is refused, since a server of this build could not open the copy as it is.
pub async fn backup(url: &str, path: &Path) -> StoreResult<()> {
    if path.exists() {
        return Err(StoreError::Internal(format!(
            "{} exists already",
            path.display()
        )));
    }
    let target = path
        .to_str()
        .ok_or_else(|| StoreError::Internal("the backup path is not UTF-8".into()))?;
    let opts = SqliteConnectOptions::from_str(url)?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10));
    let source = opts.get_filename().to_owned();
    if !source.is_file() {
        return Err(StoreError::Internal(format!(
            "there is no database at {}",
            source.display()
        )));
    }
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    let copied = async {
        let ours = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let theirs: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut conn)
                .await
                .map_err(|_| {
                    StoreError::Internal(format!(
                        "{} is not a natter database (it has no schema version)",
                        source.display()
                    ))
                })?;
        if theirs != Some(ours) {
            let theirs = theirs.map_or("none".to_owned(), |v| v.to_string());
            return Err(StoreError::Internal(format!(
                "the schema version of {} is {theirs}, this natter's is {ours}: back it up with \
                 the natter version that serves it (nothing was written)",
                source.display()
            )));
        }
        // VACUUM INTO reads one snapshot (a read transaction), so the copy is consistent while
        // a server goes on writing.
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut conn)
            .await?;
        Ok(())
    }
    .await;
    conn.close().await?;
    copied
}

// ---- row decoding ----

fn user_row(r: &SqliteRow) -> sqlx::Result<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
    })
}

fn session_row(r: &SqliteRow) -> sqlx::Result<SessionRow> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        token_hash: r.try_get("token_hash")?,
        device_name: r.try_get("device_name")?,
        created_at: r.try_get("created_at")?,
        last_active_at: r.try_get("last_active_at")?,
    })
}

fn conversation_row(r: &SqliteRow) -> sqlx::Result<ConversationRow> {
    let kind: String = r.try_get("kind")?;
    Ok(ConversationRow {
        id: r.try_get("id")?,
        kind: ConversationKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_message_at: r.try_get("last_message_at")?,
        last_seq: r.try_get("last_seq")?,
        all_delivered_seq: r.try_get("all_delivered_seq")?,
        all_read_seq: r.try_get("all_read_seq")?,
    })
}

fn member_row(r: &SqliteRow) -> sqlx::Result<MemberRow> {
    let role: String = r.try_get("role")?;
    Ok(MemberRow {
        user_id: r.try_get("user_id")?,
        role: Role::parse(&role).ok_or_else(|| decode_err("role", &role))?,
        joined_at: r.try_get("joined_at")?,
        joined_seq: r.try_get("joined_seq")?,
        joined_pos: r.try_get("joined_pos")?,
        marks: Marks {
            delivered_seq: r.try_get("delivered_seq")?,
            read_seq: r.try_get("read_seq")?,
        },
    })
}

fn message_row(r: &SqliteRow) -> sqlx::Result<MessageRow> {
    let kind: String = r.try_get("kind")?;
    let deleted_at: Option<i64> = r.try_get("deleted_at")?;
    Ok(MessageRow {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        seq: r.try_get("seq")?,
        sender_id: r.try_get("sender_id")?,
        client_id: r.try_get("client_id")?,
        kind: MessageKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        text: r.try_get("text")?,
        media_id: r.try_get("media_id")?,
        reply_to: r.try_get("reply_to")?,
        created_at: r.try_get("created_at")?,
        edited_at: r.try_get("edited_at")?,
        deleted: deleted_at.is_some(),
        hidden: r.try_get::<i64, _>("hidden")? != 0,
    })
}

fn media_row(r: &SqliteRow) -> sqlx::Result<MediaRow> {
    Ok(MediaRow {
        id: r.try_get("id")?,
        uploader_id: r.try_get("uploader_id")?,
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        filename: r.try_get("filename")?,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        has_thumbnail: r.try_get::<i64, _>("has_thumbnail")? != 0,
        thumbnail_type: r.try_get("thumbnail_type")?,
        sha256: r.try_get("sha256")?,
        is_image: r.try_get::<i64, _>("is_image")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

fn event_row(r: &SqliteRow) -> sqlx::Result<EventRow> {
    let kind: String = r.try_get("kind")?;
    Ok(EventRow {
        pos: r.try_get("pos")?,
        kind: EventKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        conversation_id: r.try_get("conversation_id")?,
        user_id: r.try_get("user_id")?,
        message_id: r.try_get("message_id")?,
        data: r.try_get("data")?,
        created_at: r.try_get("created_at")?,
    })
}

fn decode_err(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {column} {value:?}").into())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A SELECT of message columns with whether the viewer, bound as `?1`, hid each one.
macro_rules! select_messages {
    ($tail:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.client_id, m.kind, m.text, \
             m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at, \
             EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?1 AND h.message_id = m.id) AS hidden \
             FROM messages m ",
            $tail
        )
    };
}

// ---- reads of the event log, alone or inside a read transaction ----

async fn pruned_in(conn: &mut SqliteConnection) -> sqlx::Result<i64> {
    let pruned: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")
            .fetch_optional(conn)
            .await?;
    Ok(pruned.unwrap_or(0))
}

async fn events_for_in(
    conn: &mut SqliteConnection,
    user_id: &str,
    after: i64,
    limit: u32,
) -> sqlx::Result<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT e.pos, e.kind, e.conversation_id, e.user_id, e.message_id, e.data, e.created_at \
         FROM events e \
         WHERE e.pos > ?1 AND (e.user_id = ?2 OR (e.user_id IS NULL AND EXISTS ( \
             SELECT 1 FROM members m WHERE m.conversation_id = e.conversation_id \
             AND m.user_id = ?2 AND m.joined_pos < e.pos))) \
         ORDER BY e.pos LIMIT ?3",
    )
    .bind(after)
    .bind(user_id)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(event_row).collect()
}

// ---- helpers used inside write transactions ----

async fn head_in(conn: &mut SqliteConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
    )
    .fetch_one(conn)
    .await
}

async fn append_event(
    conn: &mut SqliteConnection,
    kind: EventKind,
    conversation_id: &str,
    user_id: Option<&str>,
    message_id: Option<&str>,
    data: Option<String>,
    at: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO events (kind, conversation_id, user_id, message_id, data, created_at) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING pos",
    )
    .bind(kind.as_str())
    .bind(conversation_id)
    .bind(user_id)
    .bind(message_id)
    .bind(data)
    .bind(at)
    .fetch_one(conn)
    .await
}

async fn conversation_in(conn: &mut SqliteConnection, id: &str) -> StoreResult<ConversationRow> {
    let row = sqlx::query(
        "SELECT id, kind, name, created_at, last_message_at, last_seq, all_delivered_seq, all_read_seq \
         FROM conversations WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(r) => Ok(conversation_row(&r)?),
        None => Err(Rule::not_found("conversation").into()),
    }
}

async fn member_in(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    user_id: &str,
) -> sqlx::Result<Option<MemberRow>> {
    let row = sqlx::query(
        "SELECT user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq \
         FROM members WHERE conversation_id = ? AND user_id = ?",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(member_row).transpose()
}

async fn members_in(
    conn: &mut SqliteConnection,
    conversation_id: &str,
) -> sqlx::Result<Vec<MemberRow>> {
    let rows = sqlx::query(
        "SELECT user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq \
         FROM members WHERE conversation_id = ? ORDER BY join_order",
    )
    .bind(conversation_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(member_row).collect()
}

async fn insert_member(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    joined_seq: i64,
    at: i64,
) -> sqlx::Result<()> {
    let head = head_in(conn).await?;
    sqlx::query(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, join_order, joined_seq, joined_pos) \
         VALUES (?1, ?2, ?3, ?4, \
                 (SELECT COALESCE(MAX(join_order), 0) + 1 FROM members WHERE conversation_id = ?1), \
                 ?5, ?6)",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(at)
    .bind(joined_seq)
    .bind(head)
    .execute(&mut *conn)
    .await?;
    count_members(conn, conversation_id, 1).await
}

/// A message as `viewer` sees it, read inside a transaction.
async fn message_in(
    conn: &mut SqliteConnection,
    id: &str,
    viewer: &str,
) -> sqlx::Result<Option<MessageRow>> {
    let row = sqlx::query(select_messages!("WHERE m.id = ?2"))
        .bind(viewer)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(message_row).transpose()
}

/// A message as `viewer` sees it, with the viewer's membership of its conversation; `404` if
/// there is no such message (whether the viewer may see it is the decision's to say).
async fn message_and_viewer_in(
    conn: &mut SqliteConnection,
    id: &str,
    viewer: &str,
) -> StoreResult<(MessageRow, Option<decide::Member>)> {
    let msg = message_in(conn, id, viewer)
        .await?
        .ok_or_else(|| Rule::not_found("message"))?;
    let me = decided_member_in(conn, &msg.conversation_id, viewer).await?;
    Ok((msg, me))
}

/// What the decisions need of a conversation, read inside a write transaction.
struct Facts {
    id: String,
    kind: ConversationKind,
    last_seq: i64,
    member_count: i64,
}

impl Facts {
    fn view(&self) -> decide::Conversation<'_> {
        decide::Conversation {
            id: &self.id,
            kind: self.kind,
            last_seq: self.last_seq,
            member_count: self.member_count.max(0) as usize,
        }
    }
}

/// The conversation's facts, or `404` if there is none.
async fn facts_in(conn: &mut SqliteConnection, id: &str) -> StoreResult<Facts> {
    let row: Option<(String, i64, i64)> =
        sqlx::query_as("SELECT kind, last_seq, member_count FROM conversations WHERE id = ?")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    let (kind, last_seq, member_count) =
        row.ok_or_else(|| StoreError::from(Rule::not_found("conversation")))?;
    Ok(Facts {
        id: id.to_owned(),
        kind: ConversationKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        last_seq,
        member_count,
    })
}

/// A member as the decisions see it.
fn decided(m: &MemberRow) -> decide::Member {
    decide::Member {
        user_id: m.user_id.clone(),
        role: m.role,
        joined_seq: m.joined_seq,
        marks: m.marks,
    }
}

async fn decided_member_in(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    user_id: &str,
) -> sqlx::Result<Option<decide::Member>> {
    Ok(member_in(conn, conversation_id, user_id)
        .await?
        .as_ref()
        .map(decided))
}

/// A stored message as the decisions see it.
fn decided_message(m: &MessageRow) -> decide::Message<'_> {
    decide::Message {
        id: &m.id,
        conversation_id: &m.conversation_id,
        seq: m.seq,
        sender_id: &m.sender_id,
        deleted: m.deleted,
    }
}

/// The conversation's stored watermarks, and those its current members' marks give now. Two
/// indexed look-ups, whatever the number of members.
async fn watermarks_in(
    conn: &mut SqliteConnection,
    conversation_id: &str,
) -> sqlx::Result<(receipts::Watermarks, receipts::Watermarks)> {
    let (stored_delivered, stored_read, delivered, read): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT c.all_delivered_seq, c.all_read_seq, \
           COALESCE((SELECT MIN(MAX(joined_seq, delivered_seq)) FROM members WHERE conversation_id = c.id), c.last_seq), \
           COALESCE((SELECT MIN(MAX(joined_seq, read_seq)) FROM members WHERE conversation_id = c.id), c.last_seq) \
         FROM conversations c WHERE c.id = ?",
    )
    .bind(conversation_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        receipts::Watermarks {
            all_delivered_seq: stored_delivered,
            all_read_seq: stored_read,
        },
        receipts::Watermarks {
            all_delivered_seq: delivered,
            all_read_seq: read,
        },
    ))
}

/// Applies a decision inside the caller's transaction: its changes, then its events, then,
/// if it asks, the conversation's watermarks as [`decide::watermarks`] decides them.
async fn apply<T>(conn: &mut SqliteConnection, d: &Decision<T>) -> sqlx::Result<()> {
    apply_changes(conn, &d.changes, &d.events).await?;
    if let Some((conversation_id, at)) = &d.watermarks_of {
        let (stored, now) = watermarks_in(conn, conversation_id).await?;
        let w = decide::watermarks(conversation_id, stored, now, *at);
        apply_changes(conn, &w.changes, &w.events).await?;
    }
    Ok(())
}

async fn apply_changes(
    conn: &mut SqliteConnection,
    changes: &[Change],
    events: &[NewEvent],
) -> sqlx::Result<()> {
    for c in changes {
        apply_change(conn, c).await?;
    }
    for e in events {
        let (kind, message_id, data) = payload::encode(e);
        append_event(
            conn,
            kind,
            &e.conversation_id,
            e.to.as_deref(),
            message_id,
            data,
            e.at,
        )
        .await?;
    }
    Ok(())
}

async fn apply_change(conn: &mut SqliteConnection, c: &Change) -> sqlx::Result<()> {
    match c {
        Change::CreateConversation {
            id,
            kind,
            name,
            direct_key,
            at,
        } => {
            sqlx::query(
                "INSERT INTO conversations (id, kind, name, direct_key, created_at, last_message_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(kind.as_str())
            .bind(name)
            .bind(direct_key)
            .bind(at)
            .bind(at)
            .execute(conn)
            .await?;
        }
        Change::AddMember {
            conversation_id,
            user_id,
            role,
            joined_seq,
            at,
        } => insert_member(conn, conversation_id, user_id, *role, *joined_seq, *at).await?,
        Change::RemoveMember {
            conversation_id,
            user_id,
        } => {
            sqlx::query("DELETE FROM members WHERE conversation_id = ? AND user_id = ?")
                .bind(conversation_id)
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
            count_members(conn, conversation_id, -1).await?;
        }
        Change::DeleteConversation { conversation_id } => {
            sqlx::query("DELETE FROM conversations WHERE id = ?")
                .bind(conversation_id)
                .execute(conn)
                .await?;
        }
        Change::SetRole {
            conversation_id,
            user_id,
            role,
        } => {
            sqlx::query("UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?")
                .bind(role.as_str())
                .bind(conversation_id)
                .bind(user_id)
                .execute(conn)
                .await?;
        }
        Change::Rename {
            conversation_id,
            name,
        } => {
            sqlx::query("UPDATE conversations SET name = ? WHERE id = ?")
                .bind(name)
                .bind(conversation_id)
                .execute(conn)
                .await?;
        }
        Change::InsertMessage { message: m, seq } => {
            sqlx::query("UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?")
                .bind(seq)
                .bind(m.created_at)
                .bind(&m.conversation_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, media_id, reply_to, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&m.id)
            .bind(&m.conversation_id)
            .bind(seq)
            .bind(&m.sender_id)
            .bind(&m.client_id)
            .bind(m.kind.as_str())
            .bind(&m.text)
            .bind(&m.media_id)
            .bind(&m.reply_to)
            .bind(m.created_at)
            .execute(conn)
            .await?;
        }
        Change::SetMarks {
            conversation_id,
            user_id,
            marks,
        } => {
            sqlx::query(
                "UPDATE members SET delivered_seq = ?, read_seq = ? WHERE conversation_id = ? AND user_id = ?",
            )
            .bind(marks.delivered_seq)
            .bind(marks.read_seq)
            .bind(conversation_id)
            .bind(user_id)
            .execute(conn)
            .await?;
        }
        Change::RecordMarkMove {
            conversation_id,
            user_id,
            read,
            up_to_seq,
            at,
        } => {
            sqlx::query(
                "INSERT INTO mark_moves (conversation_id, user_id, kind, up_to_seq, at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(conversation_id)
            .bind(user_id)
            .bind(if *read { "read" } else { "delivered" })
            .bind(up_to_seq)
            .bind(at)
            .execute(conn)
            .await?;
        }
        Change::EditMessage {
            message_id,
            text,
            at,
        } => {
            sqlx::query("UPDATE messages SET text = ?, edited_at = ? WHERE id = ?")
                .bind(text)
                .bind(at)
                .bind(message_id)
                .execute(conn)
                .await?;
        }
        Change::EraseMessage { message_id, at } => {
            sqlx::query(
                "UPDATE messages SET text = NULL, media_id = NULL, deleted_at = ? WHERE id = ?",
            )
            .bind(at)
            .bind(message_id)
            .execute(conn)
            .await?;
        }
        Change::HideMessage {
            user_id,
            message_id,
        } => {
            sqlx::query(
                "INSERT INTO hidden_messages (user_id, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(message_id)
            .execute(conn)
            .await?;
        }
        Change::SetWatermarks {
            conversation_id,
            watermarks,
        } => {
            sqlx::query(
                "UPDATE conversations SET all_delivered_seq = ?, all_read_seq = ? WHERE id = ?",
            )
            .bind(watermarks.all_delivered_seq)
            .bind(watermarks.all_read_seq)
            .bind(conversation_id)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Keeps the conversation's member count in step after members joined (`by > 0`) or left.
async fn count_members(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    by: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE conversations SET member_count = member_count + ? WHERE id = ?")
        .bind(by)
        .bind(conversation_id)
        .execute(conn)
        .await?;
    Ok(())
}

impl SqliteStore {
    /// One decided write in a transaction of its own: `decide` loads what the decision needs
    /// and makes it; the decision is applied and committed, and its outcome returned.
    async fn decided<T, F>(&self, decide: F) -> StoreResult<T>
    where
        F: AsyncFnOnce(&mut SqliteConnection) -> StoreResult<Decision<T>>,
    {
        self.note(
            async {
                let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
                let d = decide(&mut tx).await?;
                if !d.is_empty() {
                    apply(&mut tx, &d).await?;
                }
                tx.commit().await?;
                Ok(d.outcome)
            }
            .await,
        )
    }
}

impl SqliteStore {
    async fn view_in(
        &self,
        conn: &mut SqliteConnection,
        conversation_id: &str,
        viewer: &str,
    ) -> StoreResult<Option<ConversationView>> {
        let Some(me) = member_in(conn, conversation_id, viewer).await? else {
            return Ok(None);
        };
        let conversation = conversation_in(conn, conversation_id).await?;
        let members = members_in(conn, conversation_id).await?;
        let last_message = if conversation.last_seq > me.joined_seq {
            let row = sqlx::query(select_messages!(
                "WHERE m.conversation_id = ?2 AND m.seq = ?3"
            ))
            .bind(viewer)
            .bind(conversation_id)
            .bind(conversation.last_seq)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(message_row).transpose()?
        } else {
            None
        };
        let unread_count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages m \
             WHERE m.conversation_id = ?1 AND m.seq > ?2 AND m.sender_id <> ?3 \
               AND m.deleted_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?3 AND h.message_id = m.id)",
        )
        .bind(conversation_id)
        .bind(me.marks.read_seq.max(me.joined_seq))
        .bind(viewer)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Some(ConversationView {
            conversation,
            members,
            last_message,
            unread_count,
            read_seq: me.marks.read_seq,
        }))
    }
}

/// A send inside the batch's transaction: loads what the decision needs (the conversation, the
/// sender's membership, an earlier send under the same `client_id`, `reply_to`'s target),
/// decides, and applies.
async fn send_in(tx: &mut SqliteConnection, msg: &NewMessage) -> StoreResult<Sent> {
    let conv = facts_in(tx, &msg.conversation_id).await?;
    let me = decided_member_in(tx, &msg.conversation_id, &msg.sender_id).await?;
    let earlier = match (&msg.client_id, &me) {
        (Some(cid), Some(_)) => {
            let row = sqlx::query(select_messages!(
                "WHERE m.conversation_id = ?2 AND m.sender_id = ?1 AND m.client_id = ?3"
            ))
            .bind(&msg.sender_id)
            .bind(&msg.conversation_id)
            .bind(cid)
            .fetch_optional(&mut *tx)
            .await?;
            row.as_ref().map(message_row).transpose()?
        }
        _ => None,
    };
    let reply_target: Option<(String, i64)> = match &msg.reply_to {
        Some(id) if earlier.is_none() => {
            sqlx::query_as("SELECT conversation_id, seq FROM messages WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
        }
        _ => None,
    };
    let state = decide::SendState {
        conversation: conv.view(),
        sender: me.as_ref(),
        already_sent: earlier.is_some(),
        reply_target: reply_target.as_ref().map(|(c, seq)| (c.as_str(), *seq)),
    };
    let d = decide::send(state, msg)?;
    let seq = match (d.outcome.clone(), earlier) {
        (decide::Send::AlreadySent, Some(message)) => {
            return Ok(Sent {
                message,
                created: false,
            });
        }
        (decide::Send::Stored(seq), _) => seq,
        (decide::Send::AlreadySent, None) => {
            return Err(StoreError::Internal(
                "no earlier send to answer with".into(),
            ));
        }
    };
    apply(tx, &d).await.map_err(send_failed)?;
    Ok(Sent {
        message: MessageRow {
            id: msg.id.clone(),
            conversation_id: msg.conversation_id.clone(),
            seq,
            sender_id: msg.sender_id.clone(),
            client_id: msg.client_id.clone(),
            kind: msg.kind,
            text: msg.text.clone(),
            media_id: msg.media_id.clone(),
            reply_to: msg.reply_to.clone(),
            created_at: msg.created_at,
            edited_at: None,
            deleted: false,
            hidden: false,
        },
        created: true,
    })
}

/// A write waiting for the group-commit writer: a send, or a member's mark.
enum Job {
    Send {
        msg: NewMessage,
        reply: oneshot::Sender<StoreResult<Sent>>,
    },
    Mark {
        user_id: String,
        conversation_id: String,
        kind: MarkKind,
        seq: i64,
        at: i64,
        reply: oneshot::Sender<StoreResult<bool>>,
    },
}

/// A job's answer, sent once the batch has committed.
enum Answer {
    Sent(StoreResult<Sent>),
    Marked(StoreResult<bool>),
}

impl Job {
    fn answer(self, answer: Answer) {
        match (self, answer) {
            (Job::Send { reply, .. }, Answer::Sent(a)) => {
                let _ = reply.send(a);
            }
            (Job::Mark { reply, .. }, Answer::Marked(a)) => {
                let _ = reply.send(a);
            }
            // Answers are made per job, so their kinds always match.
            (Job::Send { reply, .. }, Answer::Marked(_)) => {
                let _ = reply.send(Err(StoreError::Internal("mismatched answer".into())));
            }
            (Job::Mark { reply, .. }, Answer::Sent(_)) => {
                let _ = reply.send(Err(StoreError::Internal("mismatched answer".into())));
            }
        }
    }

    fn fail(self, e: StoreError) {
        match self {
            Job::Send { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Job::Mark { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// Writes queued at most before a caller waits for room.
const SEND_QUEUE: usize = 4096;
/// Writes stored in one transaction at most.
const BATCH_MAX: usize = 256;

/// Group commit: the writer takes every send and mark that is waiting, stores them all in one
/// transaction, commits once, and only then answers each. Many writes share one fsync; none is
/// acknowledged before it is durable. Marks of one member of one conversation in one batch
/// coalesce into one move (the highest), so a burst of marks costs one event and one fsync.
///
/// Each send, and each coalesced mark, runs inside a savepoint of its own, so one that fails
/// (a send whose media was collected meanwhile, say) is rolled back alone and answered alone,
/// and the others commit. An error after which SQLite has rolled back the whole transaction (a
/// full disk, an I/O error) fails the whole batch: nothing of it was stored, each caller hears
/// `unavailable` and retries (a send with its `client_id`).
async fn group_commit(writer: SqlitePool, mut jobs: mpsc::Receiver<Job>, health: Arc<WriteHealth>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while jobs.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let result = store_batch(&writer, &batch).await;
        health.note(&result);
        match result {
            Ok(answers) => {
                for (job, answer) in batch.drain(..).zip(answers) {
                    job.answer(answer);
                }
            }
            Err(e) => {
                let why = e.to_string();
                for job in batch.drain(..) {
                    job.fail(match &e {
                        StoreError::Unavailable(_) => {
                            StoreError::Unavailable(format!("commit failed: {why}"))
                        }
                        _ => StoreError::Internal(format!("commit failed: {why}")),
                    });
                }
            }
        }
    }
}

/// Runs one unit of a batch inside its own savepoint. `Ok(Err(..))` is a failure of that unit
/// alone (rolled back to its savepoint); `Err` one that lost the whole transaction.
async fn isolated<T, F>(tx: &mut SqliteConnection, unit: F) -> StoreResult<StoreResult<T>>
where
    F: AsyncFnOnce(&mut SqliteConnection) -> StoreResult<T>,
{
    // Plain SQL savepoints: sqlx's own count stays at the one transaction.
    sqlx::query("SAVEPOINT unit").execute(&mut *tx).await?;
    let r = unit(&mut *tx).await;
    if r.is_ok() {
        sqlx::query("RELEASE unit").execute(&mut *tx).await?;
        return Ok(r);
    }
    if !engine_in_transaction(tx).await? {
        // SQLite rolled the whole transaction back: the batch is lost.
        return Err(r
            .err()
            .unwrap_or_else(|| StoreError::Internal("lost transaction".into())));
    }
    sqlx::query("ROLLBACK TO unit; RELEASE unit")
        .execute(&mut *tx)
        .await?;
    Ok(r)
}

/// Marks that coalesce: (conversation, member, read rather than delivered).
type MarkKey<'a> = (&'a str, &'a str, bool);
/// The highest seq and time asked for one [`MarkKey`], and the jobs that asked.
type CoalescedMark = (i64, i64, Vec<usize>);

/// Stores one batch in one transaction; the answer of each job, once committed.
async fn store_batch(writer: &SqlitePool, batch: &[Job]) -> StoreResult<Vec<Answer>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut answers: Vec<Option<Answer>> = batch.iter().map(|_| None).collect();
    for (i, job) in batch.iter().enumerate() {
        if let Job::Send { msg, .. } = job {
            let r = isolated(&mut tx, async |tx| send_in(tx, msg).await).await?;
            answers[i] = Some(Answer::Sent(r));
        }
    }
    // Marks after the sends, coalesced: one move per member, conversation and kind, to the
    // highest seq asked, answered to every job that asked.
    let mut marks: std::collections::BTreeMap<MarkKey, CoalescedMark> = Default::default();
    for (i, job) in batch.iter().enumerate() {
        if let Job::Mark {
            user_id,
            conversation_id,
            kind,
            seq,
            at,
            ..
        } = job
        {
            let e = marks
                .entry((conversation_id, user_id, *kind == MarkKind::Read))
                .or_insert((*seq, *at, Vec::new()));
            e.0 = e.0.max(*seq);
            e.1 = e.1.max(*at);
            e.2.push(i);
        }
    }
    for ((conversation_id, user_id, read), (seq, at, jobs)) in marks {
        let kind = if read {
            MarkKind::Read
        } else {
            MarkKind::Delivered
        };
        let r = isolated(&mut tx, async |tx| {
            mark_in(tx, user_id, conversation_id, kind, seq, at).await
        })
        .await?;
        for i in jobs {
            answers[i] = Some(Answer::Marked(match &r {
                Ok(moved) => Ok(*moved),
                Err(StoreError::Rule(rule)) => Err(StoreError::Rule(rule.clone())),
                Err(StoreError::Unavailable(why)) => Err(StoreError::Unavailable(why.clone())),
                Err(e) => Err(StoreError::Internal(e.to_string())),
            }));
        }
    }
    tx.commit().await?;
    Ok(answers
        .into_iter()
        .map(|a| {
            a.unwrap_or(Answer::Marked(Err(StoreError::Internal(
                "unanswered".into(),
            ))))
        })
        .collect())
}

/// Moves `user_id`'s mark in a conversation up to `seq` (capped at the last seq).
async fn mark_in(
    tx: &mut SqliteConnection,
    user_id: &str,
    conversation_id: &str,
    kind: MarkKind,
    seq: i64,
    at: i64,
) -> StoreResult<bool> {
    let conv = facts_in(tx, conversation_id).await?;
    let me = decided_member_in(tx, conversation_id, user_id).await?;
    let d = decide::mark(conv.view(), me.as_ref(), kind == MarkKind::Read, seq, at)?;
    apply(tx, &d).await?;
    Ok(d.outcome)
}

/// The answer to one send whose writes failed while the batch went on.
fn send_failed(e: sqlx::Error) -> StoreError {
    // The only constraint a checked send can still break: its media was erased (collected as
    // an orphan, or its message deleted) between the application's check and the write.
    if let sqlx::Error::Database(d) = &e
        && d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation
    {
        return Rule::not_found("media").into();
    }
    e.into()
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(&self, user: &UserRow) -> StoreResult<()> {
        self.note(async {
        let res = sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(Rule::conflict("that username is taken").into())
            }
            Err(e) => Err(e.into()),
        }
        }
        .await)
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn search_users(&self, prefix: &str, limit: u32) -> StoreResult<Vec<UserRow>> {
        // A range scan on the unique index; no LIKE, so '%' and '_' in the prefix are literal.
        let rows = sqlx::query(
            "SELECT * FROM users WHERE username >= ?1 AND substr(username, 1, length(?1)) = ?1 \
             ORDER BY username LIMIT ?2",
        )
        .bind(prefix)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn set_last_seen(&self, user_id: &str, at: i64) -> StoreResult<()> {
        self.note(
            async {
                sqlx::query("UPDATE users SET last_seen_at = ? WHERE id = ?")
                    .bind(at)
                    .bind(user_id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }
            .await,
        )
    }

    async fn contacts_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT other.user_id FROM members mine \
             JOIN members other ON other.conversation_id = mine.conversation_id \
             WHERE mine.user_id = ?1 AND other.user_id <> ?1",
        )
        .bind(user_id)
        .fetch_all(&self.readers)
        .await?)
    }

    async fn contacts_among(&self, user_id: &str, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut found = Vec::new();
        let mut conn = self.readers.acquire().await?;
        for id in ids {
            let shares: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM members mine JOIN members other \
                 ON other.conversation_id = mine.conversation_id AND other.user_id = ?2 \
                 WHERE mine.user_id = ?1)",
            )
            .bind(user_id)
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            if shares {
                found.push(id.clone());
            }
        }
        Ok(found)
    }

    async fn existing_users(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut found = Vec::with_capacity(ids.len());
        let mut conn = self.readers.acquire().await?;
        for id in ids {
            let hit: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            found.extend(hit);
        }
        Ok(found)
    }

    async fn create_session(&self, s: &SessionRow) -> StoreResult<()> {
        self.note(async {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, device_name, created_at, last_active_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.token_hash)
        .bind(&s.device_name)
        .bind(s.created_at)
        .bind(s.last_active_at)
        .execute(&self.writer)
        .await?;
        Ok(())
        }
        .await)
    }

    async fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = ?")
            .bind(hash)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(session_row).transpose()?)
    }

    async fn touch_session(&self, id: &str, at: i64) -> StoreResult<()> {
        self.note(
            async {
                sqlx::query("UPDATE sessions SET last_active_at = ? WHERE id = ?")
                    .bind(at)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }
            .await,
        )
    }

    async fn sessions_of(&self, user_id: &str) -> StoreResult<Vec<SessionRow>> {
        let rows = sqlx::query("SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(&self.readers)
            .await?;
        Ok(rows.iter().map(session_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_session(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        self.note(
            async {
                let done = sqlx::query("DELETE FROM sessions WHERE id = ? AND user_id = ?")
                    .bind(id)
                    .bind(user_id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
            .await,
        )
    }

    async fn delete_idle_sessions(&self, before: i64) -> StoreResult<Vec<String>> {
        self.note(
            async {
                Ok(
                    sqlx::query_scalar(
                        "DELETE FROM sessions WHERE last_active_at < ? RETURNING id",
                    )
                    .bind(before)
                    .fetch_all(&self.writer)
                    .await?,
                )
            }
            .await,
        )
    }
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn create_direct(
        &self,
        new_id: &str,
        a: &str,
        b: &str,
        at: i64,
    ) -> StoreResult<(String, bool)> {
        self.decided(async |tx| {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = ?")
                    .bind(decide::direct_key(a, b))
                    .fetch_optional(&mut *tx)
                    .await?;
            Ok(decide::create_direct(new_id, a, b, existing, at))
        })
        .await
    }

    async fn create_group(
        &self,
        id: &str,
        owner: &str,
        name: &str,
        members: &[String],
        at: i64,
    ) -> StoreResult<()> {
        self.decided(async |_| Ok(decide::create_group(id, owner, name, members, at)))
            .await
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRow>> {
        let mut conn = self.readers.acquire().await?;
        match conversation_in(&mut conn, id).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::Rule(Rule::NotFound(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn member(&self, conversation_id: &str, user_id: &str) -> StoreResult<Option<MemberRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(member_in(&mut conn, conversation_id, user_id).await?)
    }

    async fn members(&self, conversation_id: &str) -> StoreResult<Vec<MemberRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(members_in(&mut conn, conversation_id).await?)
    }

    async fn conversation_view(
        &self,
        conversation_id: &str,
        viewer: &str,
    ) -> StoreResult<Option<ConversationView>> {
        // One read transaction, so that the view is consistent.
        let mut tx = self.readers.begin().await?;
        let v = self.view_in(&mut tx, conversation_id, viewer).await?;
        tx.commit().await?;
        Ok(v)
    }

    async fn conversation_views(
        &self,
        conversation_id: &str,
    ) -> StoreResult<Option<ConversationViews>> {
        // One read transaction, so that every member's view is of the same moment.
        let mut tx = self.readers.begin().await?;
        let conversation = match conversation_in(&mut tx, conversation_id).await {
            Ok(c) => c,
            Err(StoreError::Rule(Rule::NotFound(_))) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Read as no one: "" is no user's id, so nothing counts as hidden.
        let last_message = sqlx::query(select_messages!(
            "WHERE m.conversation_id = ?2 AND m.seq = ?3"
        ))
        .bind("")
        .bind(conversation_id)
        .bind(conversation.last_seq)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(message_row)
        .transpose()?;
        // Every member's unread count in one statement; the same count as a single view's.
        let rows = sqlx::query(
            "SELECT mb.user_id, mb.role, mb.joined_at, mb.joined_seq, mb.joined_pos,                     mb.delivered_seq, mb.read_seq,                     (SELECT COUNT(*) FROM messages m                      WHERE m.conversation_id = mb.conversation_id                        AND m.seq > MAX(mb.read_seq, mb.joined_seq)                        AND m.sender_id <> mb.user_id AND m.deleted_at IS NULL                        AND NOT EXISTS (SELECT 1 FROM hidden_messages h                                        WHERE h.user_id = mb.user_id AND h.message_id = m.id)                     ) AS unread_count,                     EXISTS (SELECT 1 FROM hidden_messages h                             WHERE h.user_id = mb.user_id AND h.message_id = ?2) AS hid_last              FROM members mb WHERE mb.conversation_id = ?1 ORDER BY mb.join_order",
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
                hid_last_message: r.try_get::<i64, _>("hid_last")? != 0,
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
        viewer: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationView>> {
        let mut tx = self.readers.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM conversations c JOIN members m ON m.conversation_id = c.id \
             WHERE m.user_id = ?1 AND (?2 IS NULL OR c.last_message_at < ?2) \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?3",
        )
        .bind(viewer)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.view_in(&mut tx, &id, viewer).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn rename(
        &self,
        actor: &str,
        conversation_id: &str,
        name: &str,
        at: i64,
    ) -> StoreResult<()> {
        self.decided(async |tx| {
            let conv = facts_in(tx, conversation_id).await?;
            let me = decided_member_in(tx, conversation_id, actor).await?;
            Ok(decide::rename(conv.view(), me.as_ref(), name, at)?)
        })
        .await
    }

    async fn add_member(
        &self,
        actor: &str,
        conversation_id: &str,
        user_id: &str,
        role: Role,
        max_members: usize,
        at: i64,
    ) -> StoreResult<()> {
        self.decided(async |tx| {
            let conv = facts_in(tx, conversation_id).await?;
            let me = decided_member_in(tx, conversation_id, actor).await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let already_member = member_in(tx, conversation_id, user_id).await?.is_some();
            let joining = decide::Joining {
                user_id,
                role,
                exists: exists.is_some(),
                already_member,
                max_members,
            };
            Ok(decide::add_member(conv.view(), me.as_ref(), joining, at)?)
        })
        .await
    }

    async fn remove_member(
        &self,
        actor: &str,
        conversation_id: &str,
        user_id: &str,
        at: i64,
    ) -> StoreResult<Removed> {
        self.decided(async |tx| {
            let conv = facts_in(tx, conversation_id).await?;
            let members = members_in(tx, conversation_id).await?;
            let find = |id: &str| members.iter().find(|m| m.user_id == id).map(decided);
            let remaining: Vec<decide::Member> = members
                .iter()
                .filter(|m| m.user_id != user_id)
                .map(decided)
                .collect();
            Ok(decide::remove_member(
                conv.view(),
                find(actor).as_ref(),
                find(user_id).as_ref(),
                &remaining,
                at,
            )?)
        })
        .await
    }

    async fn set_role(
        &self,
        actor: &str,
        conversation_id: &str,
        user_id: &str,
        role: Role,
        at: i64,
    ) -> StoreResult<()> {
        self.decided(async |tx| {
            let conv = facts_in(tx, conversation_id).await?;
            let me = decided_member_in(tx, conversation_id, actor).await?;
            let target = decided_member_in(tx, conversation_id, user_id).await?;
            Ok(decide::set_role(
                conv.view(),
                me.as_ref(),
                target.as_ref(),
                role,
                at,
            )?)
        })
        .await
    }
}

#[async_trait]
impl Messages for SqliteStore {
    async fn send(&self, msg: &NewMessage) -> StoreResult<Sent> {
        let (reply, answer) = oneshot::channel();
        self.sends
            .send(Job::Send {
                msg: msg.clone(),
                reply,
            })
            .await
            .map_err(|_| StoreError::Internal("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("the writer has stopped".into()))?
    }

    async fn message_by_client_id(
        &self,
        conversation_id: &str,
        sender: &str,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>> {
        let row = sqlx::query(select_messages!(
            "WHERE m.conversation_id = ?2 AND m.sender_id = ?1 AND m.client_id = ?3"
        ))
        .bind(sender)
        .bind(conversation_id)
        .bind(client_id)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.as_ref().map(message_row).transpose()?)
    }

    async fn message(&self, id: &str, viewer: &str) -> StoreResult<Option<MessageRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(message_in(&mut conn, id, viewer).await?)
    }

    async fn hidden_by(&self, message_id: &str) -> StoreResult<Vec<String>> {
        // Through the members, whose (user_id, message_id) keys are the index of the hidden.
        Ok(sqlx::query_scalar(
            "SELECT mb.user_id FROM messages m \
             JOIN members mb ON mb.conversation_id = m.conversation_id \
             WHERE m.id = ?1 AND EXISTS (SELECT 1 FROM hidden_messages h \
                                         WHERE h.user_id = mb.user_id AND h.message_id = ?1)",
        )
        .bind(message_id)
        .fetch_all(&self.readers)
        .await?)
    }

    async fn messages(
        &self,
        conversation_id: &str,
        viewer: &str,
        min_seq: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<(Vec<MessageRow>, bool)> {
        let lower = after.unwrap_or(0).max(min_seq);
        let upper = before.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        let rows = if after.is_some() {
            sqlx::query(select_messages!(
                "WHERE m.conversation_id = ?2 AND m.seq > ?3 AND m.seq < ?4 ORDER BY m.seq ASC LIMIT ?5"
            ))
        } else {
            sqlx::query(select_messages!(
                "WHERE m.conversation_id = ?2 AND m.seq > ?3 AND m.seq < ?4 ORDER BY m.seq DESC LIMIT ?5"
            ))
        }
        .bind(viewer)
        .bind(conversation_id)
        .bind(lower)
        .bind(upper)
        .bind(fetch)
        .fetch_all(&self.readers)
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

    async fn edit(&self, actor: &str, message_id: &str, text: &str, at: i64) -> StoreResult<()> {
        self.decided(async |tx| {
            let (msg, me) = message_and_viewer_in(tx, message_id, actor).await?;
            Ok(decide::edit(decided_message(&msg), me.as_ref(), text, at)?)
        })
        .await
    }

    async fn delete_for_everyone(
        &self,
        actor: &str,
        message_id: &str,
        at: i64,
    ) -> StoreResult<Option<String>> {
        self.decided(async |tx| {
            let (msg, me) = message_and_viewer_in(tx, message_id, actor).await?;
            let conv = facts_in(tx, &msg.conversation_id).await?;
            let d = decide::delete_for_everyone(decided_message(&msg), conv.kind, me.as_ref(), at)?;
            // The media the message carried, now perhaps referred to by nothing.
            Ok(d.map(|erased| if erased { msg.media_id.clone() } else { None }))
        })
        .await
    }

    async fn hide(&self, user_id: &str, message_id: &str, at: i64) -> StoreResult<()> {
        self.decided(async |tx| {
            let (msg, me) = message_and_viewer_in(tx, message_id, user_id).await?;
            Ok(decide::hide(
                decided_message(&msg),
                me.as_ref(),
                msg.hidden,
                at,
            )?)
        })
        .await
    }

    async fn mark(
        &self,
        user_id: &str,
        conversation_id: &str,
        kind: MarkKind,
        seq: i64,
        at: i64,
    ) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.sends
            .send(Job::Mark {
                user_id: user_id.to_owned(),
                conversation_id: conversation_id.to_owned(),
                kind,
                seq,
                at,
                reply,
            })
            .await
            .map_err(|_| StoreError::Internal("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("the writer has stopped".into()))?
    }

    async fn mark_times(
        &self,
        conversation_id: &str,
        user_id: &str,
        seq: i64,
    ) -> StoreResult<MarkTimes> {
        let (delivered_at, read_at): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT \
               (SELECT MIN(at) FROM mark_moves WHERE conversation_id = ?1 AND user_id = ?2 AND kind = 'delivered' AND up_to_seq >= ?3), \
               (SELECT MIN(at) FROM mark_moves WHERE conversation_id = ?1 AND user_id = ?2 AND kind = 'read' AND up_to_seq >= ?3)",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(seq)
        .fetch_one(&self.readers)
        .await?;
        Ok(MarkTimes {
            delivered_at,
            read_at,
        })
    }
}

#[async_trait]
impl MediaRecords for SqliteStore {
    async fn media(&self, id: &str) -> StoreResult<Option<MediaRow>> {
        let row = sqlx::query("SELECT * FROM media WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(media_row).transpose()?)
    }

    async fn insert_media(&self, m: &MediaRow) -> StoreResult<()> {
        self.note(
            async {
                sqlx::query(
            "INSERT INTO media (id, uploader_id, content_type, size, filename, width, height, \
             has_thumbnail, thumbnail_type, sha256, is_image, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.id)
        .bind(&m.uploader_id)
        .bind(&m.content_type)
        .bind(m.size)
        .bind(&m.filename)
        .bind(m.width)
        .bind(m.height)
        .bind(m.has_thumbnail)
        .bind(&m.thumbnail_type)
        .bind(&m.sha256)
        .bind(m.is_image)
        .bind(m.created_at)
        .execute(&self.writer)
        .await?;
                Ok(())
            }
            .await,
        )
    }

    async fn media_visible_to(&self, media_id: &str, user_id: &str) -> StoreResult<bool> {
        let visible: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM media WHERE id = ?1 AND uploader_id = ?2) \
                 OR EXISTS (SELECT 1 FROM messages m JOIN members mb \
                            ON mb.conversation_id = m.conversation_id AND mb.user_id = ?2 \
                            WHERE m.media_id = ?1 AND m.seq > mb.joined_seq)",
        )
        .bind(media_id)
        .bind(user_id)
        .fetch_one(&self.readers)
        .await?;
        Ok(visible)
    }

    async fn delete_media_if_unused(&self, id: &str) -> StoreResult<Option<String>> {
        self.note(
            async {
                let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
                let sha: Option<String> = sqlx::query_scalar(
                    "DELETE FROM media WHERE id = ?1 \
             AND NOT EXISTS (SELECT 1 FROM messages WHERE media_id = ?1) RETURNING sha256",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let unused = match sha {
                    Some(sha) => {
                        let shared: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM media WHERE sha256 = ?)",
                        )
                        .bind(&sha)
                        .fetch_one(&mut *tx)
                        .await?;
                        (!shared).then_some(sha)
                    }
                    None => None,
                };
                tx.commit().await?;
                Ok(unused)
            }
            .await,
        )
    }

    async fn media_bytes_of(&self, user_id: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(SUM(size), 0) FROM media WHERE uploader_id = ?")
                .bind(user_id)
                .fetch_one(&self.readers)
                .await?,
        )
    }

    async fn orphan_media(&self, before: i64, limit: u32) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM media md WHERE md.created_at < ? \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_id = md.id) \
             ORDER BY md.created_at LIMIT ?",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?)
    }
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn head(&self) -> StoreResult<i64> {
        let mut conn = self.readers.acquire().await?;
        Ok(head_in(&mut conn).await?)
    }

    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT pos, kind, conversation_id, user_id, message_id, data, created_at \
             FROM events WHERE pos > ? ORDER BY pos LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(event_row).collect::<sqlx::Result<_>>()?)
    }

    async fn prune_events(&self, before: i64) -> StoreResult<i64> {
        self.note(
            async {
                let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
                let highest: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(pos) FROM events WHERE created_at < ?")
                        .bind(before)
                        .fetch_one(&mut *tx)
                        .await?;
                if let Some(h) = highest {
                    sqlx::query("DELETE FROM events WHERE pos <= ?")
                        .bind(h)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO meta (key, value) VALUES ('events_pruned_up_to', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = MAX(value, ?1)",
                    )
                    .bind(h)
                    .execute(&mut *tx)
                    .await?;
                }
                let pruned: Option<i64> =
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok(pruned.unwrap_or(0))
            }
            .await,
        )
    }

    async fn pruned_up_to(&self) -> StoreResult<i64> {
        let mut conn = self.readers.acquire().await?;
        Ok(pruned_in(&mut conn).await?)
    }

    async fn events_for(
        &self,
        user_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<EventRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(events_for_in(&mut conn, user_id, after, limit).await?)
    }

    async fn backlog(&self, user_id: &str, after: i64, limit: u32) -> StoreResult<Backlog> {
        // In WAL mode a read transaction sees one snapshot from its first read to its end.
        let mut tx = self.readers.begin().await?;
        let head = head_in(&mut tx).await?;
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
impl Operations for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        if !self.health.failing.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Writes have been failing: answer whether one can commit now, probing at most once per
        // PROBE_EVERY however often this is asked.
        let mut last = self.health.probe.lock().await;
        let ok = match *last {
            Some((at, ok)) if at.elapsed() < PROBE_EVERY => ok,
            _ => {
                let r = self.probe_write().await;
                if let Err(e) = &r {
                    tracing::warn!(error = %e, "storage still cannot take writes");
                }
                let ok = self.note(r).is_ok();
                *last = Some((Instant::now(), ok));
                ok
            }
        };
        if ok {
            Ok(())
        } else {
            Err(StoreError::Unavailable("writes are failing".into()))
        }
    }

    async fn fail_next_commit(&self) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        let mut handle = conn.lock_handle().await?;
        let mut armed = true;
        // A commit hook that answers "no" makes SQLite roll the transaction back and fail the
        // COMMIT: what a full disk does to a commit.
        handle.set_commit_hook(move || !std::mem::take(&mut armed));
        Ok(())
    }

    async fn purge(&self) -> StoreResult<()> {
        self.note(
            async {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }
            .await,
        )
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}
