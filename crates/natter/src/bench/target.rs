//! The server under test: one started here on the embedded defaults (a child process, so that
//! its CPU time and memory can be read apart from the load generator's), or one at a URL.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{Common, cpus::CpuList};

pub struct Target {
    /// The first (or only) server's URL: the one scenarios that load one server use.
    pub url: String,
    /// Every server's URL (`--url` repeated: several nodes of one deployment).
    pub urls: Vec<String>,
    child: Option<Child>,
    /// Servers not started here whose CPU and memory may be read all the same (`--server-pid`),
    /// one per URL.
    pids: Vec<u32>,
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
    /// The server `c` names (`--url`, with `--server-pid`), or one started here, pinned to
    /// `--server-cpus`.
    pub fn new(c: &Common) -> Result<Target> {
        if c.url.is_empty() {
            Target::start(c)
        } else {
            Ok(Target::at(&c.url, &c.server_pid))
        }
    }

    /// Starts `natter serve` (this very binary) on a fresh data directory, rate limits off,
    /// pinned to `--server-cpus` if given, on `--database-url` and `--bus-url` if given (the
    /// bus with a prefix of its own).
    pub fn start(c: &Common) -> Result<Target> {
        let cpus: Option<&CpuList> = c.server_cpus.as_ref();
        let dir = tempfile::tempdir()?;
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        if let Some(cpus) = cpus {
            let set = cpus.to_set();
            // SAFETY: the closure runs in the child between fork and exec, where only
            // async-signal-safe calls are allowed: `sched_setaffinity` is one system call on a
            // mask built before the fork; it neither allocates nor takes a lock. Pinning before
            // exec means every thread the server ever starts inherits the mask.
            unsafe {
                command.pre_exec(move || {
                    rustix::thread::sched_setaffinity(None, &set).map_err(std::io::Error::from)
                });
            }
        }
        let began = Instant::now();
        let mut child = command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "off",
                "--registration",
                "open",
                "--data-dir",
            ])
            .arg(dir.path())
            .args(
                c.database_url
                    .iter()
                    .flat_map(|u| ["--database-url", u.as_str()]),
            )
            .args(c.bus_url.iter().flat_map(|u| {
                [
                    "--bus-url".to_owned(),
                    u.clone(),
                    "--bus-prefix".to_owned(),
                    format!("bench{:x}", rand::random::<u32>()),
                ]
            }))
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
        if let Some(cpus) = cpus {
            let kernel = super::cpus::allowed_list(Some(child.id()));
            if kernel.as_deref() != Some(cpus.to_string().as_str()) {
                let _ = child.kill();
                bail!("the server was to run on CPUs {cpus}, the kernel says {kernel:?}");
            }
        }
        // Keep draining its standard output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Target {
            urls: vec![url.clone()],
            url,
            child: Some(child),
            pids: Vec::new(),
            _dir: Some(dir),
            startup: Some(startup),
        })
    }

    /// Servers at `urls` (at least one), with their process ids if known (one per URL).
    pub fn at(urls: &[String], pids: &[u32]) -> Target {
        let urls: Vec<String> = urls
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect();
        Target {
            url: urls[0].clone(),
            urls,
            child: None,
            pids: pids.to_vec(),
            _dir: None,
            startup: None,
        }
    }

    /// The server's process: the one started here, or the first `--server-pid`.
    pub fn pid(&self) -> Option<u32> {
        self.pids().first().copied()
    }

    /// Every server's process: the one started here, or `--server-pid`'s.
    pub fn pids(&self) -> Vec<u32> {
        match &self.child {
            Some(c) => vec![c.id()],
            None => self.pids.clone(),
        }
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

    /// The servers' CPU time and memory, summed over every server; none for servers at URLs
    /// without `--server-pid`, or if one cannot be read.
    pub fn stats(&self) -> Option<ProcStats> {
        sum(&self.stats_each())
    }

    /// Each server's CPU time and memory, in the order of `--server-pid`.
    pub fn stats_each(&self) -> Vec<Option<ProcStats>> {
        self.pids().into_iter().map(proc_stats).collect()
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

/// The sum of several servers' figures; none if there are none or one is unknown.
pub fn sum(each: &[Option<ProcStats>]) -> Option<ProcStats> {
    if each.is_empty() {
        return None;
    }
    each.iter().try_fold(ProcStats::default(), |t, s| {
        let s = (*s)?;
        Some(ProcStats {
            cpu_seconds: t.cpu_seconds + s.cpu_seconds,
            rss_bytes: t.rss_bytes + s.rss_bytes,
            peak_rss_bytes: t.peak_rss_bytes + s.peak_rss_bytes,
        })
    })
}

/// `after` minus `before` in CPU time; memory as it is `after`.
pub fn delta(before: Option<ProcStats>, after: Option<ProcStats>) -> Option<ProcStats> {
    match (before, after) {
        (Some(b), Some(a)) => Some(ProcStats {
            cpu_seconds: a.cpu_seconds - b.cpu_seconds,
            ..a
        }),
        (_, a) => a,
    }
}

pub fn proc_stats(pid: u32) -> Option<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = cpu_ticks(&stat)?;
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
        cpu_seconds: ticks as f64 / rustix::param::clock_ticks_per_second() as f64,
        rss_bytes: kb("VmRSS:") * 1024,
        peak_rss_bytes: kb("VmHWM:") * 1024,
    })
}

/// The CPU time of this very process (the generator), in seconds.
pub fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    Some(cpu_ticks(&stat)? as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// User plus system CPU time (`utime` + `stime`, in clock ticks) from the text of
/// /proc/<pid>/stat: fields 14 and 15, counted after the command name, which is in parentheses
/// and may itself hold spaces and parentheses.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A real line of /proc/<pid>/stat (Linux 6), then the same with an awkward name.
        let line = "4242 (natter) S 4200 4242 4200 34816 4242 4194304 2305 0 0 0 \
                    1234 567 0 0 20 0 9 0 98765 123456789 3000 18446744073709551615 1 1 0 0 0 0 \
                    0 4096 17635 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(cpu_ticks(line), Some(1234 + 567));
        let odd = line.replace("(natter)", "(a) b (c) 1 2 3)");
        assert_eq!(cpu_ticks(&odd), Some(1234 + 567));
        assert_eq!(cpu_ticks("4242 (natter) S 1 2 3"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
        assert_eq!(cpu_ticks(""), None);
    }

    #[test]
    fn several_servers_are_summed_or_unknown() {
        let s = |cpu: f64, rss: u64| ProcStats {
            cpu_seconds: cpu,
            rss_bytes: rss,
            peak_rss_bytes: 2 * rss,
        };
        assert!(sum(&[]).is_none());
        let t = sum(&[Some(s(1.5, 10)), Some(s(2.0, 20))]).unwrap();
        assert_eq!(
            (t.cpu_seconds, t.rss_bytes, t.peak_rss_bytes),
            (3.5, 30, 60)
        );
        assert!(sum(&[Some(s(1.0, 1)), None]).is_none());
        let d = delta(Some(s(1.0, 5)), Some(s(3.0, 7))).unwrap();
        assert_eq!((d.cpu_seconds, d.rss_bytes), (2.0, 7));
        assert_eq!(delta(None, Some(s(3.0, 7))).unwrap().cpu_seconds, 3.0);
    }

    #[test]
    fn our_own_cpu_time_grows() {
        let before = own_cpu_seconds().unwrap();
        // Spin until a tick or more is counted; on a busy machine that may take a while.
        let began = Instant::now();
        let mut x = 0u64;
        while own_cpu_seconds().unwrap() <= before {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "no CPU time counted"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
    }
}
