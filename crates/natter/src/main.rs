//! The `natter` binary: wires configuration (flags, `NATTER_*` variables, a TOML file) into the
//! server library and runs it until SIGTERM or Ctrl-C.

mod bench;
mod cli;
mod seed;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use natter_server::Config;
use natter_server::config::{InvitePolicy, Registration};
use serde::Deserialize;

#[derive(Parser)]
#[command(
    name = "natter",
    version,
    about = "A self-hostable chat server, and a client for it",
    after_help = cli::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Load a server and measure it: throughput, latency, memory, with every message checked.
    Bench(bench::BenchArgs),
    /// Write a consistent copy of the database to FILE, while the server keeps running.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Fill the database the server settings name with many messages (users, groups and
    /// direct conversations too), quickly, for `natter bench search`.
    Seed {
        #[command(flatten)]
        seed: seed::SeedArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Manage accounts on the server's data, from the shell (for recovery: no admin needed).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    #[command(flatten)]
    Client(cli::Command),
}

/// `natter admin …`: on the database the server settings name (`--data-dir`,
/// `--database-url`, `NATTER_*`, `--config`), whether the server runs or not.
#[derive(Subcommand)]
enum AdminAction {
    /// Create an account, whatever the registration mode; the password is read from standard
    /// input (one line).
    CreateUser {
        /// Its username.
        name: String,
        /// Make it a server admin.
        #[arg(long)]
        admin: bool,
        /// The name shown to others [default: the username].
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Make an account a server admin (or, with --remove, no longer one).
    SetAdmin {
        name: String,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Set an account's password, read from standard input (one line); every session of the
    /// account is deleted.
    SetPassword {
        name: String,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

/// A password from standard input: its first line, without the line break.
fn read_password() -> Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as typed; pipe it in to keep it off the screen): ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

/// Runs `natter admin …`; an error is printed and exits with status 1.
async fn admin(action: AdminAction) -> Result<()> {
    use natter_server::operator;
    let done = match action {
        AdminAction::CreateUser {
            name,
            admin,
            display_name,
            serve,
        } => {
            let config = serve.into_config()?;
            let password = read_password()?;
            operator::create_user(&config, &name, password, display_name.as_deref(), admin)
                .await
                .map(|u| {
                    format!(
                        "created {}{} ({})",
                        u.username,
                        if u.admin { ", an admin" } else { "" },
                        u.id
                    )
                })
        }
        AdminAction::SetAdmin {
            name,
            remove,
            serve,
        } => operator::set_admin(&serve.into_config()?, &name, !remove)
            .await
            .map(|u| {
                format!(
                    "{} is {}",
                    u.username,
                    if u.admin {
                        "an admin"
                    } else {
                        "no longer an admin"
                    }
                )
            }),
        AdminAction::SetPassword { name, serve } => {
            let config = serve.into_config()?;
            let password = read_password()?;
            operator::set_password(&config, &name, password)
                .await
                .map(|n| format!("password of {name} set; {n} session(s) signed out"))
        }
    };
    match done {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(e) => {
            eprintln!("natter admin: {e}");
            std::process::exit(1);
        }
    }
}

/// Every flag is optional here so that the order of precedence can be applied: a flag, else
/// its `NATTER_*` variable, else the TOML file, else the default of `Config`.
#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// A TOML file with any of the settings below (same names, with `_` for `-`).
    #[arg(long, env = "NATTER_CONFIG")]
    config: Option<PathBuf>,
    /// Address and port to listen on; port 0 picks a free one [default: 127.0.0.1:8080].
    #[arg(long, env = "NATTER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory of the embedded database and media [default: ./natter-data].
    #[arg(long, env = "NATTER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… [default: sqlite in the data directory].
    #[arg(long, env = "NATTER_DATABASE_URL")]
    database_url: Option<String>,
    /// nats://… for fan-out between several nodes [default: none, one node].
    #[arg(long, env = "NATTER_BUS_URL")]
    bus_url: Option<String>,
    /// Prefix of NATS subjects and buckets [default: natter].
    #[arg(long, env = "NATTER_BUS_PREFIX")]
    bus_prefix: Option<String>,
    /// Directory of media bytes [default: <data-dir>/media].
    #[arg(long, env = "NATTER_MEDIA_DIR")]
    media_dir: Option<PathBuf>,
    /// A web origin allowed to call the API from a browser (CORS); repeat for several
    /// [default: none].
    #[arg(
        long = "cors-origin",
        env = "NATTER_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Rate limits: on or off [default: on].
    #[arg(long, env = "NATTER_RATE_LIMIT", value_parser = parse_on_off)]
    rate_limit: Option<bool>,
    /// How long the event log is kept, such as 30d or 12h [default: 30d].
    #[arg(long, env = "NATTER_EVENT_RETENTION", value_parser = humantime::parse_duration)]
    event_retention: Option<Duration>,
    /// How soon the users of a node that died are shown offline [default: 30s].
    #[arg(long, env = "NATTER_PRESENCE_TIMEOUT", value_parser = humantime::parse_duration)]
    presence_timeout: Option<Duration>,
    /// A session unused for this long expires, such as 90d or 12h [default: 90d].
    #[arg(long, env = "NATTER_SESSION_IDLE_TIMEOUT", value_parser = humantime::parse_duration)]
    session_idle_timeout: Option<Duration>,
    /// Bytes of uploads each user may have stored, such as 1GiB or 500MB; off for no quota
    /// [default: 1GiB].
    #[arg(long, env = "NATTER_MEDIA_QUOTA", value_parser = parse_quota)]
    media_quota: Option<MediaQuota>,
    /// Who may register: open, invite or closed; the first user of an empty server always
    /// may, and is its first admin [default: invite].
    #[arg(long, env = "NATTER_REGISTRATION", value_parser = parse_registration)]
    registration: Option<Registration>,
    /// Who may create invites: admins or members [default: admins].
    #[arg(long, env = "NATTER_INVITES", value_parser = parse_invites)]
    invites: Option<InvitePolicy>,
    /// The operator's contact named in Web Push requests, mailto:… or https://…
    /// [default: mailto:postmaster@localhost].
    #[arg(long, env = "NATTER_VAPID_SUBJECT")]
    vapid_subject: Option<String>,
    /// A URL prefix webhooks may point to, such as https://bots.example.com/; repeat for
    /// several. A host resolving to a loopback or private address is refused unless the prefix
    /// names that address (or localhost) itself [default: none, no webhooks].
    #[arg(
        long = "webhook-allow",
        env = "NATTER_WEBHOOK_ALLOW",
        value_delimiter = ','
    )]
    webhook_allow: Vec<String>,
    /// A URL prefix push endpoints may have besides public https ones (a push service of your
    /// own on a private network); repeat for several [default: none].
    #[arg(long = "push-allow", env = "NATTER_PUSH_ALLOW", value_delimiter = ',')]
    push_allow: Vec<String>,
}

