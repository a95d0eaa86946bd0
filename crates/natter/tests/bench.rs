//! `natter bench` itself: pinning, CPU time per message and `--receipts`, on short runs. Its
//! figures are not judged here (timed assertions have no place in tests); what it reports is.

mod common;

use std::process::{Command, Output};

use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_natter"))
        .arg("bench")
        .args(args)
        .env_remove("NATTER_LOG")
        .output()
        .unwrap()
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// Two CPUs this test may use, if it has two.
fn two_cpus() -> Option<(usize, usize)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().ok()?..=b.parse().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    (cpus.len() >= 2).then(|| (cpus[0], cpus[1]))
}

#[test]
fn a_pinned_run_with_receipts_reports_cpu_per_message_and_marks() {
    let mut args = vec!["--duration", "2s", "--receipts", "--json"];
    let cpus = two_cpus().map(|(s, c)| (s.to_string(), c.to_string()));
    if let Some((s, c)) = &cpus {
        args.extend(["--server-cpus", s, "--client-cpus", c]);
    }
    args.extend(["dm", "--pairs", "2"]);
    let r = report(&bench(&args));
    for check in ["lost", "duplicated", "out_of_order"] {
        assert_eq!(r[check], 0, "{check}: {r:#}");
    }
    assert!(r["messages_acked"].as_u64().unwrap() > 0, "{r:#}");
    let cpu = &r["cpu"];
    assert!(cpu["server_cpu_seconds"].as_f64().unwrap() > 0.0, "{r:#}");
    assert!(
        cpu["server_us_per_message"].as_f64().unwrap() > 0.0,
        "{r:#}"
    );
    assert!(
        cpu["server_us_per_delivery"].as_f64().unwrap() > 0.0,
        "{r:#}"
    );
    assert!(cpu["generator_cpu_seconds"].as_f64().is_some(), "{r:#}");
    let marks = &r["marks"];
    assert!(marks["delivered"].as_u64().unwrap() > 0, "{r:#}");
    assert!(marks["read"].as_u64().unwrap() > 0, "{r:#}");
    assert_eq!(marks["refused"], 0, "{r:#}");
    if let Some((s, c)) = &cpus {
        assert_eq!(r["pinning"]["server_cpus"], s.as_str(), "{r:#}");
        assert_eq!(r["pinning"]["generator_cpus"], c.as_str(), "{r:#}");
    }
}

#[test]
fn ws_send_sends_over_the_websocket_and_loses_nothing() {
    for scenario in [
        &["dm", "--pairs", "2"][..],
        &["group", "--members", "6", "--senders", "2"],
    ] {
        let mut args = vec!["--duration", "1s", "--ws-send", "--json"];
        args.extend(scenario);
        let r = report(&bench(&args));
        for check in ["lost", "duplicated", "out_of_order", "send_errors"] {
            assert_eq!(r[check], 0, "{check}: {r:#}");
        }
        assert!(r["messages_acked"].as_u64().unwrap() > 0, "{r:#}");
        assert!(
            r["parameters"]
                .as_str()
                .unwrap()
                .contains("sent over WebSocket"),
            "{r:#}"
        );
    }
}

