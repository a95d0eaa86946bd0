//! Every write of the SQLite adapter, as it runs on the writer thread inside the batch's
//! transaction: load what the decision needs, ask `natter_core::decide`, apply what it returns.
//! Statements are prepared once per connection and cached.

use natter_core::{
    ConversationKind, Error as Rule, MessageKind, Role,
    decide::{self, Change, Decision, NewEvent},
    receipts::{Marks, Watermarks},
};
use rusqlite::{OptionalExtension, Row, params};

use super::writer::Tx;

use crate::store::{
    EventKind, EventRow, InviteRow, MarkKind, MediaRow, MemberRow, MessageRow, NewMessage, Removed,
    Sent, SessionRow, StoreError, StoreResult, UserRow, payload,
};

type Sql<T> = rusqlite::Result<T>;

fn bad(column: usize, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unexpected value {value:?}").into(),
    )
}

const MEMBER_COLUMNS: &str =
    "user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq";

fn member_row(r: &Row<'_>) -> Sql<MemberRow> {
    let role: String = r.get(1)?;
    Ok(MemberRow {
        user_id: r.get(0)?,
        role: Role::parse(&role).ok_or_else(|| bad(1, &role))?,
        joined_at: r.get(2)?,
        joined_seq: r.get(3)?,
        joined_pos: r.get(4)?,
        marks: Marks {
            delivered_seq: r.get(5)?,
            read_seq: r.get(6)?,
        },
    })
}

fn message_row(r: &Row<'_>) -> Sql<MessageRow> {
    let kind: String = r.get(5)?;
    let deleted_at: Option<i64> = r.get(11)?;
    Ok(MessageRow {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        seq: r.get(2)?,
        sender_id: r.get(3)?,
        client_id: r.get(4)?,
        kind: MessageKind::parse(&kind).ok_or_else(|| bad(5, &kind))?,
        text: r.get(6)?,
        media_id: r.get(7)?,
        reply_to: r.get(8)?,
        created_at: r.get(9)?,
        edited_at: r.get(10)?,
        deleted: deleted_at.is_some(),
        hidden: r.get::<_, i64>(12)? != 0,
        mentions: super::split_ids(r.get(13)?),
    })
}

// ---- what the decisions load ----

/// What the decisions need of a conversation.
pub(super) struct Facts {
    id: String,
    kind: ConversationKind,
    last_seq: i64,
    member_count: i64,
}

impl Facts {
    fn view(&self) -> decide::Conversation<'_> {
        decide::Conversation {
            id: &self.id,
            kind: self.kind,
            last_seq: self.last_seq,
            member_count: self.member_count.max(0) as usize,
        }
    }
}

/// The conversation's facts, or `404` if there is none.
fn facts(conn: &Tx, id: &str) -> StoreResult<Facts> {
    let row = conn
        .prepare_cached("SELECT kind, last_seq, member_count FROM conversations WHERE id = ?")?
        .query_row([id], |r| {
            let kind: String = r.get(0)?;
            Ok(Facts {
                id: id.to_owned(),
                kind: ConversationKind::parse(&kind).ok_or_else(|| bad(0, &kind))?,
                last_seq: r.get(1)?,
                member_count: r.get(2)?,
            })
        })
        .optional()?;
    row.ok_or_else(|| Rule::not_found("conversation").into())
}

fn member(conn: &Tx, conversation_id: &str, user_id: &str) -> Sql<Option<MemberRow>> {
    conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ? AND user_id = ?"
    ))?
    .query_row([conversation_id, user_id], member_row)
    .optional()
}

fn members(conn: &Tx, conversation_id: &str) -> Sql<Vec<MemberRow>> {
    conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ? ORDER BY join_order"
    ))?
    .query_map([conversation_id], member_row)?
    .collect()
}

/// A member as the decisions see it.
fn as_member(m: &MemberRow) -> decide::Member {
    decide::Member {
        user_id: m.user_id.clone(),
        role: m.role,
        joined_seq: m.joined_seq,
        marks: m.marks,
    }
}

fn decided_member(conn: &Tx, conversation_id: &str, user_id: &str) -> Sql<Option<decide::Member>> {
    Ok(member(conn, conversation_id, user_id)?
        .as_ref()
        .map(as_member))
}

fn decided_message(m: &MessageRow) -> decide::Message<'_> {
    decide::Message {
        id: &m.id,
        conversation_id: &m.conversation_id,
        seq: m.seq,
        sender_id: &m.sender_id,
        deleted: m.deleted,
    }
}

/// A message as `viewer` sees it, with the viewer's membership of its conversation; `404` if
/// there is no such message (whether the viewer may see it is the decision's to say).
fn message_and_viewer(
    conn: &Tx,
    id: &str,
    viewer: &str,
) -> StoreResult<(MessageRow, Option<decide::Member>)> {
    let msg = conn
        .prepare_cached(select_messages!("WHERE m.id = ?2"))?
        .query_row([viewer, id], message_row)
        .optional()?
        .ok_or_else(|| Rule::not_found("message"))?;
    let me = decided_member(conn, &msg.conversation_id, viewer)?;
    Ok((msg, me))
}

