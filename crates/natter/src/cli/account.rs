//! `register`, `login`, `logout`. Passwords come from standard input, never from a flag: a
//! flag is visible to every user of the machine (`ps`) and stays in the shell's history.

use std::io::{BufRead, IsTerminal, Write};

use natter_client::{CreateInviteRequest, LoginRequest, RegisterRequest};

use super::{
    Common,
    failure::{Failure, Kind},
    print_json,
    profile::{Profile, Profiles},
};

pub async fn register(
    common: &Common,
    username: &str,
    display_name: Option<String>,
    invite: Option<String>,
) -> Result<(), Failure> {
    let password = read_password()?;
    let user = common
        .anonymous()
        .register(&RegisterRequest {
            username: username.into(),
            password,
            display_name,
            invite,
        })
        .await
        .map_err(|e| common.sdk(e))?;
    if common.json {
        print_json(&user);
    } else {
        println!(
            "registered {} on {}; now run `natter login {}`",
            user.username,
            common.server(),
            user.username
        );
    }
    Ok(())
}

pub async fn login(common: &Common, username: &str, device_name: &str) -> Result<(), Failure> {
    let password = read_password()?;
    let answer = common
        .anonymous()
        .login(&LoginRequest {
            username: username.into(),
            password,
            device_name: Some(device_name.into()),
        })
        .await;
    let (_, resp) = match answer {
        Ok(ok) => ok,
        // Here a 401 is a wrong username or password, not a lost session.
        Err(natter_client::Error::Api {
            status: 401,
            code,
            message,
        }) => return Err(Failure::refused(&code, message)),
        Err(e) => return Err(common.sdk(e)),
    };
    let mut profiles = Profiles::load()?;
    let replaced = profiles.servers.insert(
        common.server().to_owned(),
        Profile {
            token: resp.token.clone(),
            user_id: resp.user.id.clone(),
            username: resp.user.username.clone(),
        },
    );
    profiles.save()?;
    // The session this login replaces would otherwise stay valid, unlisted, until it expires.
    if let Some(old) = replaced {
        let _ = common
            .anonymous()
            .with_token(old.token)
            .revoke_session("current")
            .await;
    }
    if common.json {
        print_json(&resp.user);
    } else {
        println!("logged in to {} as {}", common.server(), resp.user.username);
    }
    Ok(())
}

/// `natter invite`: as the logged-in user.
pub async fn invite(
    common: &Common,
    uses: i64,
    expires: std::time::Duration,
) -> Result<(), Failure> {
    let (client, _) = common.logged_in()?;
    let invite = client
        .create_invite(&CreateInviteRequest {
            uses: Some(uses),
            expires_in_s: Some(i64::try_from(expires.as_secs()).unwrap_or(i64::MAX)),
        })
        .await
        .map_err(|e| common.sdk(e))?;
    if common.json {
        print_json(&invite);
    } else {
        println!("{}", invite.code);
        println!("{}/#/invite/{}", common.server(), invite.code);
        println!(
            "{} use{} left, until {}",
            invite.uses_left,
            if invite.uses_left == 1 { "" } else { "s" },
            invite.expires_at
        );
    }
    Ok(())
}

pub async fn logout(common: &Common) -> Result<(), Failure> {
    let (client, profile) = common.logged_in()?;
    let revoked = client.revoke_session("current").await;
    // A session the server no longer knows is as good as ended: forget it all the same. Any
    // other failure keeps the token, so that the logout can be retried.
    match revoked {
        Ok(()) | Err(natter_client::Error::Api { status: 401, .. }) => {}
        Err(e) => return Err(common.sdk(e)),
    }
    let mut profiles = Profiles::load()?;
    profiles.servers.remove(common.server());
    profiles.save()?;
    if common.json {
        print_json(&serde_json::json!({"logged_out": profile.username}));
    } else {
        println!("logged out of {} ({})", common.server(), profile.username);
    }
    Ok(())
}

/// One line of standard input, without its line ending. On a terminal it prompts and turns
/// echo off while the password is typed.
fn read_password() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    let on_terminal = stdin.is_terminal();
    if on_terminal {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if on_terminal {
        set_echo(true);
        eprintln!();
    }
    read.map_err(|e| Failure::new(Kind::Usage, format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Failure::usage(
            "no password: give it on standard input (one line)",
        ));
    }
    Ok(password)
}

/// Turns the terminal's echo off or on with `stty`, which acts on the terminal it inherits as
/// its standard input.
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}
