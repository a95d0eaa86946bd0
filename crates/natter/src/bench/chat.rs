//! The chat scenarios (`dm`, `group`, `reconnect`): users online on WebSockets, senders posting
//! over REST (or, with `--ws-send`, sending `send` frames over a WebSocket of their own, each
//! acknowledged by its `sent`), every delivery checked.
//!
//! Each message's text carries its send time (microseconds since the run began, one clock for
//! the whole process), so each receiver measures end-to-end latency itself. Each receiver
//! tracks the seqs it saw per conversation: a seq seen twice is a duplicate, a seq below one
//! already seen is out of order, and a seq the server stored that a receiver never saw is lost.
//!
//! With `--receipts`, each receiver also marks what it got as the web client does: delivered as
//! messages from others arrive (at most one mark per conversation per [`MARK_EVERY`], with the
//! highest seq seen), read [`READ_AFTER`] after a delivered mark. When the load is over, each
//! sends what it has not marked yet and waits for a `pong`, so that every mark is counted in the
//! window whose CPU time is reported.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use futures::{StreamExt, stream};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use natter_client::{
    Client, ClientFrame, ControlFrame, EventData, Live, SendMessageRequest, ServerFrame,
};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use super::{
    Common, Scenario,
    report::{CpuCost, Latency, Marks, Reactions, Report},
    target::{Target, own_cpu_seconds},
};

const PASSWORD: &str = "bench-password";
/// At most one delivered mark (and one read mark) per conversation this often.
const MARK_EVERY: Duration = Duration::from_millis(250);
/// A read mark follows a delivered mark this long after.
const READ_AFTER: Duration = Duration::from_millis(500);
/// `--reactions` reacts to one of a conversation's last this many messages.
const RECENT: usize = 50;
/// The emoji `--reactions` chooses from.
const EMOJI: [&str; 4] = ["👍", "❤️", "😂", "🎉"];

/// One conversation of the run.
struct Conv {
    id: String,
    members: Vec<usize>,
    senders: Vec<usize>,
}

/// What one receiver saw of one conversation.
#[derive(Default)]
struct Seen {
    seqs: std::collections::HashSet<i64>,
    max: i64,
    duplicated: u64,
    out_of_order: u64,
}

/// What one receiver measured.
struct Received {
    by_conv: HashMap<String, Seen>,
    deliveries: u64,
    latency: Histogram<u64>,
    /// Latency per seq, for the "last member" figure of groups.
    per_seq: Vec<u32>,
    delivered_marks: u64,
    read_marks: u64,
    refused_marks: u64,
    /// The connection, closed only once the server's CPU time has been read.
    live: Option<Live>,
}

/// One receiver's marks in one conversation (`--receipts`).
#[derive(Default)]
struct Marking {
    /// The highest seq seen.
    seen: i64,
    /// The last delivered and read marks sent.
    delivered: i64,
    read: i64,
    delivered_sent_at: Option<tokio::time::Instant>,
    delivered_due: Option<tokio::time::Instant>,
    read_due: Option<tokio::time::Instant>,
}

impl Marking {
    /// A message from someone else arrived: schedule a delivered mark, at once if none was
    /// sent in the last [`MARK_EVERY`].
    fn arrived(&mut self, seq: i64, now: tokio::time::Instant) {
        self.seen = self.seen.max(seq);
        if self.seen > self.delivered && self.delivered_due.is_none() {
            let earliest = self.delivered_sent_at.map_or(now, |t| t + MARK_EVERY);
            self.delivered_due = Some(earliest.max(now));
        }
    }

