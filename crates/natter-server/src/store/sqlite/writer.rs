//! The SQLite adapter's one writer: a dedicated thread that owns the only write connection (a
//! synchronous rusqlite connection, its statements prepared once and cached).
//!
//! Every write of the adapter is a closure sent here. The thread takes every write that is
//! waiting, runs each inside a savepoint of one transaction, commits once (one fsync for all of
//! them), and only then answers each caller. No statement crosses a thread: what costs is the
//! statements themselves, not handing each to a worker and waiting for its answer.
//!
//! A write that fails is rolled back to its savepoint and answered alone; the others commit.
//! An error after which SQLite has rolled back the whole transaction (a full disk, an I/O
//! error), or a failed commit, fails the whole batch: nothing of it was stored, and each caller
//! hears so (`unavailable`) and may retry (a send with its `client_id`).

use std::{
    cell::RefCell,
    ops::Deref,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::store::{Committed, EventRow, MessageRow, StoreError, StoreResult};

/// Writes queued at most before a caller waits for room.
const QUEUE: usize = 4096;
/// Writes stored in one transaction at most.
const BATCH_MAX: usize = 256;
/// Statements kept prepared.
const STATEMENT_CACHE: usize = 128;
/// Committed batches the fan-out may fall behind by before it reads the log instead.
const FEED: usize = 1024;

/// The write connection, with what the batch under way has logged: the events it appended and
/// the messages it stored, published once the batch commits.
pub(super) struct Tx {
    conn: Connection,
    journal: RefCell<Committed>,
}

impl Deref for Tx {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Tx {
    /// An event was appended.
    pub(super) fn logged(&self, e: EventRow) {
        self.journal.borrow_mut().events.push(e);
    }

    /// A message was stored.
    pub(super) fn stored(&self, m: MessageRow) {
        self.journal.borrow_mut().messages.push(m);
    }

    fn mark(&self) -> (usize, usize) {
        let j = self.journal.borrow();
        (j.events.len(), j.messages.len())
    }

    /// Forgets what was logged after `mark` (its savepoint was rolled back).
    fn forget_since(&self, (events, messages): (usize, usize)) {
        let mut j = self.journal.borrow_mut();
        j.events.truncate(events);
        j.messages.truncate(messages);
    }

    fn take(&self) -> Committed {
        std::mem::take(&mut *self.journal.borrow_mut())
    }
}

/// One write waiting for the thread.
trait Job: Send {
    /// Whether it runs outside any transaction (a checkpoint), after the batch commits.
    fn bare(&self) -> bool;
    /// Runs the write. `Err` only when the whole transaction was lost.
    fn run(&mut self, conn: &Tx) -> Result<(), StoreError>;
    /// Answers the caller once the batch is over: with its own result if the batch committed
    /// (or it ran bare), else with why the batch was lost.
    fn answer(self: Box<Self>, batch: Result<(), &StoreError>);
}

struct Write<T, F> {
    write: Option<F>,
    bare: bool,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: FnOnce(&Tx) -> StoreResult<T> + Send,
{
    fn bare(&self) -> bool {
        self.bare
    }

    fn run(&mut self, conn: &Tx) -> Result<(), StoreError> {
        let Some(write) = self.write.take() else {
            return Ok(());
        };
        if self.bare {
            self.result = Some(write(conn));
            return Ok(());
        }
        let mark = conn.mark();
        conn.execute_batch("SAVEPOINT unit")?;
        let r = write(conn);
        if r.is_ok() {
            conn.execute_batch("RELEASE unit")?;
        } else if conn.is_autocommit() {
            // SQLite rolled the whole transaction back: the batch is lost.
            return Err(r
                .err()
                .unwrap_or_else(|| StoreError::Internal("lost transaction".into())));
        } else {
            conn.execute_batch("ROLLBACK TO unit; RELEASE unit")?;
            conn.forget_since(mark);
        }
        self.result = Some(r);
        Ok(())
    }

    fn answer(self: Box<Self>, batch: Result<(), &StoreError>) {
        let this = *self;
        let answer = match (batch, this.result) {
            (Ok(()), Some(r)) => r,
            (_, Some(r)) if this.bare => r,
            (Err(StoreError::Unavailable(why)), _) => {
                Err(StoreError::Unavailable(format!("commit failed: {why}")))
            }
            (Err(e), _) => Err(StoreError::Internal(format!("commit failed: {e}"))),
            (Ok(()), None) => Err(StoreError::Internal("the write did not run".into())),
        };
        let _ = this.reply.send(answer);
    }
}

/// The handle the adapter writes through.
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    /// Makes the next batch's commit fail (fault injection for the conformance suite).
    fail_next_commit: Arc<AtomicBool>,
    /// What each batch logged, once committed.
    feed: broadcast::Sender<Arc<Committed>>,
    /// Makes the next batch end as if both its COMMIT and its ROLLBACK failed, leaving the
    /// connection inside the transaction (what an I/O error can do).
    #[cfg(test)]
    stick_next_batch: Arc<AtomicBool>,
}

impl Writer {
    /// Opens the write connection on `path` and starts the thread. `note` hears every batch's
    /// outcome (for the adapter's health).
    pub(super) fn start(
        path: &Path,
        note: impl Fn(&Result<(), StoreError>) + Send + 'static,
    ) -> StoreResult<Writer> {
        let conn = open(path)?;
        let (jobs, rx) = mpsc::channel(QUEUE);
        let fail_next_commit = Arc::new(AtomicBool::new(false));
        let faults = Faults {
            fail_next_commit: fail_next_commit.clone(),
            #[cfg(test)]
            stick_next_batch: Arc::new(AtomicBool::new(false)),
        };
        #[cfg(test)]
        let stick_next_batch = faults.stick_next_batch.clone();
        let path = path.to_path_buf();
        let (feed, _) = broadcast::channel(FEED);
        let publish = feed.clone();
        let tx = Tx {
            conn,
            journal: RefCell::default(),
        };
        std::thread::Builder::new()
            .name("natter-sqlite-writer".into())
            .spawn(move || run(tx, &path, rx, faults, publish, note))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer: {e}")))?;
        Ok(Writer {
            jobs,
            fail_next_commit,
            feed,
            #[cfg(test)]
            stick_next_batch,
        })
    }

    /// What every batch from now on logs, once committed, in commit (and so position) order.
    pub(super) fn committed(&self) -> broadcast::Receiver<Arc<Committed>> {
        self.feed.subscribe()
    }

    /// Runs `write` in the next batch's transaction; its result once the batch has committed.
    pub(super) async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx) -> StoreResult<T> + Send + 'static,
    {
        self.submit(write, false).await
    }

    /// Runs `write` outside any transaction, between batches.
    pub(super) async fn bare<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx) -> StoreResult<T> + Send + 'static,
    {
        self.submit(write, true).await
    }

    async fn submit<T, F>(&self, write: F, bare: bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Write {
            write: Some(write),
            bare,
            result: None,
            reply,
        });
        let stopped = || StoreError::Internal("the writer has stopped".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The next batch's commit fails, after SQLite has rolled it back, as a full disk makes it.
    pub(super) fn fail_next_commit(&self) {
        self.fail_next_commit.store(true, Ordering::SeqCst);
    }
}

fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // FULL: a write is acknowledged only once it survives a power cut, not only a crash.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA secure_delete = ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The faults the thread can be made to meet.
struct Faults {
    fail_next_commit: Arc<AtomicBool>,
    #[cfg(test)]
    stick_next_batch: Arc<AtomicBool>,
}

fn run(
    mut conn: Tx,
    path: &Path,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    faults: Faults,
    feed: broadcast::Sender<Arc<Committed>>,
    note: impl Fn(&Result<(), StoreError>),
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(BATCH_MAX);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if faults.fail_next_commit.swap(false, Ordering::SeqCst) {
            // A commit hook that answers "no" makes SQLite roll the transaction back and fail
            // the COMMIT: what a full disk does to a commit.
            let mut armed = true;
            let _ = conn.commit_hook(Some(move || std::mem::take(&mut armed)));
        }
        #[cfg(test)]
        let stick = faults.stick_next_batch.swap(false, Ordering::SeqCst);
        #[cfg(not(test))]
        let stick = false;
        let result = store_batch(&conn, &mut batch, stick);
        if !conn.is_autocommit() {
            // Neither COMMIT nor ROLLBACK ended the transaction: this connection would write
            // every later batch into a transaction that never commits. A new one replaces it;
            // closing the old one rolls its transaction back.
            tracing::error!("the write connection is stuck in a transaction: reopening it");
            match open(path) {
                Ok(fresh) => conn.conn = fresh,
                // Tried again after the next batch; meanwhile writes fail `unavailable`.
                Err(e) => tracing::error!(error = %e, "cannot reopen the write connection"),
            }
        }
        note(&result);
        let logged = conn.take();
        if result.is_ok() && !logged.events.is_empty() {
            // None listening is no loss: the log holds it all.
            let _ = feed.send(Arc::new(logged));
        }
        for job in batch.iter_mut().filter(|j| j.bare()) {
            // Outside the batch's transaction; a failure is its own answer.
            let _ = job.run(&conn);
        }
        for job in batch.drain(..) {
            job.answer(result.as_ref().map(|_| ()));
        }
    }
}