/// A media quota in bytes, or none.
#[derive(Clone, Copy, Debug)]
struct MediaQuota(Option<u64>);

/// The TOML file: the same settings, all optional; unknown keys are refused.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    bus_url: Option<String>,
    bus_prefix: Option<String>,
    media_dir: Option<PathBuf>,
    rate_limit: Option<String>,
    cors_origins: Option<Vec<String>>,
    event_retention: Option<String>,
    presence_timeout: Option<String>,
    session_idle_timeout: Option<String>,
    media_quota: Option<String>,
    registration: Option<String>,
    invites: Option<String>,
    vapid_subject: Option<String>,
    webhook_allow: Option<Vec<String>>,
    push_allow: Option<Vec<String>>,
}

fn parse_registration(s: &str) -> Result<Registration, String> {
    match s {
        "open" => Ok(Registration::Open),
        "invite" => Ok(Registration::Invite),
        "closed" => Ok(Registration::Closed),
        _ => Err(format!("expected open, invite or closed, got {s:?}")),
    }
}

fn parse_invites(s: &str) -> Result<InvitePolicy, String> {
    match s {
        "admins" => Ok(InvitePolicy::Admins),
        "members" => Ok(InvitePolicy::Members),
        _ => Err(format!("expected admins or members, got {s:?}")),
    }
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

/// `off`, or a byte count with an optional unit: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000)
/// or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024).
fn parse_quota(s: &str) -> Result<MediaQuota, String> {
    let s = s.trim();
    if s == "off" {
        return Ok(MediaQuota(None));
    }
    let bad = || format!("expected a size such as 1GiB or 500MB, or off; got {s:?}");
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(unit)
        .map(|b| MediaQuota(Some(b)))
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn duration(name: &str, s: &str) -> Result<Duration> {
    humantime::parse_duration(s).with_context(|| format!("{name}: {s:?} is not a duration"))
}

impl ServeArgs {
    /// Applies the order of precedence: flag or variable, then file, then default.
    fn into_config(self) -> Result<Config> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("in {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let rate_limit = match (self.rate_limit, file.rate_limit.as_deref()) {
            (Some(v), _) => v,
            (None, Some(s)) => parse_on_off(s).map_err(anyhow::Error::msg)?,
            (None, None) => d.rate_limit,
        };
        let event_retention = match (self.event_retention, file.event_retention.as_deref()) {
            (Some(v), _) => v,
            (None, Some(s)) => duration("event_retention", s)?,
            (None, None) => d.event_retention,
        };
        let presence_timeout = match (self.presence_timeout, file.presence_timeout.as_deref()) {
            (Some(v), _) => v,
            (None, Some(s)) => duration("presence_timeout", s)?,
            (None, None) => d.presence_timeout,
        };
        let session_idle_timeout = match (
            self.session_idle_timeout,
            file.session_idle_timeout.as_deref(),
        ) {
            (Some(v), _) => v,
            (None, Some(s)) => duration("session_idle_timeout", s)?,
            (None, None) => d.session_idle_timeout,
        };
        let media_quota = match (self.media_quota, file.media_quota.as_deref()) {
            (Some(q), _) => q.0,
            (None, Some(s)) => {
                parse_quota(s)
                    .map_err(anyhow::Error::msg)
                    .context("media_quota")?
                    .0
            }
            (None, None) => d.media_quota,
        };
        let registration = match (self.registration, file.registration.as_deref()) {
            (Some(v), _) => v,
            (None, Some(s)) => parse_registration(s)
                .map_err(anyhow::Error::msg)
                .context("registration")?,
            (None, None) => d.registration,
        };
        let invites = match (self.invites, file.invites.as_deref()) {
            (Some(v), _) => v,
            (None, Some(s)) => parse_invites(s)
                .map_err(anyhow::Error::msg)
                .context("invites")?,
            (None, None) => d.invites,
        };
        if event_retention.is_zero() {
            bail!("event_retention must be positive");
        }
        if session_idle_timeout < Duration::from_secs(1) {
            bail!("session_idle_timeout must be at least 1s");
        }
        Ok(Config {
            listen: self.listen.or(file.listen).unwrap_or(d.listen),
            data_dir: self.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
            database_url: self.database_url.or(file.database_url),
            bus_url: self.bus_url.or(file.bus_url),
            bus_prefix: self.bus_prefix.or(file.bus_prefix).unwrap_or(d.bus_prefix),
            media_dir: self.media_dir.or(file.media_dir),
            cors_origins: if self.cors_origins.is_empty() {
                file.cors_origins.unwrap_or_default()
            } else {
                self.cors_origins
            },
            rate_limit,
            event_retention,
            presence_timeout,
            session_idle_timeout,
            media_quota,
            registration,
            invites,
            vapid_subject: self
                .vapid_subject
                .or(file.vapid_subject)
                .unwrap_or(d.vapid_subject),
            webhook_allow: if self.webhook_allow.is_empty() {
                file.webhook_allow.unwrap_or_default()
            } else {
                self.webhook_allow
            },
            push_allow: if self.push_allow.is_empty() {
                file.push_allow.unwrap_or_default()
            } else {
                self.push_allow
            },
            ..d
        })
    }
}

fn main() -> Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_large_blocks_out_of_arenas();
    let cli = Cli::parse();
    if let Command::Bench(args) = &cli.command {
        // Before the runtime starts, so that each of its threads inherits the mask.
        bench::pin_generator(&args.common)?;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

/// Each password hash takes 19 MiB of Argon2 memory, freed when the hash is done. glibc's
/// malloc maps a block that large on its own and unmaps it when freed, but that first free
/// raises its mapping threshold to the block's size (the "dynamic threshold"): from then on
/// the memory of each hash comes from the arena of the thread computing it, where freed space
/// stays resident, for good. Measured on two cores: 115 MiB resident after 20 logins, against
/// 18 MiB with the threshold fixed. A fixed threshold turns the adjustment off: every block of
/// 1 MiB or more is mapped and unmapped on its own, so the memory of a hash returns to the
/// system once no hash needs it (the server reuses it while hashes run back to back: see
/// `with_hash_memory` in natter-server, and docs/BENCHMARKS.md). Keeping one buffer per hashing
/// thread for good would hold one such block per core. Set before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_out_of_arenas() {
    // SAFETY: `mallopt` only sets a malloc tunable; no other thread exists yet.
    let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
    if set != 1 {
        eprintln!("warning: could not set malloc's mmap threshold; memory may not be returned");
    }
}

async fn run(cli: Cli) -> Result<()> {
    init_logs(std::env::var("NATTER_LOG").ok().as_deref());
    match cli.command {
        Command::Client(command) => std::process::exit(cli::run(command).await),
        Command::Admin { action } => admin(action).await,
        Command::Serve(args) => serve(args.into_config()?).await,
        Command::Seed { seed, serve } => seed::run(seed, serve.into_config()?).await,
        Command::Backup { file, serve } => {
            natter_server::backup(&serve.into_config()?, &file).await?;
            println!("backup written to {}", file.display());
            Ok(())
        }
        Command::Bench(args) => {
            if bench::run(args).await? {
                Ok(())
            } else {
                // Loss, duplicates or reordering: the report says which.
                std::process::exit(1);
            }
        }
    }
}

/// What is logged when `NATTER_LOG` is not set: nothing below `info`.
const DEFAULT_LOG: &str = "info,sqlx=warn,tower_http=warn";

/// Logs to standard error at the levels `spec` asks for (`NATTER_LOG`'s syntax), or
/// [`DEFAULT_LOG`] when it is absent or unreadable.
fn init_logs(spec: Option<&str>) {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours for a terminal; none in a file or a journal.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(log_filter(spec)),
        )
        .init();
}

