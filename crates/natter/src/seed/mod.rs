//! `natter seed`: fills a database with many messages, quickly, for the search benchmark
//! (`natter bench search`).
//!
//! Users and conversations are made through the API, as any client makes them (a server runs
//! in this process for the while, on the storage the settings name), so that accounts,
//! memberships and events are exactly what the server makes. The messages are then written
//! through the storage port itself (`Store::send`, the very transaction a `POST .../messages`
//! ends in: seq, event, and the search index as the server builds it), many at once, without
//! HTTP, JSON or fan-out in the way. SQLite's adapter commits the queued writes of its single
//! writer together, so concurrency turns into big batches; PostgreSQL's takes them on its
//! pool's connections. Their times are spread back from now, one every `--every`, so that
//! the newest is about now.
//!
//! The text: words of a fixed vocabulary drawn with Zipf's law (see [`words`]), so that
//! `bench search` knows which words are common and which rare.

pub mod words;

use std::{sync::Arc, time::Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use natter_client::{Client, SendMessageRequest};
use natter_server::{Config, config::Registration, store::NewMessage};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

/// The password of every seeded user.
pub const PASSWORD: &str = "seed-password";

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// How many messages to write.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// How many users: PREFIX0 (a member of every group), PREFIX1, …
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// How many groups, each of 3 to 30 members (and PREFIX0).
    #[arg(long, default_value_t = 100)]
    pub groups: usize,
    /// How many direct conversations, between random pairs.
    #[arg(long, default_value_t = 300)]
    pub directs: usize,
    /// Messages written at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The usernames' prefix (a database may hold several seeds with different prefixes).
    #[arg(long, default_value = "seed")]
    pub prefix: String,
    /// The seed of the random choices: the same seed, the same text.
    #[arg(long, default_value_t = 1)]
    pub random_seed: u64,
    /// The time between two messages (the newest is about now).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub every: std::time::Duration,
}

/// One conversation and who may send in it.
struct Conv {
    id: String,
    members: Vec<String>,
}