/// The conversation's stored watermarks, and those its current members' marks give now. Two
/// indexed look-ups, whatever the number of members.
fn watermarks(conn: &Tx, conversation_id: &str) -> Sql<(Watermarks, Watermarks)> {
    conn.prepare_cached(
        "SELECT c.all_delivered_seq, c.all_read_seq, \
           COALESCE((SELECT MIN(MAX(joined_seq, delivered_seq)) FROM members WHERE conversation_id = c.id), c.last_seq), \
           COALESCE((SELECT MIN(MAX(joined_seq, read_seq)) FROM members WHERE conversation_id = c.id), c.last_seq) \
         FROM conversations c WHERE c.id = ?",
    )?
    .query_row([conversation_id], |r| {
        Ok((
            Watermarks {
                all_delivered_seq: r.get(0)?,
                all_read_seq: r.get(1)?,
            },
            Watermarks {
                all_delivered_seq: r.get(2)?,
                all_read_seq: r.get(3)?,
            },
        ))
    })
}

// ---- mentions and the search index ----

/// A list of ids as a column holds it: space-separated, NULL for none.
fn joined_ids(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// One row per member a message mentions, at the message's seq.
fn insert_mentions(conn: &Tx, message_id: &str, mentions: &[String]) -> Sql<()> {
    for user_id in mentions {
        conn.prepare_cached(
            "INSERT INTO mentions (user_id, conversation_id, seq, message_id) \
             SELECT ?, conversation_id, seq, id FROM messages WHERE id = ? \
             ON CONFLICT DO NOTHING",
        )?
        .execute([user_id, message_id])?;
    }
    Ok(())
}

/// Adds a message's words to the search index (it must not be there).
pub(super) fn index_message(conn: &Tx, message_id: &str, text: &str) -> Sql<()> {
    let words = natter_core::search::index_text(text);
    conn.prepare_cached("INSERT INTO message_search_ids (message_id, words) VALUES (?, ?)")?
        .execute([message_id, &words])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO message_search (rowid, words) VALUES (?, ?)")?
        .execute(params![id, words])?;
    Ok(())
}

/// Replaces an indexed message's words, keeping its place in the index (its id: the index's
/// order is the messages' order); a message not indexed yet is added.
fn reindex_message(conn: &Tx, message_id: &str, text: &str) -> Sql<()> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, words FROM message_search_ids WHERE message_id = ?")?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, old)) = row else {
        conn.prepare_cached("DELETE FROM message_search_backlog WHERE message_id = ?")?
            .execute([message_id])?;
        return index_message(conn, message_id, text);
    };
    let words = natter_core::search::index_text(text);
    conn.prepare_cached(
        "INSERT INTO message_search (message_search, rowid, words) VALUES ('delete', ?, ?)",
    )?
    .execute(params![id, old])?;
    conn.prepare_cached("UPDATE message_search_ids SET words = ? WHERE id = ?")?
        .execute(params![words, id])?;
    conn.prepare_cached("INSERT INTO message_search (rowid, words) VALUES (?, ?)")?
        .execute(params![id, words])?;
    Ok(())
}

/// Takes a message's words out of the search index, for good ('secure-delete').
fn unindex_message(conn: &Tx, message_id: &str) -> Sql<()> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, words FROM message_search_ids WHERE message_id = ?")?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, words)) = row {
        conn.prepare_cached(
            "INSERT INTO message_search (message_search, rowid, words) VALUES ('delete', ?, ?)",
        )?
        .execute(params![id, words])?;
        conn.prepare_cached("DELETE FROM message_search_ids WHERE id = ?")?
            .execute([id])?;
    }
    conn.prepare_cached("DELETE FROM message_search_backlog WHERE message_id = ?")?
        .execute([message_id])?;
    Ok(())
}

/// Indexes up to `limit` of the messages stored before the index existed, oldest first (ids
/// are time-ordered), so that the index's order stays the messages' order; returns how many
/// were left to do before this batch.
pub(super) fn index_backlog(conn: &Tx, limit: i64) -> StoreResult<usize> {
    let batch: Vec<(String, Option<String>, bool)> = conn
        .prepare_cached(
            "SELECT b.message_id, m.text, m.deleted_at IS NOT NULL FROM message_search_backlog b \
             LEFT JOIN messages m ON m.id = b.message_id ORDER BY b.message_id LIMIT ?",
        )?
        .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Sql<_>>()?;
    for (id, text, deleted) in &batch {
        unindex_message(conn, id)?;
        if let (Some(text), false) = (text, deleted) {
            index_message(conn, id, text)?;
        }
    }
    Ok(batch.len())
}

// ---- applying decisions ----

/// Applies a decision: its changes, then its events, then, if it asks, the conversation's
/// watermarks as [`decide::watermarks`] decides them.
fn apply<T>(conn: &Tx, d: &Decision<T>) -> Sql<()> {
    apply_changes(conn, &d.changes, &d.events)?;
    if let Some((conversation_id, at)) = &d.watermarks_of {
        let (stored, now) = watermarks(conn, conversation_id)?;
        let w = decide::watermarks(conversation_id, stored, now, *at);
        apply_changes(conn, &w.changes, &w.events)?;
    }
    Ok(())
}

fn apply_changes(conn: &Tx, changes: &[Change], events: &[NewEvent]) -> Sql<()> {
    for c in changes {
        apply_change(conn, c)?;
    }
    for e in events {
        let (kind, message_id, data) = payload::encode(e);
        append_event(
            conn,
            kind,
            &e.conversation_id,
            e.to.as_deref(),
            message_id,
            data,
            e.at,
        )?;
    }
    Ok(())
}