fn log_filter<S: tracing::Subscriber>(
    spec: Option<&str>,
) -> impl tracing_subscriber::layer::Filter<S> + use<S> {
    use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
    let asked = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG));
    // The WebSocket library traces every frame it receives, `auth` frames (with their token)
    // included: whatever level is asked for, it logs no more than debug. A second filter that
    // both must pass, because a directive added to the first would set its level, not cap it.
    let cap = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("tungstenite", LevelFilter::DEBUG)
        .with_target("tokio_tungstenite", LevelFilter::DEBUG);
    asked.and(cap)
}

async fn serve(config: Config) -> Result<()> {
    // A server holds a socket per connection: take every file descriptor the system allows.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listener = natter_server::bind(&config).await?;
    let addr = listener.local_addr()?;
    let server = natter_server::run(config, listener, shutdown_signal(), move || {
        // Printed once storage is open and connections are accepted; scripts wait for it.
        println!("natter listening on http://{addr}");
    });
    server.await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C (the server's shutdown, and the end of `natter listen`).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/natter\"\nrate_limit = \"off\"\nevent_retention = \"2h\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Default::default()
        };
        let c = args.into_config().unwrap();
        assert_eq!(c.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("/srv/natter"));
        assert!(!c.rate_limit);
        assert_eq!(c.event_retention, Duration::from_secs(7200));
        assert_eq!(c.presence_timeout, Duration::from_secs(30));
        assert_eq!(c.bus_prefix, "natter");
    }

    #[test]
    fn registration_is_invite_only_by_default_and_set_by_flag_or_file() {
        let d = ServeArgs::default().into_config().unwrap();
        assert_eq!(d.registration, Registration::Invite);
        assert_eq!(d.invites, InvitePolicy::Admins);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "registration = \"open\"\ninvites = \"members\"\n").unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        }
        .into_config()
        .unwrap();
        assert_eq!(from_file.registration, Registration::Open);
        assert_eq!(from_file.invites, InvitePolicy::Members);
        let flag_wins = ServeArgs {
            config: Some(path),
            registration: Some(Registration::Closed),
            ..Default::default()
        }
        .into_config()
        .unwrap();
        assert_eq!(flag_wins.registration, Registration::Closed);
        assert!(parse_registration("sometimes").is_err());
        assert!(parse_invites("everyone").is_err());
    }

    #[test]
    fn media_quotas_are_sizes_or_off() {
        let q = |s: &str| parse_quota(s).map(|q| q.0);
        assert_eq!(q("1GiB"), Ok(Some(1 << 30)));
        assert_eq!(q("500MB"), Ok(Some(500_000_000)));
        assert_eq!(q("1024"), Ok(Some(1024)));
        assert_eq!(q("10 KiB"), Ok(Some(10 << 10)));
        assert_eq!(q("off"), Ok(None));
        for bad in ["", "GiB", "1.5GiB", "-1", "1 parsec", "99999999999TiB"] {
            assert!(q(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            ServeArgs::default().into_config().unwrap().media_quota,
            Some(1 << 30)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "media_quota = \"off\"\n").unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        assert_eq!(from_file.into_config().unwrap().media_quota, None);
        let flag_wins = ServeArgs {
            config: Some(path),
            media_quota: Some(MediaQuota(Some(5))),
            ..Default::default()
        };
        assert_eq!(flag_wins.into_config().unwrap().media_quota, Some(5));
    }

    #[test]
    fn the_session_idle_timeout_is_a_duration_of_at_least_a_second() {
        assert_eq!(
            ServeArgs::default()
                .into_config()
                .unwrap()
                .session_idle_timeout,
            Duration::from_secs(90 * 24 * 3600)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "session_idle_timeout = \"12h\"\n").unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        assert_eq!(
            from_file.into_config().unwrap().session_idle_timeout,
            Duration::from_secs(12 * 3600)
        );
        let flag_wins = ServeArgs {
            config: Some(path),
            session_idle_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        assert_eq!(
            flag_wins.into_config().unwrap().session_idle_timeout,
            Duration::from_secs(2)
        );
        let at_least = |t| ServeArgs {
            session_idle_timeout: Some(t),
            ..Default::default()
        };
        assert!(at_least(Duration::from_secs(1)).into_config().is_ok());
        assert!(at_least(Duration::from_millis(999)).into_config().is_err());
        std::fs::write(
            dir.path().join("bad.toml"),
            "session_idle_timeout = \"soon\"\n",
        )
        .unwrap();
        let bad = ServeArgs {
            config: Some(dir.path().join("bad.toml")),
            ..Default::default()
        };
        assert!(bad.into_config().is_err());
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..Default::default()
        };
        assert!(args.into_config().is_err());
    }

    #[test]
    fn defaults_serve_one_machine() {
        let c = ServeArgs::default().into_config().unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("./natter-data"));
        assert_eq!(c.database_url, None);
        assert!(c.rate_limit);
    }
}
