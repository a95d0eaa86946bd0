//! What a run measured, as a table for people or as JSON.

use hdrhistogram::Histogram;
use serde::Serialize;

use super::target::ProcStats;

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
    pub server: Option<ProcStats>,
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