fn append_event(
    conn: &Tx,
    kind: EventKind,
    conversation_id: &str,
    user_id: Option<&str>,
    message_id: Option<&str>,
    data: Option<String>,
    at: i64,
) -> Sql<()> {
    conn.prepare_cached(
        "INSERT INTO events (kind, conversation_id, user_id, message_id, data, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        kind.as_str(),
        conversation_id,
        user_id,
        message_id,
        data,
        at
    ])?;
    conn.logged(EventRow {
        pos: conn.last_insert_rowid(),
        kind,
        conversation_id: conversation_id.to_owned(),
        user_id: user_id.map(str::to_owned),
        message_id: message_id.map(str::to_owned),
        data,
        created_at: at,
    });
    Ok(())
}

fn head(conn: &Tx) -> Sql<i64> {
    conn.prepare_cached(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
    )?
    .query_row([], |r| r.get(0))
}

fn count_members(conn: &Tx, conversation_id: &str, by: i64) -> Sql<()> {
    conn.prepare_cached("UPDATE conversations SET member_count = member_count + ? WHERE id = ?")?
        .execute(params![by, conversation_id])?;
    Ok(())
}

fn apply_change(conn: &Tx, c: &Change) -> Sql<()> {
    match c {
        Change::CreateConversation {
            id,
            kind,
            name,
            direct_key,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO conversations (id, kind, name, direct_key, created_at, last_message_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![id, kind.as_str(), name, direct_key, at, at])?;
        }
        Change::AddMember {
            conversation_id,
            user_id,
            role,
            joined_seq,
            at,
        } => {
            // After every event logged so far: the member receives later ones only.
            let joined_pos = head(conn)?;
            conn.prepare_cached(
                "INSERT INTO members (conversation_id, user_id, role, joined_at, join_order, joined_seq, joined_pos) \
                 VALUES (?1, ?2, ?3, ?4, \
                         (SELECT COALESCE(MAX(join_order), 0) + 1 FROM members WHERE conversation_id = ?1), \
                         ?5, ?6)",
            )?
            .execute(params![conversation_id, user_id, role.as_str(), at, joined_seq, joined_pos])?;
            count_members(conn, conversation_id, 1)?;
        }
        Change::RemoveMember {
            conversation_id,
            user_id,
        } => {
            conn.prepare_cached("DELETE FROM members WHERE conversation_id = ? AND user_id = ?")?
                .execute([conversation_id, user_id])?;
            count_members(conn, conversation_id, -1)?;
        }
        Change::DeleteConversation { conversation_id } => {
            // Its messages go by cascade; their words must leave the index with them.
            conn.prepare_cached(
                "INSERT INTO message_search (message_search, rowid, words) \
                 SELECT 'delete', s.id, s.words \
                 FROM messages m JOIN message_search_ids s ON s.message_id = m.id \
                 WHERE m.conversation_id = ?",
            )?
            .execute([conversation_id])?;
            for table in ["message_search_ids", "message_search_backlog"] {
                conn.prepare_cached(&format!(
                    "DELETE FROM {table} WHERE message_id IN \
                     (SELECT id FROM messages WHERE conversation_id = ?)"
                ))?
                .execute([conversation_id])?;
            }
            conn.prepare_cached("DELETE FROM conversations WHERE id = ?")?
                .execute([conversation_id])?;
        }
        Change::SetRole {
            conversation_id,
            user_id,
            role,
        } => {
            conn.prepare_cached(
                "UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?",
            )?
            .execute(params![role.as_str(), conversation_id, user_id])?;
        }
        Change::Rename {
            conversation_id,
            name,
        } => {
            conn.prepare_cached("UPDATE conversations SET name = ? WHERE id = ?")?
                .execute([name, conversation_id])?;
        }
        Change::InsertMessage { message: m, seq } => {
            conn.prepare_cached(
                "UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?",
            )?
            .execute(params![seq, m.created_at, m.conversation_id])?;
            conn.prepare_cached(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, media_id, reply_to, created_at, mentions) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                m.id,
                m.conversation_id,
                seq,
                m.sender_id,
                m.client_id,
                m.kind.as_str(),
                m.text,
                m.media_id,
                m.reply_to,
                m.created_at,
                joined_ids(&m.mentions),
            ])?;
            insert_mentions(conn, &m.id, &m.mentions)?;
            if let Some(text) = &m.text {
                index_message(conn, &m.id, text)?;
            }
        }
        Change::SetMarks {
            conversation_id,
            user_id,
            marks,
        } => {
            conn.prepare_cached(
                "UPDATE members SET delivered_seq = ?, read_seq = ? WHERE conversation_id = ? AND user_id = ?",
            )?
            .execute(params![marks.delivered_seq, marks.read_seq, conversation_id, user_id])?;
        }
        Change::RecordMarkMove {
            conversation_id,
            user_id,
            read,
            up_to_seq,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO mark_moves (conversation_id, user_id, kind, up_to_seq, at) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![
                conversation_id,
                user_id,
                if *read { "read" } else { "delivered" },
                up_to_seq,
                at
            ])?;
        }
        Change::EditMessage {
            message_id,
            text,
            mentions,
            at,
        } => {
            conn.prepare_cached(
                "UPDATE messages SET text = ?, edited_at = ?, mentions = ? WHERE id = ?",
            )?
            .execute(params![text, at, joined_ids(mentions), message_id])?;
            conn.prepare_cached("DELETE FROM mentions WHERE message_id = ?")?
                .execute([message_id])?;
            insert_mentions(conn, message_id, mentions)?;
            reindex_message(conn, message_id, text)?;
        }
        Change::EraseMessage { message_id, at } => {
            conn.prepare_cached(
                "UPDATE messages SET text = NULL, media_id = NULL, mentions = NULL, deleted_at = ? \
                 WHERE id = ?",
            )?
            .execute(params![at, message_id])?;
            for table in ["mentions", "reactions"] {
                conn.prepare_cached(&format!("DELETE FROM {table} WHERE message_id = ?"))?
                    .execute([message_id])?;
            }
            unindex_message(conn, message_id)?;
        }
        Change::AddReaction {
            message_id,
            user_id,
            emoji,
            at,
        } => {
            conn.prepare_cached(
                "INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![message_id, emoji, user_id, at])?;
        }
        Change::RemoveReaction {
            message_id,
            user_id,
            emoji,
        } => {
            conn.prepare_cached(
                "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?",
            )?
            .execute([message_id, emoji, user_id])?;
        }
        Change::HideMessage {
            user_id,
            message_id,
        } => {
            conn.prepare_cached(
                "INSERT INTO hidden_messages (user_id, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )?
            .execute([user_id, message_id])?;
        }
        Change::SetDisplayName { user_id, name } => {
            conn.prepare_cached("UPDATE users SET display_name = ? WHERE id = ?")?
                .execute([name, user_id])?;
        }
        Change::SetAdmin { user_id, admin } => {
            conn.prepare_cached("UPDATE users SET admin = ? WHERE id = ?")?
                .execute(params![admin, user_id])?;
        }
        Change::SetDisabled { user_id, disabled } => {
            conn.prepare_cached("UPDATE users SET disabled = ? WHERE id = ?")?
                .execute(params![disabled, user_id])?;
        }
        Change::SetPasswordHash { user_id, hash } => {
            conn.prepare_cached("UPDATE users SET password_hash = ? WHERE id = ?")?
                .execute([hash, user_id])?;
        }
        Change::DeleteSessions { user_id } => {
            conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?")?
                .execute([user_id])?;
        }
        Change::EraseAccount { user_id, at } => {
            conn.prepare_cached(
                "UPDATE users SET display_name = ?, password_hash = '', admin = 0, deleted_at = ? \
                 WHERE id = ?",
            )?
            .execute(params![decide::DELETED_NAME, at, user_id])?;
            conn.prepare_cached("DELETE FROM invites WHERE creator_id = ?")?
                .execute([user_id])?;
        }
        Change::SetWatermarks {
            conversation_id,
            watermarks,
        } => {
            conn.prepare_cached(
                "UPDATE conversations SET all_delivered_seq = ?, all_read_seq = ? WHERE id = ?",
            )?
            .execute(params![
                watermarks.all_delivered_seq,
                watermarks.all_read_seq,
                conversation_id
            ])?;
        }
    }
    Ok(())
}

