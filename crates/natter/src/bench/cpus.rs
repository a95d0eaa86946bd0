//! Pinning: `--server-cpus` and `--client-cpus` keep the server bench starts and the load
//! generator on separate cores (sched_setaffinity), so that the server's figures are its own and
//! not the generator's competition for the same cores.

use std::{fmt, str::FromStr, sync::OnceLock};

use anyhow::{Result, bail};
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

/// A set of CPU numbers as written for `taskset -c` and in /proc: `0`, `0-1`, `0,2`, `0-3,6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

impl FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<CpuList, String> {
        let bad = |why: &str| format!("{s:?} is not a CPU list such as 0, 0-1 or 0,2: {why}");
        let number = |t: &str| -> Result<usize, String> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(&format!("{t:?} is not a CPU number")));
            }
            t.parse::<usize>()
                .ok()
                .filter(|n| *n < CpuSet::MAX_CPU)
                .ok_or_else(|| bad(&format!("{t} is too large")))
        };
        let mut cpus = Vec::new();
        for part in s.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (number(a)?, number(b)?);
                    if a > b {
                        return Err(bad(&format!("the range {a}-{b} runs backwards")));
                    }
                    cpus.extend(a..=b);
                }
                None => cpus.push(number(part)?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }
}

impl fmt::Display for CpuList {
    /// The shortest form: runs of consecutive CPUs as ranges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        while i < self.0.len() {
            let mut j = i;
            while j + 1 < self.0.len() && self.0[j + 1] == self.0[j] + 1 {
                j += 1;
            }
            if i > 0 {
                f.write_str(",")?;
            }
            if j > i {
                write!(f, "{}-{}", self.0[i], self.0[j])?;
            } else {
                write!(f, "{}", self.0[i])?;
            }
            i = j + 1;
        }
        Ok(())
    }
}

impl CpuList {
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    pub fn to_set(&self) -> CpuSet {
        let mut set = CpuSet::new();
        for &c in &self.0 {
            set.set(c);
        }
        set
    }
}

/// The CPUs this process may run on before it pins itself: at most the CPUs that exist and are
/// online. Read once, so that pinning does not change the answer.
pub fn available() -> Result<CpuList> {
    static AVAILABLE: OnceLock<CpuList> = OnceLock::new();
    if let Some(l) = AVAILABLE.get() {
        return Ok(l.clone());
    }
    let set = sched_getaffinity(None)?;
    let list = CpuList((0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect());
    Ok(AVAILABLE.get_or_init(|| list).clone())
}

/// Refuses lists that overlap or name CPUs this process cannot use.
pub fn check(
    server: Option<&CpuList>,
    client: Option<&CpuList>,
    available: &CpuList,
) -> Result<()> {
    for (flag, list) in [("--server-cpus", server), ("--client-cpus", client)] {
        let Some(list) = list else { continue };
        let missing: Vec<usize> = list
            .cpus()
            .iter()
            .copied()
            .filter(|c| !available.cpus().contains(c))
            .collect();
        if !missing.is_empty() {
            bail!(
                "{flag} {list}: CPU {} does not exist or is not available to this process \
                 (available: {available})",
                CpuList(missing)
            );
        }
    }
    if let (Some(s), Some(c)) = (server, client) {
        let both: Vec<usize> = s
            .cpus()
            .iter()
            .copied()
            .filter(|x| c.cpus().contains(x))
            .collect();
        if !both.is_empty() {
            bail!(
                "--server-cpus {s} and --client-cpus {c} overlap on CPU {}: the server and the \
                 generator must not share a core",
                CpuList(both)
            );
        }
    }
    Ok(())
}

/// Pins the calling thread; the threads it starts afterwards inherit the mask. Called from
/// `main` before the runtime starts, so every worker of the generator is on `cpus`.
pub fn pin_current_thread(cpus: &CpuList) -> Result<()> {
    sched_setaffinity(None, &cpus.to_set())
        .map_err(|e| anyhow::anyhow!("pinning the generator to CPUs {cpus}: {e}"))
}

/// The CPUs a process may run on, as the kernel says (`Cpus_allowed_list` in its status).
pub fn allowed_list(pid: Option<u32>) -> Option<String> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> CpuList {
        s.parse().unwrap()
    }

    #[test]
    fn lists_parse_in_every_form() {
        assert_eq!(list("0").cpus(), &[0]);
        assert_eq!(list("0-1").cpus(), &[0, 1]);
        assert_eq!(list("0,2").cpus(), &[0, 2]);
        assert_eq!(list("3-5,0, 1").cpus(), &[0, 1, 3, 4, 5]);
        assert_eq!(list("2,2,1-2").cpus(), &[1, 2]);
        assert_eq!(list("7-7").cpus(), &[7]);
    }

    #[test]
    fn bad_lists_are_refused() {
        for bad in [
            "", " ", "a", "1-", "-1", "2-1", "1,,2", "0x1", "1.5", "-", "1-2-3", "99999",
        ] {
            assert!(bad.parse::<CpuList>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn lists_print_in_their_shortest_form() {
        for (given, shown) in [
            ("0", "0"),
            ("0-1", "0-1"),
            ("1,0", "0-1"),
            ("0,2", "0,2"),
            ("0-3,5,7-8", "0-3,5,7-8"),
        ] {
            assert_eq!(list(given).to_string(), shown);
        }
    }

    #[test]
    fn overlapping_or_missing_cpus_are_refused() {
        let avail = list("0-1");
        assert!(check(Some(&list("0")), Some(&list("1")), &avail).is_ok());
        assert!(check(None, Some(&list("1")), &avail).is_ok());
        assert!(check(None, None, &avail).is_ok());
        let e = check(Some(&list("0-1")), Some(&list("1")), &avail).unwrap_err();
        assert!(e.to_string().contains("overlap on CPU 1"), "{e}");
        let e = check(Some(&list("0")), Some(&list("2-3")), &avail).unwrap_err();
        assert!(e.to_string().contains("CPU 2-3 does not exist"), "{e}");
        let e = check(Some(&list("4")), None, &avail).unwrap_err();
        assert!(e.to_string().contains("--server-cpus 4"), "{e}");
    }

    #[test]
    fn the_kernel_lists_our_cpus() {
        let ours = available().unwrap();
        assert!(!ours.cpus().is_empty());
        assert_eq!(allowed_list(None).unwrap(), ours.to_string());
    }
}
