//! The PostgreSQL adapter's reads: row decoding, and the reads that run alone or inside a read
//! transaction (one snapshot).

use natter_core::{ConversationKind, MessageKind, Role, receipts::Marks};
use sqlx::{PgConnection, Row, postgres::PgRow};

use crate::store::{
    ConversationRow, ConversationView, EventKind, EventRow, InviteRow, MediaRow, MemberRow,
    MessageRow, SessionRow, StoreResult, UserRow,
};

// ---- row decoding ----

pub(super) fn decode_err(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {column} {value:?}").into())
}

pub(super) fn user_row(r: &PgRow) -> sqlx::Result<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        admin: r.try_get("admin")?,
        deleted: r.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
        disabled: r.try_get("disabled")?,
    })
}

pub(super) fn invite_row(r: &PgRow) -> sqlx::Result<InviteRow> {
    Ok(InviteRow {
        code: r.try_get("code")?,
        creator_id: r.try_get("creator_id")?,
        uses_left: r.try_get("uses_left")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn session_row(r: &PgRow) -> sqlx::Result<SessionRow> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        token_hash: r.try_get("token_hash")?,
        device_name: r.try_get("device_name")?,
        created_at: r.try_get("created_at")?,
        last_active_at: r.try_get("last_active_at")?,
    })
}

pub(super) fn conversation_row(r: &PgRow) -> sqlx::Result<ConversationRow> {
    let kind: String = r.try_get("kind")?;
    Ok(ConversationRow {
        id: r.try_get("id")?,
        kind: ConversationKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_message_at: r.try_get("last_message_at")?,
        last_seq: r.try_get("last_seq")?,
        all_delivered_seq: r.try_get("all_delivered_seq")?,
        all_read_seq: r.try_get("all_read_seq")?,
    })
}

pub(super) fn member_row(r: &PgRow) -> sqlx::Result<MemberRow> {
    let role: String = r.try_get("role")?;
    Ok(MemberRow {
        user_id: r.try_get("user_id")?,
        role: Role::parse(&role).ok_or_else(|| decode_err("role", &role))?,
        joined_at: r.try_get("joined_at")?,
        joined_seq: r.try_get("joined_seq")?,
        joined_pos: r.try_get("joined_pos")?,
        marks: Marks {
            delivered_seq: r.try_get("delivered_seq")?,
            read_seq: r.try_get("read_seq")?,
        },
    })
}

pub(super) fn message_row(r: &PgRow) -> sqlx::Result<MessageRow> {
    let kind: String = r.try_get("kind")?;
    let deleted_at: Option<i64> = r.try_get("deleted_at")?;
    Ok(MessageRow {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        seq: r.try_get("seq")?,
        sender_id: r.try_get("sender_id")?,
        client_id: r.try_get("client_id")?,
        kind: MessageKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        text: r.try_get("text")?,
        media_id: r.try_get("media_id")?,
        reply_to: r.try_get("reply_to")?,
        created_at: r.try_get("created_at")?,
        edited_at: r.try_get("edited_at")?,
        deleted: deleted_at.is_some(),
        hidden: r.try_get("hidden")?,
        mentions: split_ids(r.try_get("mentions")?),
    })
}

/// A list of ids as a column holds it: space-separated, NULL for none.
pub(super) fn split_ids(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A list of ids as a column holds it: space-separated, NULL for none.
pub(super) fn joined_ids(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids.join(" "))
}