/// Loads, decides with `decide`, applies; the decision's outcome.
fn decided<T>(conn: &Tx, decide: impl FnOnce(&Tx) -> StoreResult<Decision<T>>) -> StoreResult<T> {
    let d = decide(conn)?;
    if !d.is_empty() {
        apply(conn, &d)?;
    }
    Ok(d.outcome)
}

// ---- conversations and members ----

pub(super) fn create_direct(
    conn: &Tx,
    new_id: &str,
    a: &str,
    b: &str,
    at: i64,
) -> StoreResult<(String, bool)> {
    decided(conn, |conn| {
        let existing: Option<String> = conn
            .prepare_cached("SELECT id FROM conversations WHERE direct_key = ?")?
            .query_row([decide::direct_key(a, b)], |r| r.get(0))
            .optional()?;
        let peer = peer(conn, a, b)?.unwrap_or(decide::Peer {
            deleted: true,
            ..decide::Peer::default()
        });
        Ok(decide::create_direct(new_id, a, b, existing, peer, at)?)
    })
}

/// `other` as `actor` sees it (blocks either way, a deleted account); none if there is no such
/// user. Primary key look-ups only.
fn peer(conn: &Tx, actor: &str, other: &str) -> Sql<Option<decide::Peer>> {
    conn.prepare_cached(
        "SELECT u.deleted_at IS NOT NULL, \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = u.id), \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = u.id AND blocked_id = ?1) \
         FROM users u WHERE u.id = ?2",
    )?
    .query_row([actor, other], peer_row)
    .optional()
}

fn peer_row(r: &Row<'_>) -> Sql<decide::Peer> {
    Ok(decide::Peer {
        deleted: r.get(0)?,
        blocked_by_actor: r.get(1)?,
        blocked_actor: r.get(2)?,
    })
}

/// The other member of the direct conversation `conversation_id` as `sender` sees it: one
/// statement of primary key look-ups, run only for direct conversations (the send path is
/// hot).
fn direct_peer(conn: &Tx, conversation_id: &str, sender: &str) -> Sql<Option<decide::Peer>> {
    conn.prepare_cached(
        "SELECT u.deleted_at IS NOT NULL, \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = u.id), \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = u.id AND blocked_id = ?1) \
         FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = ?2 AND m.user_id <> ?1",
    )?
    .query_row([sender, conversation_id], peer_row)
    .optional()
}

