//! `conversations`, `open`, `group`, and how a `<conversation>` argument is found: by id, by
//! the username of the other member of a direct conversation, or by a group's unique name.

use std::collections::HashMap;

use clap::Subcommand;
use natter_client::{Client, Conversation, User};

use super::{Common, failure::Failure, print_json};

#[derive(Subcommand, Debug)]
pub enum GroupAction {
    /// Create a group with you as owner and these users as members.
    Create {
        name: String,
        members: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Add a user to a group.
    Add {
        #[arg(help = super::CONVERSATION_HELP)]
        group: String,
        username: String,
        /// Add as an admin rather than a member.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Remove a user from a group (yourself to leave it).
    Remove {
        #[arg(help = super::CONVERSATION_HELP)]
        group: String,
        username: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Usernames by user id, each asked of the server once per command.
pub struct Names {
    client: Client,
    known: HashMap<String, String>,
}

impl Names {
    pub fn new(client: &Client) -> Self {
        Self {
            client: client.clone(),
            known: HashMap::new(),
        }
    }

    /// The username of `id`, or the id itself for a user the server no longer shows.
    pub async fn of(&mut self, id: &str) -> String {
        if let Some(name) = self.known.get(id) {
            return name.clone();
        }
        let name = match self.client.user(id).await {
            Ok(u) => u.username,
            Err(_) => id.to_owned(),
        };
        self.known.insert(id.to_owned(), name.clone());
        name
    }

    /// How a person calls `c`: a group's name, or the other member of a direct conversation.
    pub async fn title(&mut self, c: &Conversation, me: &str) -> String {
        match &c.name {
            Some(name) if c.kind == "group" => name.clone(),
            _ => match c.members.iter().find(|m| m.user_id != me) {
                Some(other) => self.of(&other.user_id.clone()).await,
                None => c.id.clone(),
            },
        }
    }
}

/// The user called `username`, if any. The search is by prefix in username order, so an exact
/// match comes first.
pub async fn user_named(common: &Common, client: &Client, username: &str) -> Result<User, Failure> {
    let found = match client.search_users(username, Some(1)).await {
        Ok(list) => list.users.into_iter().find(|u| u.username == username),
        // A name the server cannot even search for names nobody.
        Err(natter_client::Error::Api { status: 400, .. }) => None,
        Err(e) => return Err(common.sdk(e)),
    };
    found.ok_or_else(|| Failure::refused("not_found", format!("no such user: {username}")))
}

pub async fn all_conversations(
    common: &Common,
    client: &Client,
) -> Result<Vec<Conversation>, Failure> {
    const PAGE: i64 = 200;
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = client
            .conversations(Some(PAGE), before.as_deref())
            .await
            .map_err(|e| common.sdk(e))?
            .conversations;
        let full = page.len() as i64 == PAGE;
        before = page.last().map(|c| c.last_message_at.clone());
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Ids are UUIDs: 36 characters, longer than any username, so the two never collide.
fn looks_like_id(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The conversation `arg` names (see `CONVERSATION_HELP`). A username without a direct
/// conversation yet is started when `start` is set (sending to someone), else not found.
pub async fn resolve(
    common: &Common,
    client: &Client,
    arg: &str,
    start: bool,
) -> Result<Conversation, Failure> {
    if looks_like_id(arg) {
        return client.conversation(arg).await.map_err(|e| common.sdk(e));
    }
    let all = all_conversations(common, client).await?;
    let user = match user_named(common, client, arg).await {
        Ok(u) => Some(u),
        Err(f) if f.kind == super::failure::Kind::Refused => None,
        Err(f) => return Err(f),
    };
    if let Some(user) = user {
        let direct = all
            .iter()
            .find(|c| c.kind == "direct" && c.members.iter().any(|m| m.user_id == user.id));
        if let Some(c) = direct {
            return Ok(c.clone());
        }
        if start {
            return Ok(client
                .direct(&user.id)
                .await
                .map_err(|e| common.sdk(e))?
                .value);
        }
    }
    let mut groups = all
        .into_iter()
        .filter(|c| c.kind == "group" && c.name.as_deref() == Some(arg));
    match (groups.next(), groups.next()) {
        (Some(c), None) => Ok(c),
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "several of your groups are named {arg:?}: give the id (see `natter conversations`)"
        ))),
        (None, _) => Err(Failure::refused(
            "not_found",
            format!("no conversation with a user or group named {arg:?}"),
        )),
    }
}

pub async fn list(common: &Common) -> Result<(), Failure> {
    let (client, me) = common.logged_in()?;
    let all = all_conversations(common, &client).await?;
    let mut names = Names::new(&client);
    for c in &all {
        if common.json {
            print_json(c);
            continue;
        }
        let title = names.title(c, &me.user_id).await;
        let unread = match (c.unread_count, c.mention_count) {
            (0, _) => String::new(),
            (n, 0) => format!("  ({n} unread)"),
            (n, 1) => format!("  ({n} unread, 1 mention)"),
            (n, m) => format!("  ({n} unread, {m} mentions)"),
        };
        println!("{}  {:<6}  {title}{unread}", c.id, c.kind);
    }
    if all.is_empty() && !common.json {
        println!("no conversations yet: `natter open USERNAME` starts one");
    }
    Ok(())
}

pub async fn open(common: &Common, username: &str) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let user = user_named(common, &client, username).await?;
    let c = client.direct(&user.id).await.map_err(|e| common.sdk(e))?;
    if common.json {
        print_json(&c.value);
    } else {
        let how = if c.created { "started" } else { "found" };
        println!("{}  direct  {}  ({how})", c.value.id, user.username);
    }
    Ok(())
}

pub async fn group(action: GroupAction) -> Result<(), Failure> {
    match action {
        GroupAction::Create {
            name,
            members,
            common,
        } => {
            let (client, _) = common.logged_in()?;
            let mut ids = Vec::new();
            for username in &members {
                ids.push(user_named(&common, &client, username).await?.id);
            }
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let c = client
                .create_group(&name, &ids)
                .await
                .map_err(|e| common.sdk(e))?;
            show_group(&common, &c, &format!("created group {name}"));
        }
        GroupAction::Add {
            group,
            username,
            admin,
            common,
        } => {
            let (client, _) = common.logged_in()?;
            let c = resolve(&common, &client, &group, false).await?;
            let user = user_named(&common, &client, &username).await?;
            let role = admin.then_some("admin");
            let c = client
                .add_member(&c.id, &user.id, role)
                .await
                .map_err(|e| common.sdk(e))?;
            show_group(&common, &c, &format!("added {username}"));
        }
        GroupAction::Remove {
            group,
            username,
            common,
        } => {
            let (client, _) = common.logged_in()?;
            let c = resolve(&common, &client, &group, false).await?;
            let user = user_named(&common, &client, &username).await?;
            client
                .remove_member(&c.id, &user.id)
                .await
                .map_err(|e| common.sdk(e))?;
            if common.json {
                print_json(&serde_json::json!({"conversation_id": c.id, "removed": user.id}));
            } else {
                println!("removed {username} from {}", c.id);
            }
        }
    }
    Ok(())
}

fn show_group(common: &Common, c: &Conversation, done: &str) {
    if common.json {
        print_json(c);
    } else {
        println!("{done}: {}  ({} members)", c.id, c.members.len());
    }
}