/// A time-ordered id (UUID version 7) for `at` (milliseconds), as the server makes them.
fn uuid_v7(at: i64, rng: &mut impl Rng) -> String {
    let r: u128 = rng.random();
    let v = ((at as u128 & 0xFFFF_FFFF_FFFF) << 80)
        | (0x7 << 76)
        | (((r >> 64) & 0xFFF) << 64)
        | (0b10 << 62)
        | (r & 0x3FFF_FFFF_FFFF_FFFF);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub async fn run(args: SeedArgs, mut config: Config) -> Result<()> {
    if args.users < 2 {
        bail!("--users must be at least 2");
    }
    if args.groups + args.directs == 0 {
        bail!("no conversation to write to: give --groups or --directs");
    }
    let began = Instant::now();
    // A server of our own, for the accounts and conversations: open registration, no limits,
    // on a port of its own, on the storage the settings name.
    config.listen = "127.0.0.1:0".parse().expect("an address");
    config.rate_limit = false;
    config.registration = Registration::Open;
    let url = config.database_url();
    let store = natter_server::app::open_store(&config).await?;
    let server = natter_server::start_with_store(config, store.clone()).await?;
    let anon = Client::new(server.url());
    let mut rng = StdRng::seed_from_u64(args.random_seed);

    let setup = ProgressBar::new_spinner().with_message(format!("creating {} users", args.users));
    setup.enable_steady_tick(std::time::Duration::from_millis(200));
    let made: Vec<Result<(Client, String)>> = stream::iter(0..args.users)
        .map(|i| {
            let anon = anon.clone();
            let name = format!("{}{i}", args.prefix);
            async move {
                let (c, u) = anon.sign_up(&name, PASSWORD).await.with_context(|| {
                    format!(
                        "creating {name} (a seed with this prefix exists? give another --prefix)"
                    )
                })?;
                Ok((c, u.id))
            }
        })
        .buffered(4)
        .collect()
        .await;
    let users: Vec<(Client, String)> = made.into_iter().collect::<Result<_>>()?;

    setup.set_message("creating conversations");
    let mut convs = Vec::with_capacity(args.groups + args.directs);
    for g in 0..args.groups {
        let owner = 1 + g % (args.users - 1);
        let size = rng.random_range(3..=30).min(args.users - 1);
        let mut members: Vec<usize> = rand::seq::index::sample(&mut rng, args.users - 1, size)
            .into_iter()
            .map(|i| i + 1)
            .collect();
        members.retain(|m| *m != owner);
        members.push(0);
        let ids: Vec<&str> = members.iter().map(|m| users[*m].1.as_str()).collect();
        let c = users[owner]
            .0
            .create_group(&format!("group {g}"), &ids)
            .await
            .context("creating a group")?;
        members.push(owner);
        convs.push(Conv {
            id: c.id,
            members: members.iter().map(|m| users[*m].1.clone()).collect(),
        });
    }
    let n_groups = convs.len();
    for _ in 0..args.directs {
        let a = rng.random_range(0..args.users);
        let mut b = rng.random_range(0..args.users - 1);
        if b >= a {
            b += 1;
        }
        let c = users[a]
            .0
            .direct(&users[b].1)
            .await
            .context("opening a direct conversation")?
            .value;
        if convs.iter().any(|k: &Conv| k.id == c.id) {
            continue;
        }
        convs.push(Conv {
            id: c.id,
            members: vec![users[a].1.clone(), users[b].1.clone()],
        });
    }
    let n_directs = convs.len() - n_groups;

    // One message through the API: the kind of a text message, as the store takes it.
    let vocabulary = Arc::new(words::Vocabulary::new());
    let first = users[0]
        .0
        .send_message(
            &convs[0].id,
            &SendMessageRequest {
                text: Some(vocabulary.message(&mut rng)),
                ..Default::default()
            },
        )
        .await
        .context("sending the first message")?
        .value;
    let kind = store
        .messages_by_id(std::slice::from_ref(&first.id))
        .await?
        .pop()
        .context("the first message is not stored")?
        .kind;
    setup.finish_and_clear();
    let setup_secs = began.elapsed().as_secs_f64();

    let n = args.messages.saturating_sub(1);
    let every = args.every.as_millis() as i64;
    let start = natter_server_now() - n as i64 * every;
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} messages, {per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let writing = Instant::now();
    let convs = Arc::new(convs);
    let mut errors = Vec::new();
    {
        let messages = (0..n).map(|i| {
            // Groups get most of the traffic.
            let conv = if n_directs == 0 || (n_groups > 0 && rng.random_ratio(3, 5)) {
                rng.random_range(0..n_groups)
            } else {
                n_groups + rng.random_range(0..n_directs)
            };
            let sender = convs[conv]
                .members
                .choose(&mut rng)
                .expect("members")
                .clone();
            let at = start + i as i64 * every;
            NewMessage {
                id: uuid_v7(at, &mut rng),
                conversation_id: convs[conv].id.clone(),
                sender_id: sender,
                client_id: None,
                kind,
                text: Some(vocabulary.message(&mut rng)),
                media_id: None,
                reply_to: None,
                created_at: at,
                mentions: Vec::new(),
            }
        });
        let mut sends = stream::iter(messages)
            .map(|m| {
                let store = store.clone();
                async move { store.send(&m).await }
            })
            .buffer_unordered(args.concurrency.max(1));
        while let Some(sent) = sends.next().await {
            match sent {
                Ok(_) => bar.inc(1),
                Err(e) => {
                    errors.push(e.to_string());
                    if errors.len() >= 10 {
                        break;
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    let write_secs = writing.elapsed().as_secs_f64();
    drop(users);
    server.shutdown().await?;
    if !errors.is_empty() {
        bail!(
            "{} messages could not be written: {}",
            errors.len(),
            errors.join("; ")
        );
    }
    println!(
        "seeded {} messages into {url} in {:.1} s: {:.0} messages/s through the store (setup \
         {setup_secs:.1} s)",
        n + 1,
        write_secs + setup_secs,
        n as f64 / write_secs
    );
    println!(
        "{} users {p}0..{p}{} (password {PASSWORD}), {n_groups} groups, {n_directs} direct \
         conversations; {p}0 is in every group",
        args.users,
        args.users - 1,
        p = args.prefix
    );
    println!(
        "measure: natter serve --rate-limit off … & natter bench --url URL search --user {}0",
        args.prefix
    );
    Ok(())
}

/// Now, in milliseconds since the epoch, as the server reads its clock.
fn natter_server_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_uuids_in_time_order() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = uuid_v7(1_700_000_000_000, &mut rng);
        let b = uuid_v7(1_700_000_000_001, &mut rng);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7");
        assert!("89ab".contains(&a[19..20]), "{a}");
        assert!(a < b);
        assert_eq!(&a[..13], "018bcfe5-6800");
    }
}
