//! The SQLite adapter: the embedded default, one file, nothing else to run.
//!
//! One writer thread with the one write connection (`writer`, rusqlite: every write runs there,
//! batched, with no hand-off per statement; `writes` holds their SQL) and a pool of read-only
//! connections (sqlx). SQLite allows one writer at a time anyway; funnelling every write through
//! one connection makes the order in which event positions are allocated the order in which
//! they commit, so a reader of the log can never skip an event that commits late. WAL lets
//! readers run beside the writer. `secure_delete` overwrites erased content in the database
//! file; [`Operations::purge`] then checkpoints and truncates the WAL, whose
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
use natter_core::{ConversationKind, Error as Rule, MessageKind, Role, receipts::Marks};
use sqlx::{
    Connection, Row, SqliteConnection,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};

use super::*;

/// The schema this build reads and writes.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    /// Every write goes to the writer thread.
    writer: Writer,
    /// Marks waiting for the writer, coalesced.
    marks: Arc<marks::Coalescer>,
    readers: SqlitePool,
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

/// Messages indexed per commit when the store opens on messages not yet indexed.
const BACKLOG_BATCH: i64 = 2000;

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
        // Migrated on a connection of its own, closed before the writer thread opens its own.
        let migrations = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&migrations).await?;
        migrations.close().await;
        let health = Arc::new(WriteHealth::default());
        let noted = health.clone();
        let writer = Writer::start(&path, move |r| noted.note(r))?;
        // Messages stored before the search index existed, indexed in batches (one commit
        // each) before the server takes requests.
        while writer
            .write(|c| writes::index_backlog(c, BACKLOG_BATCH))
            .await?
            > 0
        {}
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .before_acquire(|conn, _| Box::pin(is_idle(conn)))
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self {
            writer,
            marks: Arc::default(),
            readers,
            health,
            path,
        })
    }

    /// Records what a write did for [`Operations::ping`], and passes its result on.
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
        let at = natter_core::time::now();
        self.writer.write(move |c| writes::probe(c, at)).await
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
        admin: r.try_get("admin")?,
        deleted: r.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
        disabled: r.try_get("disabled")?,
    })
}

fn invite_row(r: &SqliteRow) -> sqlx::Result<InviteRow> {
    Ok(InviteRow {
        code: r.try_get("code")?,
        creator_id: r.try_get("creator_id")?,
        uses_left: r.try_get("uses_left")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
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
        mentions: split_ids(r.try_get("mentions")?),
    })
}

/// A list of ids as a column holds it: space-separated, NULL for none.
pub(super) fn split_ids(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default()
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

/// A SELECT of message columns with whether the viewer, bound as `?1`, hid each one.
macro_rules! select_messages {
    ($tail:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.client_id, m.kind, m.text, \
             m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at, \
             EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?1 AND h.message_id = m.id) AS hidden, \
             m.mentions \
             FROM messages m ",
            $tail
        )
    };
}

mod notify;
mod writer;
mod writes;

use writer::Writer;

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