pub(super) fn create_group(
    conn: &Tx,
    id: &str,
    owner: &str,
    name: &str,
    members: &[String],
    at: i64,
) -> StoreResult<()> {
    decided(conn, |_| {
        Ok(decide::create_group(id, owner, name, members, at))
    })
}

pub(super) fn rename(
    conn: &Tx,
    actor: &str,
    conversation_id: &str,
    name: &str,
    at: i64,
) -> StoreResult<()> {
    decided(conn, |conn| {
        let conv = facts(conn, conversation_id)?;
        let me = decided_member(conn, conversation_id, actor)?;
        Ok(decide::rename(conv.view(), me.as_ref(), name, at)?)
    })
}

pub(super) fn add_member(
    conn: &Tx,
    actor: &str,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    max_members: usize,
    at: i64,
) -> StoreResult<()> {
    decided(conn, |conn| {
        let conv = facts(conn, conversation_id)?;
        let me = decided_member(conn, conversation_id, actor)?;
        let exists = conn
            .prepare_cached("SELECT 1 FROM users WHERE id = ?")?
            .query_row([user_id], |_| Ok(()))
            .optional()?
            .is_some();
        let already_member = member(conn, conversation_id, user_id)?.is_some();
        let joining = decide::Joining {
            user_id,
            role,
            exists,
            already_member,
            max_members,
        };
        Ok(decide::add_member(conv.view(), me.as_ref(), joining, at)?)
    })
}

pub(super) fn remove_member(
    conn: &Tx,
    actor: &str,
    conversation_id: &str,
    user_id: &str,
    at: i64,
) -> StoreResult<Removed> {
    decided(conn, |conn| {
        let conv = facts(conn, conversation_id)?;
        let all = members(conn, conversation_id)?;
        let find = |id: &str| all.iter().find(|m| m.user_id == id).map(as_member);
        let remaining: Vec<decide::Member> = all
            .iter()
            .filter(|m| m.user_id != user_id)
            .map(as_member)
            .collect();
        Ok(decide::remove_member(
            conv.view(),
            find(actor).as_ref(),
            find(user_id).as_ref(),
            &remaining,
            at,
        )?)
    })
}

pub(super) fn set_role(
    conn: &Tx,
    actor: &str,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    at: i64,
) -> StoreResult<()> {
    decided(conn, |conn| {
        let conv = facts(conn, conversation_id)?;
        let me = decided_member(conn, conversation_id, actor)?;
        let target = decided_member(conn, conversation_id, user_id)?;
        Ok(decide::set_role(
            conv.view(),
            me.as_ref(),
            target.as_ref(),
            role,
            at,
        )?)
    })
}

// ---- messages and marks ----

/// A send: loads what the decision needs (the conversation, the sender's membership, an
/// earlier send under the same `client_id`, `reply_to`'s target), decides, and applies.
pub(super) fn send(conn: &Tx, msg: &NewMessage) -> StoreResult<Sent> {
    let conv = facts(conn, &msg.conversation_id)?;
    let me = decided_member(conn, &msg.conversation_id, &msg.sender_id)?;
    let earlier = match (&msg.client_id, &me) {
        (Some(cid), Some(_)) => conn
            .prepare_cached(select_messages!(
                "WHERE m.conversation_id = ?2 AND m.sender_id = ?1 AND m.client_id = ?3"
            ))?
            .query_row([&msg.sender_id, &msg.conversation_id, cid], message_row)
            .optional()?,
        _ => None,
    };
    let reply_target: Option<(String, i64)> = match &msg.reply_to {
        Some(id) if earlier.is_none() => conn
            .prepare_cached("SELECT conversation_id, seq FROM messages WHERE id = ?")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
        _ => None,
    };
    let peer = match (conv.kind, &me, &earlier) {
        (ConversationKind::Direct, Some(_), None) => {
            direct_peer(conn, &msg.conversation_id, &msg.sender_id)?
        }
        _ => None,
    };
    let state = decide::SendState {
        conversation: conv.view(),
        sender: me.as_ref(),
        already_sent: earlier.is_some(),
        reply_target: reply_target.as_ref().map(|(c, seq)| (c.as_str(), *seq)),
        peer,
    };
    let d = decide::send(state, msg)?;
    let seq = match (&d.outcome, earlier) {
        (decide::Send::AlreadySent, Some(message)) => {
            return Ok(Sent {
                message,
                created: false,
            });
        }
        (decide::Send::Stored(seq), _) => *seq,
        (decide::Send::AlreadySent, None) => {
            return Err(StoreError::Internal(
                "no earlier send to answer with".into(),
            ));
        }
    };
    apply(conn, &d).map_err(send_failed)?;
    let message = MessageRow {
        id: msg.id.clone(),
        conversation_id: msg.conversation_id.clone(),
        seq,
        sender_id: msg.sender_id.clone(),
        client_id: msg.client_id.clone(),
        kind: msg.kind,
        text: msg.text.clone(),
        media_id: msg.media_id.clone(),
        reply_to: msg.reply_to.clone(),
        created_at: msg.created_at,
        edited_at: None,
        deleted: false,
        hidden: false,
        mentions: msg.mentions.clone(),
    };
    conn.stored(message.clone());
    Ok(Sent {
        message,
        created: true,
    })
}

