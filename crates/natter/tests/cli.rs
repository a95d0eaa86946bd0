//! The client commands, driven as a person or a script drives them: the built `natter` binary,
//! each user with its own configuration directory, against a `natter serve` child process.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
};

use serde_json::Value;

/// One person at a shell: a configuration directory of its own, and a server.
struct Shell {
    config: tempfile::TempDir,
    server: String,
}

/// What a finished command left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "the command failed: {self:?}");
        self
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

impl Shell {
    fn new(server: &str) -> Self {
        Self {
            config: tempfile::tempdir().unwrap(),
            server: server.to_owned(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_natter"));
        c.args(args)
            .arg("--server")
            .arg(&self.server)
            .env("NATTER_CONFIG_DIR", self.config.path())
            .env_remove("NATTER_SERVER")
            .env_remove("NATTER_LOG");
        c
    }

    /// Runs `natter ARGS --server URL` with `stdin` as its standard input.
    fn run_with(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, "")
    }

    fn sign_up(&self, username: &str) {
        let password = format!("{username}-password\n");
        self.run_with(&["register", username], &password).ok();
        self.run_with(&["login", username], &password).ok();
    }

    fn profiles(&self) -> std::path::PathBuf {
        self.config.path().join("profiles.json")
    }

    /// Starts `natter listen ARGS` and returns once it listens, with its event lines.
    fn listen(&self, args: &[&str]) -> Listener {
        let mut all = vec!["listen", "--json"];
        all.extend_from_slice(args);
        let mut child = self
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("natter: listening from cursor ") {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "listen exited before listening"
            );
        }
        // Lines are read on a thread of their own, so that a listener that prints nothing more
        // fails the test after a while instead of hanging it.
        let (lines, received) = std::sync::mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        Listener {
            child,
            lines: received,
            stderr,
        }
    }
}

struct Listener {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: BufReader<std::process::ChildStderr>,
}

/// How long an expected event may take to be printed before the test fails.
const EVENT_ARRIVES: std::time::Duration = std::time::Duration::from_secs(30);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    /// The events printed, up to and including the first that `last` accepts.
    fn events_until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let line = match self.lines.recv_timeout(EVENT_ARRIVES) {
                Ok(line) => line,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no event within {EVENT_ARRIVES:?} after {events:?}")
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("listen stopped early after {events:?}")
                }
            };
            let event: Value = serde_json::from_str(&line).expect("a JSON line");
            let done = last(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Stops it as Ctrl-C would (SIGTERM) and returns what it said on standard error.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "listen stopped cleanly: {status}");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stderr, &mut rest).unwrap();
        rest
    }
}

fn new_message_with(text: &str) -> impl Fn(&Value) -> bool + '_ {
    move |e| e["type"] == "new_message" && e["data"]["text"] == text
}

fn cursors(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["cursor"].as_str().expect("a cursor").to_owned())
        .collect()
}

