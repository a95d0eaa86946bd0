//! `search`, `react` (and `react --undo`), `reactions`: finding messages by their words, and
//! reacting to them.

use std::collections::HashMap;

use natter_client::Client;

use super::{
    Common,
    conversations::{Names, resolve},
    failure::Failure,
    print_json,
};

/// Prints the messages that match `query`, newest first, each as its time, conversation,
/// sender and the piece of text that matched.
pub async fn search(
    common: &Common,
    query: &str,
    conversation: Option<&str>,
    before: Option<&str>,
    limit: Option<i64>,
) -> Result<(), Failure> {
    let (client, me) = common.logged_in()?;
    let conversation_id = match conversation {
        Some(arg) => Some(resolve(common, &client, arg, false).await?.id),
        None => None,
    };
    let found = client
        .search(query, conversation_id.as_deref(), before, limit)
        .await
        .map_err(|e| common.sdk(e))?;
    let mut names = Names::new(&client);
    let mut titles = Titles::default();
    let bold = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for hit in &found.messages {
        if common.json {
            print_json(hit);
            continue;
        }
        let m = &hit.message;
        let title = titles
            .of(&client, &mut names, &m.conversation_id, &me.user_id)
            .await;
        let sender = names.of(&m.sender_id).await;
        println!(
            "{}  {title}  {sender}: {}",
            short_time(&m.created_at),
            readable_snippet(&hit.snippet, bold)
        );
    }
    if !common.json {
        if found.messages.is_empty() {
            println!("no messages match {query:?}");
        } else if let (true, Some(last)) = (found.has_more, found.messages.last()) {
            // On standard error, so that standard output holds the hits only.
            eprintln!(
                "natter: more match: add `--before {}` for older ones",
                last.message.id
            );
        }
    }
    Ok(())
}

/// Conversation titles by id, each conversation asked of the server once per command.
#[derive(Default)]
struct Titles(HashMap<String, String>);

impl Titles {
    async fn of(&mut self, client: &Client, names: &mut Names, id: &str, me: &str) -> String {
        if let Some(t) = self.0.get(id) {
            return t.clone();
        }
        let title = match client.conversation(id).await {
            Ok(c) => names.title(&c, me).await,
            Err(_) => id.to_owned(),
        };
        self.0.insert(id.to_owned(), title.clone());
        title
    }
}

/// `2026-12-01T04:39:07.123Z` as `2026-12-01 04:39` (the API's times are UTC).
pub fn short_time(t: &str) -> String {
    match (t.get(..10), t.get(11..16)) {
        (Some(day), Some(hm)) if t.as_bytes().get(10) == Some(&b'T') => format!("{day} {hm}"),
        _ => t.to_owned(),
    }
}

/// A snippet as a terminal shows it: the HTML entities decoded, each matching word bold on a
/// terminal (ANSI) or else in `[`…`]`.
pub fn readable_snippet(snippet: &str, bold: bool) -> String {
    let (open, close) = if bold {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let marked = snippet.replace("<mark>", open).replace("</mark>", close);
    unescape(&marked)
}

/// Decodes the entities the server's snippets use (and numeric ones), `&amp;` last of all.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail.find(';').filter(|end| *end <= 10).and_then(|end| {
            let entity = &tail[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reacts to a message with `emoji`, or with `undo` takes the reaction back. Both may be
/// repeated without harm.
pub async fn react(
    common: &Common,
    message_id: &str,
    emoji: &str,
    undo: bool,
) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let done = if undo {
        client.remove_reaction(message_id, emoji).await
    } else {
        client.add_reaction(message_id, emoji).await
    };
    done.map_err(|e| common.sdk(e))?;
    if common.json {
        // The message as it is now, with its reactions.
        let m = client
            .message(message_id)
            .await
            .map_err(|e| common.sdk(e))?;
        print_json(&m);
    } else if undo {
        println!("took back {emoji} from {message_id}");
    } else {
        println!("reacted {emoji} to {message_id}");
    }
    Ok(())
}

/// Lists who reacted to a message with what, oldest first.
pub async fn reactions(common: &Common, message_id: &str) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let mut names = Names::new(&client);
    let mut after: Option<String> = None;
    let mut any = false;
    loop {
        let page = client
            .reactions(message_id, None, after.as_deref(), Some(100))
            .await
            .map_err(|e| common.sdk(e))?;
        for r in &page.reactions {
            any = true;
            if common.json {
                print_json(r);
            } else {
                let who = names.of(&r.user_id).await;
                println!("{}  {who}  {}", r.emoji, short_time(&r.created_at));
            }
        }
        match page.next_cursor {
            Some(next) if page.has_more => after = Some(next),
            _ => break,
        }
    }
    if !any && !common.json {
        println!("no reactions");
    }
    Ok(())
}

/// A message's reactions in one line: `👍 2  🎉 1`, the caller's own marked with `*`.
pub fn reaction_line(reactions: &[natter_client::ReactionCount]) -> String {
    reactions
        .iter()
        .map(|r| format!("{} {}{}", r.emoji, r.count, if r.me { "*" } else { "" }))
        .collect::<Vec<_>>()
        .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_read_as_plain_text() {
        assert_eq!(
            readable_snippet(
                "… the <mark>caf&#39;e</mark> &amp; &lt;b&gt; &quot;x&quot;",
                false
            ),
            "… the [caf'e] & <b> \"x\""
        );
        assert_eq!(
            readable_snippet("<mark>a</mark> b", true),
            "\x1b[1ma\x1b[0m b"
        );
        // Not entities: left as they are.
        assert_eq!(
            unescape("AT&T; a & b &bogus; &#x1F44D;"),
            "AT&T; a & b &bogus; 👍"
        );
        assert_eq!(unescape("&amp;lt;"), "&lt;");
    }

    #[test]
    fn times_are_shortened_to_the_minute() {
        assert_eq!(short_time("2026-12-01T04:39:07.123Z"), "2026-12-01 04:39");
        assert_eq!(short_time("yesterday"), "yesterday");
    }
}