#[test]
fn overlapping_or_missing_cpus_are_refused() {
    let out = bench(&["--server-cpus", "0", "--client-cpus", "0", "dm"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("overlap on CPU 0"));
    let out = bench(&["--server-cpus", "1000", "dm"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn a_server_at_a_url_has_its_cpu_read_only_with_its_pid() {
    let (served, _dir) = common::serve(None);
    let pid = served.pid().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["--url", served.url.as_str(), "--duration", "1s", "--json"];
        args.extend(extra);
        args.extend(["dm", "--pairs", "1"]);
        report(&bench(&args))
    };
    let without = run(&[]);
    assert!(
        without["cpu"]["server_cpu_seconds"].is_null(),
        "{without:#}"
    );
    let with = run(&["--server-pid", &pid]);
    assert!(
        with["cpu"]["server_cpu_seconds"].as_f64().unwrap() > 0.0,
        "{with:#}"
    );
    served.stop();
}

#[test]
fn several_urls_spread_the_users_and_sum_the_servers() {
    // One server named twice: the users are spread over the two URLs (every REST call and
    // socket of user i goes to the i-th modulo 2), and the report has each server's figures.
    let (served, _dir) = common::serve(None);
    let pid = served.pid().to_string();
    let url = served.url.as_str();
    let mut args = vec!["--url", url, "--server-pid", &pid, "--url", url];
    args.extend(["--server-pid", &pid, "--duration", "1s", "--json"]);
    args.extend(["dm", "--pairs", "2"]);
    let r = report(&bench(&args));
    for check in ["lost", "duplicated", "out_of_order"] {
        assert_eq!(r[check], 0, "{check}: {r:#}");
    }
    assert!(
        r["parameters"].as_str().unwrap().contains("2 servers"),
        "{r:#}"
    );
    let servers = r["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{r:#}");
    let each: f64 = servers
        .iter()
        .map(|s| s["cpu_seconds"].as_f64().unwrap())
        .sum();
    let total = r["cpu"]["server_cpu_seconds"].as_f64().unwrap();
    assert!(total > 0.0 && (total - each).abs() < 1e-6, "{r:#}");
    // One pid for two URLs is refused before anything runs.
    let out = bench(&["--url", url, "--url", url, "--server-pid", &pid, "dm"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 --server-pid for 2 --url"));
    // The database is the started server's, not one at a URL.
    let out = bench(&["--url", url, "--database-url", "postgres://x/y", "dm"]);
    assert!(!out.status.success());
    served.stop();
}

#[test]
fn reactions_are_a_share_of_the_operations_and_reach_every_member() {
    for scenario in [
        &["dm", "--pairs", "2"][..],
        &["group", "--members", "4", "--senders", "2", "--ws-send"],
    ] {
        let mut args = vec!["--duration", "2s", "--reactions", "30", "--json"];
        args.extend(scenario);
        let r = report(&bench(&args));
        for check in ["lost", "duplicated", "out_of_order", "send_errors"] {
            assert_eq!(r[check], 0, "{check}: {r:#}");
        }
        let reactions = &r["reactions"];
        let acked = reactions["acked"].as_u64().unwrap();
        let sent = r["messages_acked"].as_u64().unwrap();
        assert!(acked > 0 && sent > 0, "{r:#}");
        assert_eq!(reactions["errors"], 0, "{r:#}");
        assert_eq!(
            acked,
            reactions["added"].as_u64().unwrap() + reactions["removed"].as_u64().unwrap()
        );
        // Every change is an event for each member online (the drain waits for messages, not
        // for these: some may still be on their way).
        assert!(reactions["events"].as_u64().unwrap() > 0, "{r:#}");
        assert!(
            reactions["latency"]["count"].as_u64().unwrap() == acked,
            "{r:#}"
        );
        assert!(
            r["parameters"].as_str().unwrap().contains("30% reactions"),
            "{r:#}"
        );
    }
    // Without the flag, no reaction and no figure.
    let r = report(&bench(&[
        "--duration",
        "1s",
        "--json",
        "dm",
        "--pairs",
        "1",
    ]));
    assert!(r["reactions"].is_null(), "{r:#}");
    assert!(!bench(&["--reactions", "101", "dm"]).status.success());
}

#[test]
fn seed_fills_a_database_that_bench_search_measures() {
    let data = tempfile::tempdir().unwrap();
    let seeded = Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["seed", "--messages", "600", "--users", "6"])
        .args(["--groups", "3", "--directs", "3", "--data-dir"])
        .arg(data.path())
        .env("NATTER_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&seeded.stdout);
    assert!(
        seeded.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(
        said.starts_with("seeded 600 messages into sqlite://"),
        "{said}"
    );
    // Every message is stored and indexed for search.
    let db = data.path().join("natter.db");
    let count = |sql: &str| -> i64 {
        let out = Command::new("sqlite3").arg(&db).arg(sql).output();
        match out {
            Ok(o) if o.status.success() => {
                String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
            }
            _ => -1,
        }
    };
    let messages = count("SELECT count(*) FROM messages");
    if messages >= 0 {
        assert_eq!(messages, 600);
        assert_eq!(count("SELECT count(*) FROM message_search_ids"), 600);
    }

    let served = common::serve_at(data.path(), "127.0.0.1:0", None);
    let r = report(&bench(&[
        "--url",
        served.url.as_str(),
        "--json",
        "search",
        "--queries",
        "5",
    ]));
    let kinds: Vec<&str> = r["searches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "common",
            "medium",
            "rare",
            "prefix",
            "two-words",
            "absent",
            "common-in-one"
        ]
    );
    for k in r["searches"].as_array().unwrap() {
        assert_eq!(k["errors"], 0, "{r:#}");
        assert_eq!(k["latency"]["count"], 5, "{r:#}");
    }
    // seed0 is in every group: a common word is found, a word from no message is not.
    assert!(
        r["searches"][0]["mean_hits"].as_f64().unwrap() > 0.0,
        "{r:#}"
    );
    assert_eq!(r["searches"][5]["mean_hits"], 0.0, "{r:#}");
    let one = report(&bench(&[
        "--url",
        served.url.as_str(),
        "--json",
        "search",
        "--queries",
        "2",
        "--kinds",
        "rare,prefix",
    ]));
    assert_eq!(one["searches"].as_array().unwrap().len(), 2, "{one:#}");
    assert!(
        !bench(&["--url", served.url.as_str(), "search", "--kinds", "odd"])
            .status
            .success()
    );
    served.stop();
}
