//! `listen`: durable events as JSON lines, exactly as the server sends them (`type`, `cursor`,
//! `data`). The SDK's `Live` reconnects after a drop and resumes from the last cursor printed,
//! so each event is printed once, in order; `--since` with the last cursor printed resumes
//! across runs the same way.

use std::io::Write;

use natter_client::{ControlFrame, Live, ServerFrame};

use super::{Common, failure::Failure};

pub async fn listen(
    common: &Common,
    since: Option<String>,
    count: Option<u64>,
) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    // A REST call first: it tells an unreachable server (exit 4) and a lost session (exit 3)
    // apart, which a failed WebSocket handshake does not.
    client.me().await.map_err(|e| common.sdk(e))?;
    let mut live = Live::connect(&client, since.as_deref())
        .await
        .map_err(|e| common.sdk(e))?;
    if let Some(cursor) = live.cursor() {
        // On standard error, so that standard output holds events only; a script (or a test)
        // can wait for this line to know that nothing sent from now on will be missed.
        eprintln!("natter: listening from cursor {cursor}");
    }
    let mut printed = 0;
    let stop = crate::shutdown_signal();
    tokio::pin!(stop);
    while count.is_none_or(|n| printed < n) {
        let frame = tokio::select! {
            frame = live.next() => frame.map_err(|e| common.sdk(e))?,
            () = &mut stop => break,
        };
        let line = match &frame {
            ServerFrame::Event(event) => serde_json::to_string(event),
            // The events before its cursor are lost to this stream: a script must reload its
            // state by REST, so it sees this frame in the same stream.
            ServerFrame::Control(resync @ ControlFrame::ResyncRequired { .. }) => {
                serde_json::to_string(resync)
            }
            _ => continue,
        }
        .expect("frames serialize");
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            // The reader went away (`natter listen | head -1`): nothing left to do.
            return Ok(());
        }
        printed += 1;
    }
    if let Some(cursor) = live.cursor() {
        eprintln!("natter: stopped; resume with `natter listen --since {cursor}`");
    }
    Ok(())
}