    fn next_due(&self) -> Option<tokio::time::Instant> {
        match (self.delivered_due, self.read_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The marks due by `now` (all that are owed when `flush`), as frames; updates the state
    /// as if they were sent.
    fn take_due(&mut self, conv: &str, now: tokio::time::Instant, flush: bool) -> Vec<ClientFrame> {
        let due = |t: Option<tokio::time::Instant>| flush || t.is_some_and(|t| t <= now);
        let mut out = Vec::new();
        if due(self.delivered_due) {
            self.delivered_due = None;
            if self.seen > self.delivered {
                self.delivered = self.seen;
                self.delivered_sent_at = Some(now);
                if self.read_due.is_none() {
                    self.read_due = Some(now + READ_AFTER);
                }
                out.push(ClientFrame::Delivered {
                    conversation_id: conv.to_owned(),
                    up_to_seq: self.delivered,
                });
            }
        }
        if due(self.read_due) {
            self.read_due = None;
            if self.delivered > self.read {
                self.read = self.delivered;
                out.push(ClientFrame::Read {
                    conversation_id: conv.to_owned(),
                    up_to_seq: self.read,
                });
            }
        }
        out
    }
}

pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Users made concurrently; each returns its logged-in client and id. User i signs up with
/// (and so talks to) `anons[i % anons.len()]`: with several servers, the users are spread over
/// them round robin.
pub(super) async fn make_users(
    anons: &[Client],
    n: usize,
    tag: &str,
) -> Result<Vec<(Client, String)>> {
    let made: Vec<Result<(Client, String)>> = stream::iter(0..n)
        .map(|i| {
            let anon = anons[i % anons.len()].clone();
            let name = format!("b{tag}u{i}");
            async move {
                let (c, u) = anon
                    .sign_up(&name, PASSWORD)
                    .await
                    .with_context(|| format!("creating {name}"))?;
                Ok((c, u.id))
            }
        })
        .buffered(8)
        .collect()
        .await;
    made.into_iter().collect()
}

pub async fn run(scenario: &Scenario, c: &Common) -> Result<Report> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let target = Target::new(c)?;
    let anons: Vec<Client> = target.urls.iter().map(Client::new).collect();
    let tag = format!("{:x}", rand::random::<u32>());
    let (n_users, params) = match scenario {
        Scenario::Dm { pairs } => (pairs * 2, format!("pairs={pairs}")),
        Scenario::Group { members, senders } => {
            (*members, format!("members={members} senders={senders}"))
        }
        Scenario::Reconnect {
            members,
            senders,
            every,
        } => (
            *members,
            format!("members={members} senders={senders} every={every:?}"),
        ),
        _ => unreachable!("not a chat scenario"),
    };
    let load = match c.rate {
        Some(r) => format!("open loop {r}/s"),
        None => format!("closed loop, {} in flight per sender", c.inflight),
    };
    let load = if c.ws_send {
        format!("{load}, sent over WebSocket")
    } else {
        load
    };
    let setup = ProgressBar::new_spinner().with_message(format!("setting up {n_users} users"));
    setup.enable_steady_tick(Duration::from_millis(200));
    let users = make_users(&anons, n_users, &tag).await?;

    let convs: Vec<Conv> = match scenario {
        Scenario::Dm { pairs } => {
            let mut v = Vec::with_capacity(*pairs);
            for p in 0..*pairs {
                let (a, b) = (2 * p, 2 * p + 1);
                let conv = users[a].0.direct(&users[b].1).await?.value;
                v.push(Conv {
                    id: conv.id,
                    members: vec![a, b],
                    senders: vec![a],
                });
            }
            v
        }
        Scenario::Group { senders, .. } | Scenario::Reconnect { senders, .. } => {
            let ids: Vec<&str> = users[1..].iter().map(|u| u.1.as_str()).collect();
            let conv = users[0].0.create_group("bench", &ids).await?;
            vec![Conv {
                id: conv.id,
                members: (0..n_users).collect(),
                senders: (0..(*senders).min(n_users)).collect(),
            }]
        }
        _ => unreachable!(),
    };
    let group = !matches!(scenario, Scenario::Dm { .. });
    let reconnect_every = match scenario {
        Scenario::Reconnect { every, .. } => Some(*every),
        _ => None,
    };

    // Receivers: every member online.
    setup.set_message("connecting receivers");
    let start = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let progress = Arc::new(AtomicU64::new(0));
    let reaction_events = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::with_capacity(n_users);
    for (i, (client, user_id)) in users.iter().enumerate() {
        let live = Live::connect(client, None).await?;
        let stop = stop_rx.clone();
        let me = user_id.clone();
        let progress = progress.clone();
        let reaction_events = reaction_events.clone();
        let every = reconnect_every.map(|e| {
            // Spread the drops so that receivers do not all leave at once.
            e + Duration::from_millis((i as u64 * 37) % e.as_millis().max(1) as u64)
        });
        readers.push(tokio::spawn(receive(
            live,
            me,
            start,
            stop,
            progress,
            reaction_events,
            Options {
                per_seq: group,
                drop_every: every,
                receipts: c.receipts,
            },
        )));
    }
    setup.finish_and_clear();

    // Senders.
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let ack_hist = Arc::new(std::sync::Mutex::new(histogram()));
    let reacting = Arc::new(ReactionStats::default());
    // The clock of latencies started before the receivers connected; the run starts now.
    let began = Instant::now();
    let before = target.stats_each();
    let own_before = own_cpu_seconds();
    let deadline = began + c.duration;
    let bar = ProgressBar::new(c.duration.as_secs().max(1));
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let n_senders: usize = convs.iter().map(|c| c.senders.len()).sum();
    let mut tasks = Vec::new();
    for conv in &convs {
        // Shared by the conversation's senders: its latest messages, and who reacts.
        let recent = Arc::new(std::sync::Mutex::new(VecDeque::with_capacity(RECENT)));
        let reactors: Arc<Vec<Client>> =
            Arc::new(conv.members.iter().map(|&m| users[m].0.clone()).collect());
        for &s in &conv.senders {
            let ws = if c.ws_send {
                Some(WsSend::start(users[s].0.clone(), conv.id.clone()).await?)
            } else {
                None
            };
            let sender = Sender {
                ws,
                client: users[s].0.clone(),
                conv: conv.id.clone(),
                name: format!("{s}"),
                start,
                size: c.size,
                acked: acked.clone(),
                errors: errors.clone(),
                ack: ack_hist.clone(),
                counter: Arc::new(AtomicU64::new(0)),
                share: c.reactions,
                recent: recent.clone(),
                reactors: reactors.clone(),
                reacting: reacting.clone(),
            };
            match c.rate {
                None => {
                    for _ in 0..c.inflight.max(1) {
                        let s = sender.clone();
                        tasks.push(tokio::spawn(async move {
                            while Instant::now() < deadline {
                                s.one_op().await;
                            }
                        }));
                    }
                }
                Some(rate) => {
                    let per = (rate as f64 / n_senders as f64).max(0.001);
                    let s = sender.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per));
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                        // Bounds the sends in flight if the server falls behind.
                        let limit = Arc::new(Semaphore::new(10_000));
                        let mut inflight = Vec::new();
                        while Instant::now() < deadline {
                            tick.tick().await;
                            let Ok(permit) = limit.clone().acquire_owned().await else {
                                break;
                            };
                            let s = s.clone();
                            inflight.push(tokio::spawn(async move {
                                s.one_op().await;
                                drop(permit);
                            }));
                        }
                        for t in inflight {
                            let _ = t.await;
                        }
                    }));
                }
            }
        }
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        bar.set_position(began.elapsed().as_secs());
        bar.set_message(format!(
            "{} acked, {} delivered",
            acked.load(Ordering::Relaxed),
            progress.load(Ordering::Relaxed)
        ));
    }
    for t in tasks {
        let _ = t.await;
    }
    let send_secs = began.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // Drain: wait until every member holds every stored message, or give up after 15 s.
    let mut expected_total = 0u64;
    let mut last_seqs = HashMap::new();
    for conv in &convs {
        let last = users[conv.members[0]]
            .0
            .conversation(&conv.id)
            .await?
            .last_seq;
        expected_total += last as u64 * conv.members.len() as u64;
        last_seqs.insert(conv.id.clone(), last);
    }
    let drain_until = Instant::now() + Duration::from_secs(15);
    while progress.load(Ordering::Relaxed) < expected_total && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = began.elapsed().as_secs_f64();
    // Receivers stop; with --receipts each first sends the marks it still owes and waits for
    // the server to have taken them. Their sockets stay open until the CPU time is read.
    let _ = stop_tx.send(true);
    let mut received = Vec::with_capacity(readers.len());
    for r in readers {
        received.push(r.await?);
    }
    let window = began.elapsed().as_secs_f64();
    // The server's share of the run alone, setup (password hashing) excluded.
    let each: Vec<_> = before
        .into_iter()
        .zip(target.stats_each())
        .map(|(b, a)| super::target::delta(b, a))
        .collect();
    let server = super::target::sum(&each);
    let own = match (own_before, own_cpu_seconds()) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };

    let mut report = Report {
        scenario: scenario_name(scenario).into(),
        parameters: format!(
            "{params}, {load}, {} B{}{}{}",
            c.size,
            if c.receipts { ", receipts" } else { "" },
            if c.reactions > 0 {
                format!(", {}% reactions", c.reactions)
            } else {
                String::new()
            },
            if target.urls.len() > 1 {
                format!(", {} servers", target.urls.len())
            } else {
                String::new()
            }
        ),
        seconds: send_secs,
        ..Default::default()
    };
    let mut latency = histogram();
    let mut last_member: Vec<u32> = Vec::new();
    let mut marks = Marks::default();
    let mut lives = Vec::with_capacity(received.len());
    for (i, mut r) in received.into_iter().enumerate() {
        lives.extend(r.live.take());
        marks.delivered += r.delivered_marks;
        marks.read += r.read_marks;
        marks.refused += r.refused_marks;
        report.deliveries += r.deliveries;
        latency.add(&r.latency).ok();
        if last_member.len() < r.per_seq.len() {
            last_member.resize(r.per_seq.len(), 0);
        }
        for (k, v) in r.per_seq.iter().enumerate() {
            last_member[k] = last_member[k].max(*v);
        }
        for conv in convs.iter().filter(|c| c.members.contains(&i)) {
            let last = last_seqs[&conv.id];
            let seen = r.by_conv.get(&conv.id);
            let unique = seen.map_or(0, |s| s.seqs.len() as i64);
            report.lost += (last - unique).max(0) as u64;
            if let Some(s) = seen {
                report.duplicated += s.duplicated;
                report.out_of_order += s.out_of_order;
            }
        }
    }
    report.messages_acked = acked.load(Ordering::Relaxed);
    report.send_errors = errors.load(Ordering::Relaxed);
    report.messages_per_second = report.messages_acked as f64 / send_secs;
    report.deliveries_per_second = report.deliveries as f64 / elapsed;
    let ack = ack_hist
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|_| histogram());
    report.ack_latency = Some(Latency::from_micros(&ack));
    report.delivery_latency = Some(Latency::from_micros(&latency));
    if group {
        let mut h = histogram();
        for v in last_member.iter().filter(|v| **v > 0) {
            h.record(u64::from(*v)).ok();
        }
        report.last_member_latency = Some(Latency::from_micros(&h));
    }
    report.server = server;
    if each.len() > 1 {
        report.servers = each.into_iter().flatten().collect();
    }
    let per = |cpu: Option<f64>, n: u64| cpu.filter(|_| n > 0).map(|s| s * 1e6 / n as f64);
    let server_cpu = report.server.map(|s| s.cpu_seconds);
    report.cpu = Some(CpuCost {
        server_cpu_seconds: server_cpu,
        server_us_per_message: per(server_cpu, report.messages_acked),
        server_us_per_delivery: per(server_cpu, report.deliveries),
        generator_cpu_seconds: own,
        generator_us_per_message: per(own, report.messages_acked),
        generator_us_per_delivery: per(own, report.deliveries),
        window_seconds: window,
    });
    if c.receipts {
        marks.per_second = (marks.delivered + marks.read) as f64 / window;
        report.marks = Some(marks);
    }
    if c.reactions > 0 {
        report.reactions = Some(reacting.report(send_secs, &reaction_events));
    }
    // Every socket closes now; the HTTP clients go too.
    drop(lives);
    drop(users);
    report.settled = target.settle(c.settle).await;
    if progress.load(Ordering::Relaxed) < expected_total {
        report.notes.push(format!(
            "drain timed out: {} of {} deliveries",
            progress.load(Ordering::Relaxed),
            expected_total
        ));
    }
    Ok(report)
}

