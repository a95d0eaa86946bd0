//! The server's admins: accounts listed, created, disabled, promoted, their passwords set;
//! what the server holds. Whether the caller may is decided by the store's transaction
//! (`natter_core::decide::update_account`) or, for what changes nothing, checked here on the
//! caller's stored account.
//!
//! Every admin action is logged at `info` under the target `natter::audit`, with who did what
//! to whom (never a password or a token).

use natter_core::{UserId, decide::AccountUpdate, time, validate};
use natter_wire as wire;

use super::{App, Caller, new_id};
use crate::{
    error::{AppError, AppResult},
    store::UserRow,
};

/// The most accounts one page of the admin's list holds.
const MAX_PAGE: u32 = 200;

impl App {
    /// The caller's account, if it is an admin that can act; else `403`.
    async fn admin(&self, caller: &Caller) -> AppResult<UserRow> {
        match self.store().user_by_id(caller.user_id()).await? {
            Some(u) if u.admin && !u.disabled && !u.deleted => Ok(u),
            _ => Err(natter_core::Error::forbidden("only admins may do this").into()),
        }
    }

    /// A user as an admin sees it: its presence, and whether it is disabled.
    fn render_for_admin(&self, u: &UserRow) -> wire::User {
        wire::User {
            disabled: Some(u.disabled),
            ..self.render_user(u, true, None)
        }
    }

    /// Stops a deleted session's token on this node and closes its sockets on every node.
    pub(super) fn revoked(&self, sessions: Vec<String>) {
        for id in sessions {
            self.inner.sessions.evict(&id);
            self.bus()
                .publish(crate::bus::BusMessage::SessionRevoked { session_id: id });
        }
    }

    /// `GET /admin/users?query=&limit=&before=`: every account, disabled and deleted ones too,
    /// newest first.
    pub async fn admin_users(
        &self,
        caller: &Caller,
        query: &str,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<wire::UserList> {
        self.admin(caller).await?;
        let rows = self
            .store()
            .list_users(query, before, limit.clamp(1, MAX_PAGE))
            .await?;
        Ok(wire::UserList {
            users: rows.iter().map(|u| self.render_for_admin(u)).collect(),
        })
    }

    /// `POST /admin/users`: an account created by an admin, whatever the registration mode.
    pub async fn admin_create_user(
        &self,
        caller: &Caller,
        req: wire::AdminCreateUserRequest,
    ) -> AppResult<wire::User> {
        let me = self.admin(caller).await?;
        let (username, display_name) = validate::new_account(
            &req.username,
            &req.password,
            req.display_name.as_deref(),
            self.limits(),
        )?;
        if self.store().user_by_username(&username).await?.is_some() {
            return Err(natter_core::Error::conflict("that username is taken").into());
        }
        let hash = self.hash_password(req.password).await?;
        let user = UserRow::new_account(
            new_id(),
            username,
            display_name,
            hash,
            time::now(),
            req.admin,
        );
        self.store().create_user(&user).await?;
        tracing::info!(
            target: "natter::audit",
            admin = %me.username,
            user = %user.username,
            user_id = %user.id,
            made_admin = user.admin,
            "admin created an account"
        );
        Ok(self.render_for_admin(&user))
    }

    /// `PATCH /admin/users/{id}`: disable or enable, make or unmake an admin, set a password.
    /// Disabling and setting a password revoke every session of the account.
    pub async fn admin_update_user(
        &self,
        caller: &Caller,
        id: &str,
        req: wire::AdminUpdateUserRequest,
    ) -> AppResult<wire::User> {
        let me = self.admin(caller).await?;
        let password_hash = match req.password {
            Some(p) => {
                validate::password(&p, self.limits())?;
                Some(self.hash_password(p).await?)
            }
            None => None,
        };
        let update = AccountUpdate {
            disabled: req.disabled,
            admin: req.admin,
            password_hash,
        };
        let (user, sessions) = self
            .store()
            .update_account(
                Some(caller.user_id()),
                UserId::new(id),
                &update,
                time::now(),
            )
            .await?;
        tracing::info!(
            target: "natter::audit",
            admin = %me.username,
            user = %user.username,
            user_id = %user.id,
            disabled = ?update.disabled,
            made_admin = ?update.admin,
            password_set = update.password_hash.is_some(),
            sessions_revoked = sessions.len(),
            "admin changed an account"
        );
        self.revoked(sessions);
        Ok(self.render_for_admin(&user))
    }

    /// `GET /admin/stats`
    pub async fn admin_stats(&self, caller: &Caller) -> AppResult<wire::AdminStats> {
        self.admin(caller).await?;
        let s = self.store().stats().await?;
        Ok(wire::AdminStats {
            users: s.users,
            conversations: s.conversations,
            messages: s.messages,
            media_bytes: s.media_bytes,
            connections: i64::try_from(self.hub().connections()).unwrap_or(i64::MAX),
        })
    }

    /// `DELETE /users/me` from the client address `from`: the password confirms it (a wrong
    /// one counts with failed logins). The account leaves its groups, its sessions end, its
    /// uploads that no message carries are erased; its name stays reserved.
    pub async fn delete_account(
        &self,
        caller: &Caller,
        req: wire::DeleteAccountRequest,
        from: std::net::IpAddr,
    ) -> AppResult<()> {
        let user = self
            .store()
            .user_by_id(caller.user_id())
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        self.confirm_password(&user, req.password, from).await?;
        let deleted = self
            .store()
            .delete_account(caller.user_id(), time::now())
            .await?;
        tracing::info!(
            target: "natter::audit",
            user = %user.username,
            user_id = %user.id,
            sessions_revoked = deleted.sessions.len(),
            uploads_erased = deleted.media.len(),
            "account deleted by its owner"
        );
        self.revoked(deleted.sessions);
        // The account is gone whatever happens next; an upload left behind here is collected
        // with the other orphans.
        for id in deleted.media {
            if let Err(e) = self.collect_media(&id).await {
                tracing::warn!(media_id = %id, error = %e, "erasing a deleted account's upload: left to the orphan collector");
            }
        }
        Ok(())
    }
}
