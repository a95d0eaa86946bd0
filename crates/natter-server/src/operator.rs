//! What the server's operator does from the shell, on the server's data (SQLite or PostgreSQL),
//! with or without the server running: create an account, make an admin, set a password. For
//! recovery, when no admin can sign in. No rule of the API binds the operator; the same
//! transactions as the API's apply the changes.
//!
//! Sessions a password change deletes stop working on a running server within a minute (the
//! time a node caches a token); its open WebSockets end when they reconnect.

use natter_core::{UserId, decide::AccountUpdate, time, validate};

use crate::{
    ServeError,
    config::Config,
    error::AppError,
    store::{Store, StoreError, UserRow},
};

/// What an operator's command failed with: a rule (a taken name, no such user, a bad
/// password), or storage.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Rule(#[from] natter_core::Error),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("{0}")]
    Other(String),
}

impl From<StoreError> for OperatorError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(r) => OperatorError::Rule(r),
            other => OperatorError::Serve(ServeError::Store(other)),
        }
    }
}

impl From<AppError> for OperatorError {
    fn from(e: AppError) -> Self {
        OperatorError::Other(e.to_string())
    }
}

type Result<T> = std::result::Result<T, OperatorError>;

async fn hash(config: &Config, password: String) -> Result<String> {
    validate::password(&password, &config.limits)?;
    tokio::task::spawn_blocking(move || crate::app::hash_password_blocking(&password))
        .await
        .map_err(|e| OperatorError::Other(format!("hashing: {e}")))?
        .map_err(Into::into)
}

async fn user_named(store: &dyn Store, name: &str) -> Result<UserRow> {
    store
        .user_by_username(name)
        .await?
        .filter(|u| !u.deleted)
        .ok_or_else(|| natter_core::Error::not_found(&format!("user {name:?}")).into())
}

/// Runs `f` on the storage `config` names, and closes it.
async fn on_store<T>(config: &Config, f: impl AsyncFnOnce(&dyn Store) -> Result<T>) -> Result<T> {
    let store = crate::app::open_store(config).await?;
    let out = f(store.as_ref()).await;
    store.close().await;
    out
}

/// `natter admin create-user NAME [--admin]`: the new account.
pub async fn create_user(
    config: &Config,
    username: &str,
    password: String,
    display_name: Option<&str>,
    admin: bool,
) -> Result<UserRow> {
    let (username, display_name) =
        validate::new_account(username, &password, display_name, &config.limits)?;
    let user = UserRow::new_account(
        crate::app::new_id(),
        username,
        display_name,
        hash(config, password).await?,
        time::now(),
        admin,
    );
    on_store(config, async |store| {
        store.create_user(&user).await?;
        Ok(())
    })
    .await?;
    tracing::info!(target: "natter::audit", user = %user.username, user_id = %user.id, admin, "operator created an account from the shell");
    Ok(user)
}

/// `natter admin set-admin NAME [--remove]`: the account as changed.
pub async fn set_admin(config: &Config, username: &str, admin: bool) -> Result<UserRow> {
    let update = AccountUpdate {
        admin: Some(admin),
        ..Default::default()
    };
    let user = on_store(config, async |store| {
        let user = user_named(store, username).await?;
        let (user, _) = store
            .update_account(None, UserId::new(&user.id), &update, time::now())
            .await?;
        Ok(user)
    })
    .await?;
    tracing::info!(target: "natter::audit", user = %user.username, user_id = %user.id, admin, "operator set the admin flag from the shell");
    Ok(user)
}

/// `natter admin set-password NAME`: every session of the account is deleted; returns how
/// many.
pub async fn set_password(config: &Config, username: &str, password: String) -> Result<usize> {
    let update = AccountUpdate {
        password_hash: Some(hash(config, password).await?),
        ..Default::default()
    };
    let (user, sessions) = on_store(config, async |store| {
        let user = user_named(store, username).await?;
        Ok(store
            .update_account(None, UserId::new(&user.id), &update, time::now())
            .await?)
    })
    .await?;
    tracing::info!(target: "natter::audit", user = %user.username, user_id = %user.id, sessions_revoked = sessions.len(), "operator set a password from the shell");
    Ok(sessions.len())
}