fn scenario_name(s: &Scenario) -> &'static str {
    match s {
        Scenario::Dm { .. } => "dm",
        Scenario::Group { .. } => "group",
        Scenario::Reconnect { .. } => "reconnect",
        Scenario::Renames { .. } => "renames",
        Scenario::Connections { .. } => "connections",
        Scenario::Startup { .. } => "startup",
        Scenario::Logins { .. } => "logins",
        Scenario::Search { .. } => "search",
    }
}

#[derive(Clone)]
struct Sender {
    client: Client,
    /// With `--ws-send`: the WebSocket the sends go over.
    ws: Option<WsSend>,
    conv: String,
    name: String,
    start: Instant,
    size: usize,
    acked: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    ack: Arc<std::sync::Mutex<Histogram<u64>>>,
    counter: Arc<AtomicU64>,
    /// `--reactions`: the share of operations that react, in percent.
    share: u8,
    /// The conversation's latest messages, newest last.
    recent: Arc<std::sync::Mutex<VecDeque<String>>>,
    /// The conversation's members' clients: any of them may react.
    reactors: Arc<Vec<Client>>,
    reacting: Arc<ReactionStats>,
}

/// What `--reactions` did, summed over the senders.
#[derive(Default)]
struct ReactionStats {
    added: AtomicU64,
    removed: AtomicU64,
    errors: AtomicU64,
    latency: std::sync::Mutex<Option<Histogram<u64>>>,
    /// The reactions given and not taken back: (reactor, message, emoji).
    given: std::sync::Mutex<HashSet<(usize, String, &'static str)>>,
}

impl ReactionStats {
    fn report(&self, seconds: f64, events: &AtomicU64) -> Reactions {
        let added = self.added.load(Ordering::Relaxed);
        let removed = self.removed.load(Ordering::Relaxed);
        let h = self
            .latency
            .lock()
            .ok()
            .and_then(|h| h.clone())
            .unwrap_or_else(histogram);
        Reactions {
            acked: added + removed,
            per_second: (added + removed) as f64 / seconds,
            added,
            removed,
            errors: self.errors.load(Ordering::Relaxed),
            events: events.load(Ordering::Relaxed),
            latency: Latency::from_micros(&h),
        }
    }
}

impl Sender {
    /// One operation: a send, or (`--reactions` percent of the time, once the conversation
    /// has a message) a reaction.
    async fn one_op(&self) {
        if self.share > 0 && rand::random_range(0..100u8) < self.share && self.react_one().await {
            return;
        }
        self.send_one().await;
    }