/// Stores the batch's writes in one transaction.
/// `stick`: the batch ends as if COMMIT and ROLLBACK both failed (fault injection).
fn store_batch(conn: &Tx, batch: &mut [Box<dyn Job>], stick: bool) -> Result<(), StoreError> {
    if batch.iter().all(|j| j.bare()) {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let mut result = Ok(());
    for job in batch.iter_mut().filter(|j| !j.bare()) {
        if let Err(e) = job.run(conn) {
            result = Err(e);
            break;
        }
    }
    if stick {
        return Err(StoreError::Unavailable(
            "injected: COMMIT and ROLLBACK failed".into(),
        ));
    }
    if result.is_ok() {
        result = conn.execute_batch("COMMIT").map_err(StoreError::from);
    }
    // A failed COMMIT (disk full, busy) can leave the transaction open: roll back, so that the
    // next batch does not write inside a transaction that never commits.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count(w: &Writer) -> i64 {
        w.write(|tx| Ok(tx.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_connection_left_in_a_transaction_is_replaced_and_later_writes_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let w = Writer::start(&path, |_| {}).unwrap();
        w.bare(|tx| Ok(tx.execute_batch("CREATE TABLE t (x INTEGER)")?))
            .await
            .unwrap();
        w.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (1)", [])?))
            .await
            .unwrap();

        w.stick_next_batch.store(true, Ordering::SeqCst);
        let lost = w
            .write(|tx| Ok(tx.execute("INSERT INTO t VALUES (2)", [])?))
            .await;
        assert!(
            matches!(lost, Err(StoreError::Unavailable(_))),
            "the stuck batch is refused: {lost:?}"
        );
        // Nothing of the stuck batch was stored, and later writes commit for real: another
        // connection sees them.
        assert_eq!(count(&w).await, 1);
        w.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (3)", [])?))
            .await
            .unwrap();
        let other = Connection::open(&path).unwrap();
        let xs: Vec<i64> = other
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(xs, [1, 3]);
    }
}