#[test]
fn two_people_talk_from_the_shell() {
    let (server, _data) = common::serve(None);
    let alice = Shell::new(&server.url);
    let bob = Shell::new(&server.url);
    alice.sign_up("alice");
    bob.sign_up("bob");

    // The token is the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(alice.profiles())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let mut listener = bob.listen(&[]);
    let opened = alice.run(&["open", "bob", "--json"]).ok().json_lines();
    let conversation = opened[0]["id"].as_str().unwrap().to_owned();
    alice.run(&["send", "bob", "hello bob"]).ok();
    alice
        .run_with(&["send", &conversation], "from standard input\n")
        .ok();
    let file = alice.config.path().join("notes.txt");
    std::fs::write(&file, "some notes").unwrap();
    alice
        .run(&["send", "bob", "--file", file.to_str().unwrap(), "my notes"])
        .ok();

    let first = listener.events_until(new_message_with("my notes"));
    let texts: Vec<&str> = first
        .iter()
        .filter(|e| e["type"] == "new_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello bob", "from standard input", "my notes"]);
    let said = listener.stop();
    let last_cursor = cursors(&first).pop().unwrap();
    assert!(
        said.contains(&format!("natter listen --since {last_cursor}")),
        "listen says how to resume: {said}"
    );

    // Resuming from the last cursor printed repeats nothing and misses nothing.
    alice.run(&["send", "bob", "after the break"]).ok();
    let mut resumed = bob.listen(&["--since", &last_cursor]);
    let second = resumed.events_until(new_message_with("after the break"));
    resumed.stop();
    let seen = cursors(&first);
    for cursor in cursors(&second) {
        assert!(!seen.contains(&cursor), "event {cursor} came twice");
    }
    assert!(
        !second
            .iter()
            .any(|e| e["type"] == "new_message" && e["data"]["text"] != "after the break")
    );
    // --count stops by itself after that many events.
    let one = bob
        .run(&["listen", "--json", "--since", &last_cursor, "--count", "1"])
        .ok()
        .json_lines();
    assert_eq!(one, second[..1]);

    let history = bob.run(&["history", "alice"]).ok().stdout;
    assert_eq!(
        history.lines().collect::<Vec<_>>(),
        [
            "[1] alice: hello bob",
            "[2] alice: from standard input",
            "[3] alice: [file notes.txt, 10 bytes] my notes",
            "[4] alice: after the break",
        ]
    );
    let status = |who: &Shell| -> Vec<String> {
        who.run(&["history", "bob", "--json"])
            .ok()
            .json_lines()
            .iter()
            .map(|m| m["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(status(&alice).iter().all(|s| s != "read"));
    bob.run(&["read", "alice"]).ok();
    assert!(status(&alice).iter().all(|s| s == "read"));

    // Logging out ends the session on the server, not only here.
    let saved = std::fs::read(alice.profiles()).unwrap();
    alice.run(&["logout"]).ok();
    let after = alice.run(&["conversations"]);
    assert_eq!(after.code, 3, "{after:?}");
    assert!(after.stderr.contains("not logged in"), "{after:?}");
    std::fs::write(alice.profiles(), saved).unwrap();
    let revoked = alice.run(&["conversations"]);
    assert_eq!(revoked.code, 3, "{revoked:?}");
    assert!(revoked.stderr.contains("no longer valid"), "{revoked:?}");
}

#[test]
fn an_invite_from_the_shell_lets_one_more_person_in() {
    let data = tempfile::tempdir().unwrap();
    let server = common::serve_with(
        data.path(),
        "127.0.0.1:0",
        None,
        &["--registration", "invite"],
    );
    let alice = Shell::new(&server.url);
    let bob = Shell::new(&server.url);
    let carol = Shell::new(&server.url);
    // The first user needs no invite (and is the admin who may create them).
    alice.sign_up("alice");
    let refused = carol.run_with(&["register", "carol"], "carol-password\n");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("forbidden"), "{refused:?}");

    let printed = alice
        .run(&["invite", "--uses", "1", "--expires", "1h"])
        .ok()
        .stdout;
    let mut lines = printed.lines();
    let code = lines.next().unwrap().to_owned();
    assert_eq!(
        lines.next().unwrap(),
        format!("{}/#/invite/{code}", server.url)
    );
    bob.run_with(&["register", "bob", "--invite", &code], "bob-password\n")
        .ok();
    // Used up.
    let again = carol.run_with(
        &["register", "carol", "--invite", &code],
        "carol-password\n",
    );
    assert_eq!(again.code, 1, "{again:?}");

    // Only admins invite by default; out-of-range terms are refused.
    bob.run_with(&["login", "bob"], "bob-password\n").ok();
    assert_eq!(bob.run(&["invite"]).code, 1);
    assert_eq!(alice.run(&["invite", "--expires", "100d"]).code, 1);
    let json = alice.run(&["invite", "--json"]).ok().json_lines();
    assert_eq!(json[0]["uses_left"], 1);
}

#[test]
fn groups_are_named_by_their_name() {
    let (server, _data) = common::serve(None);
    let alice = Shell::new(&server.url);
    let bob = Shell::new(&server.url);
    let carol = Shell::new(&server.url);
    alice.sign_up("alice");
    bob.sign_up("bob");
    carol.sign_up("carol");
    alice.run(&["group", "create", "friends", "bob"]).ok();
    alice.run(&["send", "friends", "hi all"]).ok();
    alice.run(&["group", "add", "friends", "carol"]).ok();
    carol.run(&["send", "friends", "hi, I am new"]).ok();
    let picture = carol.config.path().join("picture.png");
    image::RgbImage::from_fn(4, 3, |x, y| image::Rgb([x as u8 * 60, y as u8 * 80, 128]))
        .save(&picture)
        .unwrap();
    let sent = carol
        .run(&[
            "send",
            "friends",
            "--image",
            picture.to_str().unwrap(),
            "--json",
        ])
        .ok()
        .json_lines();
    assert_eq!(sent[0]["kind"], "image");
    assert_eq!(sent[0]["media"]["width"], 4);
    let size = sent[0]["media"]["size"].as_i64().unwrap();
    let history = bob.run(&["history", "friends"]).ok().stdout;
    assert_eq!(
        history,
        format!(
            "[1] alice: hi all\n[2] carol: hi, I am new\n[3] carol: [image picture.png, {size} bytes]\n"
        )
    );
    let listed = bob.run(&["conversations"]).ok().stdout;
    assert!(listed.contains(" group   friends  (3 unread)"), "{listed}");
    alice.run(&["group", "remove", "friends", "carol"]).ok();
    let gone = carol.run(&["history", "friends"]);
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(gone.stderr.contains("not_found"), "{gone:?}");
}

#[test]
fn blocking_from_the_shell_closes_the_direct_conversation_both_ways_until_undone() {
    let (server, _data) = common::serve(None);
    let alice = Shell::new(&server.url);
    let bob = Shell::new(&server.url);
    alice.sign_up("alice");
    bob.sign_up("bob");
    alice.run(&["send", "bob", "hi bob"]).ok();
    let dm = bob.run(&["conversations", "--json"]).ok().json_lines()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(alice.run(&["block", "bob"]).ok().stdout, "blocked bob\n");
    alice.run(&["block", "bob"]).ok(); // again: no change
    assert!(alice.run(&["blocked"]).ok().stdout.starts_with("bob  "));
    // Bob no longer finds alice by name; by the conversation's id he is refused.
    assert_eq!(bob.run(&["send", "alice", "hello?"]).code, 1);
    let refused = bob.run(&["send", &dm, "hello?"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("forbidden"), "{refused:?}");
    let own = alice.run(&["send", "bob", "still there?"]);
    assert_eq!(own.code, 1, "{own:?}");
    assert!(own.stderr.contains("unblock"), "{own:?}");
    // The history stays readable.
    assert_eq!(
        bob.run(&["history", &dm]).ok().stdout,
        "[1] alice: hi bob\n"
    );

    // Blocked both ways: bob cannot find alice any more, yet unblocks her from his list.
    bob.run(&["block", "alice"]).ok();
    assert_eq!(bob.run(&["open", "alice"]).code, 1);
    assert_eq!(
        bob.run(&["block", "--undo", "alice"]).ok().stdout,
        "unblocked alice\n"
    );
    assert_eq!(
        alice
            .run(&["block", "--undo", "bob", "--json"])
            .ok()
            .json_lines()[0]["username"],
        "bob"
    );
    assert_eq!(alice.run(&["blocked"]).ok().stdout, "");
    bob.run(&["send", "alice", "back again"]).ok();
}

#[test]
fn failures_exit_with_a_code_that_says_which() {
    let (server, _data) = common::serve(None);
    let alice = Shell::new(&server.url);
    alice.sign_up("alice");

    let unknown = alice.run(&["open", "nobody"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.stderr.contains("not_found"), "{unknown:?}");

    let taken = alice.run_with(&["register", "alice"], "another-password\n");
    assert_eq!(taken.code, 1, "{taken:?}");
    assert!(taken.stderr.contains("conflict"), "{taken:?}");

    let wrong = alice.run_with(&["login", "alice"], "not-the-password\n");
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stderr.contains("unauthorized"), "{wrong:?}");

    let nothing = alice.run_with(&["send", "alice"], "");
    assert_eq!(nothing.code, 2, "{nothing:?}");
    assert!(nothing.stderr.contains("nothing to send"), "{nothing:?}");

    let stranger = Shell::new(&server.url);
    let not_logged_in = stranger.run(&["conversations"]);
    assert_eq!(not_logged_in.code, 3, "{not_logged_in:?}");
    assert!(
        not_logged_in.stderr.contains("not logged in"),
        "{not_logged_in:?}"
    );

    // A port that nothing listens on: the one of a server that has stopped.
    let url = server.url.clone();
    server.stop();
    let away = Shell::new(&url);
    let unreachable = away.run_with(&["register", "dave"], "dave-password\n");
    assert_eq!(unreachable.code, 4, "{unreachable:?}");
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{unreachable:?}"
    );
    let listen = alice.run(&["listen", "--count", "1"]);
    assert_eq!(listen.code, 4, "{listen:?}");
}

#[test]
fn search_reactions_and_mentions_from_the_shell() {
    let (server, _data) = common::serve(None);
    let alice = Shell::new(&server.url);
    let bob = Shell::new(&server.url);
    let carol = Shell::new(&server.url);
    alice.sign_up("alice");
    bob.sign_up("bob");
    carol.sign_up("carol");
    alice.run(&["group", "create", "friends", "bob"]).ok();
    alice
        .run(&[
            "send",
            "friends",
            "Lunch at the Café & <Bistro> tomorrow, @bob?",
        ])
        .ok();
    alice.run(&["send", "friends", "or the canteen"]).ok();
    alice.run(&["send", "bob", "a café just for us"]).ok();
    // Carol shares no conversation with them: she finds nothing of theirs.
    carol.run(&["group", "create", "notes"]).ok();
    carol.run(&["send", "notes", "my own cafe notes"]).ok();

    // Newest first, the match marked, the HTML entities decoded.
    let found = bob.run(&["search", "cafe"]).ok().stdout;
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert!(
        lines[0].ends_with("  alice  alice: a [café] just for us"),
        "{found}"
    );
    assert!(
        lines[1].ends_with("  friends  alice: Lunch at the [Café] & <Bistro> tomorrow, @bob?"),
        "{found}"
    );
    // The last word is a prefix; every word must match.
    let prefix = bob.run(&["search", "lunch caf"]).ok().stdout;
    assert_eq!(prefix.lines().count(), 1, "{prefix}");
    assert_eq!(
        bob.run(&["search", "cafe", "--conversation", "alice"])
            .ok()
            .stdout
            .lines()
            .count(),
        1
    );
    let hits = bob.run(&["search", "cafe", "--json"]).ok().json_lines();
    assert_eq!(hits.len(), 2);
    let lunch = hits[1]["id"].as_str().unwrap().to_owned();
    assert!(hits[1]["snippet"].as_str().unwrap().contains("<mark>"));
    // --limit and --before page through older matches.
    let first = bob.run(&["search", "cafe", "--limit", "1"]).ok();
    assert_eq!(first.stdout.lines().count(), 1);
    assert!(first.stderr.contains("--before"), "{first:?}");
    let older = bob
        .run(&[
            "search",
            "cafe",
            "--before",
            hits[0]["id"].as_str().unwrap(),
        ])
        .ok()
        .stdout;
    assert!(older.contains("Lunch"), "{older}");
    assert_eq!(
        carol.run(&["search", "cafe"]).ok().stdout.lines().count(),
        1,
        "carol finds only her own"
    );
    assert_eq!(
        bob.run(&["search", "nothinglikethis"]).ok().stdout,
        "no messages match \"nothinglikethis\"\n"
    );
    let empty = bob.run(&["search", "&&"]);
    assert_eq!(empty.code, 1, "{empty:?}");

    // The mention shows in bob's list and history.
    let listed = bob.run(&["conversations"]).ok().stdout;
    assert!(
        listed.contains("friends  (2 unread, 1 mention)"),
        "{listed}"
    );
    let history = bob.run(&["history", "friends"]).ok().stdout;
    assert!(
        history.starts_with(
            "[1] alice: Lunch at the Café & <Bistro> tomorrow, @bob?  (mentions you)\n"
        ),
        "{history}"
    );

    // Reactions: alice listens; bob reacts, twice over, and takes one back.
    let mut listener = alice.listen(&[]);
    assert_eq!(
        bob.run(&["react", &lunch, "👍"]).ok().stdout,
        format!("reacted 👍 to {lunch}\n")
    );
    bob.run(&["react", &lunch, "👍"]).ok(); // again: no change
    alice.run(&["react", &lunch, "👍"]).ok();
    bob.run(&["react", &lunch, "🎉"]).ok();
    let events =
        listener.events_until(|e| e["type"] == "reaction_changed" && e["data"]["emoji"] == "🎉");
    let changes: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e["type"] == "reaction_changed")
        .map(|e| {
            assert_eq!(e["data"]["message_id"], lunch.as_str());
            (
                e["data"]["emoji"].as_str().unwrap().to_owned(),
                e["data"]["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [("👍".into(), 1), ("👍".into(), 2), ("🎉".into(), 1)]
    );
    listener.stop();

    let history = alice.run(&["history", "friends"]).ok().stdout;
    assert!(
        history
            .starts_with("[1] alice: Lunch at the Café & <Bistro> tomorrow, @bob?  👍 2*  🎉 1\n"),
        "{history}"
    );
    let who = alice.run(&["reactions", &lunch]).ok().stdout;
    let who: Vec<String> = who
        .lines()
        .map(|l| l.split("  ").take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(who, ["👍 bob", "👍 alice", "🎉 bob"]);
    let undone = bob
        .run(&["react", &lunch, "🎉", "--undo", "--json"])
        .ok()
        .json_lines();
    assert_eq!(undone[0]["reactions"].as_array().unwrap().len(), 1);
    assert_eq!(undone[0]["reactions"][0]["emoji"], "👍");
    assert_eq!(undone[0]["reactions"][0]["me"], true);
    assert_eq!(
        alice
            .run(&["reactions", &lunch, "--json"])
            .ok()
            .json_lines()
            .len(),
        2
    );
    // Carol cannot react to a message she cannot see.
    let refused = carol.run(&["react", &lunch, "👍"]);
    assert_eq!(refused.code, 1, "{refused:?}");
}