/// The answer to a send whose writes failed.
fn send_failed(e: rusqlite::Error) -> StoreError {
    // The only constraint a checked send can still break: its media was erased (collected as
    // an orphan, or its message deleted) between the application's check and the write.
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    {
        return Rule::not_found("media").into();
    }
    e.into()
}

/// Moves `user_id`'s mark in a conversation up to `seq` (capped at the last seq).
pub(super) fn mark(
    conn: &Tx,
    user_id: &str,
    conversation_id: &str,
    kind: MarkKind,
    seq: i64,
    at: i64,
) -> StoreResult<bool> {
    decided(conn, |conn| {
        let conv = facts(conn, conversation_id)?;
        let me = decided_member(conn, conversation_id, user_id)?;
        Ok(decide::mark(
            conv.view(),
            me.as_ref(),
            kind == MarkKind::Read,
            seq,
            at,
        )?)
    })
}

pub(super) fn edit(
    conn: &Tx,
    actor: &str,
    message_id: &str,
    text: &str,
    mentions: &[String],
    at: i64,
) -> StoreResult<()> {
    decided(conn, |conn| {
        let (msg, me) = message_and_viewer(conn, message_id, actor)?;
        Ok(decide::edit(
            decided_message(&msg),
            me.as_ref(),
            text,
            mentions,
            at,
        )?)
    })
}

pub(super) fn react(
    conn: &Tx,
    user_id: &str,
    message_id: &str,
    emoji: &str,
    add: bool,
    max_distinct: usize,
    at: i64,
) -> StoreResult<bool> {
    decided(conn, |conn| {
        let (msg, me) = message_and_viewer(conn, message_id, user_id)?;
        let now = conn
            .prepare_cached(
                "SELECT COUNT(*) FILTER (WHERE emoji = ?2), \
                   COUNT(*) FILTER (WHERE emoji = ?2 AND user_id = ?3) > 0, \
                   COUNT(DISTINCT emoji) \
                 FROM reactions WHERE message_id = ?1",
            )?
            .query_row([message_id, emoji, user_id], |r| {
                Ok(decide::Reactions {
                    count: r.get(0)?,
                    mine: r.get(1)?,
                    distinct: r.get::<_, i64>(2)? as usize,
                })
            })?;
        Ok(decide::react(
            decided_message(&msg),
            me.as_ref(),
            emoji,
            add,
            now,
            max_distinct,
            at,
        )?)
    })
}

pub(super) fn delete_for_everyone(
    conn: &Tx,
    actor: &str,
    message_id: &str,
    at: i64,
) -> StoreResult<Option<String>> {
    decided(conn, |conn| {
        let (msg, me) = message_and_viewer(conn, message_id, actor)?;
        let conv = facts(conn, &msg.conversation_id)?;
        let d = decide::delete_for_everyone(decided_message(&msg), conv.kind, me.as_ref(), at)?;
        // The media the message carried, now perhaps referred to by nothing.
        Ok(d.map(|erased| if erased { msg.media_id.clone() } else { None }))
    })
}

pub(super) fn hide(conn: &Tx, user_id: &str, message_id: &str, at: i64) -> StoreResult<()> {
    decided(conn, |conn| {
        let (msg, me) = message_and_viewer(conn, message_id, user_id)?;
        Ok(decide::hide(
            decided_message(&msg),
            me.as_ref(),
            msg.hidden,
            at,
        )?)
    })
}

// ---- accounts and sessions ----

pub(super) fn create_user(conn: &Tx, user: &UserRow) -> StoreResult<()> {
    let res = conn
        .prepare_cached(
            "INSERT INTO users (id, username, display_name, password_hash, created_at, admin) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            user.id,
            user.username,
            user.display_name,
            user.password_hash,
            user.created_at,
            user.admin
        ]);
    match res {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Err(Rule::conflict("that username is taken").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// On the single writer, so the count and the invite cannot change before the user is stored.
pub(super) fn register(
    conn: &Tx,
    user: &UserRow,
    mode: decide::Registration,
    code: Option<&str>,
) -> StoreResult<UserRow> {
    let users: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM users")?
        .query_row([], |r| r.get(0))?;
    let invite = match code {
        Some(code) => conn
            .prepare_cached("SELECT uses_left, expires_at FROM invites WHERE code = ?")?
            .query_row([code], |r| {
                Ok(decide::Invite {
                    uses_left: r.get(0)?,
                    expires_at: r.get(1)?,
                })
            })
            .optional()?,
        None => None,
    };
    let admission = decide::admit(mode, users, invite, user.created_at)?;
    let user = UserRow {
        admin: admission.admin,
        ..user.clone()
    };
    create_user(conn, &user)?;
    if admission.use_invite
        && let Some(code) = code
    {
        conn.prepare_cached("UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?")?
            .execute([code])?;
    }
    Ok(user)
}

/// The users sharing a conversation with `user_id`.
fn contacts(conn: &Tx, user_id: &str) -> Sql<Vec<String>> {
    conn.prepare_cached(
        "SELECT DISTINCT other.user_id FROM members mine \
         JOIN members other ON other.conversation_id = mine.conversation_id \
         WHERE mine.user_id = ?1 AND other.user_id <> ?1 ORDER BY other.user_id",
    )?
    .query_map([user_id], |r| r.get(0))?
    .collect()
}

pub(super) fn set_display_name(conn: &Tx, user_id: &str, name: &str, at: i64) -> StoreResult<()> {
    decided(conn, |conn| {
        let contacts = contacts(conn, user_id)?;
        Ok(decide::set_display_name(user_id, name, &contacts, at))
    })
}

pub(super) fn set_password(
    conn: &Tx,
    user_id: &str,
    hash: &str,
    keep: &str,
) -> StoreResult<Vec<String>> {
    let n = conn
        .prepare_cached("UPDATE users SET password_hash = ? WHERE id = ?")?
        .execute([hash, user_id])?;
    if n == 0 {
        return Err(Rule::not_found("user").into());
    }
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE user_id = ? AND id <> ? RETURNING id")?
        .query_map([user_id, keep], |r| r.get(0))?
        .collect::<Sql<_>>()?)
}

pub(super) fn create_invite(conn: &Tx, i: &InviteRow) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO invites (code, creator_id, uses_left, expires_at, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![
        i.code,
        i.creator_id,
        i.uses_left,
        i.expires_at,
        i.created_at
    ])?;
    Ok(())
}

