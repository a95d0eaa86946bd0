//! `natter serve` run as a child process, as an operator runs it.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    thread::JoinHandle,
};

/// A `natter serve` child process, its URL, and a thread collecting all it writes to stderr
/// (the logs) until it exits.
pub struct Served {
    child: Child,
    pub url: String,
    logs: JoinHandle<String>,
}

/// Starts `natter serve` with `NATTER_LOG` set to `log`, or unset.
pub fn serve(log: Option<&str>) -> (Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("NATTER_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(log) = log {
        command.env("NATTER_LOG", log);
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("natter listening on ") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
    }
    let url = line
        .trim()
        .trim_start_matches("natter listening on ")
        .to_owned();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    (Served { child, url, logs }, dir)
}

impl Served {
    // Not every test binary that includes this module reads it.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as an operator would (SIGTERM) and returns everything it logged.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(term.success());
        assert!(self.child.wait().unwrap().success());
        self.logs.join().unwrap()
    }
}
