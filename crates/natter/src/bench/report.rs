//! What a run measured, as a table for people or as JSON.

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{Common, cpus, target::ProcStats};

/// Which CPUs the server and the generator ran on.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Pinning {
    /// As asked with `--server-cpus` (and checked with the kernel), or as the kernel says for
    /// `--server-pid`; none when unknown or not pinned.
    pub server_cpus: Option<String>,
    /// As the kernel says for this process.
    pub generator_cpus: Option<String>,
    /// The CPUs there were to choose from.
    pub available_cpus: Option<String>,
}

impl Pinning {
    pub fn read(c: &Common) -> Option<Pinning> {
        Some(Pinning {
            // Several servers: each one's list, in the order of --server-pid, " / " apart.
            server_cpus: match (&c.server_cpus, c.server_pid.as_slice()) {
                (Some(l), _) => Some(l.to_string()),
                (None, []) => None,
                (None, pids) => pids
                    .iter()
                    .map(|p| cpus::allowed_list(Some(*p)))
                    .collect::<Option<Vec<_>>>()
                    .map(|l| l.join(" / ")),
            },
            generator_cpus: cpus::allowed_list(None),
            available_cpus: cpus::available().ok().map(|l| l.to_string()),
        })
    }
}

/// CPU time per unit of work, from the measured window only (setup excluded).
#[derive(Debug, Clone, Serialize, Default)]
pub struct CpuCost {
    /// The server's CPU time (user + system) in the window; none when it cannot be read (a
    /// server at `--url` without `--server-pid`).
    pub server_cpu_seconds: Option<f64>,
    pub server_us_per_message: Option<f64>,
    pub server_us_per_delivery: Option<f64>,
    /// The generator's own CPU time in the same window.
    pub generator_cpu_seconds: Option<f64>,
    pub generator_us_per_message: Option<f64>,
    pub generator_us_per_delivery: Option<f64>,
    /// How long the window was.
    pub window_seconds: f64,
}

/// The delivered and read marks that `--receipts` sent.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Marks {
    pub delivered: u64,
    pub read: u64,
    pub per_second: f64,
    /// Marks the server answered with an error frame.
    pub refused: u64,
}

/// The reactions that `--reactions` added and took back.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Reactions {
    /// Reactions given and taken back (acknowledged).
    pub acked: u64,
    pub per_second: f64,
    pub added: u64,
    pub removed: u64,
    /// Attempts the server refused or that failed.
    pub errors: u64,
    /// `reaction_changed` events the receivers got (each change goes to every member).
    pub events: u64,
    pub latency: Latency,
}

/// The server's resident memory some time after the load ended.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Settled {
    pub after_seconds: f64,
    pub rss_bytes: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// From a histogram of microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Latency {
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// One kind of query of `bench search`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SearchKind {
    /// common, rare, prefix, two words…
    pub kind: String,
    /// The queries, as typed.
    pub queries: Vec<String>,
    pub latency: Latency,
    /// The mean number of hits per query (at most the page size).
    pub mean_hits: f64,
    pub errors: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub scenario: String,
    pub parameters: String,
    pub seconds: f64,
    pub messages_acked: u64,
    pub messages_per_second: f64,
    pub deliveries: u64,
    pub deliveries_per_second: f64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub send_errors: u64,
    pub ack_latency: Option<Latency>,
    pub delivery_latency: Option<Latency>,
    /// For groups: from send to the last member's receipt, per message.
    pub last_member_latency: Option<Latency>,
    pub connections: Option<u64>,
    pub server_rss_per_connection_bytes: Option<f64>,
    pub startup_ms: Option<Latency>,
    /// The servers summed when there are several (`--url` and `--server-pid` repeated).
    pub server: Option<ProcStats>,
    /// With several servers: each one's, in the order of `--server-pid`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ProcStats>,
    pub pinning: Option<Pinning>,
    /// Chat scenarios: CPU time per acknowledged message and per delivery.
    pub cpu: Option<CpuCost>,
    /// With `--receipts`.
    pub marks: Option<Marks>,
    /// With `--reactions`.
    pub reactions: Option<Reactions>,
    /// `bench search`: each kind of query's latency, and the hits they found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<SearchKind>,
    pub logins_per_second: Option<f64>,
    pub login_latency: Option<Latency>,
    /// The server's memory once the load is over and `--settle` has passed.
    pub settled: Option<Settled>,
    pub notes: Vec<String>,
}