    /// A random member reacts to one of the latest messages with a random emoji, or takes it
    /// back if it gave it. False when there is no message yet.
    async fn react_one(&self) -> bool {
        let message = {
            let Ok(recent) = self.recent.lock() else {
                return false;
            };
            if recent.is_empty() {
                return false;
            }
            recent[rand::random_range(0..recent.len())].clone()
        };
        let who = rand::random_range(0..self.reactors.len());
        let emoji = EMOJI[rand::random_range(0..EMOJI.len())];
        let key = (who, message.clone(), emoji);
        // Claimed before the request, so that two tasks never toggle the same one at once.
        let add = match self.reacting.given.lock() {
            Ok(mut given) => {
                if given.remove(&key) {
                    false
                } else {
                    given.insert(key.clone());
                    true
                }
            }
            Err(_) => return false,
        };
        let client = &self.reactors[who];
        let began = Instant::now();
        let result = if add {
            client.add_reaction(&message, emoji).await
        } else {
            client.remove_reaction(&message, emoji).await
        };
        match result {
            Ok(()) => {
                let us = began.elapsed().as_micros() as u64;
                if let Ok(mut h) = self.reacting.latency.lock() {
                    h.get_or_insert_with(histogram).record(us.max(1)).ok();
                }
                let n = if add {
                    &self.reacting.added
                } else {
                    &self.reacting.removed
                };
                n.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.reacting.errors.fetch_add(1, Ordering::Relaxed);
                // Unknown outcome: forget the claim either way (a later toggle may repeat an
                // add or a removal, which the server takes as no change).
                if let Ok(mut given) = self.reacting.given.lock() {
                    given.remove(&key);
                }
            }
        }
        true
    }

