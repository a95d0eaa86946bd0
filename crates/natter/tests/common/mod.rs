//! `natter serve` run as a child process, as an operator runs it.

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
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

/// Starts `natter serve` on a fresh data directory with `NATTER_LOG` set to `log`, or unset.
// Not every test binary that includes this module calls each function.
#[allow(dead_code)]
pub fn serve(log: Option<&str>) -> (Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (serve_at(dir.path(), "127.0.0.1:0", log), dir)
}

/// Starts `natter serve` on `data_dir`, listening on `listen` (`127.0.0.1:0` for any free
/// port), rate limits off, with `NATTER_LOG` set to `log`, or unset; returns once it listens.
#[allow(dead_code)]
pub fn serve_at(data_dir: &Path, listen: &str, log: Option<&str>) -> Served {
    serve_with(data_dir, listen, log, &[])
}

/// [`serve_at`] with more arguments for `natter serve` (another database, a bus).
#[allow(dead_code)]
pub fn serve_with(data_dir: &Path, listen: &str, log: Option<&str>, more: &[&str]) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
    command
        .args([
            "serve",
            "--listen",
            listen,
            "--rate-limit",
            "off",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(more)
        .env_remove("NATTER_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The tests register several users freely, unless one asks for another mode.
    if !more.contains(&"--registration") {
        command.args(["--registration", "open"]);
    }
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
            "the server exited before listening"
        );
    }
    let url = line
        .trim()
        .trim_start_matches("natter listening on ")
        .to_owned();
    // Keep draining stdout, so that the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    Served { child, url, logs }
}

impl Served {
    // Not every test binary that includes this module reads it.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as an operator would (SIGTERM) and returns everything it logged.
    #[allow(dead_code)]
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(term.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the server stopped cleanly: {exit}");
        take_logs(&mut self.logs)
    }

    /// Kills the server (SIGKILL), as a crash would, and reaps it.
    #[allow(dead_code)]
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        let status = self.child.wait().expect("reaping the server");
        assert!(!status.success(), "the server was killed: {status}");
    }
}

fn take_logs(logs: &mut JoinHandle<String>) -> String {
    let done = std::mem::replace(logs, std::thread::spawn(String::new));
    done.join().unwrap()
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch PostgreSQL schema, for a server of its own: its URL sets the search path.
#[allow(dead_code)]
pub struct Schema {
    base: String,
    name: String,
    pub url: String,
}

#[allow(dead_code)]
impl Schema {
    pub async fn create(base: &str) -> Schema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("natter_kill_{}_{nanos}", std::process::id());
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(base).await.expect("PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Schema {
            url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
            base: base.to_owned(),
            name,
        }
    }

    pub async fn drop_it(self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.base).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}
