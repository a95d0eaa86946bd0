//! Memory the server gives back. Each login hashes its password with 19 MiB of Argon2
//! memory; once the hash is done, that memory returns to the system rather than staying with
//! the allocator (glibc's malloc keeps it unless told otherwise: see `main.rs`).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

mod common;

use natter_client::{Client, LoginRequest};

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc")
}

#[tokio::test]
async fn the_memory_of_password_hashes_is_given_back() {
    let (server, _dir) = common::serve(None);
    let anon = Client::new(&server.url);
    anon.sign_up("alice", "pw-Zq8nUe4rT7").await.unwrap();
    let login = LoginRequest {
        username: "alice".into(),
        password: "pw-Zq8nUe4rT7".into(),
        device_name: None,
    };
    let before = rss_kib(server.pid());
    for _ in 0..20 {
        anon.login(&login).await.unwrap();
    }
    let after = rss_kib(server.pid());
    server.stop();
    // Kept by the allocator, the memory of a single hash would show as 19 MiB more.
    assert!(
        after < before + 16 * 1024,
        "20 logins left {} MiB more resident ({before} KiB before, {after} KiB after)",
        (after - before) / 1024
    );
}
