//! Resuming: a device that reconnects with the last cursor it saw receives every durable event
//! after it once, in order, then the live stream, with no gap and no repeat at the switch; also
//! when it reconnects every few hundred milliseconds while others write, after the server
//! closed it for being too slow (4008), and after the server could not read or render an event
//! for it (4008 live, 1011 in a backlog).

use std::time::Duration;

use natter_client::{Client, ControlFrame, Error, Event, EventData, Live, ServerFrame, Socket};
use rand::Rng;
use tokio::{task::JoinHandle, time::Instant};

use crate::helpers::*;

/// What a receiving device has processed: the cursor to resume from and the seqs of one
/// conversation's `new_message` events, in the order they came.
struct Seen {
    conversation_id: String,
    cursor: String,
    seqs: Vec<i64>,
    cursors: Vec<String>,
}

impl Seen {
    fn new(conversation_id: &str, cursor: &str) -> Self {
        Self {
            conversation_id: conversation_id.to_owned(),
            cursor: cursor.to_owned(),
            seqs: vec![],
            cursors: vec![],
        }
    }

    /// Processes one durable event; its cursor must come after every cursor seen before.
    #[track_caller]
    fn record(&mut self, e: &Event) {
        assert!(
            cursor_pos(&e.cursor) > cursor_pos(&self.cursor),
            "cursor {} came after {}: an event repeated or came out of order ({:?})",
            e.cursor,
            self.cursor,
            e.event
        );
        self.cursor = e.cursor.clone();
        self.cursors.push(e.cursor.clone());
        if let EventData::NewMessage(m) = &e.event
            && m.conversation_id == self.conversation_id
        {
            self.seqs.push(m.seq);
        }
    }
}

fn kind(e: &EventData) -> &'static str {
    match e {
        EventData::NewMessage(_) => "new_message",
        EventData::MessageUpdated(_) => "message_updated",
        EventData::MessageDeleted(_) => "message_deleted",
        EventData::MessageStatus(_) => "message_status",
        EventData::ConversationUpdated(_) => "conversation_updated",
        EventData::ConversationRemoved(_) => "conversation_removed",
        EventData::ConversationStatus(_) => "conversation_status",
        EventData::UserUpdated(_) => "user_updated",
        EventData::ReactionChanged(_) => "reaction_changed",
    }
}

/// A group of `senders` writers and one receiver; returns (receiver, senders, group id).
async fn group_with_senders(app: &TestApp, senders: usize) -> (Client, Vec<Client>, String) {
    let (receiver, r) = app.user("receiver").await;
    let mut clients = vec![];
    let mut ids = vec![r.id.clone()];
    for i in 1..=senders {
        let (c, u) = app.user(&format!("sender{i}")).await;
        clients.push(c);
        ids.push(u.id);
    }
    let members: Vec<&str> = ids.iter().map(String::as_str).collect();
    let g = clients[0].create_group("busy", &members).await.unwrap();
    (receiver, clients, g.id)
}

/// Each client sends `per_sender` messages of `text` (with a counter) into `conv`, continuously.
fn spawn_senders(
    senders: &[Client],
    conv: &str,
    per_sender: i64,
    text: &str,
) -> Vec<JoinHandle<()>> {
    senders
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (c, conv, text) = (c.clone(), conv.to_owned(), text.to_owned());
            tokio::spawn(async move {
                for n in 0..per_sender {
                    c.send_text(&conv, &format!("{i}/{n} {text}"))
                        .await
                        .unwrap_or_else(|e| panic!("sender {i} message {n}: {e}"));
                }
            })
        })
        .collect()
}