    /// Remembers a stored message as one to react to.
    fn stored(&self, id: String) {
        if self.share == 0 {
            return;
        }
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(id);
        }
    }

    /// Sends one message, retrying with the same `client_id` (idempotent) after an error.
    async fn send_one(&self) {
        let k = self.counter.fetch_add(1, Ordering::Relaxed);
        let sent_at = self.start.elapsed().as_micros() as u64;
        let mut text = format!("b:{sent_at}:");
        while text.len() < self.size {
            text.push('x');
        }
        let req = SendMessageRequest {
            client_id: Some(format!("{}-{k}", self.name)),
            text: Some(text),
            ..Default::default()
        };
        for attempt in 0..5 {
            let began = Instant::now();
            let result = match &self.ws {
                Some(ws) => ws.send(req.clone()).await,
                None => self
                    .client
                    .send_message(&self.conv, &req)
                    .await
                    .map(|sent| sent.value.id)
                    .map_err(|e| e.to_string()),
            };
            match result {
                Ok(id) => {
                    self.stored(id);
                    let us = began.elapsed().as_micros() as u64;
                    if let Ok(mut h) = self.ack.lock() {
                        h.record(us.max(1)).ok();
                    }
                    self.acked.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(_) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
            }
        }
    }
}

/// A send waiting for its answer: `Ok` once `sent`, else what went wrong.
type Answer = oneshot::Sender<std::result::Result<String, String>>;

/// One sender's WebSocket for `--ws-send`: each send goes out as a `send` frame with a `ref` of
/// its own and is answered when the `sent` (or `error`) with that `ref` comes back, in whatever
/// order. A connection that fails fails the sends waiting on it (they retry with the same
/// `client_id`), and the next send reconnects.
#[derive(Clone)]
struct WsSend {
    tx: mpsc::Sender<(SendMessageRequest, Answer)>,
}

impl WsSend {
    async fn start(client: Client, conv: String) -> Result<WsSend> {
        let socket = client.connect(None).await?;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(ws_send_loop(client, conv, socket, rx));
        Ok(WsSend { tx })
    }

