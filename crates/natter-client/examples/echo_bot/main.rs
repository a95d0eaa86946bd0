//! An echo bot built on the SDK: it answers every new message from someone else in its direct
//! conversations, and in groups every message that mentions it (`@username`), with the same
//! text as a reply, and marks the message read.
//!
//! ```sh
//! NATTER_URL=http://127.0.0.1:8080 NATTER_USERNAME=echo NATTER_PASSWORD='correct horse' \
//!     cargo run -p natter-client --example echo_bot
//! ```
//!
//! It follows the account's [`natter_client::Live`] stream, which reconnects by itself and
//! resumes from the last event seen, so a dropped connection neither loses a message nor
//! answers one twice. It starts from the present: messages sent while it was not running are
//! not answered.

mod bot;

use natter_client::{Client, LoginRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = env("NATTER_URL")?;
    let username = env("NATTER_USERNAME")?;
    let password = env("NATTER_PASSWORD")?;
    let (client, login) = Client::new(url)
        .login(&LoginRequest {
            username,
            password,
            device_name: Some("echo bot".into()),
        })
        .await?;
    eprintln!("logged in as {}", login.user.username);
    bot::EchoBot::start(client).await?.run().await?;
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}
