//! The server under test: one started here on the embedded defaults (a child process, so that
//! its CPU time and memory can be read apart from the load generator's), or one at a URL.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

pub struct Target {
    pub url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    /// How long the started server took from spawn to its "listening" line.
    pub startup: Option<Duration>,
}

/// CPU time and memory of a process, read from /proc (Linux).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcStats {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

impl Target {
    /// Starts `natter serve` (this very binary) on a fresh data directory, rate limits off.
    pub fn start() -> Result<Target> {
        let dir = tempfile::tempdir()?;
        let exe = std::env::current_exe()?;
        let began = Instant::now();
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "off",
                "--data-dir",
            ])
            .arg(dir.path())
            .env("NATTER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let Some(line) = lines.next() else {
                bail!("the server exited before listening");
            };
            let line = line?;
            if let Some(url) = line.strip_prefix("natter listening on ") {
                break url.trim().to_owned();
            }
        };
        let startup = began.elapsed();
        // Keep draining its standard output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Target {
            url,
            child: Some(child),
            _dir: Some(dir),
            startup: Some(startup),
        })
    }

    pub fn at(url: &str) -> Target {
        Target {
            url: url.trim_end_matches('/').to_owned(),
            child: None,
            _dir: None,
            startup: None,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits `settle` (nothing if zero) and reads the started server's memory then.
    pub async fn settle(&self, settle: Duration) -> Option<super::report::Settled> {
        if settle.is_zero() {
            return None;
        }
        tokio::time::sleep(settle).await;
        Some(super::report::Settled {
            after_seconds: settle.as_secs_f64(),
            rss_bytes: self.stats()?.rss_bytes,
        })
    }

    /// The started server's CPU time and memory; none for a server at a URL.
    pub fn stats(&self) -> Option<ProcStats> {
        proc_stats(self.pid()?)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn proc_stats(pid: u32) -> Option<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcStats {
        // The kernel counts in USER_HZ, which is 100 on Linux.
        cpu_seconds: ticks / 100.0,
        rss_bytes: kb("VmRSS:") * 1024,
        peak_rss_bytes: kb("VmHWM:") * 1024,
    })
}