pub(super) fn media_row(r: &PgRow) -> sqlx::Result<MediaRow> {
    Ok(MediaRow {
        id: r.try_get("id")?,
        uploader_id: r.try_get("uploader_id")?,
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        filename: r.try_get("filename")?,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        has_thumbnail: r.try_get("has_thumbnail")?,
        thumbnail_type: r.try_get("thumbnail_type")?,
        sha256: r.try_get("sha256")?,
        is_image: r.try_get("is_image")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn event_row(r: &PgRow) -> sqlx::Result<EventRow> {
    let kind: String = r.try_get("kind")?;
    Ok(EventRow {
        pos: r.try_get("pos")?,
        kind: EventKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        conversation_id: r.try_get("conversation_id")?,
        user_id: r.try_get("user_id")?,
        message_id: r.try_get("message_id")?,
        data: r.try_get("data")?,
        created_at: r.try_get("created_at")?,
    })
}

// ---- reads, alone or inside a read transaction ----

pub(super) async fn pruned_in(conn: &mut PgConnection) -> sqlx::Result<i64> {
    let pruned: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")
            .fetch_optional(conn)
            .await?;
    Ok(pruned.unwrap_or(0))
}

pub(super) async fn events_for_in(
    conn: &mut PgConnection,
    user_id: &str,
    after: i64,
    limit: u32,
) -> sqlx::Result<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT e.pos, e.kind, e.conversation_id, e.user_id, e.message_id, e.data, e.created_at \
         FROM events e \
         WHERE e.pos > $1 AND (e.user_id = $2 OR (e.user_id IS NULL AND EXISTS ( \
             SELECT 1 FROM members m WHERE m.conversation_id = e.conversation_id \
             AND m.user_id = $2 AND m.joined_pos < e.pos))) \
         ORDER BY e.pos LIMIT $3",
    )
    .bind(after)
    .bind(user_id)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(event_row).collect()
}

pub(super) async fn conversation_in(
    conn: &mut PgConnection,
    id: &str,
) -> sqlx::Result<Option<ConversationRow>> {
    let row = sqlx::query(
        "SELECT id, kind, name, created_at, last_message_at, last_seq, all_delivered_seq, all_read_seq \
         FROM conversations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(conversation_row).transpose()
}

pub(super) async fn member_in(
    conn: &mut PgConnection,
    conversation_id: &str,
    user_id: &str,
) -> sqlx::Result<Option<MemberRow>> {
    let row = sqlx::query(
        "SELECT user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq FROM members WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(member_row).transpose()
}

pub(super) async fn members_in(
    conn: &mut PgConnection,
    conversation_id: &str,
) -> sqlx::Result<Vec<MemberRow>> {
    let rows = sqlx::query(
        "SELECT user_id, role, joined_at, joined_seq, joined_pos, delivered_seq, read_seq FROM members WHERE conversation_id = $1 ORDER BY join_order",
    )
    .bind(conversation_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(member_row).collect()
}

pub(super) async fn message_in(
    conn: &mut PgConnection,
    id: &str,
    viewer: &str,
) -> sqlx::Result<Option<MessageRow>> {
    let row = sqlx::query(select_messages!("WHERE m.id = $2"))
        .bind(viewer)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(message_row).transpose()
}

/// A member's (`$1`) unread mentions in a conversation (`$2`) above its read mark (`$3`): a
/// range of the mentions' primary key, each checked against its message (not deleted, not
/// hidden for it).
const MENTION_COUNT: &str = "SELECT COUNT(*) FROM mentions n JOIN messages m ON m.id = n.message_id \
     WHERE n.user_id = $1 AND n.conversation_id = $2 AND n.seq > $3 AND m.deleted_at IS NULL \
       AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $1 AND h.message_id = m.id)";

pub(super) async fn view_in(
    conn: &mut PgConnection,
    conversation_id: &str,
    viewer: &str,
) -> StoreResult<Option<ConversationView>> {
    let Some(me) = member_in(conn, conversation_id, viewer).await? else {
        return Ok(None);
    };
    let Some(conversation) = conversation_in(conn, conversation_id).await? else {
        return Ok(None);
    };
    let members = members_in(conn, conversation_id).await?;
    let last_message = if conversation.last_seq > me.joined_seq {
        let row = sqlx::query(select_messages!(
            "WHERE m.conversation_id = $2 AND m.seq = $3"
        ))
        .bind(viewer)
        .bind(conversation_id)
        .bind(conversation.last_seq)
        .fetch_optional(&mut *conn)
        .await?;
        row.as_ref().map(message_row).transpose()?
    } else {
        None
    };
    let unread_count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages m \
         WHERE m.conversation_id = $1 AND m.seq > $2 AND m.sender_id <> $3 \
           AND m.deleted_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $3 AND h.message_id = m.id)",
    )
    .bind(conversation_id)
    .bind(me.marks.read_seq.max(me.joined_seq))
    .bind(viewer)
    .fetch_one(&mut *conn)
    .await?;
    let mention_count: i64 = sqlx::query_scalar(MENTION_COUNT)
        .bind(viewer)
        .bind(conversation_id)
        .bind(me.marks.read_seq.max(me.joined_seq))
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some(ConversationView {
        conversation,
        members,
        last_message,
        unread_count,
        read_seq: me.marks.read_seq,
        mention_count,
    }))
}
