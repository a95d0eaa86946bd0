//! `block`, `block --undo` and `blocked`: whom the user blocks. A blocked user cannot write to
//! the user directly (nor the user to it, until it unblocks) and sees none of its typing and
//! presence, nor finds it in a search.

use natter_client::{Client, User};

use super::{
    Common,
    conversations::{all_conversations, user_named},
    failure::Failure,
    print_json,
};

/// Blocks `username`, or with `undo` unblocks it. Both may be repeated without harm.
pub async fn block(common: &Common, username: &str, undo: bool) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    // One the user blocked is in its list; look there first, since one who blocked the user
    // back cannot be found by a search.
    let listed = if undo {
        client
            .blocked_users()
            .await
            .map_err(|e| common.sdk(e))?
            .users
            .into_iter()
            .find(|u| u.username == username)
    } else {
        None
    };
    let user = match listed {
        Some(u) => u,
        None => match user_named(common, &client, username).await {
            Ok(u) => u,
            // One who blocked the user is not found by a search; a direct conversation with it
            // still names it.
            Err(f) => match direct_peer_named(common, &client, username).await? {
                Some(u) => u,
                None => return Err(f),
            },
        },
    };
    let done = if undo {
        client.unblock_user(&user.id).await
    } else {
        client.block_user(&user.id).await
    };
    done.map_err(|e| common.sdk(e))?;
    if common.json {
        print_json(&user);
    } else {
        let what = if undo { "unblocked" } else { "blocked" };
        println!("{what} {}", user.username);
    }
    Ok(())
}

/// The other member of one of the user's direct conversations called `username`, if any.
async fn direct_peer_named(
    common: &Common,
    client: &Client,
    username: &str,
) -> Result<Option<User>, Failure> {
    let (_, me) = common.logged_in()?;
    for c in all_conversations(common, client).await? {
        if c.kind != "direct" {
            continue;
        }
        for m in c.members.iter().filter(|m| m.user_id != me.user_id) {
            let u = client.user(&m.user_id).await.map_err(|e| common.sdk(e))?;
            if u.username == username {
                return Ok(Some(u));
            }
        }
    }
    Ok(None)
}

/// Lists the users the user blocked, in username order.
pub async fn list(common: &Common) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let list = client.blocked_users().await.map_err(|e| common.sdk(e))?;
    for u in &list.users {
        if common.json {
            print_json(u);
        } else {
            println!("{}  {}", u.username, u.display_name);
        }
    }
    Ok(())
}
