//! The `renames` scenario: does a busy group hold up everyone else's delivery?
//!
//! A group of M members, C of them online, is renamed R times in a row; each rename reaches
//! every online member as `conversation_updated` carrying the whole member list. Right after the
//! last rename, a user outside the group sends a direct message, and the time until its
//! receiver has it is compared with the same message's time on an idle server. One fan-out task
//! delivers every conversation's events in log order, so whatever the renames cost it, the
//! direct message waits for.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use natter_client::{EventData, ServerFrame, Socket};
use tokio::sync::mpsc;

use super::{
    Common,
    chat::{histogram, make_users},
    report::{Latency, Report},
    target::Target,
};

/// How long any one awaited frame may take before the run is called failed.
const PATIENCE: Duration = Duration::from_secs(600);

pub async fn run(members: usize, connected: usize, renames: usize, c: &Common) -> Result<Report> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    if members < 2 || connected == 0 || connected > members || renames == 0 {
        bail!("need 2 ≤ members, 1 ≤ connected ≤ members and renames ≥ 1");
    }
    let target = Target::new(c)?;
    let anon = natter_client::Client::new(&target.url);
    let tag = format!("{:x}", rand::random::<u32>());
    eprintln!("creating {} users", members + 2);
    let users = make_users(std::slice::from_ref(&anon), members + 2, &tag).await?;
    let (group_users, pair) = users.split_at(members);
    let owner = &group_users[0].0;
    let ids: Vec<&str> = group_users[1..].iter().map(|u| u.1.as_str()).collect();
    let group = owner.create_group("bench", &ids).await?.id;
    let (sender, receiver) = (&pair[0], &pair[1]);
    let direct = sender.0.direct(&receiver.1).await?.value.id;

    // The online members drain their sockets and say when they have every rename.
    let (got_all, mut all_got) = mpsc::channel(connected);
    for (client, _) in &group_users[..connected] {
        let mut socket = client.connect(None).await?;
        let got_all = got_all.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            while let Ok(frame) = socket.next().await {
                if let ServerFrame::Event(e) = frame
                    && matches!(e.event, EventData::ConversationUpdated(_))
                {
                    seen += 1;
                    if seen == renames {
                        let _ = got_all.send(()).await;
                    }
                }
            }
        });
    }
    let mut inbox = receiver.0.connect(None).await?;

    // The direct message on a quiet server, a few times.
    let mut idle = histogram();
    for _ in 0..5 {
        let began = Instant::now();
        let id = sender.0.send_text(&direct, "idle").await?.id;
        arrives(&mut inbox, &id).await?;
        idle.record(began.elapsed().as_micros() as u64)?;
    }

    let began = Instant::now();
    for i in 0..renames {
        owner.rename(&group, &format!("bench {i}")).await?;
    }
    let renamed = began.elapsed();
    let sent = Instant::now();
    let id = sender.0.send_text(&direct, "behind the renames").await?.id;
    arrives(&mut inbox, &id).await?;
    let mut behind = histogram();
    behind.record(sent.elapsed().as_micros() as u64)?;
    for _ in 0..connected {
        tokio::time::timeout(PATIENCE, all_got.recv())
            .await
            .context("an online member never got every rename")?;
    }
    let spread = began.elapsed();

    let stats = target.stats();
    Ok(Report {
        scenario: "renames".into(),
        parameters: format!("members={members} connected={connected} renames={renames}"),
        seconds: spread.as_secs_f64(),
        delivery_latency: Some(Latency::from_micros(&behind)),
        server: stats,
        notes: vec![
            format!(
                "direct message on an idle server: p50 {:.2} ms, max {:.2} ms (n=5)",
                idle.value_at_quantile(0.5) as f64 / 1000.0,
                idle.max() as f64 / 1000.0
            ),
            format!(
                "direct message sent right after the renames (delivery above): {:.2} ms",
                behind.max() as f64 / 1000.0
            ),
            format!(
                "{renames} renames acknowledged in {:.1} ms; every online member had them all after {:.1} ms",
                renamed.as_secs_f64() * 1000.0,
                spread.as_secs_f64() * 1000.0
            ),
        ],
        ..Default::default()
    })
}

/// Waits until the message `id` arrives on `socket`.
async fn arrives(socket: &mut Socket, id: &str) -> Result<()> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match socket.next_within(left).await? {
            Some(ServerFrame::Event(e)) => {
                if matches!(&e.event, EventData::NewMessage(m) if m.id == id) {
                    return Ok(());
                }
            }
            Some(_) => {}
            None => bail!("the direct message never arrived"),
        }
    }
}
