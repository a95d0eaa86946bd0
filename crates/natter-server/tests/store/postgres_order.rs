//! PostgreSQL: the conformance suite's factory (a fresh schema per test), and the proof that the
//! event log's order holds with several writers on several nodes: a reader resuming from a
//! cursor never skips an event that commits late (docs/design/event-order.md).
//!
//! Everything here needs the database at `NATTER_TEST_POSTGRES_URL`; without it each test
//! returns at once and says that it did not run.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use natter_core::UserId;
use natter_server::store::{EventLog, Messages, Operations, Store, postgres::PgStore};

use crate::harness::{self, T0, direct, group, text, users};

/// The test database's URL, or none (and a note that the test did not run).
fn database_url(test: &str) -> Option<String> {
    match std::env::var("NATTER_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "{test}: NATTER_TEST_POSTGRES_URL is not set; this PostgreSQL test did not run"
            );
            None
        }
    }
}

/// A schema of its own in the test database, dropped (with everything in it) when this goes.
pub struct Schema {
    url: String,
    pub name: String,
}

impl Schema {
    pub async fn create(url: &str) -> Schema {
        let name = format!("natter_t_{}", uuid::Uuid::now_v7().simple());
        let pool = sqlx::PgPool::connect(url)
            .await
            .expect("connect to NATTER_TEST_POSTGRES_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&pool)
            .await
            .expect("create a test schema");
        pool.close().await;
        Schema {
            url: url.to_owned(),
            name,
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Dropped inside the test's runtime, which cannot block on itself: a thread with a
        // runtime of its own.
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&pool)
                .await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.name);
        }
    }
}

/// A fresh, empty store in a schema of its own; none without the database.
pub async fn make_postgres_store() -> Option<harness::TestStore> {
    let url = database_url("postgres conformance case")?;
    let schema = Schema::create(&url).await;
    let store = PgStore::open_in_schema(&with_pool_size(&url, 4), &schema.name)
        .await
        .expect("open a PostgreSQL store");
    Some(harness::TestStore::new(
        Arc::new(store) as Arc<dyn Store>,
        schema,
    ))
}

fn with_pool_size(url: &str, n: u32) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}max_connections={n}")
}

/// Two nodes (two stores, each with its own pool) on one database: several writers per node
/// send into a few conversations while readers on both nodes follow the log from their
/// cursors, with `events_after` and with `backlog`. Every reader ends with exactly the whole
/// log, in order, with no gap and no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_on_two_nodes_see_every_event_of_concurrent_writers_once_in_order() {
    let Some(url) = database_url("readers_on_two_nodes_see_every_event") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let url = with_pool_size(&url, 8);
    let a: Arc<dyn Store> = Arc::new(PgStore::open_in_schema(&url, &schema.name).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(PgStore::open_in_schema(&url, &schema.name).await.unwrap());

    let [alice, bob, carol] = users(&*a, ["alice", "bob", "carol"]).await;
    let conversations = [
        direct(&*a, &alice, &bob).await,
        direct(&*b, &alice, &carol).await,
        group(&*a, &alice, &[&bob, &carol]).await,
    ];
    let start = a.head().await.unwrap();

    const WRITERS_PER_NODE: usize = 3;
    const SENDS_PER_WRITER: usize = 40;
    let writing = Arc::new(AtomicBool::new(true));

    // Readers: two per node, one tailing everything, one resuming alice's backlog.
    let mut readers = Vec::new();
    for node in [&a, &b] {
        let (store, still) = (node.clone(), writing.clone());
        readers.push(tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = Vec::new();
            loop {
                let done = !still.load(Ordering::SeqCst);
                let page = store.events_after(cursor, 7).await.unwrap();
                if page.is_empty() && done {
                    break;
                }
                for e in page {
                    assert!(e.pos > cursor, "events_after went backwards");
                    cursor = e.pos;
                    seen.push(e.pos);
                }
                tokio::task::yield_now().await;
            }
            seen
        }));
        let (store, still, alice) = (node.clone(), writing.clone(), alice.clone());
        readers.push(tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = Vec::new();
            loop {
                let done = !still.load(Ordering::SeqCst);
                let backlog = store.backlog(UserId::new(&alice), cursor, 5).await.unwrap();
                assert!(backlog.resumes(cursor));
                if backlog.events.is_empty() && done {
                    break;
                }
                for e in backlog.events {
                    assert!(e.pos > cursor, "backlog went backwards");
                    assert!(e.pos <= backlog.head, "an event past the head it came with");
                    cursor = e.pos;
                    seen.push(e.pos);
                }
                tokio::task::yield_now().await;
            }
            seen
        }));
    }

    let mut writers = Vec::new();
    for (node, store) in [&a, &b].into_iter().enumerate() {
        for w in 0..WRITERS_PER_NODE {
            let store = store.clone();
            let conversations = conversations.clone();
            let senders = [alice.clone(), bob.clone(), carol.clone()];
            writers.push(tokio::spawn(async move {
                for i in 0..SENDS_PER_WRITER {
                    let c = &conversations[(node + w + i) % conversations.len()];
                    // alice is in every conversation; bob and carol in some.
                    let sender = if c == &conversations[2] {
                        &senders[i % 3]
                    } else {
                        &senders[0]
                    };
                    let msg = text(c, sender, &format!("n{node} w{w} #{i}"), T0 + i as i64);
                    store.send(&msg).await.unwrap();
                }
            }));
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    writing.store(false, Ordering::SeqCst);

    let all: Vec<i64> = a
        .events_after(start, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.pos)
        .collect();
    let head = a.head().await.unwrap();
    assert_eq!(
        all,
        ((start + 1)..=head).collect::<Vec<_>>(),
        "the log has a gap"
    );
    let for_alice: Vec<i64> = a
        .events_for(UserId::new(&alice), start, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.pos)
        .collect();
    assert!(all.len() >= 2 * WRITERS_PER_NODE * SENDS_PER_WRITER);

    for (i, r) in readers.into_iter().enumerate() {
        let seen = r.await.unwrap();
        let distinct: BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), seen.len(), "reader {i} saw an event twice");
        let expected = if i % 2 == 0 { &all } else { &for_alice };
        assert_eq!(&seen, expected, "reader {i} missed or reordered events");
    }
    for s in [a, b] {
        s.close().await;
    }
    drop(schema);
}

