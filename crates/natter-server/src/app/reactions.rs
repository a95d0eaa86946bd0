//! Reactions and message search.

use std::collections::HashMap;

use natter_core::{ConversationId, MessageId, search, time, validate};
use natter_wire as wire;

use super::{App, Caller};
use crate::{
    error::{AppError, AppResult},
    store::{MemberRow, ReactionCursor, SearchScope},
};

/// Which reactions a listing holds.
#[derive(Debug, Clone, Default)]
pub struct ReactionQuery {
    pub emoji: Option<String>,
    /// A `next_cursor` of the previous page.
    pub after: Option<String>,
    pub limit: u32,
}

/// Which matches a search returns.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub q: String,
    pub conversation_id: Option<String>,
    /// The id of the last message of the previous page, or a time.
    pub before: Option<String>,
    pub limit: u32,
}

/// A reaction listing's cursor: `<created_at>.<user_id>.<emoji>` (ids hold no `.`).
fn cursor(r: &crate::store::ReactionRow) -> String {
    format!("{}.{}.{}", r.created_at, r.user_id, r.emoji)
}

fn parse_cursor(s: &str) -> AppResult<ReactionCursor> {
    let bad = || AppError::invalid("malformed after");
    let mut parts = s.splitn(3, '.');
    let at = parts
        .next()
        .and_then(|a| a.parse::<i64>().ok())
        .ok_or_else(bad)?;
    let user = parts.next().filter(|u| !u.is_empty()).ok_or_else(bad)?;
    let emoji = parts.next().filter(|e| !e.is_empty()).ok_or_else(bad)?;
    Ok((at, user.to_owned(), emoji.to_owned()))
}

impl App {
    /// `PUT` (`add`) or `DELETE /messages/{id}/reactions/{emoji}`: idempotent.
    pub async fn react(&self, caller: &Caller, id: &str, emoji: &str, add: bool) -> AppResult<()> {
        let emoji = validate::emoji(emoji)?;
        let changed = self
            .store()
            .react(
                caller.user_id(),
                MessageId::new(id),
                &emoji,
                add,
                self.limits().reactions_per_message_max,
                time::now(),
            )
            .await?;
        if changed {
            self.log_appended();
        }
        Ok(())
    }

    /// `GET /messages/{id}/reactions`: who reacted with what, oldest first.
    pub async fn reactions(
        &self,
        caller: &Caller,
        id: &str,
        q: ReactionQuery,
    ) -> AppResult<wire::ReactionPage> {
        let (msg, _) = self.visible_message(caller, id).await?;
        let emoji = q.emoji.as_deref().map(validate::emoji).transpose()?;
        let after = q.after.as_deref().map(parse_cursor).transpose()?;
        let mut rows = self
            .store()
            .reactions(
                MessageId::new(&msg.id),
                emoji.as_deref(),
                after.as_ref(),
                q.limit + 1,
            )
            .await?;
        let has_more = rows.len() > q.limit as usize;
        rows.truncate(q.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(cursor)
        } else {
            None
        };
        Ok(wire::ReactionPage {
            reactions: rows
                .iter()
                .map(|r| wire::Reaction {
                    user_id: r.user_id.clone(),
                    emoji: r.emoji.clone(),
                    created_at: time::format(r.created_at),
                })
                .collect(),
            has_more,
            next_cursor,
        })
    }

    /// `GET /search`: the messages the caller can see that match, newest first.
    pub async fn search(&self, caller: &Caller, q: SearchQuery) -> AppResult<wire::SearchResults> {
        let query = search::Query::parse(&q.q, self.limits())?;
        if let Some(c) = &q.conversation_id {
            // Someone else's conversation is as unknown as one that does not exist.
            self.store()
                .member(ConversationId::new(c), caller.user_id())
                .await?
                .ok_or_else(|| AppError::not_found("conversation"))?;
        }
        let before = match q.before.as_deref() {
            None => None,
            Some(b) => Some(match time::parse(b) {
                // Strictly older than that time: every id sorts after "".
                Some(at) => (at, String::new()),
                None => {
                    let m = self
                        .store()
                        .message(MessageId::new(b), caller.user_id())
                        .await?
                        .ok_or_else(|| {
                            AppError::invalid("before must be a message id or a time")
                        })?;
                    (m.created_at, m.id)
                }
            }),
        };
        let scope = SearchScope {
            viewer: caller.user_id(),
            conversation_id: q.conversation_id.as_deref().map(ConversationId::new),
            before,
            limit: q.limit + 1,
        };
        let mut rows = self.store().search(&query, &scope).await?;
        let has_more = rows.len() > q.limit as usize;
        rows.truncate(q.limit as usize);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let reactions = self.reactions_of(&ids, &caller.user_id).await?;
        let mut members: HashMap<String, Vec<MemberRow>> = HashMap::new();
        let mut messages = Vec::with_capacity(rows.len());
        for r in &rows {
            if !members.contains_key(&r.conversation_id) {
                let m = self
                    .store()
                    .members(ConversationId::new(&r.conversation_id))
                    .await?;
                members.insert(r.conversation_id.clone(), m);
            }
            let mine = reactions.get(&r.id).map_or(&[][..], Vec::as_slice);
            let message = self
                .render_message(r, &members[&r.conversation_id], mine)
                .await?;
            let snippet = search::snippet(r.text.as_deref().unwrap_or_default(), &query);
            messages.push(wire::SearchHit { message, snippet });
        }
        Ok(wire::SearchResults { messages, has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_cursors_read_back() {
        let r = crate::store::ReactionRow {
            emoji: "👍".into(),
            user_id: "u1".into(),
            created_at: 42,
        };
        assert_eq!(
            parse_cursor(&cursor(&r)).unwrap(),
            (42, "u1".into(), "👍".into())
        );
        assert!(parse_cursor("x.u.e").is_err());
        assert!(parse_cursor("1.u").is_err());
        assert!(parse_cursor("1..e").is_err());
    }
}
