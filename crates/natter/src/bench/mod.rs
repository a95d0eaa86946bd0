//! `natter bench`: the load generator. It speaks the public protocol (REST and WebSocket)
//! through the Rust SDK, as every client does, against a server it starts on the embedded
//! defaults or one at a URL, and checks every message: sent, delivered, lost, duplicated, out
//! of order. Any loss, duplicate or reordering makes it exit non-zero.

mod chat;
mod connections;
pub mod cpus;
mod logins;
mod renames;
mod report;
mod search;
mod target;

use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// A running server to load; by default one is started on a fresh data directory. Repeat
    /// it for several nodes of one deployment: user i of the scenario talks (REST and
    /// WebSocket) to the i-th URL modulo their number, so that a direct pair spans two nodes.
    #[arg(long, global = true)]
    pub url: Vec<String>,
    /// How long to send.
    #[arg(long, global = true, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Open loop: this many messages per second in all, whatever the latency.
    #[arg(long, global = true)]
    pub rate: Option<u64>,
    /// Closed loop: this many sends in flight per sender (used when --rate is not given).
    #[arg(long, global = true, default_value_t = 4)]
    pub inflight: usize,
    /// Bytes of text per message (at least what the check needs).
    #[arg(long, global = true, default_value_t = 64)]
    pub size: usize,
    /// After the load, with every client gone, wait this long and read the server's memory
    /// again: what it gives back, and what it keeps.
    #[arg(long, global = true, default_value = "0s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// Print the report as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Pin the server bench starts to these CPUs (such as 0, 0-1 or 0,2).
    #[arg(long, global = true, value_name = "LIST")]
    pub server_cpus: Option<cpus::CpuList>,
    /// Pin the load generator (every thread of this process) to these CPUs.
    #[arg(long, global = true, value_name = "LIST")]
    pub client_cpus: Option<cpus::CpuList>,
    /// With --url: the server's process id, so that its CPU time and memory can be read. With
    /// several --url, one per URL in the same order: the report sums their CPU time.
    #[arg(long, global = true, value_name = "PID", requires = "url")]
    pub server_pid: Vec<u32>,
    /// The database of the server bench starts (postgres://…); by default SQLite in its fresh
    /// data directory. The database should be empty: bench's users are added to it.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "url")]
    pub database_url: Option<String>,
    /// The NATS bus of the server bench starts (nats://…), with a prefix of its own.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "url")]
    pub bus_url: Option<String>,
    /// Every receiving device marks messages delivered as they arrive and read shortly after,
    /// as the web client does (one mark of each kind per conversation per 250 ms at most).
    #[arg(long, global = true)]
    pub receipts: bool,
    /// Senders send over a WebSocket (the `send` frame, acknowledged by `sent`) instead of
    /// `POST .../messages`: each sender opens one more connection for its sends (its receiving
    /// device is left as it is), and every message is checked as with REST.
    #[arg(long, global = true)]
    pub ws_send: bool,
    /// This share of the chat scenarios' operations, in percent (0-100), are reactions
    /// instead of sends: a member of the conversation adds an emoji to one of its recent
    /// messages, or takes back one it gave (`PUT`/`DELETE .../reactions/{emoji}`). Receivers
    /// count the `reaction_changed` events they get.
    #[arg(long, global = true, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub reactions: u8,
}

/// Checks `--server-cpus` and `--client-cpus` and pins the calling thread, and so every
/// thread started after it, to the client CPUs. Call it before the runtime starts.
pub fn pin_generator(c: &Common) -> Result<()> {
    check_targets(c)?;
    if !c.url.is_empty() && c.server_cpus.is_some() {
        bail!(
            "--server-cpus pins the server that bench starts; a server at --url is not ours to \
             pin (start it under `taskset -c LIST`)"
        );
    }
    cpus::check(
        c.server_cpus.as_ref(),
        c.client_cpus.as_ref(),
        &cpus::available()?,
    )?;
    if let Some(list) = &c.client_cpus {
        cpus::pin_current_thread(list)?;
    }
    Ok(())
}

/// Refuses `--server-pid` given for some URLs only: each one is read as the server of the URL
/// in the same place.
pub fn check_targets(c: &Common) -> Result<()> {
    if !c.server_pid.is_empty() && c.server_pid.len() != c.url.len() {
        bail!(
            "{} --server-pid for {} --url: give one per URL, in the same order, or none",
            c.server_pid.len(),
            c.url.len()
        );
    }
    Ok(())
}