    /// Sends one message; its id once stored.
    async fn send(&self, req: SendMessageRequest) -> std::result::Result<String, String> {
        let (answer, answered) = oneshot::channel();
        self.tx
            .send((req, answer))
            .await
            .map_err(|_| "the sending socket is gone".to_owned())?;
        answered
            .await
            .map_err(|_| "the connection was lost before the answer".to_owned())?
    }
}

/// Runs one `--ws-send` socket until every [`WsSend`] handle is dropped.
async fn ws_send_loop(
    client: Client,
    conv: String,
    socket: natter_client::Socket,
    mut rx: mpsc::Receiver<(SendMessageRequest, Answer)>,
) {
    let mut socket = Some(socket);
    let mut waiting: HashMap<String, Answer> = HashMap::new();
    let mut next_ref = 0u64;
    loop {
        let Some(s) = socket.as_mut() else {
            // Whatever waited on the lost connection fails (and is retried); then reconnect.
            waiting.clear();
            match client.connect(None).await {
                Ok(s) => socket = Some(s),
                Err(_) if rx.is_closed() => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            continue;
        };
        tokio::select! {
            next = rx.recv() => {
                let Some((req, answer)) = next else { return };
                next_ref += 1;
                let r = next_ref.to_string();
                match s.send_message(Some(&r), &conv, req).await {
                    Ok(()) => {
                        waiting.insert(r, answer);
                    }
                    Err(e) => {
                        let _ = answer.send(Err(e.to_string()));
                        socket = None;
                    }
                }
            }
            frame = s.next() => match frame {
                Ok(ServerFrame::Control(ControlFrame::Sent { reference: Some(r), message, .. })) => {
                    if let Some(answer) = waiting.remove(&r) {
                        let _ = answer.send(Ok(message.id));
                    }
                }
                Ok(ServerFrame::Control(ControlFrame::Error { reference: Some(r), error })) => {
                    if let Some(answer) = waiting.remove(&r) {
                        let _ = answer.send(Err(error.code));
                    }
                }
                // Its own messages' events, presence: not this socket's business.
                Ok(_) => {}
                Err(_) => socket = None,
            },
        }
    }
}

/// How a receiver behaves.
struct Options {
    /// Keep each seq's latency (groups: the "last member" figure).
    per_seq: bool,
    /// Drop the connection this often (`reconnect`).
    drop_every: Option<Duration>,
    /// Mark delivered and read (`--receipts`).
    receipts: bool,
}

/// Reads one member's stream until told to stop.
async fn receive(
    mut live: Live,
    me: String,
    start: Instant,
    mut stop: watch::Receiver<bool>,
    progress: Arc<AtomicU64>,
    reaction_events: Arc<AtomicU64>,
    o: Options,
) -> Received {
    let mut r = Received {
        by_conv: HashMap::new(),
        deliveries: 0,
        latency: histogram(),
        per_seq: Vec::new(),
        delivered_marks: 0,
        read_marks: 0,
        refused_marks: 0,
        live: None,
    };
    let mut marking: HashMap<String, Marking> = HashMap::new();
    let far = Duration::from_secs(86_400);
    let mut drop_at = tokio::time::Instant::now() + o.drop_every.unwrap_or(far);
    loop {
        let now = tokio::time::Instant::now();
        let mark_at = marking
            .values()
            .filter_map(Marking::next_due)
            .min()
            .unwrap_or(now + far);
        let frame = tokio::select! {
            f = live.next() => f,
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(drop_at) => {
                live.disconnect();
                drop_at = tokio::time::Instant::now() + o.drop_every.unwrap_or(far);
                continue;
            }
            _ = tokio::time::sleep_until(mark_at) => {
                send_marks(&mut live, &mut marking, &mut r, false).await;
                continue;
            }
        };
        let e = match frame {
            Ok(ServerFrame::Event(e)) => e,
            Ok(ServerFrame::Control(ControlFrame::Error { .. })) => {
                r.refused_marks += 1;
                continue;
            }
            Ok(_) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let m = match e.event {
            EventData::NewMessage(m) => m,
            EventData::ReactionChanged(_) => {
                reaction_events.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            _ => continue,
        };
        r.deliveries += 1;
        let seen = r.by_conv.entry(m.conversation_id.clone()).or_default();
        if !seen.seqs.insert(m.seq) {
            seen.duplicated += 1;
            continue;
        }
        progress.fetch_add(1, Ordering::Relaxed);
        if m.seq < seen.max {
            seen.out_of_order += 1;
        }
        seen.max = seen.max.max(m.seq);
        if m.sender_id == me {
            continue;
        }
        if o.receipts {
            marking
                .entry(m.conversation_id.clone())
                .or_default()
                .arrived(m.seq, tokio::time::Instant::now());
        }
        let sent_at = m
            .text
            .as_deref()
            .and_then(|t| t.strip_prefix("b:"))
            .and_then(|t| t.split(':').next())
            .and_then(|t| t.parse::<u64>().ok());
        if let Some(t) = sent_at {
            let us = (start.elapsed().as_micros() as u64)
                .saturating_sub(t)
                .max(1);
            r.latency.record(us).ok();
            if o.per_seq {
                let i = m.seq as usize;
                if r.per_seq.len() <= i {
                    r.per_seq.resize(i + 1, 0);
                }
                r.per_seq[i] = us.min(u64::from(u32::MAX)) as u32;
            }
        }
    }
    if o.receipts {
        // What a client would still mark; then a ping, whose pong comes once the server has
        // handled every frame before it (it handles one connection's frames in order).
        send_marks(&mut live, &mut marking, &mut r, true).await;
        if live.send(&ClientFrame::Ping).await.is_ok() {
            let until = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::time::timeout_at(until, live.next()).await {
                    Ok(Ok(ServerFrame::Control(ControlFrame::Pong)) | Err(_)) | Err(_) => break,
                    Ok(Ok(ServerFrame::Control(ControlFrame::Error { .. }))) => {
                        r.refused_marks += 1;
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    r.live = Some(live);
    r
}

/// Sends the marks that are due (all that are owed when `flush`).
async fn send_marks(
    live: &mut Live,
    marking: &mut HashMap<String, Marking>,
    r: &mut Received,
    flush: bool,
) {
    let now = tokio::time::Instant::now();
    for (conv, m) in marking.iter_mut() {
        for frame in m.take_due(conv, now, flush) {
            let read = matches!(frame, ClientFrame::Read { .. });
            // A frame lost with a dropped connection is lost as a client's would be: the next
            // mark covers it (marks are "up to").
            if live.send(&frame).await.is_ok() {
                if read {
                    r.read_marks += 1;
                } else {
                    r.delivered_marks += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(frames: &[ClientFrame]) -> Vec<(&'static str, i64)> {
        frames
            .iter()
            .map(|f| match f {
                ClientFrame::Delivered { up_to_seq, .. } => ("delivered", *up_to_seq),
                ClientFrame::Read { up_to_seq, .. } => ("read", *up_to_seq),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn marks_are_debounced_per_conversation() {
        let t0 = tokio::time::Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut m = Marking::default();
        assert_eq!(m.next_due(), None);
        // The first message is marked delivered at once; read follows 500 ms later.
        m.arrived(1, t0);
        assert_eq!(m.next_due(), Some(t0));
        assert_eq!(seqs(&m.take_due("c", t0, false)), [("delivered", 1)]);
        assert_eq!(m.next_due(), Some(ms(500)));
        // More messages within 250 ms wait for one mark, with the highest seq.
        m.arrived(2, ms(10));
        m.arrived(4, ms(20));
        m.arrived(3, ms(30));
        assert_eq!(m.next_due(), Some(ms(250)));
        assert!(m.take_due("c", ms(100), false).is_empty());
        assert_eq!(seqs(&m.take_due("c", ms(250), false)), [("delivered", 4)]);
        // A read mark is due: it covers what was marked delivered.
        m.arrived(5, ms(400));
        assert_eq!(m.next_due(), Some(ms(500)));
        assert_eq!(
            seqs(&m.take_due("c", ms(500), false)),
            [("delivered", 5), ("read", 5)]
        );
        assert_eq!(m.next_due(), None);
        // When the load ends, whatever is owed goes at once.
        assert!(m.take_due("c", ms(1100), true).is_empty());
        m.arrived(6, ms(1200));
        m.arrived(7, ms(1201));
        let _ = m.take_due("c", ms(1200), false);
        m.arrived(8, ms(1202));
        assert_eq!(
            seqs(&m.take_due("c", ms(1203), true)),
            [("delivered", 8), ("read", 8)]
        );
    }
}
