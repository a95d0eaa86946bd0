//! The `connections` and `startup` scenarios: memory per idle connection, time to listening.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use futures::{StreamExt, stream};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use natter_client::Client;
use tokio::sync::watch;

use super::{
    Common,
    report::{Latency, Report},
    target::{Target, proc_stats},
};

/// Connections per user: logins cost an Argon2 hash each, so users hold several devices, but
/// fewer than the server's default cap of 32 per user.
const PER_USER: usize = 25;
/// Connections per source address: well under the ~28,000 ephemeral ports of one address.
const PER_ADDRESS: usize = 20_000;

pub async fn run(count: usize, c: &Common) -> Result<Report> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let target = Target::new(c)?;
    let anon = Client::new(&target.url);
    let tag = format!("{:x}", rand::random::<u32>());
    let n_users = count.div_ceil(PER_USER).max(1);
    let setup = ProgressBar::new_spinner().with_message(format!("creating {n_users} users"));
    setup.enable_steady_tick(Duration::from_millis(200));
    let made: Vec<_> = stream::iter(0..n_users)
        .map(|i| {
            let anon = anon.clone();
            let name = format!("c{tag}u{i}");
            async move { anon.sign_up(&name, "bench-password").await }
        })
        .buffered(8)
        .collect()
        .await;
    let mut clients = Vec::with_capacity(n_users);
    for m in made {
        clients.push(m?.0);
    }
    setup.finish_and_clear();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = target.stats();

    let bar = ProgressBar::new(count as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} connections")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let closed = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let opened: Vec<Result<tokio::task::JoinHandle<()>, natter_client::Error>> =
        stream::iter(0..count)
            .map(|i| {
                let client = clients[i % n_users].clone();
                let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i / PER_ADDRESS) as u8));
                let mut stop = stop_rx.clone();
                let closed = closed.clone();
                let bar = bar.clone();
                async move {
                    let mut socket = client.connect_from(None, ip).await?;
                    bar.inc(1);
                    Ok(tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                f = socket.next() => if f.is_err() {
                                    closed.fetch_add(1, Ordering::Relaxed);
                                    return;
                                },
                                _ = stop.changed() => return,
                            }
                        }
                    }))
                }
            })
            .buffer_unordered(256)
            .collect()
            .await;
    let connect_secs = began.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut held = Vec::with_capacity(count);
    let mut failed = 0;
    for o in opened {
        match o {
            Ok(h) => held.push(h),
            Err(_) => failed += 1,
        }
    }
    // Let the server settle, then hold the connections for the run's duration.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = target.stats();
    tokio::time::sleep(c.duration).await;
    let still_open = held.len() as u64 - closed.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for h in held {
        let _ = h.await;
    }

    let mut report = Report {
        scenario: "connections".into(),
        parameters: format!("count={count}, {n_users} users"),
        seconds: connect_secs,
        connections: Some(still_open),
        server: during,
        ..Default::default()
    };
    report.notes.push(format!(
        "{} connected in {connect_secs:.1} s ({:.0}/s), {failed} failed, {} closed early",
        count - failed,
        (count - failed) as f64 / connect_secs,
        closed.load(Ordering::Relaxed)
    ));
    if let (Some(b), Some(d)) = (before, during)
        && still_open > 0
    {
        report.server_rss_per_connection_bytes =
            Some(d.rss_bytes.saturating_sub(b.rss_bytes) as f64 / still_open as f64);
    }
    if failed > 0 {
        report.lost = failed as u64;
    }
    Ok(report)
}

/// Starts the server `runs` times; reports time to its "listening" line and its idle RSS.
pub async fn startup(runs: usize, c: &Common) -> Result<Report> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut idle_rss = 0;
    for _ in 0..runs {
        let t = Target::start(c)?;
        if let Some(d) = t.startup {
            h.record((d.as_micros() as u64).max(1))?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(s) = t.pid().and_then(proc_stats) {
            idle_rss = idle_rss.max(s.rss_bytes);
        }
    }
    let mut report = Report {
        scenario: "startup".into(),
        parameters: format!("runs={runs}"),
        startup_ms: Some(Latency::from_micros(&h)),
        ..Default::default()
    };
    report.notes.push(format!(
        "idle RSS after 1 s: {:.1} MiB (highest of the runs)",
        idle_rss as f64 / 1048576.0
    ));
    Ok(report)
}
