//! `send`, `history`, `read`.

use std::{io::Read, path::PathBuf};

use natter_client::{Message, MessageQuery, SendMessageRequest};

use super::{
    Common,
    conversations::{Names, resolve},
    failure::Failure,
    print_json,
};

pub async fn send(
    common: &Common,
    conversation: &str,
    text: Option<String>,
    file: Option<PathBuf>,
    image: Option<PathBuf>,
) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let attachment = match (file, image) {
        (Some(path), _) => Some(("file", path)),
        (None, Some(path)) => Some(("image", path)),
        (None, None) => None,
    };
    // Read before any request, so that bad input costs no round trip.
    let text = match (text, &attachment) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => Some(text_from_stdin()?),
    };
    let upload = match &attachment {
        Some((kind, path)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            let filename = path.file_name().map(|n| n.to_string_lossy().into_owned());
            Some((*kind, bytes, filename))
        }
        None => None,
    };
    let c = resolve(common, &client, conversation, true).await?;
    let mut req = SendMessageRequest {
        text,
        ..Default::default()
    };
    if let Some((kind, bytes, filename)) = upload {
        // The server types the upload by its bytes, whatever is declared here.
        let media = client
            .upload(bytes, "application/octet-stream", filename.as_deref())
            .await
            .map_err(|e| common.sdk(e))?;
        req.kind = Some(kind.into());
        req.media_id = Some(media.id);
    }
    let sent = client
        .send_message(&c.id, &req)
        .await
        .map_err(|e| common.sdk(e))?
        .value;
    if common.json {
        print_json(&sent);
    } else {
        println!("sent [{}] to {}", sent.seq, c.id);
    }
    Ok(())
}

/// All of standard input, less one final line ending (what `echo` and a heredoc add).
fn text_from_stdin() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read standard input as text: {e}")))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if text.trim().is_empty() {
        return Err(Failure::usage(
            "nothing to send: give the text, --file, --image, or text on standard input",
        ));
    }
    Ok(text.to_owned())
}

pub async fn history(common: &Common, conversation: &str, limit: i64) -> Result<(), Failure> {
    let (client, me) = common.logged_in()?;
    let c = resolve(common, &client, conversation, false).await?;
    let page = client
        .messages(
            &c.id,
            &MessageQuery {
                limit: Some(limit),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| common.sdk(e))?;
    let mut names = Names::new(&client);
    for m in &page.messages {
        if common.json {
            print_json(m);
        } else {
            let sender = names.of(&m.sender_id).await;
            println!("[{}] {sender}: {}", m.seq, line(m, &me.user_id));
        }
    }
    Ok(())
}

/// A message as `history` prints it: its content, then its reactions (`👍 2`, the reader's
/// own with a `*`), then `(mentions you)` when its text names the reader.
fn line(m: &Message, me: &str) -> String {
    let mut out = body(m);
    if !m.reactions.is_empty() {
        out.push_str("  ");
        out.push_str(&super::search::reaction_line(&m.reactions));
    }
    if m.mentions.iter().any(|id| id == me) {
        out.push_str("  (mentions you)");
    }
    out
}

/// A message's content in one line of text.
fn body(m: &Message) -> String {
    if m.deleted {
        return "(deleted)".into();
    }
    let attachment = m.media.as_ref().map(|media| {
        let name = media.filename.as_deref().unwrap_or(&media.content_type);
        format!("[{} {name}, {} bytes]", m.kind, media.size)
    });
    match (attachment, &m.text) {
        (Some(a), Some(t)) => format!("{a} {t}"),
        (Some(a), None) => a,
        (None, Some(t)) => t.clone(),
        (None, None) => String::new(),
    }
}

pub async fn read(common: &Common, conversation: &str) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let c = resolve(common, &client, conversation, false).await?;
    // Marking the newest visible message marks every earlier one too.
    let newest = client
        .messages(
            &c.id,
            &MessageQuery {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| common.sdk(e))?
        .messages
        .pop();
    if let Some(m) = &newest {
        client.mark_read(&m.id).await.map_err(|e| common.sdk(e))?;
    }
    let up_to = newest.map_or(0, |m| m.seq);
    if common.json {
        print_json(&serde_json::json!({"conversation_id": c.id, "read_seq": up_to}));
    } else {
        println!("read {} up to [{up_to}]", c.id);
    }
    Ok(())
}
