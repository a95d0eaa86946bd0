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
    pub url: String,
    child: Option<Child>,
    /// A server not started here whose CPU and memory may be read all the same (`--server-pid`).
    pid: Option<u32>,
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
        match &c.url {
            Some(u) => Ok(Target::at(u, c.server_pid)),
            None => Target::start(c.server_cpus.as_ref()),
        }
    }

    /// Starts `natter serve` (this very binary) on a fresh data directory, rate limits off,
    /// pinned to `cpus` if given.
    pub fn start(cpus: Option<&CpuList>) -> Result<Target> {
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
            url,
            child: Some(child),
            pid: None,
            _dir: Some(dir),
            startup: Some(startup),
        })
    }

    pub fn at(url: &str, pid: Option<u32>) -> Target {
        Target {
            url: url.trim_end_matches('/').to_owned(),
            child: None,
            pid,
            _dir: None,
            startup: None,
        }
    }

    /// The server's process: the one started here, or `--server-pid`'s.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id).or(self.pid)
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

    /// The server's CPU time and memory; none for a server at a URL without `--server-pid`.
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