impl Report {
    /// No loss, no duplicate, nothing out of order.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0
    }

    pub fn print(&self) {
        println!("scenario      {} ({})", self.scenario, self.parameters);
        if self.seconds > 0.0 {
            println!("duration      {:.1} s", self.seconds);
        }
        if self.messages_acked > 0 || self.deliveries > 0 {
            println!(
                "messages      {} acknowledged, {:.0}/s",
                self.messages_acked, self.messages_per_second
            );
            println!(
                "deliveries    {}, {:.0}/s",
                self.deliveries, self.deliveries_per_second
            );
            println!(
                "check         lost {}, duplicated {}, out of order {}, send errors {}  => {}",
                self.lost,
                self.duplicated,
                self.out_of_order,
                self.send_errors,
                if self.ok() { "OK" } else { "FAILED" }
            );
        }
        let row = |name: &str, l: &Option<Latency>| {
            if let Some(l) = l {
                println!(
                    "{name:<13} p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  (n={})",
                    l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms, l.count
                );
            }
        };
        row("ack", &self.ack_latency);
        row("delivery", &self.delivery_latency);
        row("last member", &self.last_member_latency);
        row("startup", &self.startup_ms);
        if let Some(r) = self.logins_per_second {
            println!("logins        {r:.1}/s, {} failed", self.send_errors);
        }
        row("login", &self.login_latency);
        if let Some(n) = self.connections {
            println!("connections   {n}");
        }
        if let Some(b) = self.server_rss_per_connection_bytes {
            println!("server RSS    {:.1} KiB per connection", b / 1024.0);
        }
        if let Some(s) = &self.server {
            println!(
                "server        CPU {:.2} s ({:.0}% of one core), RSS {:.1} MiB, peak {:.1} MiB",
                s.cpu_seconds,
                if self.seconds > 0.0 {
                    100.0 * s.cpu_seconds / self.seconds
                } else {
                    0.0
                },
                s.rss_bytes as f64 / 1048576.0,
                s.peak_rss_bytes as f64 / 1048576.0
            );
        }
        for (i, s) in self.servers.iter().enumerate() {
            println!(
                "  server {}    CPU {:.2} s, RSS {:.1} MiB, peak {:.1} MiB",
                i + 1,
                s.cpu_seconds,
                s.rss_bytes as f64 / 1048576.0,
                s.peak_rss_bytes as f64 / 1048576.0
            );
        }
        if let Some(p) = &self.pinning {
            let generator = p.generator_cpus.as_deref().unwrap_or("?");
            let available = p.available_cpus.as_deref().unwrap_or("?");
            match &p.server_cpus {
                Some(s) => println!(
                    "pinning       server on CPU {s}, generator on CPU {generator} (of {available})"
                ),
                None => println!(
                    "pinning       server not pinned, generator on CPU {generator} (of {available})"
                ),
            }
        }
        if let Some(m) = &self.marks {
            println!(
                "receipts      {} delivered and {} read marks sent, {:.0}/s, {} refused",
                m.delivered, m.read, m.per_second, m.refused
            );
        }
        if let Some(r) = &self.reactions {
            println!(
                "reactions     {} acknowledged ({} added, {} taken back), {:.0}/s, {} errors, {} events received",
                r.acked, r.added, r.removed, r.per_second, r.errors, r.events
            );
            row("reaction", &Some(r.latency.clone()));
        }
        for k in &self.searches {
            row(&format!("search {}", k.kind), &Some(k.latency.clone()));
            println!(
                "              {:.1} hits per query, {} errors; {}",
                k.mean_hits,
                k.errors,
                k.queries.join(", ")
            );
        }
        if let Some(cpu) = &self.cpu {
            let us = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.1}"));
            match cpu.server_cpu_seconds {
                Some(s) => println!(
                    "server CPU    {s:.2} s in {:.1} s: {} µs per acknowledged message, {} µs per delivery",
                    cpu.window_seconds,
                    us(cpu.server_us_per_message),
                    us(cpu.server_us_per_delivery)
                ),
                None => println!(
                    "server CPU    unavailable: the server is not ours (--url); give --server-pid to read it"
                ),
            }
            if let Some(g) = cpu.generator_cpu_seconds {
                println!(
                    "generator CPU {g:.2} s in {:.1} s: {} µs per acknowledged message, {} µs per delivery",
                    cpu.window_seconds,
                    us(cpu.generator_us_per_message),
                    us(cpu.generator_us_per_delivery)
                );
            }
        }
        if let Some(s) = &self.settled {
            println!(
                "settled       RSS {:.1} MiB, {:.0} s after the load",
                s.rss_bytes as f64 / 1048576.0,
                s.after_seconds
            );
        }
        for n in &self.notes {
            println!("note          {n}");
        }
    }
}