pub(super) fn delete_invite(conn: &Tx, code: &str, actor: &str) -> StoreResult<()> {
    let creator: Option<String> = conn
        .prepare_cached("SELECT creator_id FROM invites WHERE code = ?")?
        .query_row([code], |r| r.get(0))
        .optional()?;
    let creator = creator.ok_or_else(|| Rule::not_found("invite"))?;
    let admin: bool = conn
        .prepare_cached("SELECT admin FROM users WHERE id = ?")?
        .query_row([actor], |r| r.get(0))
        .optional()?
        .unwrap_or(false);
    decide::may_revoke_invite(&creator, actor, admin)?;
    conn.prepare_cached("DELETE FROM invites WHERE code = ?")?
        .execute([code])?;
    Ok(())
}

/// Whether `target` names a user, and what `decide::may_block` says of it.
fn check_block(conn: &Tx, blocker: &str, target: &str) -> StoreResult<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?")?
        .query_row([target], |_| Ok(()))
        .optional()?
        .is_some();
    Ok(decide::may_block(blocker, target, exists)?)
}

pub(super) fn block(conn: &Tx, blocker: &str, blocked: &str, at: i64) -> StoreResult<()> {
    check_block(conn, blocker, blocked)?;
    conn.prepare_cached(
        "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![blocker, blocked, at])?;
    Ok(())
}

pub(super) fn unblock(conn: &Tx, blocker: &str, blocked: &str) -> StoreResult<()> {
    check_block(conn, blocker, blocked)?;
    conn.prepare_cached("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?")?
        .execute([blocker, blocked])?;
    Ok(())
}

pub(super) fn set_last_seen(conn: &Tx, user_id: &str, at: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE users SET last_seen_at = ? WHERE id = ?")?
        .execute(params![at, user_id])?;
    Ok(())
}

pub(super) fn create_session(conn: &Tx, s: &SessionRow) -> StoreResult<()> {
    let n = conn
        .prepare_cached(
            "INSERT INTO sessions (id, user_id, token_hash, device_name, created_at, last_active_at) \
             SELECT ?, id, ?, ?, ?, ? FROM users \
             WHERE id = ? AND NOT disabled AND deleted_at IS NULL",
        )?
        .execute(params![
            s.id,
            s.token_hash,
            s.device_name,
            s.created_at,
            s.last_active_at,
            s.user_id
        ])?;
    if n == 0 {
        return Err(Rule::forbidden("the account is disabled or deleted").into());
    }
    Ok(())
}

const USER_COLUMNS: &str = "id, username, display_name, password_hash, created_at, last_seen_at, \
     admin, deleted_at, disabled";

fn user(conn: &Tx, id: &str) -> Sql<Option<UserRow>> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))?
        .query_row([id], |r| {
            Ok(UserRow {
                id: r.get(0)?,
                username: r.get(1)?,
                display_name: r.get(2)?,
                password_hash: r.get(3)?,
                created_at: r.get(4)?,
                last_seen_at: r.get(5)?,
                admin: r.get(6)?,
                deleted: r.get::<_, Option<i64>>(7)?.is_some(),
                disabled: r.get(8)?,
            })
        })
        .optional()
}

/// The admins who can still act: neither disabled nor deleted.
fn active_admins(conn: &Tx) -> Sql<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM users WHERE admin AND NOT disabled AND deleted_at IS NULL",
    )?
    .query_row([], |r| r.get(0))
}

/// The ids of `user_id`'s sessions, read before a decision that deletes them is applied.
fn session_ids(conn: &Tx, user_id: &str) -> Sql<Vec<String>> {
    conn.prepare_cached("SELECT id FROM sessions WHERE user_id = ? ORDER BY id")?
        .query_map([user_id], |r| r.get(0))?
        .collect()
}

fn deletes_sessions<T>(d: &Decision<T>) -> bool {
    d.changes
        .iter()
        .any(|c| matches!(c, Change::DeleteSessions { .. }))
}

