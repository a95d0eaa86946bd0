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
//!
//! # Webhook mode
//!
//! With `NATTER_WEBHOOK_LISTEN` (the address to serve on) and `NATTER_WEBHOOK_URL` (the URL
//! natter posts to, which must lead there and start with a prefix the server's
//! `--webhook-allow` lists) set, the bot has natter post its events to it instead:
//!
//! ```sh
//! NATTER_URL=http://127.0.0.1:8080 NATTER_USERNAME=echo NATTER_PASSWORD='correct horse' \
//!     NATTER_WEBHOOK_LISTEN=127.0.0.1:9000 NATTER_WEBHOOK_URL=http://127.0.0.1:9000/natter \
//!     cargo run -p natter-client --example echo_bot
//! ```
//!
//! At start it creates a webhook for all its conversations (the server started with
//! `--webhook-allow http://127.0.0.1:9000/`) and serves the deliveries at the URL's path. Each
//! delivery is checked with [`natter_client::webhook::verify`] (a bad signature or a timestamp
//! more than 5 minutes off: `401`), answered `200` at once, and its event handled after,
//! unless its cursor was handled before (delivery is at least once). The answers are the live
//! mode's. On Ctrl-C it deletes the webhook and stops.

mod bot;
mod webhook_mode;

use natter_client::{Client, LoginRequest};

#[tokio::main]
async fn main() -> Result<(), webhook_mode::BoxError> {
    let url = env("NATTER_URL")?;
    let username = env("NATTER_USERNAME")?;
    let password = env("NATTER_PASSWORD")?;
    let webhook = match (
        std::env::var("NATTER_WEBHOOK_LISTEN"),
        std::env::var("NATTER_WEBHOOK_URL"),
    ) {
        (Ok(listen), Ok(url)) => Some((listen.parse::<std::net::SocketAddr>()?, url)),
        (Err(_), Err(_)) => None,
        _ => {
            return Err("set both NATTER_WEBHOOK_LISTEN and NATTER_WEBHOOK_URL, or neither".into());
        }
    };
    let (client, login) = Client::new(url)
        .login(&LoginRequest {
            username,
            password,
            device_name: Some("echo bot".into()),
        })
        .await?;
    eprintln!("logged in as {}", login.user.username);
    match webhook {
        Some((listen, url)) => {
            // Listening before the webhook exists, so that no delivery finds the door closed.
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("stopping");
            };
            webhook_mode::run(client, listener, url, ctrl_c).await?
        }
        None => bot::EchoBot::start(client).await?.run().await?,
    }
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}