/// Reads `ws` until it stays quiet for [`QUIET`], recording every event (a repeated one fails
/// [`Seen::record`]); what trails the last message (such as a sender's read mark) comes too.
async fn drain(ws: &mut Socket, seen: &mut Seen) {
    loop {
        match ws.next_within(QUIET).await {
            Ok(Some(ServerFrame::Event(e))) => seen.record(&e),
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
}

async fn join(writers: Vec<JoinHandle<()>>) {
    for w in writers {
        w.await.expect("a sender finishes");
    }
}

// ---- Catching up ----

#[tokio::test]
async fn an_offline_member_gets_everything_it_missed_in_order_once() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, c) = app.user("carol").await;
    let g = alice.create_group("trio", &[&b.id, &c.id]).await.unwrap();

    // Bob was online, saw the head, and went away.
    let wb = bob.connect(None).await.unwrap();
    let cursor = wb.ready.cursor.clone();
    wb.close().await;

    // What he misses: messages from two senders, an edit, a deletion and a rename.
    const N: i64 = 30;
    let mut ids = vec![];
    for i in 1..=N {
        let sender = if i % 2 == 1 { &alice } else { &carol };
        let m = sender
            .send_text(&g.id, &format!("missed {i}"))
            .await
            .unwrap();
        assert_eq!(m.seq, i);
        ids.push(m.id);
    }
    alice.edit_message(&ids[4], "edited").await.unwrap(); // seq 5, alice's
    carol.delete_message(&ids[5]).await.unwrap(); // seq 6, carol's
    alice.rename(&g.id, "renamed").await.unwrap();

    let mut wb = bob.connect(Some(&cursor)).await.unwrap();
    assert_eq!(wb.ready.cursor, cursor);
    let mut seen = Seen::new(&g.id, &cursor);
    let mut kinds = vec![];
    while kinds.len() < N as usize + 3 {
        let e = next_event(&mut wb).await;
        seen.record(&e);
        match &e.event {
            // A sender's read mark moves when it sends after others: legitimate, not counted.
            EventData::MessageStatus(s) => {
                assert_eq!(s.status, "read");
                continue;
            }
            EventData::NewMessage(m) if m.seq == 6 => {
                assert!(m.deleted, "the replay carries the tombstone");
                assert_eq!(m.text, None);
            }
            EventData::MessageUpdated(m) => {
                assert_eq!(m.id, ids[4]);
                assert_eq!(m.text.as_deref(), Some("edited"));
            }
            EventData::MessageDeleted(d) => {
                assert_eq!(d.message_id, ids[5]);
                assert!(!d.for_me);
            }
            EventData::ConversationUpdated(conv) => {
                assert_eq!(conv.name.as_deref(), Some("renamed"))
            }
            _ => {}
        }
        kinds.push(kind(&e.event));
    }
    // Nothing repeats after the backlog.
    drain(&mut wb, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, N);
    let mut expected = vec!["new_message"; N as usize];
    expected.extend(["message_updated", "message_deleted", "conversation_updated"]);
    assert_eq!(kinds, expected, "the log's order");

    // The same events, with the same cursors, by polling.
    let polled = bob.sync(Some(&cursor), Some(200), None).await.unwrap();
    assert!(!polled.has_more);
    let polled: Vec<String> = polled.events.into_iter().map(|e| e.cursor).collect();
    assert_eq!(
        polled, seen.cursors,
        "/sync and the WebSocket share the log and its cursors"
    );

    // Then the live stream, once.
    let m = carol.send_text(&g.id, "live").await.unwrap();
    let e = next_event(&mut wb).await;
    seen.record(&e);
    match e.event {
        EventData::NewMessage(got) => assert_eq!((got.id, got.seq), (m.id, N + 1)),
        other => panic!("expected the live new_message, got {other:?}"),
    }
    drain(&mut wb, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, N + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_backlog_then_live_while_others_keep_writing() {
    let app = spawn_app().await;
    let (receiver, senders, g) = group_with_senders(&app, 4).await;
    let cursor = receiver.sync(None, None, None).await.unwrap().next_cursor;

    // More than one page of backlog (the server reads it in pages)...
    join(spawn_senders(&senders, &g, 150, "offline")).await;
    // ...and writers still busy while it is replayed.
    let writers = spawn_senders(&senders, &g, 50, "during");
    const TOTAL: i64 = 4 * 200;

    let mut ws = receiver.connect(Some(&cursor)).await.unwrap();
    let mut seen = Seen::new(&g, &cursor);
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.seqs.len() as i64) < TOTAL && Instant::now() < deadline {
        match ws.next_within(ARRIVES).await {
            Ok(Some(ServerFrame::Event(e))) => seen.record(&e),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
    join(writers).await;
    drain(&mut ws, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, TOTAL);
}

// ---- The resume stress test ----

const STRESS_SENDERS: usize = 3;
/// Each sender writes at least this many messages...
const STRESS_MIN_PER_SENDER: i64 = 150;
/// ...and for at least this long, so that the receiver reconnects many times meanwhile
/// however fast this machine is.
const STRESS_WRITE_FOR: Duration = Duration::from_secs(4);

/// A random reading window of 100–200 ms.
fn window() -> Duration {
    Duration::from_millis(rand::rng().random_range(100..=200))
}

/// The stress senders: each writes continuously into the group; the total is known once all
/// are done.
struct Writers {
    handles: Vec<JoinHandle<i64>>,
    total: Option<i64>,
}

impl Writers {
    fn spawn(senders: &[Client], conv: &str) -> Self {
        let handles = senders
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (c, conv) = (c.clone(), conv.to_owned());
                tokio::spawn(async move {
                    let start = Instant::now();
                    let mut n = 0;
                    while n < STRESS_MIN_PER_SENDER || start.elapsed() < STRESS_WRITE_FOR {
                        c.send_text(&conv, &format!("{i}/{n}"))
                            .await
                            .unwrap_or_else(|e| panic!("sender {i} message {n}: {e}"));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        Self {
            handles,
            total: None,
        }
    }

    fn writing(&self) -> bool {
        self.handles.iter().any(|h| !h.is_finished())
    }

    /// Waits for every sender; returns how many messages they sent in all.
    async fn total(&mut self) -> i64 {
        if self.total.is_none() {
            let mut total = 0;
            for h in self.handles.drain(..) {
                total += h.await.expect("a sender finishes");
            }
            self.total = Some(total);
        }
        self.total.unwrap_or_default()
    }

    /// Whether every sender is done and `seen` holds as many messages as they sent.
    async fn all_received(&mut self, seen: &Seen) -> bool {
        !self.writing() && seen.seqs.len() as i64 >= self.total().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_stress_reconnecting_every_few_hundred_ms_loses_and_repeats_nothing() {
    let app = spawn_app().await;
    let (receiver, senders, g) = group_with_senders(&app, STRESS_SENDERS).await;
    let start = receiver.sync(None, None, None).await.unwrap().next_cursor;
    let mut writers = Writers::spawn(&senders, &g);

    let mut seen = Seen::new(&g, &start);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut connections, mut during_writes) = (0, 0);
    while !writers.all_received(&seen).await && Instant::now() < deadline {
        let mut ws = receiver
            .connect(Some(&seen.cursor))
            .await
            .unwrap_or_else(|e| panic!("reconnect {connections} failed: {e}"));
        assert_eq!(ws.ready.cursor, seen.cursor, "ready echoes since");
        connections += 1;
        if writers.writing() {
            during_writes += 1;
        }
        let (until, before) = (Instant::now() + window(), seen.cursors.len());
        loop {
            match tokio::time::timeout_at(until, ws.next()).await {
                Err(_) => break,
                Ok(Ok(ServerFrame::Event(e))) => seen.record(&e),
                Ok(Ok(ServerFrame::Control(ControlFrame::ResyncRequired { .. }))) => {
                    panic!("a recent cursor must resume, not resync")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("the socket failed: {e}"),
            }
        }
        // Half of the time politely, half of the time by just going away.
        if connections % 2 == 0 {
            ws.close().await;
        } else {
            drop(ws);
        }
        if !writers.writing() && seen.cursors.len() == before {
            break; // all written and nothing more comes: whatever is missing stays missing
        }
    }
    let total = writers.total().await;
    eprintln!("{total} messages, {connections} connections, {during_writes} while writing");
    assert_exactly_once_in_order(&seen.seqs, total);
    assert!(
        during_writes >= 10,
        "the receiver must reconnect while the senders write (did {during_writes} times)"
    );
    // Nothing is left over to come twice.
    let mut ws = receiver.connect(Some(&seen.cursor)).await.unwrap();
    drain(&mut ws, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_stress_with_live_loses_and_repeats_nothing() {
    let app = spawn_app().await;
    let (receiver, senders, g) = group_with_senders(&app, STRESS_SENDERS).await;
    let start = receiver.sync(None, None, None).await.unwrap().next_cursor;
    let mut live = Live::connect(&receiver, Some(&start)).await.unwrap();
    let mut writers = Writers::spawn(&senders, &g);

    let mut seen = Seen::new(&g, &start);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut during_writes = 0;
    while !writers.all_received(&seen).await && Instant::now() < deadline {
        let (until, before) = (Instant::now() + window(), seen.cursors.len());
        loop {
            match tokio::time::timeout_at(until, live.next()).await {
                Err(_) => break,
                Ok(Ok(ServerFrame::Event(e))) => seen.record(&e),
                Ok(Ok(ServerFrame::Control(ControlFrame::ResyncRequired { .. }))) => {
                    panic!("a recent cursor must resume, not resync")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("live failed: {e}"),
            }
        }
        assert_eq!(live.cursor(), Some(seen.cursor.as_str()));
        live.disconnect();
        if writers.writing() {
            during_writes += 1;
        } else if seen.cursors.len() == before {
            break; // all written and nothing more comes: whatever is missing stays missing
        }
    }
    let total = writers.total().await;
    eprintln!("{total} messages, {during_writes} reconnections while writing");
    assert_exactly_once_in_order(&seen.seqs, total);
    assert!(
        during_writes >= 10,
        "live must reconnect while the senders write (did {during_writes} times)"
    );
    let mut ws = receiver.connect(Some(&seen.cursor)).await.unwrap();
    drain(&mut ws, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, total);
}

// ---- Too slow ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_with_4008_and_resumes_without_loss() {
    let app = spawn_app_with(|c| c.ws_queue = 4).await;
    let (receiver, senders, g) = group_with_senders(&app, 2).await;
    let mut ws = receiver.connect(None).await.unwrap();
    let start = ws.ready.cursor.clone();

    // The receiver does not read while the others send far more than its socket's buffers
    // and its queue of 4 hold.
    const PER_SENDER: i64 = 1000;
    const TOTAL: i64 = 2 * PER_SENDER;
    join(spawn_senders(&senders, &g, PER_SENDER, &"x".repeat(6000))).await;

    let mut seen = Seen::new(&g, &start);
    let code = loop {
        match ws.next_within(ARRIVES).await {
            Ok(Some(ServerFrame::Event(e))) => seen.record(&e),
            Ok(Some(_)) => {}
            Ok(None) => panic!(
                "the slow consumer was not closed (it read {} of {TOTAL} messages)",
                seen.seqs.len()
            ),
            Err(Error::Closed { code, .. }) => break code,
            Err(e) => panic!("the socket failed without a close frame: {e}"),
        }
    };
    assert_eq!(code, 4008, "too slow to keep up");
    assert!(
        (seen.seqs.len() as i64) < TOTAL,
        "closed after having everything"
    );

    // Resuming from the last cursor it processed yields the rest, once.
    let mut ws = receiver.connect(Some(&seen.cursor)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.seqs.len() as i64) < TOTAL && Instant::now() < deadline {
        match ws.next_within(ARRIVES).await {
            Ok(Some(ServerFrame::Event(e))) => seen.record(&e),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("the resumed socket failed: {e}"),
        }
    }
    drain(&mut ws, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reading_slowly_while_others_write_gets_4008_and_no_gap() {
    let app = spawn_app_with(|c| c.ws_queue = 4).await;
    let (receiver, senders, g) = group_with_senders(&app, 2).await;
    let mut ws = receiver.connect(None).await.unwrap();
    let start = ws.ready.cursor.clone();

    // The receiver keeps reading, only slower than the others write: whatever it gets before
    // the 4008 must have no gap, since it resumes after the last event it got.
    const PER_SENDER: i64 = 1000;
    const TOTAL: i64 = 2 * PER_SENDER;
    let writers = spawn_senders(&senders, &g, PER_SENDER, &"y".repeat(6000));
    let mut seen = Seen::new(&g, &start);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut closed = None;
    while (seen.seqs.len() as i64) < TOTAL && Instant::now() < deadline {
        match ws.next_within(ARRIVES).await {
            Ok(Some(ServerFrame::Event(e))) => {
                seen.record(&e);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(Error::Closed { code, .. }) => {
                closed = Some(code);
                break;
            }
            Err(e) => panic!("the socket failed without a close frame: {e}"),
        }
    }
    eprintln!(
        "closed with {closed:?} after {} of {TOTAL} messages",
        seen.seqs.len()
    );
    if let Some(code) = closed {
        assert_eq!(code, 4008, "too slow to keep up");
        let n = seen.seqs.len() as i64;
        assert_exactly_once_in_order(&seen.seqs, n);
    }
    join(writers).await;

    let mut ws = receiver.connect(Some(&seen.cursor)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.seqs.len() as i64) < TOTAL && Instant::now() < deadline {
        match ws.next_within(ARRIVES).await {
            Ok(Some(ServerFrame::Event(e))) => seen.record(&e),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("the resumed socket failed: {e}"),
        }
    }
    drain(&mut ws, &mut seen).await;
    assert_exactly_once_in_order(&seen.seqs, TOTAL);
}

/// A device that reads as fast as it can and, each time the server closes it with 4008,
/// resumes from the last cursor it processed; it stops once it holds `total` messages (known
/// when the senders are done) or when nothing more comes. Returns what it saw and how many
/// times it was closed.
async fn read_resuming_after_4008(
    client: Client,
    conv: String,
    start: String,
    total: tokio::sync::watch::Receiver<Option<i64>>,
) -> (Seen, usize) {
    let mut seen = Seen::new(&conv, &start);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut closes = 0;
    'connections: while Instant::now() < deadline {
        if total.borrow().is_some_and(|t| seen.seqs.len() as i64 >= t) {
            break;
        }
        let mut ws = client.connect(Some(&seen.cursor)).await.unwrap();
        loop {
            match ws.next_within(Duration::from_secs(1)).await {
                Ok(Some(ServerFrame::Event(e))) => seen.record(&e),
                Ok(Some(_)) => {}
                Ok(None) if total.borrow().is_some() => break 'connections,
                Ok(None) => {}
                Err(Error::Closed { code: 4008, .. }) => {
                    closes += 1;
                    break;
                }
                Err(e) => panic!("the socket failed: {e}"),
            }
        }
    }
    (seen, closes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_after_every_4008_loses_nothing_with_the_smallest_queue() {
    // With a queue of one frame, a burst of events overflows it even for a reader that reads
    // as fast as it can: the server closes with 4008 often, and each time the reader resumes
    // from the last cursor it processed. Whatever the server sent before a 4008 must have
    // had no gap, or the resume skips the missing events forever. Three devices of the
    // receiver do so at once, for more chances to catch a gap.
    let app = spawn_app_with(|c| c.ws_queue = 1).await;
    let (receiver, senders, g) = group_with_senders(&app, STRESS_SENDERS).await;
    let start = receiver.sync(None, None, None).await.unwrap().next_cursor;
    let (set_total, total) = tokio::sync::watch::channel(None);
    let mut devices = vec![];
    for i in 0..3 {
        let (device, _) = app.login("receiver", Some(&format!("device {i}"))).await;
        devices.push(tokio::spawn(read_resuming_after_4008(
            device,
            g.clone(),
            start.clone(),
            total.clone(),
        )));
    }
    let mut writers = Writers::spawn(&senders, &g);
    let sent = writers.total().await;
    set_total.send_replace(Some(sent));

    for (i, d) in devices.into_iter().enumerate() {
        let (seen, closes) = d.await.expect("a device finishes");
        eprintln!(
            "device {i}: {} of {sent} messages, {closes} closes with 4008",
            seen.seqs.len()
        );
        assert_exactly_once_in_order(&seen.seqs, sent);
    }
}

/// A resume whose check of the pruned log cannot be read is refused (1011, `/sync` an error),
/// never answered as if nothing were pruned; once storage reads again, the cursor resumes.
#[tokio::test]
async fn a_backlog_that_cannot_be_read_is_an_error_not_an_answer() {
    if sqlite_only("breaks a table of the SQLite file under a running server") {
        return;
    }
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let cursor = bob.connect(None).await.unwrap().ready.cursor;
    alice
        .send_text(&conv.id, "while bob was away")
        .await
        .unwrap();

    // The record of how far the log was pruned becomes unreadable (its table is moved away).
    let url = format!("sqlite://{}", app.data_dir().join("natter.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE meta RENAME TO meta_away")
        .execute(&mut db)
        .await
        .unwrap();

    let mut socket = bob.connect(Some(&cursor)).await.unwrap();
    match socket.next().await {
        Err(Error::Closed { code: 1011, .. }) => {}
        other => panic!("expected close 1011, got {other:?}"),
    }
    match bob.sync(Some(&cursor), None, None).await {
        Err(Error::Api {
            status: 500, code, ..
        }) if code == "internal" => {}
        other => panic!("expected 500 internal, got {other:?}"),
    }

    sqlx::query("ALTER TABLE meta_away RENAME TO meta")
        .execute(&mut db)
        .await
        .unwrap();
    let mut socket = bob.connect(Some(&cursor)).await.unwrap();
    match socket.next().await.unwrap() {
        ServerFrame::Event(e) => assert_eq!(kind(&e.event), "new_message"),
        other => panic!("expected the backlog, got {other:?}"),
    }
}

// ---- Faults: the fan-out never skips an event ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_failing_under_the_fan_out_lose_and_repeat_nothing() {
    // Faults of every size come and go while the senders write: a read or two that fail are
    // retried; a longer run makes the fan-out give up on events, and the devices owed them are
    // closed with 4008 and resume from before them. A failed read of the log is tried again.
    let (app, store) = spawn_app_on_faulty_store().await;
    let (receiver, senders, g) = group_with_senders(&app, 2).await;
    let start = receiver.sync(None, None, None).await.unwrap().next_cursor;
    let (set_total, total) = tokio::sync::watch::channel(None);
    let mut devices = vec![];
    for i in 0..2 {
        let (device, _) = app.login("receiver", Some(&format!("device {i}"))).await;
        devices.push(tokio::spawn(read_resuming_after_4008(
            device,
            g.clone(),
            start.clone(),
            total.clone(),
        )));
    }
    const N: usize = 90;
    for n in 0..N {
        match n % 9 {
            1 => store.fail_message_reads(FAN_OUT_VIEWER, 1),
            3 => store.fail_message_reads(FAN_OUT_VIEWER, 2),
            5 => store.fail_message_reads(FAN_OUT_VIEWER, 8),
            7 => store.fail_log_reads(2),
            _ => {}
        }
        senders[n % 2]
            .send_text(&g, &format!("{n}"))
            .await
            .unwrap_or_else(|e| panic!("message {n}: {e}"));
    }
    set_total.send_replace(Some(N as i64));

    let mut closes = 0;
    for (i, d) in devices.into_iter().enumerate() {
        let (seen, closed) = d.await.expect("a device finishes");
        eprintln!(
            "device {i}: {} of {N} messages, {closed} closes with 4008",
            seen.seqs.len()
        );
        assert_exactly_once_in_order(&seen.seqs, N as i64);
        closes += closed;
    }
    assert!(closes > 0, "the fan-out never gave up on an event");
}

#[tokio::test]
async fn a_device_the_fan_out_cannot_render_an_event_for_is_closed_with_4008_and_resumes() {
    let (app, store) = spawn_app_on_faulty_store().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let g = alice.create_group("pair", &[&b.id]).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let cursor = wb.ready.cursor.clone();
    // Carol shares no conversation with them: the event was never hers to receive.
    let mut wc = carol.connect(None).await.unwrap();

    // However often the fan-out tries, it cannot read the message.
    store.fail_message_reads(FAN_OUT_VIEWER, usize::MAX);
    let m = alice.send_text(&g.id, "hard to render").await.unwrap();
    let code = loop {
        match wb.next_within(ARRIVES).await {
            // Nothing else is logged meanwhile: any event is the unrenderable one, or one
            // that follows a gap.
            Ok(Some(ServerFrame::Event(e))) => panic!("an event came before the close: {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the device owed the event was neither sent it nor closed"),
            Err(Error::Closed { code, .. }) => break code,
            Err(e) => panic!("the socket failed without a close frame: {e}"),
        }
    };
    assert_eq!(code, 4008, "resume from the last cursor");
    assert_pong(&mut wc).await;

    // Resuming from its last cursor, it gets the event from the log.
    store.heal();
    let mut wb = bob.connect(Some(&cursor)).await.unwrap();
    let e = next_event(&mut wb).await;
    match e.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected the new_message it missed, got {other:?}"),
    }
    // And live events flow again.
    let m2 = alice.send_text(&g.id, "easy").await.unwrap();
    loop {
        if let EventData::NewMessage(got) = next_event(&mut wb).await.event {
            assert_eq!(got.id, m2.id);
            break;
        }
    }
}

#[tokio::test]
async fn a_backlog_that_cannot_be_rendered_closes_the_resume_and_fails_the_poll() {
    let (app, store) = spawn_app_on_faulty_store().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let g = alice.create_group("pair", &[&b.id]).await.unwrap();
    let cursor = bob.sync(None, None, None).await.unwrap().next_cursor;
    let m = alice.send_text(&g.id, "in the backlog").await.unwrap();

    // Bob's reads of the message fail: neither path may skip it.
    store.fail_message_reads(&b.id, usize::MAX);
    let mut wb = bob.connect(Some(&cursor)).await.unwrap();
    let code = loop {
        match wb.next_within(ARRIVES).await {
            Ok(Some(ServerFrame::Event(e))) => panic!("the backlog went on without it: {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the resume was neither sent the event nor closed"),
            Err(Error::Closed { code, .. }) => break code,
            Err(e) => panic!("the socket failed without a close frame: {e}"),
        }
    };
    assert_eq!(
        code, 1011,
        "an internal error: resume later from the same cursor"
    );
    assert_api_error(
        bob.sync(Some(&cursor), None, None).await,
        503,
        "unavailable",
    );

    store.heal();
    let mut wb = bob.connect(Some(&cursor)).await.unwrap();
    match next_event(&mut wb).await.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected the new_message of the backlog, got {other:?}"),
    }
    let polled = bob.sync(Some(&cursor), None, None).await.unwrap();
    assert!(
        polled
            .events
            .iter()
            .any(|e| matches!(&e.event, EventData::NewMessage(got) if got.id == m.id))
    );
}

#[tokio::test]
async fn an_event_whose_audience_cannot_be_read_closes_every_connection_with_4008() {
    let (app, store) = spawn_app_on_faulty_store().await;
    let (alice, _) = app.user("alice").await;
    let (bob, b) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let g = alice.create_group("pair", &[&b.id]).await.unwrap();
    let mut wb = bob.connect(None).await.unwrap();
    let cursor = wb.ready.cursor.clone();
    let mut wc = carol.connect(None).await.unwrap();

    // Neither the message nor who may see it can be read: whoever might be owed the event
    // must resume, Carol too, though she was not.
    store.fail_message_reads(FAN_OUT_VIEWER, usize::MAX);
    store.fail_member_reads(usize::MAX);
    let m = alice.send_text(&g.id, "for whom?").await.unwrap();
    assert_eq!(closed_code(&mut wb).await, 4008);
    assert_eq!(closed_code(&mut wc).await, 4008);

    store.heal();
    let mut wb = bob.connect(Some(&cursor)).await.unwrap();
    match next_event(&mut wb).await.event {
        EventData::NewMessage(got) => assert_eq!(got.id, m.id),
        other => panic!("expected the new_message it missed, got {other:?}"),
    }
}
