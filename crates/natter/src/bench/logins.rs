//! The `logins` scenario: password hashing under load (each login is one Argon2id hash of
//! 19 MiB), and how much of that memory the server still holds once the load is over.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, stream};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use natter_client::{Client, LoginRequest};

use super::{
    Common,
    report::{Latency, Report},
    target::Target,
};

pub async fn run(count: usize, concurrency: usize, c: &Common) -> Result<Report> {
    let target = Target::new(c)?;
    let anon = Client::new(&target.url);
    let name = format!("l{:x}", rand::random::<u32>());
    let password = "bench-password";
    anon.sign_up(&name, password)
        .await
        .with_context(|| format!("creating {name}"))?;
    let before = target.stats();

    let bar = ProgressBar::new(count as u64);
    let began = Instant::now();
    let timed: Vec<Result<Duration>> = stream::iter(0..count)
        .map(|_| {
            let anon = anon.clone();
            let req = LoginRequest {
                username: name.clone(),
                password: password.into(),
                device_name: None,
            };
            let bar = bar.clone();
            async move {
                let t = Instant::now();
                let done = anon.login(&req).await.map(|_| t.elapsed());
                bar.inc(1);
                Ok(done?)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = began.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut report = Report {
        scenario: "logins".into(),
        parameters: format!("count={count} concurrency={concurrency}"),
        seconds,
        ..Default::default()
    };
    for t in timed {
        match t {
            Ok(t) => latency.record(t.as_micros() as u64).ok(),
            Err(_) => {
                report.send_errors += 1;
                None
            }
        };
    }
    report.logins_per_second = Some(latency.len() as f64 / seconds);
    report.login_latency = Some(Latency::from_micros(&latency));
    report.server = match (before, target.stats()) {
        (Some(b), Some(a)) => Some(super::target::ProcStats {
            cpu_seconds: a.cpu_seconds - b.cpu_seconds,
            ..a
        }),
        (_, a) => a,
    };
    drop(anon);
    report.settled = target.settle(c.settle).await;
    if !c.url.is_empty() {
        report.notes.push(
            "a server at a URL limits logins to 30 a minute unless its rate limits are off".into(),
        );
    }
    Ok(report)
}