#[derive(Subcommand, Debug, Clone)]
pub enum Scenario {
    /// P pairs chatting in direct conversations.
    Dm {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
    },
    /// One group with G online members, S of whom send.
    Group {
        #[arg(long, default_value_t = 100)]
        members: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
    },
    /// Receivers that drop their socket and resume from their cursor while senders write.
    Reconnect {
        #[arg(long, default_value_t = 20)]
        members: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        /// How often each receiver drops its connection.
        #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
        every: Duration,
    },
    /// A group of M members, C online, renamed R times; then a direct message's latency.
    Renames {
        #[arg(long, default_value_t = 1024)]
        members: usize,
        #[arg(long, default_value_t = 100)]
        connected: usize,
        #[arg(long, default_value_t = 5)]
        renames: usize,
    },
    /// N idle authenticated WebSocket connections.
    Connections {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
    },
    /// One user logging in N times, C at once: each login is one Argon2id password hash.
    Logins {
        #[arg(long, default_value_t = 1_000)]
        count: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Search latency over a database `natter seed` filled (give --url, or --database-url of
    /// a seeded PostgreSQL database): common, medium, rare and absent words, prefixes, two
    /// words, and a common word in one conversation, as one user. The server must not rate
    /// limit (`natter serve --rate-limit off`).
    Search {
        /// Whom to search as.
        #[arg(long, default_value = "seed0")]
        user: String,
        #[arg(long, default_value = crate::seed::PASSWORD)]
        password: String,
        /// Queries of each kind.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Queries in flight at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// The page size asked for [default: the server's, 50].
        #[arg(long)]
        limit: Option<i64>,
        /// A query not answered by then counts as an error (and the next one starts).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Only these kinds of query (common, medium, rare, prefix, two-words, absent,
        /// common-in-one) [default: all].
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
    },
    /// Starts the server repeatedly: time to listening and idle memory.
    Startup {
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
}

pub async fn run(args: BenchArgs) -> Result<bool> {
    let report = match &args.scenario {
        Scenario::Dm { .. } | Scenario::Group { .. } | Scenario::Reconnect { .. } => {
            chat::run(&args.scenario, &args.common).await?
        }
        Scenario::Renames {
            members,
            connected,
            renames,
        } => renames::run(*members, *connected, *renames, &args.common).await?,
        Scenario::Connections { count } => connections::run(*count, &args.common).await?,
        Scenario::Logins { count, concurrency } => {
            logins::run(*count, *concurrency, &args.common).await?
        }
        Scenario::Startup { runs } => connections::startup(*runs, &args.common).await?,
        Scenario::Search { .. } => search::run(&args.scenario, &args.common).await?,
    };
    let mut report = report;
    report.pinning = report::Pinning::read(&args.common);
    if args.common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print();
    }
    Ok(report.ok())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<Common, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|c| c.bench.common)
    }

    #[test]
    fn urls_and_pids_may_be_repeated() {
        let c = parse(&["dm"]).unwrap();
        assert!(c.url.is_empty() && c.server_pid.is_empty());
        check_targets(&c).unwrap();
        let c = parse(&["--url", "http://a", "dm"]).unwrap();
        assert_eq!(c.url, ["http://a"]);
        check_targets(&c).unwrap();
        let c = parse(&[
            "--url",
            "http://a",
            "--server-pid",
            "1",
            "--url",
            "http://b",
            "--server-pid",
            "2",
            "dm",
        ])
        .unwrap();
        assert_eq!(c.url, ["http://a", "http://b"]);
        assert_eq!(c.server_pid, [1, 2]);
        check_targets(&c).unwrap();
        // Two URLs without pids: allowed (no server CPU); with one pid: refused.
        let c = parse(&["--url", "http://a", "--url", "http://b", "dm"]).unwrap();
        check_targets(&c).unwrap();
        let c = parse(&["--url", "a", "--url", "b", "--server-pid", "1", "dm"]).unwrap();
        let e = check_targets(&c).unwrap_err();
        assert!(e.to_string().contains("1 --server-pid for 2 --url"), "{e}");
        // A pid needs a URL.
        assert!(parse(&["--server-pid", "1", "dm"]).is_err());
    }

    #[test]
    fn database_and_bus_are_for_the_server_bench_starts() {
        let c = parse(&[
            "--database-url",
            "postgres://h/db",
            "--bus-url",
            "nats://h:4222",
            "dm",
        ])
        .unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://h/db"));
        assert_eq!(c.bus_url.as_deref(), Some("nats://h:4222"));
        assert!(
            parse(&[
                "--url",
                "http://a",
                "--database-url",
                "postgres://h/db",
                "dm"
            ])
            .is_err()
        );
        assert!(parse(&["--url", "http://a", "--bus-url", "nats://h", "dm"]).is_err());
    }
}