/// The interleaving that loses an event under the naive design: transaction A takes its
/// position and pauses before COMMIT; B takes the next position and commits; a reader reads
/// past B; then A commits, below the reader's cursor. On the naive design (positions from a
/// sequence) the reader never sees A. On the real design B cannot take a position until A
/// committed, so the reader sees A, then B.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_that_commits_late_is_lost_to_naive_positions_and_kept_by_serialised_appends() {
    let Some(url) = database_url("an_event_that_commits_late") else {
        return;
    };
    let naive_missed = late_commit(&url, true).await;
    assert!(
        naive_missed,
        "the naive design did not lose the late event: this test proves nothing"
    );
    let real_missed = late_commit(&url, false).await;
    assert!(!real_missed, "serialised appends lost the late event");
}

/// Runs the interleaving; whether the reader missed A's event.
async fn late_commit(url: &str, naive: bool) -> bool {
    let schema = Schema::create(url).await;
    let url = with_pool_size(url, 4);
    let open = |url: String, name: String| async move {
        if naive {
            PgStore::open_naive_in_schema(&url, &name).await.unwrap()
        } else {
            PgStore::open_in_schema(&url, &name).await.unwrap()
        }
    };
    // Two nodes: A's writer on one, B's writer and the reader on the other.
    let node_a = Arc::new(open(url.clone(), schema.name.clone()).await);
    let node_b = Arc::new(open(url.clone(), schema.name.clone()).await);

    let [alice, bob, carol] = users(&*node_a, ["alice", "bob", "carol"]).await;
    let ab = direct(&*node_a, &alice, &bob).await;
    let ac = direct(&*node_a, &alice, &carol).await;
    let mut cursor = node_b.head().await.unwrap();

    // A: a send into one conversation, paused after taking its position.
    let pause = node_a.pause_next_commit();
    let a_send = {
        let (store, msg) = (node_a.clone(), text(&ab, &alice, "A", T0 + 1));
        tokio::spawn(async move { store.send(&msg).await })
    };
    pause.reached.await.expect("A reached its commit");

    // B: a send into another conversation (no row lock in common with A).
    let b_send = {
        let (store, msg) = (node_b.clone(), text(&ac, &carol, "B", T0 + 2));
        tokio::spawn(async move { store.send(&msg).await })
    };
    if naive {
        // B takes the next position and commits while A is paused.
        tokio::time::timeout(Duration::from_secs(10), async {
            while !b_send.is_finished() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("on the naive design B commits while A is paused");
    } else {
        // B gets as far as taking its positions, and waits there for A's lock.
        wait_for_a_lock_on_the_head(&url).await;
        assert!(
            !b_send.is_finished(),
            "B committed while A held the log's head"
        );
    }

    // The reader reads what is committed now, and moves its cursor past it.
    let mut seen = Vec::new();
    for e in node_b.events_after(cursor, 100).await.unwrap() {
        cursor = e.pos;
        seen.push(e.message_id.clone());
    }

    pause.release.send(()).unwrap();
    let a_msg = a_send.await.unwrap().unwrap().message;
    let b_msg = b_send.await.unwrap().unwrap().message;
    // The reader resumes from its cursor.
    for e in node_b.events_after(cursor, 100).await.unwrap() {
        seen.push(e.message_id.clone());
    }
    let a_pos = node_b
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.message_id.as_deref() == Some(a_msg.id.as_str()))
        .expect("A's event is in the log")
        .pos;
    let missed = !seen.contains(&Some(a_msg.id.clone()));
    assert!(
        seen.contains(&Some(b_msg.id.clone())),
        "the reader saw B's event"
    );
    if !naive {
        assert_eq!(
            seen,
            [Some(a_msg.id.clone()), Some(b_msg.id.clone())],
            "A, then B"
        );
    } else if missed {
        assert!(a_pos <= cursor, "A's event lies below the reader's cursor");
    }
    node_a.close().await;
    node_b.close().await;
    drop(schema);
    missed
}

/// Waits (up to 10 s) until some transaction waits for a lock while appending to the log.
async fn wait_for_a_lock_on_the_head(url: &str) {
    let (url, _) = url.split_once('?').unwrap_or((url, ""));
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE '%UPDATE event_head%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never waited for the log's head"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.close().await;
}
