//! Every write of the PostgreSQL adapter, inside its transaction: load what the decision needs
//! (locking the rows it depends on), ask `natter_core::decide`, apply what it returns. The
//! events a transaction appends are queued in its [`Wtx`] and written by
//! the commit (`tx.rs`) as its last statement, when positions are taken.

use natter_core::{
    ConversationKind, Error as Rule, Role,
    decide::{self, Change, Decision, NewEvent},
    receipts::Watermarks,
};
use sqlx::Row;

use super::rows::{joined_ids, member_row, message_row};
use crate::store::{
    InviteRow, MarkKind, MediaRow, MemberRow, MessageRow, NewMessage, Removed, Sent, SessionRow,
    StoreError, UserRow, payload,
};

use super::tx::{Fail, Queued, Wtx, is_foreign_key_violation, is_unique_violation};

type Res<T> = Result<T, Fail>;

// ---- what the decisions load ----

/// What the decisions need of a conversation.
struct Facts {
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

/// The conversation's facts, its row locked until the transaction ends (which serialises the
/// conversation's writers: seqs, the member cap, client ids), or `404` if there is none.
async fn facts(tx: &mut Wtx, id: &str) -> Res<Facts> {
    let row = sqlx::query(
        "SELECT kind, last_seq, member_count FROM conversations WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(tx.c())
    .await?;
    let Some(r) = row else {
        return Err(Rule::not_found("conversation").into());
    };
    let kind: String = r.try_get("kind")?;
    Ok(Facts {
        id: id.to_owned(),
        kind: ConversationKind::parse(&kind).ok_or_else(|| {
            Fail::Store(StoreError::Internal(format!("unexpected kind {kind:?}")))
        })?,
        last_seq: r.try_get("last_seq")?,
        member_count: r.try_get("member_count")?,
    })
}

async fn member(tx: &mut Wtx, conversation_id: &str, user_id: &str) -> Res<Option<MemberRow>> {
    let row = sqlx::query(
        "SELECT user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq FROM members WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(tx.c())
    .await?;
    Ok(row.as_ref().map(member_row).transpose()?)
}

async fn members(tx: &mut Wtx, conversation_id: &str) -> Res<Vec<MemberRow>> {
    let rows = sqlx::query(
        "SELECT user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq FROM members WHERE conversation_id = $1 ORDER BY join_order",
    )
    .bind(conversation_id)
    .fetch_all(tx.c())
    .await?;
    Ok(rows.iter().map(member_row).collect::<sqlx::Result<_>>()?)
}

fn as_member(m: &MemberRow) -> decide::Member {
    decide::Member {
        user_id: m.user_id.clone(),
        role: m.role,
        joined_seq: m.joined_seq,
        marks: m.marks,
    }
}

async fn decided_member(
    tx: &mut Wtx,
    conversation_id: &str,
    user_id: &str,
) -> Res<Option<decide::Member>> {
    Ok(member(tx, conversation_id, user_id)
        .await?
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

/// A message as `viewer` sees it, its row locked (an edit and a delete of one message
/// serialise), with the viewer's membership; `404` if there is no such message.
async fn message_and_viewer(
    tx: &mut Wtx,
    id: &str,
    viewer: &str,
) -> Res<(MessageRow, Option<decide::Member>)> {
    let row = sqlx::query(select_messages!("WHERE m.id = $2 FOR UPDATE OF m"))
        .bind(viewer)
        .bind(id)
        .fetch_optional(tx.c())
        .await?;
    let msg = row
        .as_ref()
        .map(message_row)
        .transpose()?
        .ok_or_else(|| Rule::not_found("message"))?;
    let me = decided_member(tx, &msg.conversation_id, viewer).await?;
    Ok((msg, me))
}

/// The conversation's stored watermarks, and those its current members' marks give now.
async fn watermarks(tx: &mut Wtx, conversation_id: &str) -> Res<(Watermarks, Watermarks)> {
    let r = sqlx::query(
        "SELECT c.all_delivered_seq, c.all_read_seq, \
           COALESCE((SELECT MIN(GREATEST(joined_seq, delivered_seq)) FROM members WHERE conversation_id = c.id), c.last_seq) AS now_delivered, \
           COALESCE((SELECT MIN(GREATEST(joined_seq, read_seq)) FROM members WHERE conversation_id = c.id), c.last_seq) AS now_read \
         FROM conversations c WHERE c.id = $1",
    )
    .bind(conversation_id)
    .fetch_one(tx.c())
    .await?;
    Ok((
        Watermarks {
            all_delivered_seq: r.try_get("all_delivered_seq")?,
            all_read_seq: r.try_get("all_read_seq")?,
        },
        Watermarks {
            all_delivered_seq: r.try_get("now_delivered")?,
            all_read_seq: r.try_get("now_read")?,
        },
    ))
}

// ---- applying decisions ----

/// Applies a decision: its changes, its events (queued for the commit), then, if it asks, the
/// conversation's watermarks as [`decide::watermarks`] decides them.
async fn apply<T>(tx: &mut Wtx, d: &Decision<T>) -> Res<()> {
    apply_changes(tx, &d.changes, &d.events).await?;
    if let Some((conversation_id, at)) = &d.watermarks_of {
        let (stored, now) = watermarks(tx, conversation_id).await?;
        let w = decide::watermarks(conversation_id, stored, now, *at);
        apply_changes(tx, &w.changes, &w.events).await?;
    }
    Ok(())
}

async fn apply_changes(tx: &mut Wtx, changes: &[Change], events: &[NewEvent]) -> Res<()> {
    for c in changes {
        apply_change(tx, c).await?;
    }
    for e in events {
        let (kind, message_id, data) = payload::encode(e);
        tx.events.push(Queued {
            kind,
            conversation_id: e.conversation_id.clone(),
            user_id: e.to.clone(),
            message_id: message_id.map(str::to_owned),
            data,
            at: e.at,
        });
    }
    Ok(())
}

// ---- mentions and the search index ----

/// The longest lexeme a `tsvector` holds, in bytes (PostgreSQL's `MAXSTRLEN`):
/// `array_to_tsvector` refuses a longer word ("word is too long"), which would fail the send.
const LEXEME_MAX: usize = 2047;

/// What a message's `search` column is built from (`array_to_tsvector`): the words
/// `natter_core::search` makes of its text, none longer than a lexeme can be. A longer word is
/// cut (at a character boundary): a query's terms are far shorter than a lexeme, so the cut
/// word matches the same terms (as a prefix only, as the whole word would). None when the
/// text holds no word.
pub(super) fn search_words(text: &str) -> Option<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let words: Vec<String> = natter_core::search::index_words(text)
        .into_iter()
        .map(|mut w| {
            if w.len() > LEXEME_MAX {
                let mut end = LEXEME_MAX;
                while !w.is_char_boundary(end) {
                    end -= 1;
                }
                w.truncate(end);
            }
            w
        })
        .filter(|w| seen.insert(w.clone()))
        .collect();
    (!words.is_empty()).then_some(words)
}

/// One row per member a message mentions, at the message's seq.
async fn insert_mentions(tx: &mut Wtx, message_id: &str, mentions: &[String]) -> Res<()> {
    if mentions.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO mentions (user_id, conversation_id, seq, message_id) \
         SELECT u, m.conversation_id, m.seq, m.id FROM messages m, UNNEST($1::text[]) AS u \
         WHERE m.id = $2 ON CONFLICT DO NOTHING",
    )
    .bind(mentions)
    .bind(message_id)
    .execute(tx.c())
    .await?;
    Ok(())
}

/// The tables of rows about one message, beside it.
#[derive(Clone, Copy)]
enum OfMessage {
    Mentions,
    Reactions,
    Backlog,
}

/// Deletes a message's rows of one table keyed by `message_id`.
async fn delete_of_message(tx: &mut Wtx, table: OfMessage, message_id: &str) -> Res<()> {
    let sql = match table {
        OfMessage::Mentions => "DELETE FROM mentions WHERE message_id = $1",
        OfMessage::Reactions => "DELETE FROM reactions WHERE message_id = $1",
        OfMessage::Backlog => "DELETE FROM message_search_backlog WHERE message_id = $1",
    };
    sqlx::query(sql).bind(message_id).execute(tx.c()).await?;
    Ok(())
}

/// Indexes up to `limit` of the messages stored before the search index existed (their rows
/// locked; those another transaction holds are left to it: an edit or an erasure takes the
/// message off the backlog itself); returns how many it indexed.
pub(super) async fn index_backlog(tx: &mut Wtx, limit: i64) -> Res<usize> {
    let batch: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT m.id, m.text FROM message_search_backlog b JOIN messages m ON m.id = b.message_id \
         WHERE m.deleted_at IS NULL ORDER BY b.message_id LIMIT $1 FOR UPDATE OF m SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(tx.c())
    .await?;
    let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
    // Each message's words joined by spaces (a word holds no ASCII space), in one statement.
    let words: Vec<Option<String>> = batch
        .iter()
        .map(|(_, text)| text.as_deref().and_then(search_words).map(|w| w.join(" ")))
        .collect();
    sqlx::query(
        "UPDATE messages m SET search = array_to_tsvector(string_to_array(t.words, ' ')) \
         FROM UNNEST($1::text[], $2::text[]) AS t(id, words) WHERE m.id = t.id",
    )
    .bind(&ids)
    .bind(&words)
    .execute(tx.c())
    .await?;
    sqlx::query("DELETE FROM message_search_backlog WHERE message_id = ANY($1)")
        .bind(&ids)
        .execute(tx.c())
        .await?;
    if batch.is_empty() {
        // What is left names no message to index: gone with its conversation, or erased.
        sqlx::query(
            "DELETE FROM message_search_backlog b WHERE NOT EXISTS \
             (SELECT 1 FROM messages m WHERE m.id = b.message_id AND m.deleted_at IS NULL)",
        )
        .execute(tx.c())
        .await?;
    }
    Ok(batch.len())
}

async fn count_members(tx: &mut Wtx, conversation_id: &str, by: i64) -> Res<()> {
    sqlx::query("UPDATE conversations SET member_count = member_count + $1 WHERE id = $2")
        .bind(by)
        .bind(conversation_id)
        .execute(tx.c())
        .await?;
    Ok(())
}

async fn apply_change(tx: &mut Wtx, c: &Change) -> Res<()> {
    match c {
        Change::CreateConversation {
            id,
            kind,
            name,
            direct_key,
            at,
        } => {
            let r = sqlx::query(
                "INSERT INTO conversations (id, kind, name, direct_key, created_at, last_message_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id)
            .bind(kind.as_str())
            .bind(name)
            .bind(direct_key)
            .bind(at)
            .execute(tx.c())
            .await;
            match r {
                // Another transaction created the pair's conversation meanwhile: a fresh one
                // finds it.
                Err(e) if direct_key.is_some() && is_unique_violation(&e) => {
                    return Err(Fail::Retry);
                }
                r => {
                    r?;
                }
            }
        }
        Change::AddMember {
            conversation_id,
            user_id,
            role,
            joined_seq,
            at,
        } => {
            // Its join point, the log's head just before this transaction's events, is set
            // when the transaction takes its positions.
            sqlx::query(
                "INSERT INTO members (conversation_id, user_id, role, joined_at, join_order, joined_seq, joined_pos) \
                 VALUES ($1, $2, $3, $4, \
                         (SELECT COALESCE(MAX(join_order), 0) + 1 FROM members WHERE conversation_id = $1), \
                         $5, 0)",
            )
            .bind(conversation_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(at)
            .bind(joined_seq)
            .execute(tx.c())
            .await?;
            tx.joined.push((conversation_id.clone(), user_id.clone()));
            count_members(tx, conversation_id, 1).await?;
        }
        Change::RemoveMember {
            conversation_id,
            user_id,
        } => {
            sqlx::query("DELETE FROM members WHERE conversation_id = $1 AND user_id = $2")
                .bind(conversation_id)
                .bind(user_id)
                .execute(tx.c())
                .await?;
            tx.joined
                .retain(|(c, u)| !(c == conversation_id && u == user_id));
            count_members(tx, conversation_id, -1).await?;
        }
        Change::DeleteConversation { conversation_id } => {
            // Its messages (and their mentions and reactions) go with it by cascade; the
            // backlog has no foreign key.
            sqlx::query(
                "DELETE FROM message_search_backlog WHERE message_id IN \
                 (SELECT id FROM messages WHERE conversation_id = $1)",
            )
            .bind(conversation_id)
            .execute(tx.c())
            .await?;
            sqlx::query("DELETE FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .execute(tx.c())
                .await?;
        }
        Change::SetRole {
            conversation_id,
            user_id,
            role,
        } => {
            sqlx::query("UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3")
                .bind(role.as_str())
                .bind(conversation_id)
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::Rename {
            conversation_id,
            name,
        } => {
            sqlx::query("UPDATE conversations SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(conversation_id)
                .execute(tx.c())
                .await?;
        }
        Change::InsertMessage { message: m, seq } => {
            sqlx::query(
                "UPDATE conversations SET last_seq = $1, last_message_at = $2 WHERE id = $3",
            )
            .bind(seq)
            .bind(m.created_at)
            .bind(&m.conversation_id)
            .execute(tx.c())
            .await?;
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, media_id, reply_to, created_at, mentions, search) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, array_to_tsvector($12::text[]))",
            )
            .bind(&m.id)
            .bind(&m.conversation_id)
            .bind(seq)
            .bind(&m.sender_id)
            .bind(&m.client_id)
            .bind(m.kind.as_str())
            .bind(&m.text)
            .bind(&m.media_id)
            .bind(&m.reply_to)
            .bind(m.created_at)
            .bind(joined_ids(&m.mentions))
            .bind(m.text.as_deref().and_then(search_words))
            .execute(tx.c())
            .await?;
            if !m.mentions.is_empty() {
                sqlx::query(
                    "INSERT INTO mentions (user_id, conversation_id, seq, message_id) \
                     SELECT u, $2, $3, $4 FROM UNNEST($1::text[]) AS u ON CONFLICT DO NOTHING",
                )
                .bind(&m.mentions)
                .bind(&m.conversation_id)
                .bind(seq)
                .bind(&m.id)
                .execute(tx.c())
                .await?;
            }
        }
        Change::SetMarks {
            conversation_id,
            user_id,
            marks,
        } => {
            // Monotonic whatever the interleaving (the conversation's row lock already
            // serialises its marks).
            sqlx::query(
                "UPDATE members SET delivered_seq = GREATEST(delivered_seq, $1), read_seq = GREATEST(read_seq, $2) \
                 WHERE conversation_id = $3 AND user_id = $4",
            )
            .bind(marks.delivered_seq)
            .bind(marks.read_seq)
            .bind(conversation_id)
            .bind(user_id)
            .execute(tx.c())
            .await?;
        }
        Change::RecordMarkMove {
            conversation_id,
            user_id,
            read,
            up_to_seq,
            at,
        } => {
            sqlx::query(
                "INSERT INTO mark_moves (conversation_id, user_id, kind, up_to_seq, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(conversation_id)
            .bind(user_id)
            .bind(if *read { "read" } else { "delivered" })
            .bind(up_to_seq)
            .bind(at)
            .execute(tx.c())
            .await?;
        }
        Change::EditMessage {
            message_id,
            text,
            mentions,
            at,
        } => {
            sqlx::query(
                "UPDATE messages SET text = $1, edited_at = $2, mentions = $3, \
                 search = array_to_tsvector($4::text[]) WHERE id = $5",
            )
            .bind(text)
            .bind(at)
            .bind(joined_ids(mentions))
            .bind(search_words(text))
            .bind(message_id)
            .execute(tx.c())
            .await?;
            delete_of_message(tx, OfMessage::Mentions, message_id).await?;
            insert_mentions(tx, message_id, mentions).await?;
            delete_of_message(tx, OfMessage::Backlog, message_id).await?;
        }
        Change::EraseMessage { message_id, at } => {
            sqlx::query(
                "UPDATE messages SET text = NULL, media_id = NULL, mentions = NULL, search = NULL, \
                 deleted_at = $1 WHERE id = $2",
            )
            .bind(at)
            .bind(message_id)
            .execute(tx.c())
            .await?;
            for table in [
                OfMessage::Mentions,
                OfMessage::Reactions,
                OfMessage::Backlog,
            ] {
                delete_of_message(tx, table, message_id).await?;
            }
        }
        Change::AddReaction {
            message_id,
            user_id,
            emoji,
            at,
        } => {
            sqlx::query(
                "INSERT INTO reactions (message_id, emoji, user_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(message_id)
            .bind(emoji)
            .bind(user_id)
            .bind(at)
            .execute(tx.c())
            .await?;
        }
        Change::RemoveReaction {
            message_id,
            user_id,
            emoji,
        } => {
            sqlx::query(
                "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
            )
            .bind(message_id)
            .bind(emoji)
            .bind(user_id)
            .execute(tx.c())
            .await?;
        }
        Change::HideMessage {
            user_id,
            message_id,
        } => {
            sqlx::query(
                "INSERT INTO hidden_messages (user_id, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(message_id)
            .execute(tx.c())
            .await?;
        }
        Change::SetDisplayName { user_id, name } => {
            sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                .bind(name)
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::SetAdmin { user_id, admin } => {
            sqlx::query("UPDATE users SET admin = $1 WHERE id = $2")
                .bind(admin)
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::SetDisabled { user_id, disabled } => {
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(disabled)
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::SetPasswordHash { user_id, hash } => {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::DeleteSessions { user_id } => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::EraseAccount { user_id, at } => {
            sqlx::query(
                "UPDATE users SET display_name = $1, password_hash = '', admin = FALSE, \
                 deleted_at = $2 WHERE id = $3",
            )
            .bind(decide::DELETED_NAME)
            .bind(at)
            .bind(user_id)
            .execute(tx.c())
            .await?;
            sqlx::query("DELETE FROM invites WHERE creator_id = $1")
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        Change::SetWatermarks {
            conversation_id,
            watermarks,
        } => {
            sqlx::query(
                "UPDATE conversations SET all_delivered_seq = $1, all_read_seq = $2 WHERE id = $3",
            )
            .bind(watermarks.all_delivered_seq)
            .bind(watermarks.all_read_seq)
            .bind(conversation_id)
            .execute(tx.c())
            .await?;
        }
    }
    Ok(())
}

/// Applies a loaded decision; its outcome.
async fn decided<T>(tx: &mut Wtx, d: Result<Decision<T>, Rule>) -> Res<T> {
    let d = d?;
    if !d.is_empty() {
        apply(tx, &d).await?;
    }
    Ok(d.outcome)
}

// ---- conversations and members ----

pub(super) async fn create_direct(
    tx: &mut Wtx,
    new_id: &str,
    a: &str,
    b: &str,
    at: i64,
) -> Res<(String, bool)> {
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = $1")
            .bind(decide::direct_key(a, b))
            .fetch_optional(tx.c())
            .await?;
    let peer = sqlx::query(
        "SELECT u.deleted_at IS NOT NULL AS deleted, \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = u.id) AS blocked_by_actor, \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = u.id AND blocked_id = $1) AS blocked_actor \
         FROM users u WHERE u.id = $2",
    )
    .bind(a)
    .bind(b)
    .fetch_optional(tx.c())
    .await?
    .as_ref()
    .map(peer_row)
    .transpose()?
    .unwrap_or(decide::Peer {
        deleted: true,
        ..decide::Peer::default()
    });
    decided(tx, decide::create_direct(new_id, a, b, existing, peer, at)).await
}

fn peer_row(r: &sqlx::postgres::PgRow) -> sqlx::Result<decide::Peer> {
    Ok(decide::Peer {
        deleted: r.try_get("deleted")?,
        blocked_by_actor: r.try_get("blocked_by_actor")?,
        blocked_actor: r.try_get("blocked_actor")?,
    })
}

/// The other member of the direct conversation `conversation_id` as `sender` sees it: one
/// statement of primary key look-ups, run only for direct conversations (the send path is
/// hot).
async fn direct_peer(
    tx: &mut Wtx,
    conversation_id: &str,
    sender: &str,
) -> Res<Option<decide::Peer>> {
    let row = sqlx::query(
        "SELECT u.deleted_at IS NOT NULL AS deleted, \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = u.id) AS blocked_by_actor, \
           EXISTS (SELECT 1 FROM blocks WHERE blocker_id = u.id AND blocked_id = $1) AS blocked_actor \
         FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = $2 AND m.user_id <> $1",
    )
    .bind(sender)
    .bind(conversation_id)
    .fetch_optional(tx.c())
    .await?;
    Ok(row.as_ref().map(peer_row).transpose()?)
}

pub(super) async fn create_group(
    tx: &mut Wtx,
    id: &str,
    owner: &str,
    name: &str,
    members: &[String],
    at: i64,
) -> Res<()> {
    decided(tx, Ok(decide::create_group(id, owner, name, members, at))).await
}

pub(super) async fn rename(
    tx: &mut Wtx,
    actor: &str,
    conversation_id: &str,
    name: &str,
    at: i64,
) -> Res<()> {
    let conv = facts(tx, conversation_id).await?;
    let me = decided_member(tx, conversation_id, actor).await?;
    decided(tx, decide::rename(conv.view(), me.as_ref(), name, at)).await
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn add_member(
    tx: &mut Wtx,
    actor: &str,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    max_members: usize,
    at: i64,
) -> Res<()> {
    // The conversation's row lock comes first: concurrent adds count the members one after
    // the other.
    let conv = facts(tx, conversation_id).await?;
    let me = decided_member(tx, conversation_id, actor).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(user_id)
        .fetch_one(tx.c())
        .await?;
    let already_member = member(tx, conversation_id, user_id).await?.is_some();
    let joining = decide::Joining {
        user_id,
        role,
        exists,
        already_member,
        max_members,
    };
    decided(
        tx,
        decide::add_member(conv.view(), me.as_ref(), joining, at),
    )
    .await
}

pub(super) async fn remove_member(
    tx: &mut Wtx,
    actor: &str,
    conversation_id: &str,
    user_id: &str,
    at: i64,
) -> Res<Removed> {
    let conv = facts(tx, conversation_id).await?;
    let all = members(tx, conversation_id).await?;
    let find = |id: &str| all.iter().find(|m| m.user_id == id).map(as_member);
    let remaining: Vec<decide::Member> = all
        .iter()
        .filter(|m| m.user_id != user_id)
        .map(as_member)
        .collect();
    let d = decide::remove_member(
        conv.view(),
        find(actor).as_ref(),
        find(user_id).as_ref(),
        &remaining,
        at,
    );
    decided(tx, d).await
}

pub(super) async fn set_role(
    tx: &mut Wtx,
    actor: &str,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    at: i64,
) -> Res<()> {
    let conv = facts(tx, conversation_id).await?;
    let me = decided_member(tx, conversation_id, actor).await?;
    let target = decided_member(tx, conversation_id, user_id).await?;
    decided(
        tx,
        decide::set_role(conv.view(), me.as_ref(), target.as_ref(), role, at),
    )
    .await
}

// ---- messages and marks ----

/// A send: locks the conversation (so seqs are gapless and one `client_id` stores one
/// message), loads what the decision needs, decides, and applies.
pub(super) async fn send(tx: &mut Wtx, msg: &NewMessage) -> Res<Sent> {
    let conv = facts(tx, &msg.conversation_id).await?;
    let me = decided_member(tx, &msg.conversation_id, &msg.sender_id).await?;
    let earlier = match (&msg.client_id, &me) {
        (Some(cid), Some(_)) => sqlx::query(select_messages!(
            "WHERE m.conversation_id = $2 AND m.sender_id = $1 AND m.client_id = $3"
        ))
        .bind(&msg.sender_id)
        .bind(&msg.conversation_id)
        .bind(cid)
        .fetch_optional(tx.c())
        .await?
        .as_ref()
        .map(message_row)
        .transpose()?,
        _ => None,
    };
    let reply_target: Option<(String, i64)> = match &msg.reply_to {
        Some(id) if earlier.is_none() => {
            sqlx::query_as("SELECT conversation_id, seq FROM messages WHERE id = $1")
                .bind(id)
                .fetch_optional(tx.c())
                .await?
        }
        _ => None,
    };
    let peer = match (conv.kind, &me, &earlier) {
        (ConversationKind::Direct, Some(_), None) => {
            direct_peer(tx, &msg.conversation_id, &msg.sender_id).await?
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
            return Err(StoreError::Internal("no earlier send to answer with".into()).into());
        }
    };
    match apply(tx, &d).await {
        // The only constraint a checked send can still break: its media was erased (collected
        // as an orphan, or its message deleted) between the application's check and the write.
        Err(Fail::Sql(e)) if is_foreign_key_violation(&e) => {
            return Err(Rule::not_found("media").into());
        }
        r => r?,
    }
    Ok(Sent {
        message: MessageRow {
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
        },
        created: true,
    })
}

pub(super) async fn mark(
    tx: &mut Wtx,
    user_id: &str,
    conversation_id: &str,
    kind: MarkKind,
    seq: i64,
    at: i64,
) -> Res<bool> {
    let conv = facts(tx, conversation_id).await?;
    let me = decided_member(tx, conversation_id, user_id).await?;
    decided(
        tx,
        decide::mark(conv.view(), me.as_ref(), kind == MarkKind::Read, seq, at),
    )
    .await
}

pub(super) async fn edit(
    tx: &mut Wtx,
    actor: &str,
    message_id: &str,
    text: &str,
    mentions: &[String],
    at: i64,
) -> Res<()> {
    let (msg, me) = message_and_viewer(tx, message_id, actor).await?;
    decided(
        tx,
        decide::edit(decided_message(&msg), me.as_ref(), text, mentions, at),
    )
    .await
}

/// A reaction added or removed. The message's row lock (taken first) serialises the reactions
/// to one message: the counts read next are those the decision and its event are true to, and
/// two reactions at once cannot both pass the limit of distinct emoji.
#[allow(clippy::too_many_arguments)]
pub(super) async fn react(
    tx: &mut Wtx,
    user_id: &str,
    message_id: &str,
    emoji: &str,
    add: bool,
    max_distinct: usize,
    at: i64,
) -> Res<bool> {
    let (msg, me) = message_and_viewer(tx, message_id, user_id).await?;
    let (count, mine, distinct): (i64, bool, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE emoji = $2), \
                COUNT(*) FILTER (WHERE emoji = $2 AND user_id = $3) > 0, \
                COUNT(DISTINCT emoji) \
         FROM reactions WHERE message_id = $1",
    )
    .bind(message_id)
    .bind(emoji)
    .bind(user_id)
    .fetch_one(tx.c())
    .await?;
    let now = decide::Reactions {
        count,
        mine,
        distinct: distinct.max(0) as usize,
    };
    decided(
        tx,
        decide::react(
            decided_message(&msg),
            me.as_ref(),
            emoji,
            add,
            now,
            max_distinct,
            at,
        ),
    )
    .await
}

pub(super) async fn delete_for_everyone(
    tx: &mut Wtx,
    actor: &str,
    message_id: &str,
    at: i64,
) -> Res<Option<String>> {
    let (msg, me) = message_and_viewer(tx, message_id, actor).await?;
    let conv = facts(tx, &msg.conversation_id).await?;
    let d = decide::delete_for_everyone(decided_message(&msg), conv.kind, me.as_ref(), at)?;
    // The media the message carried, now perhaps referred to by nothing.
    decided(
        tx,
        Ok(d.map(|erased| if erased { msg.media_id.clone() } else { None })),
    )
    .await
}

pub(super) async fn hide(tx: &mut Wtx, user_id: &str, message_id: &str, at: i64) -> Res<()> {
    let (msg, me) = message_and_viewer(tx, message_id, user_id).await?;
    decided(
        tx,
        decide::hide(decided_message(&msg), me.as_ref(), msg.hidden, at),
    )
    .await
}

// ---- accounts, sessions, media, the log ----

pub(super) async fn create_user(tx: &mut Wtx, user: &UserRow) -> Res<()> {
    let r = sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, created_at, admin) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(user.created_at)
    .bind(user.admin)
    .execute(tx.c())
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(Rule::conflict("that username is taken").into()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn register(
    tx: &mut Wtx,
    user: &UserRow,
    mode: decide::Registration,
    code: Option<&str>,
) -> Res<UserRow> {
    // Registrations take turns: the lock conflicts with itself (and with no reader), so the
    // count and the invite read here stay true until this transaction commits: two first
    // registrations cannot both see no user, nor two registrations both take an invite's last
    // use. Registrations are rare and already wait for Argon2; the wait is short.
    sqlx::query("LOCK TABLE invites IN SHARE ROW EXCLUSIVE MODE")
        .execute(tx.c())
        .await?;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(tx.c())
        .await?;
    let invite = match code {
        Some(code) => sqlx::query("SELECT uses_left, expires_at FROM invites WHERE code = $1")
            .bind(code)
            .fetch_optional(tx.c())
            .await?
            .map(|r| -> sqlx::Result<decide::Invite> {
                Ok(decide::Invite {
                    uses_left: r.try_get("uses_left")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .transpose()?,
        None => None,
    };
    let admission = decide::admit(mode, users, invite, user.created_at)?;
    let user = UserRow {
        admin: admission.admin,
        ..user.clone()
    };
    create_user(tx, &user).await?;
    if admission.use_invite
        && let Some(code) = code
    {
        sqlx::query("UPDATE invites SET uses_left = uses_left - 1 WHERE code = $1")
            .bind(code)
            .execute(tx.c())
            .await?;
    }
    Ok(user)
}

/// The users sharing a conversation with `user_id`.
async fn contacts(tx: &mut Wtx, user_id: &str) -> Res<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT other.user_id FROM members mine \
         JOIN members other ON other.conversation_id = mine.conversation_id \
         WHERE mine.user_id = $1 AND other.user_id <> $1 ORDER BY other.user_id",
    )
    .bind(user_id)
    .fetch_all(tx.c())
    .await?)
}

/// A user, its row locked until the transaction ends: a login's session and a disabling, or
/// two changes of one account, take turns.
async fn locked_user(tx: &mut Wtx, id: &str) -> Res<Option<UserRow>> {
    let row = sqlx::query("SELECT * FROM users WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(tx.c())
        .await?;
    Ok(row.as_ref().map(super::rows::user_row).transpose()?)
}

/// The admins who can still act (neither disabled nor deleted), their rows locked: two admins
/// leaving at once take turns, so the second sees the first gone and the last one stays.
async fn active_admins(tx: &mut Wtx) -> Res<i64> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE admin AND NOT disabled AND deleted_at IS NULL \
         ORDER BY id FOR UPDATE",
    )
    .fetch_all(tx.c())
    .await?;
    Ok(ids.len() as i64)
}

async fn session_ids(tx: &mut Wtx, user_id: &str) -> Res<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(tx.c())
            .await?,
    )
}

pub(super) async fn update_account(
    tx: &mut Wtx,
    manager: Option<&str>,
    target: &str,
    update: &decide::AccountUpdate,
    at: i64,
) -> Res<(UserRow, Vec<String>)> {
    // Admins first, in id order, then the rest: every account change locks in one order.
    let admins = active_admins(tx).await?;
    let me = match manager {
        Some(id) => Some(
            locked_user(tx, id)
                .await?
                .ok_or_else(|| Rule::forbidden("no such account"))?,
        ),
        None => None,
    };
    let found = locked_user(tx, target).await?;
    let manager = match &me {
        Some(u) => decide::Manager::Admin(u.account()),
        None => decide::Manager::Operator,
    };
    let d = decide::update_account(
        manager,
        found.as_ref().map(UserRow::account),
        update,
        admins,
        at,
    )?;
    let sessions = if d
        .changes
        .iter()
        .any(|c| matches!(c, Change::DeleteSessions { .. }))
    {
        session_ids(tx, target).await?
    } else {
        Vec::new()
    };
    decided(tx, Ok(d)).await?;
    let user = locked_user(tx, target)
        .await?
        .ok_or_else(|| Rule::not_found("user"))?;
    Ok((user, sessions))
}

pub(super) async fn delete_account(
    tx: &mut Wtx,
    user_id: &str,
    at: i64,
) -> Res<crate::store::AccountDeleted> {
    let admins = active_admins(tx).await?;
    let found = locked_user(tx, user_id).await?;
    let contacts = contacts(tx, user_id).await?;
    // Decided before anything is written: a refused deletion leaves every group as it was.
    let d = decide::delete_account(found.as_ref().map(UserRow::account), admins, &contacts, at)?;
    let groups: Vec<String> = sqlx::query_scalar(
        "SELECT m.conversation_id FROM members m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.user_id = $1 AND c.kind = 'group' ORDER BY m.conversation_id",
    )
    .bind(user_id)
    .fetch_all(tx.c())
    .await?;
    for group in &groups {
        remove_member(tx, user_id, group, user_id, at).await?;
    }
    let sessions = session_ids(tx, user_id).await?;
    decided(tx, Ok(d)).await?;
    // What reached the user when it was not looking: its webhooks (their followers and dead
    // letters go with them), settings and mutes. Its push subscriptions went with its sessions.
    for sql in [
        "DELETE FROM followers WHERE name IN (SELECT 'webhook:' || id FROM webhooks WHERE user_id = $1)",
        "DELETE FROM webhooks WHERE user_id = $1",
        "DELETE FROM notification_settings WHERE user_id = $1",
        "DELETE FROM mutes WHERE user_id = $1",
        "DELETE FROM push_subscriptions WHERE user_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(tx.c()).await?;
    }
    let media = sqlx::query_scalar(
        "SELECT id FROM media WHERE uploader_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.media_id = media.id) ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(tx.c())
    .await?;
    Ok(crate::store::AccountDeleted { sessions, media })
}

pub(super) async fn set_display_name(tx: &mut Wtx, user_id: &str, name: &str, at: i64) -> Res<()> {
    let contacts = contacts(tx, user_id).await?;
    decided(
        tx,
        Ok(decide::set_display_name(user_id, name, &contacts, at)),
    )
    .await
}

pub(super) async fn set_password(
    tx: &mut Wtx,
    user_id: &str,
    hash: &str,
    keep: &str,
) -> Res<Vec<String>> {
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(tx.c())
        .await?;
    if done.rows_affected() == 0 {
        return Err(Rule::not_found("user").into());
    }
    Ok(
        sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id")
            .bind(user_id)
            .bind(keep)
            .fetch_all(tx.c())
            .await?,
    )
}

pub(super) async fn create_invite(tx: &mut Wtx, i: &InviteRow) -> Res<()> {
    sqlx::query(
        "INSERT INTO invites (code, creator_id, uses_left, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&i.code)
    .bind(&i.creator_id)
    .bind(i.uses_left)
    .bind(i.expires_at)
    .bind(i.created_at)
    .execute(tx.c())
    .await?;
    Ok(())
}

pub(super) async fn delete_invite(tx: &mut Wtx, code: &str, actor: &str) -> Res<()> {
    let creator: Option<String> =
        sqlx::query_scalar("SELECT creator_id FROM invites WHERE code = $1 FOR UPDATE")
            .bind(code)
            .fetch_optional(tx.c())
            .await?;
    let creator = creator.ok_or_else(|| Rule::not_found("invite"))?;
    let admin: bool = sqlx::query_scalar("SELECT admin FROM users WHERE id = $1")
        .bind(actor)
        .fetch_optional(tx.c())
        .await?
        .unwrap_or(false);
    decide::may_revoke_invite(&creator, actor, admin)?;
    sqlx::query("DELETE FROM invites WHERE code = $1")
        .bind(code)
        .execute(tx.c())
        .await?;
    Ok(())
}

/// Whether `target` names a user, and what `decide::may_block` says of it.
async fn check_block(tx: &mut Wtx, blocker: &str, target: &str) -> Res<()> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(target)
        .fetch_one(tx.c())
        .await?;
    Ok(decide::may_block(blocker, target, exists)?)
}

pub(super) async fn block(tx: &mut Wtx, blocker: &str, blocked: &str, at: i64) -> Res<()> {
    check_block(tx, blocker, blocked).await?;
    sqlx::query(
        "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(blocker)
    .bind(blocked)
    .bind(at)
    .execute(tx.c())
    .await?;
    Ok(())
}

pub(super) async fn unblock(tx: &mut Wtx, blocker: &str, blocked: &str) -> Res<()> {
    check_block(tx, blocker, blocked).await?;
    sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(tx.c())
        .await?;
    Ok(())
}

pub(super) async fn set_last_seen(tx: &mut Wtx, user_id: &str, at: i64) -> Res<()> {
    sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
        .bind(at)
        .bind(user_id)
        .execute(tx.c())
        .await?;
    Ok(())
}

pub(super) async fn touch_session(tx: &mut Wtx, id: &str, at: i64) -> Res<()> {
    sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(tx.c())
        .await?;
    Ok(())
}

pub(super) async fn delete_session(tx: &mut Wtx, user_id: &str, id: &str) -> Res<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(tx.c())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_idle_sessions(tx: &mut Wtx, before: i64) -> Res<Vec<String>> {
    Ok(
        sqlx::query_scalar("DELETE FROM sessions WHERE last_active_at < $1 RETURNING id")
            .bind(before)
            .fetch_all(tx.c())
            .await?,
    )
}

pub(super) async fn create_session(tx: &mut Wtx, s: &SessionRow) -> Res<()> {
    // Shares the user's row lock with other logins, and waits for a disabling or a deletion
    // in progress: none can leave a session behind it.
    let user: Option<(bool, Option<i64>)> =
        sqlx::query_as("SELECT disabled, deleted_at FROM users WHERE id = $1 FOR SHARE")
            .bind(&s.user_id)
            .fetch_optional(tx.c())
            .await?;
    if !matches!(user, Some((false, None))) {
        return Err(Rule::forbidden("the account is disabled or deleted").into());
    }
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, device_name, created_at, last_active_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.id)
    .bind(&s.user_id)
    .bind(&s.token_hash)
    .bind(&s.device_name)
    .bind(s.created_at)
    .bind(s.last_active_at)
    .execute(tx.c())
    .await?;
    Ok(())
}

pub(super) async fn insert_media(tx: &mut Wtx, m: &MediaRow) -> Res<()> {
    sqlx::query(
        "INSERT INTO media (id, uploader_id, content_type, size, filename, width, height, \
         has_thumbnail, thumbnail_type, sha256, is_image, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&m.id)
    .bind(&m.uploader_id)
    .bind(&m.content_type)
    .bind(m.size)
    .bind(&m.filename)
    .bind(m.width)
    .bind(m.height)
    .bind(m.has_thumbnail)
    .bind(&m.thumbnail_type)
    .bind(&m.sha256)
    .bind(m.is_image)
    .bind(m.created_at)
    .execute(tx.c())
    .await?;
    Ok(())
}

pub(super) async fn delete_media_if_unused(tx: &mut Wtx, id: &str) -> Res<Option<String>> {
    // A send that refers to the media holds its row's KEY SHARE lock until it commits: lock the
    // row first, so that the check below (a statement of its own, with a fresh snapshot) sees
    // that send's message.
    sqlx::query("SELECT 1 FROM media WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(tx.c())
        .await?;
    let sha: Option<String> = sqlx::query_scalar(
        "DELETE FROM media WHERE id = $1 \
         AND NOT EXISTS (SELECT 1 FROM messages WHERE media_id = $1) RETURNING sha256",
    )
    .bind(id)
    .fetch_optional(tx.c())
    .await?;
    let Some(sha) = sha else { return Ok(None) };
    let shared: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM media WHERE sha256 = $1)")
        .bind(&sha)
        .fetch_one(tx.c())
        .await?;
    Ok((!shared).then_some(sha))
}

pub(super) async fn prune_events(tx: &mut Wtx, before: i64) -> Res<i64> {
    let highest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(pos) FROM events WHERE created_at < $1")
            .bind(before)
            .fetch_one(tx.c())
            .await?;
    if let Some(h) = highest {
        sqlx::query("DELETE FROM events WHERE pos <= $1")
            .bind(h)
            .execute(tx.c())
            .await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('events_pruned_up_to', $1) \
             ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)",
        )
        .bind(h)
        .execute(tx.c())
        .await?;
    }
    let pruned: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")
            .fetch_optional(tx.c())
            .await?;
    Ok(pruned.unwrap_or(0))
}