/// A member's (`?1`) unread mentions in a conversation (`?2`) above its read mark (`?3`): a
/// range of the mentions' primary key, each checked against its message (not deleted, not
/// hidden for it).
const MENTION_COUNT: &str = "SELECT COUNT(*) FROM mentions n JOIN messages m ON m.id = n.message_id \
     WHERE n.user_id = ?1 AND n.conversation_id = ?2 AND n.seq > ?3 AND m.deleted_at IS NULL \
       AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?1 AND h.message_id = m.id)";

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
        let mention_count: i64 = sqlx::query_scalar(MENTION_COUNT)
            .bind(viewer)
            .bind(conversation_id)
            .bind(me.marks.read_seq.max(me.joined_seq))
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some(ConversationView {
            conversation,
            members,
            last_message,
            unread_count,
            read_seq: me.marks.read_seq,
            mention_count,
        }))
    }
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(&self, user: &UserRow) -> StoreResult<()> {
        let user = user.clone();
        self.writer
            .write(move |c| writes::create_user(c, &user))
            .await
    }

    async fn register(
        &self,
        user: &UserRow,
        mode: Registration,
        invite: Option<&str>,
    ) -> StoreResult<UserRow> {
        let (user, invite) = (user.clone(), invite.map(str::to_owned));
        self.writer
            .write(move |c| writes::register(c, &user, mode, invite.as_deref()))
            .await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.readers)
            .await?)
    }

    async fn set_display_name(&self, user_id: &UserId, name: &str, at: i64) -> StoreResult<()> {
        let (user_id, name) = (user_id.as_str().to_owned(), name.to_owned());
        self.writer
            .write(move |c| writes::set_display_name(c, &user_id, &name, at))
            .await
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep: &SessionId,
    ) -> StoreResult<Vec<String>> {
        let (user_id, hash, keep) = (
            user_id.as_str().to_owned(),
            password_hash.to_owned(),
            keep.as_str().to_owned(),
        );
        self.writer
            .write(move |c| writes::set_password(c, &user_id, &hash, &keep))
            .await
    }

    async fn update_account(
        &self,
        manager: Option<&UserId>,
        target: &UserId,
        update: &AccountUpdate,
        at: i64,
    ) -> StoreResult<(UserRow, Vec<String>)> {
        let manager = manager.map(|m| m.as_str().to_owned());
        let (target, update) = (target.as_str().to_owned(), update.clone());
        self.writer
            .write(move |c| writes::update_account(c, manager.as_deref(), &target, &update, at))
            .await
    }

    async fn delete_account(&self, user_id: &UserId, at: i64) -> StoreResult<AccountDeleted> {
        let user_id = user_id.as_str().to_owned();
        self.writer
            .write(move |c| writes::delete_account(c, &user_id, at))
            .await
    }

    async fn list_users(
        &self,
        prefix: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query(
            "SELECT * FROM users WHERE username >= ?1 AND substr(username, 1, length(?1)) = ?1 \
             AND (?2 IS NULL OR created_at < ?2) ORDER BY created_at DESC, id DESC LIMIT ?3",
        )
        .bind(prefix)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let (users, conversations, messages, media_bytes): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL), \
                    (SELECT COUNT(*) FROM conversations), \
                    (SELECT COUNT(*) FROM messages WHERE deleted_at IS NULL), \
                    (SELECT COALESCE(SUM(size), 0) FROM media)",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(StoreStats {
            users,
            conversations,
            messages,
            media_bytes,
        })
    }

    async fn create_invite(&self, invite: &InviteRow) -> StoreResult<()> {
        let invite = invite.clone();
        self.writer
            .write(move |c| writes::create_invite(c, &invite))
            .await
    }

    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>> {
        let row = sqlx::query("SELECT * FROM invites WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(invite_row).transpose()?)
    }

    async fn invites_of(&self, creator_id: &UserId) -> StoreResult<Vec<InviteRow>> {
        let rows = sqlx::query(
            "SELECT * FROM invites WHERE creator_id = ? ORDER BY created_at DESC, code DESC",
        )
        .bind(creator_id.as_str())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(invite_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_invite(&self, code: &str, actor: &UserId) -> StoreResult<()> {
        let (code, actor) = (code.to_owned(), actor.as_str().to_owned());
        self.writer
            .write(move |c| writes::delete_invite(c, &code, &actor))
            .await
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id.as_str())
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

    async fn search_users(
        &self,
        viewer: &UserId,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        // A range scan on the unique index; no LIKE, so '%' and '_' in the prefix are literal.
        // Whether a user blocked the viewer is a primary key look-up per user scanned.
        let rows = sqlx::query(
            "SELECT * FROM users u WHERE username >= ?1 AND substr(username, 1, length(?1)) = ?1 \
             AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = ?3) \
             ORDER BY username LIMIT ?2",
        )
        .bind(prefix)
        .bind(i64::from(limit))
        .bind(viewer.as_str())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn set_last_seen(&self, user_id: &UserId, at: i64) -> StoreResult<()> {
        let user_id = user_id.as_str().to_owned();
        self.writer
            .write(move |c| writes::set_last_seen(c, &user_id, at))
            .await
    }

    async fn contacts_of(&self, user_id: &UserId) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT other.user_id FROM members mine \
             JOIN members other ON other.conversation_id = mine.conversation_id \
             WHERE mine.user_id = ?1 AND other.user_id <> ?1",
        )
        .bind(user_id.as_str())
        .fetch_all(&self.readers)
        .await?)
    }

    async fn contacts_among(&self, user_id: &UserId, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut found = Vec::new();
        let mut conn = self.readers.acquire().await?;
        for id in ids {
            let shares: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM members mine JOIN members other \
                 ON other.conversation_id = mine.conversation_id AND other.user_id = ?2 \
                 WHERE mine.user_id = ?1)",
            )
            .bind(user_id.as_str())
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

    async fn block(&self, blocker: &UserId, blocked: &UserId, at: i64) -> StoreResult<()> {
        let (blocker, blocked) = (blocker.as_str().to_owned(), blocked.as_str().to_owned());
        self.writer
            .write(move |c| writes::block(c, &blocker, &blocked, at))
            .await
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<()> {
        let (blocker, blocked) = (blocker.as_str().to_owned(), blocked.as_str().to_owned());
        self.writer
            .write(move |c| writes::unblock(c, &blocker, &blocked))
            .await
    }

    async fn blocked_by(&self, blocker: &UserId) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query(
            "SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id \
             WHERE b.blocker_id = ? ORDER BY u.username",
        )
        .bind(blocker.as_str())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(user_row).collect::<sqlx::Result<_>>()?)
    }

    async fn blocked_ids(&self, blocker: &UserId) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT blocked_id FROM blocks WHERE blocker_id = ?")
                .bind(blocker.as_str())
                .fetch_all(&self.readers)
                .await?,
        )
    }

    async fn has_blocked(&self, blocker: &UserId, blocked: &UserId) -> StoreResult<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?)",
        )
        .bind(blocker.as_str())
        .bind(blocked.as_str())
        .fetch_one(&self.readers)
        .await?)
    }

    async fn create_session(&self, s: &SessionRow) -> StoreResult<()> {
        let s = s.clone();
        self.writer
            .write(move |c| writes::create_session(c, &s))
            .await
    }

    async fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = ?")
            .bind(hash)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(session_row).transpose()?)
    }

    async fn touch_session(&self, id: &SessionId, at: i64) -> StoreResult<()> {
        let id = id.as_str().to_owned();
        self.writer
            .write(move |c| writes::touch_session(c, &id, at))
            .await
    }

    async fn sessions_of(&self, user_id: &UserId) -> StoreResult<Vec<SessionRow>> {
        let rows = sqlx::query("SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at, id")
            .bind(user_id.as_str())
            .fetch_all(&self.readers)
            .await?;
        Ok(rows.iter().map(session_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_session(&self, user_id: &UserId, id: &SessionId) -> StoreResult<bool> {
        let (user_id, id) = (user_id.as_str().to_owned(), id.as_str().to_owned());
        self.writer
            .write(move |c| writes::delete_session(c, &user_id, &id))
            .await
    }

    async fn delete_idle_sessions(&self, before: i64) -> StoreResult<Vec<String>> {
        self.writer
            .write(move |c| writes::delete_idle_sessions(c, before))
            .await
    }
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn create_direct(
        &self,
        new_id: &ConversationId,
        a: &UserId,
        b: &UserId,
        at: i64,
    ) -> StoreResult<(String, bool)> {
        let (new_id, a, b) = (
            new_id.as_str().to_owned(),
            a.as_str().to_owned(),
            b.as_str().to_owned(),
        );
        self.writer
            .write(move |c| writes::create_direct(c, &new_id, &a, &b, at))
            .await
    }

    async fn create_group(
        &self,
        id: &ConversationId,
        owner: &UserId,
        name: &str,
        members: &[String],
        at: i64,
    ) -> StoreResult<()> {
        let (id, owner, name, members) = (
            id.as_str().to_owned(),
            owner.as_str().to_owned(),
            name.to_owned(),
            members.to_vec(),
        );
        self.writer
            .write(move |c| writes::create_group(c, &id, &owner, &name, &members, at))
            .await
    }

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<ConversationRow>> {
        let mut conn = self.readers.acquire().await?;
        match conversation_in(&mut conn, id.as_str()).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::Rule(Rule::NotFound(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn member(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
    ) -> StoreResult<Option<MemberRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(member_in(&mut conn, conversation_id.as_str(), user_id.as_str()).await?)
    }

    async fn members(&self, conversation_id: &ConversationId) -> StoreResult<Vec<MemberRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(members_in(&mut conn, conversation_id.as_str()).await?)
    }

    async fn member_usernames(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.username FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.conversation_id = ? ORDER BY m.join_order",
        )
        .bind(conversation_id.as_str())
        .fetch_all(&self.readers)
        .await?)
    }

    async fn conversation_view(
        &self,
        conversation_id: &ConversationId,
        viewer: &UserId,
    ) -> StoreResult<Option<ConversationView>> {
        // One read transaction, so that the view is consistent.
        let mut tx = self.readers.begin().await?;
        let v = self
            .view_in(&mut tx, conversation_id.as_str(), viewer.as_str())
            .await?;
        tx.commit().await?;
        Ok(v)
    }

    async fn conversation_views(
        &self,
        conversation_id: &ConversationId,
    ) -> StoreResult<Option<ConversationViews>> {
        // One read transaction, so that every member's view is of the same moment.
        let mut tx = self.readers.begin().await?;
        let conversation = match conversation_in(&mut tx, conversation_id.as_str()).await {
            Ok(c) => c,
            Err(StoreError::Rule(Rule::NotFound(_))) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Read as no one: "" is no user's id, so nothing counts as hidden.
        let last_message = sqlx::query(select_messages!(
            "WHERE m.conversation_id = ?2 AND m.seq = ?3"
        ))
        .bind("")
        .bind(conversation_id.as_str())
        .bind(conversation.last_seq)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(message_row)
        .transpose()?;
        // Every member's unread count in one statement; the same count as a single view's.
        let rows = sqlx::query(
            "SELECT mb.user_id, mb.role, mb.joined_at, mb.joined_seq, mb.joined_pos,                     mb.delivered_seq, mb.read_seq,                     (SELECT COUNT(*) FROM messages m                      WHERE m.conversation_id = mb.conversation_id                        AND m.seq > MAX(mb.read_seq, mb.joined_seq)                        AND m.sender_id <> mb.user_id AND m.deleted_at IS NULL                        AND NOT EXISTS (SELECT 1 FROM hidden_messages h                                        WHERE h.user_id = mb.user_id AND h.message_id = m.id)                     ) AS unread_count,                     (SELECT COUNT(*) FROM mentions n JOIN messages m ON m.id = n.message_id                      WHERE n.user_id = mb.user_id AND n.conversation_id = mb.conversation_id                        AND n.seq > MAX(mb.read_seq, mb.joined_seq) AND m.deleted_at IS NULL                        AND NOT EXISTS (SELECT 1 FROM hidden_messages h                                        WHERE h.user_id = mb.user_id AND h.message_id = m.id)                     ) AS mention_count,                     EXISTS (SELECT 1 FROM hidden_messages h                             WHERE h.user_id = mb.user_id AND h.message_id = ?2) AS hid_last              FROM members mb WHERE mb.conversation_id = ?1 ORDER BY mb.join_order",
        )
        .bind(conversation_id.as_str())
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
        viewer: &UserId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationView>> {
        let mut tx = self.readers.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM conversations c JOIN members m ON m.conversation_id = c.id \
             WHERE m.user_id = ?1 AND (?2 IS NULL OR c.last_message_at < ?2) \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?3",
        )
        .bind(viewer.as_str())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.view_in(&mut tx, &id, viewer.as_str()).await?);
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
        let (actor, conversation_id, name) = (
            actor.as_str().to_owned(),
            conversation_id.as_str().to_owned(),
            name.to_owned(),
        );
        self.writer
            .write(move |c| writes::rename(c, &actor, &conversation_id, &name, at))
            .await
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
        let (actor, conversation_id, user_id) = (
            actor.as_str().to_owned(),
            conversation_id.as_str().to_owned(),
            user_id.as_str().to_owned(),
        );
        self.writer
            .write(move |c| {
                writes::add_member(c, &actor, &conversation_id, &user_id, role, max_members, at)
            })
            .await
    }

    async fn remove_member(
        &self,
        actor: &UserId,
        conversation_id: &ConversationId,
        user_id: &UserId,
        at: i64,
    ) -> StoreResult<Removed> {
        let (actor, conversation_id, user_id) = (
            actor.as_str().to_owned(),
            conversation_id.as_str().to_owned(),
            user_id.as_str().to_owned(),
        );
        self.writer
            .write(move |c| writes::remove_member(c, &actor, &conversation_id, &user_id, at))
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
        let (actor, conversation_id, user_id) = (
            actor.as_str().to_owned(),
            conversation_id.as_str().to_owned(),
            user_id.as_str().to_owned(),
        );
        self.writer
            .write(move |c| writes::set_role(c, &actor, &conversation_id, &user_id, role, at))
            .await
    }
}

#[async_trait]
impl Messages for SqliteStore {
    async fn send(&self, msg: &NewMessage) -> StoreResult<Sent> {
        let msg = msg.clone();
        self.writer.write(move |c| writes::send(c, &msg)).await
    }

    async fn message_by_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &UserId,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>> {
        let row = sqlx::query(select_messages!(
            "WHERE m.conversation_id = ?2 AND m.sender_id = ?1 AND m.client_id = ?3"
        ))
        .bind(sender.as_str())
        .bind(conversation_id.as_str())
        .bind(client_id)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.as_ref().map(message_row).transpose()?)
    }

    async fn message(&self, id: &MessageId, viewer: &UserId) -> StoreResult<Option<MessageRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(message_in(&mut conn, id.as_str(), viewer.as_str()).await?)
    }

    async fn messages_by_id(&self, ids: &[String]) -> StoreResult<Vec<MessageRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Internal(e.to_string()))?;
        let rows = sqlx::query(select_messages!(
            "WHERE m.id IN (SELECT value FROM json_each(?2))"
        ))
        .bind("")
        .bind(ids)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.iter().map(message_row).collect::<sqlx::Result<_>>()?)
    }

    async fn hidden_by(&self, message_id: &MessageId) -> StoreResult<Vec<String>> {
        // Through the members, whose (user_id, message_id) keys are the index of the hidden.
        Ok(sqlx::query_scalar(
            "SELECT mb.user_id FROM messages m \
             JOIN members mb ON mb.conversation_id = m.conversation_id \
             WHERE m.id = ?1 AND EXISTS (SELECT 1 FROM hidden_messages h \
                                         WHERE h.user_id = mb.user_id AND h.message_id = ?1)",
        )
        .bind(message_id.as_str())
        .fetch_all(&self.readers)
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
        .bind(viewer.as_str())
        .bind(conversation_id.as_str())
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

    async fn edit(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        text: &str,
        mentions: &[String],
        at: i64,
    ) -> StoreResult<()> {
        let (actor, message_id, text, mentions) = (
            actor.as_str().to_owned(),
            message_id.as_str().to_owned(),
            text.to_owned(),
            mentions.to_vec(),
        );
        self.writer
            .write(move |c| writes::edit(c, &actor, &message_id, &text, &mentions, at))
            .await
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
        let (user_id, message_id, emoji) = (
            user_id.as_str().to_owned(),
            message_id.as_str().to_owned(),
            emoji.to_owned(),
        );
        self.writer
            .write(move |c| writes::react(c, &user_id, &message_id, &emoji, add, max_distinct, at))
            .await
    }

    async fn reaction_counts(
        &self,
        message_ids: &[String],
        viewer: &UserId,
    ) -> StoreResult<Vec<ReactionCount>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids =
            serde_json::to_string(message_ids).map_err(|e| StoreError::Internal(e.to_string()))?;
        let rows: Vec<(String, String, i64, bool)> = sqlx::query_as(
            "SELECT r.message_id, r.emoji, COUNT(*), MAX(r.user_id = ?2) \
             FROM reactions r WHERE r.message_id IN (SELECT value FROM json_each(?1)) \
             GROUP BY r.message_id, r.emoji ORDER BY r.message_id, MIN(r.created_at), r.emoji",
        )
        .bind(ids)
        .bind(viewer.as_str())
        .fetch_all(&self.readers)
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
             WHERE message_id = ?1 AND (?2 IS NULL OR emoji = ?2) \
               AND (?3 IS NULL OR (created_at, user_id, emoji) > (?3, ?4, ?5)) \
             ORDER BY created_at, user_id, emoji LIMIT ?6",
        )
        .bind(message_id.as_str())
        .bind(emoji)
        .bind(at)
        .bind(user)
        .bind(em)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
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
        // The index's ids grow with the messages (an edit keeps its message's id), so the
        // index walked backwards from its newest match is newest first: the walk stops at the
        // limit, and the page after a message starts below its id. Only for a bare time (or a
        // message no longer indexed) is the page bounded by `created_at` instead.
        let mut conn = self.readers.acquire().await?;
        let below: Option<i64> = match &scope.before {
            Some((_, id)) if !id.is_empty() => {
                sqlx::query_scalar("SELECT id FROM message_search_ids WHERE message_id = ?")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
            }
            _ => None,
        };
        let (before_at, before_id) = match (&scope.before, below) {
            (Some((at, id)), None) => (Some(*at), id.as_str()),
            _ => (None, ""),
        };
        // CROSS JOIN keeps this join order: the index drives, each match is checked.
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.client_id, m.kind, m.text, \
               m.media_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at, \
               EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?1 AND h.message_id = m.id) AS hidden, \
               m.mentions \
             FROM message_search f \
             CROSS JOIN message_search_ids s ON s.id = f.rowid \
             CROSS JOIN messages m ON m.id = s.message_id \
             CROSS JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?1 \
             WHERE message_search MATCH ?2 AND f.rowid < ?3 \
               AND m.seq > mb.joined_seq AND m.deleted_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?1 AND h.message_id = m.id) \
               AND (?4 IS NULL OR m.conversation_id = ?4) \
               AND (?5 IS NULL OR (m.created_at, m.id) < (?5, ?6)) \
             ORDER BY f.rowid DESC LIMIT ?7",
        )
        .bind(scope.viewer.as_str())
        .bind(query.fts5())
        .bind(below.unwrap_or(i64::MAX))
        .bind(scope.conversation_id.map(|c| c.as_str()))
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(scope.limit))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(message_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_for_everyone(
        &self,
        actor: &UserId,
        message_id: &MessageId,
        at: i64,
    ) -> StoreResult<Option<String>> {
        let (actor, message_id) = (actor.as_str().to_owned(), message_id.as_str().to_owned());
        self.writer
            .write(move |c| writes::delete_for_everyone(c, &actor, &message_id, at))
            .await
    }

    async fn hide(&self, user_id: &UserId, message_id: &MessageId, at: i64) -> StoreResult<()> {
        let (user_id, message_id) = (user_id.as_str().to_owned(), message_id.as_str().to_owned());
        self.writer
            .write(move |c| writes::hide(c, &user_id, &message_id, at))
            .await
    }

    async fn mark(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
        kind: MarkKind,
        seq: i64,
        at: i64,
    ) -> StoreResult<bool> {
        let key: marks::Key = (
            conversation_id.as_str().to_owned(),
            user_id.as_str().to_owned(),
            kind == MarkKind::Read,
        );
        let pending = match self.marks.join(&key, seq, at) {
            marks::Turn::Follow(done) => return marks::follow(done).await,
            marks::Turn::Lead(p) => p,
        };
        let (marks, k, p) = (self.marks.clone(), key.clone(), pending.clone());
        let answer = self
            .writer
            .write(move |c| {
                let (seq, at) = marks.start(&k, &p);
                writes::mark(c, &k.1, &k.0, kind, seq, at)
            })
            .await;
        self.marks.finish(&key, &pending, &answer);
        answer
    }

    async fn mark_times(
        &self,
        conversation_id: &ConversationId,
        user_id: &UserId,
        seq: i64,
    ) -> StoreResult<MarkTimes> {
        let (delivered_at, read_at): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT \
               (SELECT MIN(at) FROM mark_moves WHERE conversation_id = ?1 AND user_id = ?2 AND kind = 'delivered' AND up_to_seq >= ?3), \
               (SELECT MIN(at) FROM mark_moves WHERE conversation_id = ?1 AND user_id = ?2 AND kind = 'read' AND up_to_seq >= ?3)",
        )
        .bind(conversation_id.as_str())
        .bind(user_id.as_str())
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
    async fn media(&self, id: &MediaId) -> StoreResult<Option<MediaRow>> {
        let row = sqlx::query("SELECT * FROM media WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.as_ref().map(media_row).transpose()?)
    }

    async fn insert_media(&self, m: &MediaRow) -> StoreResult<()> {
        let m = m.clone();
        self.writer
            .write(move |c| writes::insert_media(c, &m))
            .await
    }

    async fn media_visible_to(&self, media_id: &MediaId, user_id: &UserId) -> StoreResult<bool> {
        let visible: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM media WHERE id = ?1 AND uploader_id = ?2) \
                 OR EXISTS (SELECT 1 FROM messages m JOIN members mb \
                            ON mb.conversation_id = m.conversation_id AND mb.user_id = ?2 \
                            WHERE m.media_id = ?1 AND m.seq > mb.joined_seq)",
        )
        .bind(media_id.as_str())
        .bind(user_id.as_str())
        .fetch_one(&self.readers)
        .await?;
        Ok(visible)
    }

    async fn delete_media_if_unused(&self, id: &MediaId) -> StoreResult<Option<String>> {
        let id = id.as_str().to_owned();
        self.writer
            .write(move |c| writes::delete_media_if_unused(c, &id))
            .await
    }

    async fn media_bytes_of(&self, user_id: &UserId) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(SUM(size), 0) FROM media WHERE uploader_id = ?")
                .bind(user_id.as_str())
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
        self.writer
            .write(move |c| writes::prune_events(c, before))
            .await
    }

    async fn pruned_up_to(&self) -> StoreResult<i64> {
        let mut conn = self.readers.acquire().await?;
        Ok(pruned_in(&mut conn).await?)
    }

    async fn events_for(
        &self,
        user_id: &UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<EventRow>> {
        let mut conn = self.readers.acquire().await?;
        Ok(events_for_in(&mut conn, user_id.as_str(), after, limit).await?)
    }

    async fn backlog(&self, user_id: &UserId, after: i64, limit: u32) -> StoreResult<Backlog> {
        // In WAL mode a read transaction sees one snapshot from its first read to its end.
        let mut tx = self.readers.begin().await?;
        let head = head_in(&mut tx).await?;
        let pruned_up_to = pruned_in(&mut tx).await?;
        let events = events_for_in(&mut tx, user_id.as_str(), after, limit).await?;
        tx.rollback().await?;
        Ok(Backlog {
            head,
            pruned_up_to,
            events,
        })
    }

    fn committed(&self) -> Option<tokio::sync::broadcast::Receiver<Arc<Committed>>> {
        Some(self.writer.committed())
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
        self.writer.fail_next_commit();
        Ok(())
    }

    async fn purge(&self) -> StoreResult<()> {
        self.writer.bare(writes::purge).await
    }

    async fn close(&self) {
        self.readers.close().await;
    }
}
