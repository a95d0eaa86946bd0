//! The web client's browser tests (`web/tests/`, Node's test runner driving Debian's Chromium
//! with playwright-core) against the `natter` binary that this build made.
//!
//! They need Chromium and `npm ci --prefix web`, so they run only when `NATTER_TEST_BROWSER` is
//! set (CI sets it); otherwise this test says so and passes without running them. With the
//! variable set, a missing piece fails the test loudly rather than skipping.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

#[test]
fn web_client_browser_tests() {
    if std::env::var_os("NATTER_TEST_BROWSER").is_none() {
        eprintln!(
            "skipping the web client's browser tests: set NATTER_TEST_BROWSER=1 to run them \
             (they need /usr/bin/chromium and `npm ci --prefix web`)"
        );
        return;
    }
    let web: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    assert!(
        web.join("package.json").is_file(),
        "no web/package.json at {}",
        web.display()
    );
    assert!(
        web.join("node_modules/playwright-core").is_dir(),
        "web/node_modules is missing: run `npm ci --prefix web` first (NATTER_TEST_BROWSER is set)"
    );
    let artifacts = std::env::var_os("NATTER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts")
        });

    // The child inherits this process's stdout and stderr: the test harness does not capture a
    // child's output, so the runner's report streams live into the log as it goes.
    let status = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&web)
        .env("NATTER_BIN", env!("CARGO_BIN_EXE_natter"))
        .env("NATTER_ARTIFACTS", &artifacts)
        .status()
        .unwrap_or_else(|e| panic!("cannot run `npm test` in {}: {e}", web.display()));
    assert!(
        status.success(),
        "the web client's browser tests failed ({status}); their output is above, failure \
         screenshots are in {}",
        artifacts.join("failures").display()
    );
}
