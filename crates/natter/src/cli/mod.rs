//! The client commands of `natter`: a person's or a script's way to use a server from a shell.
//! Each command speaks the public API through the SDK (`natter-client`), as the session that
//! `natter login` saved for the server. Output is for people unless `--json` asks for the API's
//! own objects, one JSON document (or, for `listen`, one event) per line.

mod account;
mod blocks;
mod conversations;
mod failure;
mod listen;
mod messages;
mod profile;
mod search;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use natter_client::Client;

use failure::Failure;
use profile::Profiles;

/// The flags every client command takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The server to talk to.
    #[arg(long, env = "NATTER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Print the API's JSON objects, one per line, instead of text for people.
    #[arg(long)]
    json: bool,
}

impl Common {
    /// The server URL as profiles are keyed: without a trailing `/`.
    fn server(&self) -> &str {
        self.server.trim_end_matches('/')
    }

    fn anonymous(&self) -> Client {
        Client::new(self.server())
    }

    /// A client holding the saved session for this server.
    fn logged_in(&self) -> Result<(Client, profile::Profile), Failure> {
        let profiles = Profiles::load()?;
        match profiles.servers.get(self.server()) {
            Some(p) => Ok((self.anonymous().with_token(&p.token), p.clone())),
            None => Err(Failure::not_logged_in(self.server())),
        }
    }

    fn sdk(&self, e: natter_client::Error) -> Failure {
        failure::from_sdk(self.server(), e)
    }
}

const CONVERSATION_HELP: &str = "A conversation: its id, a username (the direct conversation with \
that user), or a group's name when no other of your conversations has it";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an account; the password is read from standard input.
    Register {
        username: String,
        /// The name shown to others [default: the username].
        #[arg(long)]
        display_name: Option<String>,
        /// An invite code (needed when the server registers by invite only).
        #[arg(long)]
        invite: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Create an invite and print its code and a link to register with it.
    Invite {
        /// How many people may register with it (1-1000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=1000))]
        uses: i64,
        /// How long it stays valid, such as 7d or 12h (1m to 90d).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        expires: std::time::Duration,
        #[command(flatten)]
        common: Common,
    },
    /// Log in and save the session for this server; the password is read from standard input.
    Login {
        username: String,
        /// The name of this device in the list of sessions.
        #[arg(long, default_value = "natter command line")]
        device_name: String,
        #[command(flatten)]
        common: Common,
    },
    /// End the saved session on the server and forget its token.
    Logout {
        #[command(flatten)]
        common: Common,
    },
    /// List your conversations, the most recently active first.
    Conversations {
        #[command(flatten)]
        common: Common,
    },
    /// Open (find or start) the direct conversation with a user.
    Open {
        username: String,
        #[command(flatten)]
        common: Common,
    },
    /// Create a group, or add or remove its members.
    Group {
        #[command(subcommand)]
        action: conversations::GroupAction,
    },
    /// Send a message: the text given, a file, an image, or else the text on standard input.
    Send {
        #[arg(help = CONVERSATION_HELP)]
        conversation: String,
        /// The text (with --file or --image, a caption).
        text: Option<String>,
        /// Send this file as an attachment.
        #[arg(long, conflicts_with = "image")]
        file: Option<PathBuf>,
        /// Send this image.
        #[arg(long)]
        image: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the latest messages of a conversation, oldest first.
    History {
        #[arg(help = CONVERSATION_HELP)]
        conversation: String,
        /// How many messages (1-200).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=200))]
        limit: i64,
        #[command(flatten)]
        common: Common,
    },
    /// Print events as JSON lines as they happen, reconnecting and resuming by itself, until
    /// interrupted or --count events.
    Listen {
        /// Resume after this cursor (the `cursor` of the last event printed).
        #[arg(long)]
        since: Option<String>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        common: Common,
    },
    /// Block a user: neither of you can then write to the other directly, and it sees none of
    /// your typing and presence nor finds you in a search. --undo unblocks it.
    Block {
        username: String,
        /// Unblock the user instead.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        common: Common,
    },
    /// List the users you blocked.
    Blocked {
        #[command(flatten)]
        common: Common,
    },
    /// Find messages by their words, newest first: every word must appear, the last one
    /// as a prefix (`natter search "lunch tom"` finds "Lunch with Tomás?").
    Search {
        query: String,
        /// Only in this conversation (its id, a username or a group's name).
        #[arg(long)]
        conversation: Option<String>,
        /// How many messages (1-200) [default: the server's, 50].
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=200))]
        limit: Option<i64>,
        /// Only messages older than this one (the id of the last one printed).
        #[arg(long)]
        before: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// React to a message with an emoji (--undo takes the reaction back).
    React {
        /// The message's id (`history --json` and `search --json` show it).
        message_id: String,
        emoji: String,
        /// Take the reaction back instead.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        common: Common,
    },
    /// List who reacted to a message with what, oldest first.
    Reactions {
        message_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Mark every message of a conversation read.
    Read {
        #[arg(help = CONVERSATION_HELP)]
        conversation: String,
        #[command(flatten)]
        common: Common,
    },
}

/// What `natter --help` says after the commands.
pub const EXIT_CODES: &str = "\
Client commands talk to --server (or NATTER_SERVER) with the session that `natter login` saved
in $NATTER_CONFIG_DIR, else $XDG_CONFIG_HOME/natter, else ~/.config/natter.

Exit codes: 0 done; 1 the server refused (its error code and message are printed), or no such
user or conversation; 2 wrong usage; 3 not logged in (or the session was revoked or expired);
4 server unreachable.";

/// Runs a client command and returns the process's exit code.
pub async fn run(command: Command) -> i32 {
    let result = match command {
        Command::Register {
            username,
            display_name,
            invite,
            common,
        } => account::register(&common, &username, display_name, invite).await,
        Command::Invite {
            uses,
            expires,
            common,
        } => account::invite(&common, uses, expires).await,
        Command::Login {
            username,
            device_name,
            common,
        } => account::login(&common, &username, &device_name).await,
        Command::Logout { common } => account::logout(&common).await,
        Command::Conversations { common } => conversations::list(&common).await,
        Command::Open { username, common } => conversations::open(&common, &username).await,
        Command::Group { action } => conversations::group(action).await,
        Command::Send {
            conversation,
            text,
            file,
            image,
            common,
        } => messages::send(&common, &conversation, text, file, image).await,
        Command::History {
            conversation,
            limit,
            common,
        } => messages::history(&common, &conversation, limit).await,
        Command::Listen {
            since,
            count,
            common,
        } => listen::listen(&common, since, count).await,
        Command::Read {
            conversation,
            common,
        } => messages::read(&common, &conversation).await,
        Command::Block {
            username,
            undo,
            common,
        } => blocks::block(&common, &username, undo).await,
        Command::Blocked { common } => blocks::list(&common).await,
        Command::Search {
            query,
            conversation,
            limit,
            before,
            common,
        } => {
            search::search(
                &common,
                &query,
                conversation.as_deref(),
                before.as_deref(),
                limit,
            )
            .await
        }
        Command::React {
            message_id,
            emoji,
            undo,
            common,
        } => search::react(&common, &message_id, &emoji, undo).await,
        Command::Reactions { message_id, common } => search::reactions(&common, &message_id).await,
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("natter: {f}");
            f.kind.exit_code()
        }
    }
}

/// Prints `value` as one line of JSON.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string(value).expect("API objects serialize")
    );
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Clap checks the definitions (clashing flag names, say) only when a command is parsed:
    /// this checks every client command's at once.
    #[test]
    fn the_command_line_is_well_formed() {
        crate::Cli::command().debug_assert();
    }
}
