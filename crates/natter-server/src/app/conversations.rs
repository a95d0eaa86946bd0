//! Conversations and their members.

use std::collections::HashSet;

use natter_core::{ConversationId, ConversationKind, Role, UserId, time, validate};
use natter_wire as wire;

use super::{App, Caller, new_id};
use crate::{
    error::{AppError, AppResult},
    store::Removed,
};

impl App {
    /// The conversation as the caller sees it, or `404` if the caller is not a member.
    pub async fn conversation(&self, caller: &Caller, id: &str) -> AppResult<wire::Conversation> {
        let view = self
            .store()
            .conversation_view(ConversationId::new(id), caller.user_id())
            .await?
            .ok_or_else(|| AppError::not_found("conversation"))?;
        self.render_conversation(&view, &caller.user_id).await
    }

    /// `POST /conversations`: returns the conversation and whether it was created.
    pub async fn create_conversation(
        &self,
        caller: &Caller,
        req: wire::CreateConversationRequest,
    ) -> AppResult<(wire::Conversation, bool)> {
        let now = time::now();
        match ConversationKind::parse(&req.kind) {
            Some(ConversationKind::Direct) => {
                let other = req
                    .user_id
                    .ok_or_else(|| AppError::invalid("user_id is required"))?;
                if other == caller.user_id {
                    return Err(AppError::invalid(
                        "a direct conversation needs another user",
                    ));
                }
                if self
                    .store()
                    .user_by_id(UserId::new(&other))
                    .await?
                    .is_none()
                {
                    return Err(AppError::invalid("user_id names no user"));
                }
                let (id, created) = self
                    .store()
                    .create_direct(
                        ConversationId::new(&new_id()),
                        caller.user_id(),
                        UserId::new(&other),
                        now,
                    )
                    .await?;
                if created {
                    self.log_appended();
                }
                Ok((self.conversation(caller, &id).await?, created))
            }
            Some(ConversationKind::Group) => {
                // The list first: its length bounds every later step.
                let ids = req
                    .member_ids
                    .ok_or_else(|| AppError::invalid("member_ids is required"))?;
                let members = validate::group_member_ids(&caller.user_id, ids, self.limits())?;
                let name = req
                    .name
                    .ok_or_else(|| AppError::invalid("name is required"))?;
                let name = validate::group_name(&name, self.limits())?;
                let found: HashSet<String> = self
                    .store()
                    .existing_users(&members)
                    .await?
                    .into_iter()
                    .collect();
                if let Some(unknown) = members.iter().find(|m| !found.contains(*m)) {
                    return Err(AppError::invalid(format!(
                        "member_ids: {unknown:?} names no user"
                    )));
                }
                let id = new_id();
                self.store()
                    .create_group(
                        ConversationId::new(&id),
                        caller.user_id(),
                        &name,
                        &members,
                        now,
                    )
                    .await?;
                self.log_appended();
                Ok((self.conversation(caller, &id).await?, true))
            }
            None => Err(AppError::invalid("type must be \"direct\" or \"group\"")),
        }
    }

    /// `GET /conversations?limit=&before=`
    pub async fn conversations(
        &self,
        caller: &Caller,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<wire::ConversationList> {
        let views = self
            .store()
            .conversations_of(caller.user_id(), before, limit)
            .await?;
        // The last messages' reactions in one read.
        let last: Vec<String> = views
            .iter()
            .filter_map(|v| v.last_message.as_ref().map(|m| m.id.clone()))
            .collect();
        let reactions = self.reactions_of(&last, &caller.user_id).await?;
        let mut conversations = Vec::with_capacity(views.len());
        for v in &views {
            let mine = v
                .last_message
                .as_ref()
                .and_then(|m| reactions.get(&m.id))
                .map_or(&[][..], Vec::as_slice);
            conversations.push(self.render_conversation_with(v, mine).await?);
        }
        Ok(wire::ConversationList { conversations })
    }

    /// `PATCH /conversations/{id}`
    pub async fn rename(
        &self,
        caller: &Caller,
        id: &str,
        req: wire::RenameRequest,
    ) -> AppResult<wire::Conversation> {
        let name = validate::group_name(&req.name, self.limits())?;
        self.store()
            .rename(
                caller.user_id(),
                ConversationId::new(id),
                &name,
                time::now(),
            )
            .await?;
        self.log_appended();
        self.conversation(caller, id).await
    }

    /// `POST /conversations/{id}/members`
    pub async fn add_member(
        &self,
        caller: &Caller,
        id: &str,
        req: wire::AddMemberRequest,
    ) -> AppResult<wire::Conversation> {
        let role = match req.role.as_deref() {
            None => Role::Member,
            Some(r) => match Role::parse(r) {
                Some(role @ (Role::Member | Role::Admin)) => role,
                _ => return Err(AppError::invalid("role must be \"member\" or \"admin\"")),
            },
        };
        self.store()
            .add_member(
                caller.user_id(),
                ConversationId::new(id),
                UserId::new(&req.user_id),
                role,
                self.limits().group_members_max,
                time::now(),
            )
            .await?;
        self.log_appended();
        self.conversation(caller, id).await
    }

    /// `DELETE /conversations/{id}/members/{user_id}` (`me` to leave: `user_id` is the path's,
    /// resolved here).
    pub async fn remove_member(
        &self,
        caller: &Caller,
        id: &ConversationId,
        user_id: &UserId,
    ) -> AppResult<()> {
        let user_id = if user_id.as_str() == "me" {
            caller.user_id()
        } else {
            user_id
        };
        let removed = self
            .store()
            .remove_member(caller.user_id(), id, user_id, time::now())
            .await?;
        self.log_appended();
        if removed == Removed::GroupDeleted {
            self.erased();
        }
        Ok(())
    }

    /// `PATCH /conversations/{id}/members/{user_id}`
    pub async fn set_role(
        &self,
        caller: &Caller,
        id: &ConversationId,
        user_id: &UserId,
        req: wire::SetRoleRequest,
    ) -> AppResult<wire::Conversation> {
        let role = match Role::parse(&req.role) {
            Some(role @ (Role::Member | Role::Admin)) => role,
            _ => return Err(AppError::invalid("role must be \"admin\" or \"member\"")),
        };
        self.store()
            .set_role(caller.user_id(), id, user_id, role, time::now())
            .await?;
        self.log_appended();
        self.conversation(caller, id.as_str()).await
    }
}