pub(super) fn update_account(
    conn: &Tx,
    manager: Option<&str>,
    target: &str,
    update: &decide::AccountUpdate,
    at: i64,
) -> StoreResult<(UserRow, Vec<String>)> {
    let me = match manager {
        Some(id) => Some(user(conn, id)?.ok_or_else(|| Rule::forbidden("no such account"))?),
        None => None,
    };
    let manager = match &me {
        Some(u) => decide::Manager::Admin(u.account()),
        None => decide::Manager::Operator,
    };
    let found = user(conn, target)?;
    let d = decide::update_account(
        manager,
        found.as_ref().map(UserRow::account),
        update,
        active_admins(conn)?,
        at,
    )?;
    let sessions = if deletes_sessions(&d) {
        session_ids(conn, target)?
    } else {
        Vec::new()
    };
    apply(conn, &d)?;
    let user = user(conn, target)?.ok_or_else(|| Rule::not_found("user"))?;
    Ok((user, sessions))
}

pub(super) fn delete_account(
    conn: &Tx,
    user_id: &str,
    at: i64,
) -> StoreResult<crate::store::AccountDeleted> {
    let found = user(conn, user_id)?;
    let contacts = contacts(conn, user_id)?;
    // Decided before anything is written: a refused deletion leaves every group as it was.
    let d = decide::delete_account(
        found.as_ref().map(UserRow::account),
        active_admins(conn)?,
        &contacts,
        at,
    )?;
    let groups: Vec<String> = conn
        .prepare_cached(
            "SELECT m.conversation_id FROM members m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.user_id = ? AND c.kind = 'group' ORDER BY m.conversation_id",
        )?
        .query_map([user_id], |r| r.get(0))?
        .collect::<Sql<_>>()?;
    for group in &groups {
        remove_member(conn, user_id, group, user_id, at)?;
    }
    let sessions = session_ids(conn, user_id)?;
    apply(conn, &d)?;
    // What reached the user when it was not looking: its webhooks (their followers and dead
    // letters go with them), settings and mutes. Its push subscriptions went with its sessions.
    for sql in [
        "DELETE FROM followers WHERE name IN (SELECT 'webhook:' || id FROM webhooks WHERE user_id = ?)",
        "DELETE FROM webhooks WHERE user_id = ?",
        "DELETE FROM notification_settings WHERE user_id = ?",
        "DELETE FROM mutes WHERE user_id = ?",
        "DELETE FROM push_subscriptions WHERE user_id = ?",
    ] {
        conn.prepare_cached(sql)?.execute([user_id])?;
    }
    let media = conn
        .prepare_cached(
            "SELECT id FROM media WHERE uploader_id = ? \
             AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.media_id = media.id) \
             ORDER BY id",
        )?
        .query_map([user_id], |r| r.get(0))?
        .collect::<Sql<_>>()?;
    Ok(crate::store::AccountDeleted { sessions, media })
}

pub(super) fn touch_session(conn: &Tx, id: &str, at: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE sessions SET last_active_at = ? WHERE id = ?")?
        .execute(params![at, id])?;
    Ok(())
}

pub(super) fn delete_session(conn: &Tx, user_id: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM sessions WHERE id = ? AND user_id = ?")?
        .execute([id, user_id])?;
    Ok(n > 0)
}

pub(super) fn delete_idle_sessions(conn: &Tx, before: i64) -> StoreResult<Vec<String>> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE last_active_at < ? RETURNING id")?
        .query_map([before], |r| r.get(0))?
        .collect::<Sql<_>>()?)
}

// ---- media ----

pub(super) fn insert_media(conn: &Tx, m: &MediaRow) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO media (id, uploader_id, content_type, size, filename, width, height, \
         has_thumbnail, thumbnail_type, sha256, is_image, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        m.id,
        m.uploader_id,
        m.content_type,
        m.size,
        m.filename,
        m.width,
        m.height,
        m.has_thumbnail,
        m.thumbnail_type,
        m.sha256,
        m.is_image,
        m.created_at
    ])?;
    Ok(())
}

pub(super) fn delete_media_if_unused(conn: &Tx, id: &str) -> StoreResult<Option<String>> {
    let sha: Option<String> = conn
        .prepare_cached(
            "DELETE FROM media WHERE id = ?1 \
             AND NOT EXISTS (SELECT 1 FROM messages WHERE media_id = ?1) RETURNING sha256",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(sha) = sha else { return Ok(None) };
    let shared: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM media WHERE sha256 = ?)")?
        .query_row([&sha], |r| r.get(0))?;
    Ok((!shared).then_some(sha))
}

// ---- the event log and operations ----

pub(super) fn prune_events(conn: &Tx, before: i64) -> StoreResult<i64> {
    let highest: Option<i64> = conn
        .prepare_cached("SELECT MAX(pos) FROM events WHERE created_at < ?")?
        .query_row([before], |r| r.get(0))?;
    if let Some(h) = highest {
        conn.prepare_cached("DELETE FROM events WHERE pos <= ?")?
            .execute([h])?;
        conn.prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('events_pruned_up_to', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = MAX(value, ?1)",
        )?
        .execute([h])?;
    }
    let pruned: Option<i64> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(pruned.unwrap_or(0))
}

/// One small write, to prove that a commit can succeed.
pub(super) fn probe(conn: &Tx, at: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO health_probe (id, at) VALUES (1, ?) \
         ON CONFLICT (id) DO UPDATE SET at = excluded.at",
    )?
    .execute([at])?;
    Ok(())
}

/// Checkpoints and truncates the write-ahead log, whose old frames may hold erased content.
/// Outside any transaction.
pub(super) fn purge(conn: &Tx) -> StoreResult<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}
