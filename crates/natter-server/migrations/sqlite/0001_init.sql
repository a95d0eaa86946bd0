-- natter's schema on SQLite. Times are milliseconds since the epoch, UTC.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER
);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash     BLOB NOT NULL UNIQUE,  -- SHA-256 of the token; the token is never stored
    device_name    TEXT,
    created_at     INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name            TEXT,
    -- "<length of lower id>:<lower id>:<higher id>" for direct conversations: one per pair.
    direct_key      TEXT UNIQUE,
    created_at      INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL,
    last_seq        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       INTEGER NOT NULL,
    join_order      INTEGER NOT NULL,     -- ranks members by how long they have stood
    joined_seq      INTEGER NOT NULL,     -- last_seq at joining: the member sees later seqs only
    joined_pos      INTEGER NOT NULL,     -- event log head at joining: sees later events only
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members(user_id);

CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    uploader_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    filename      TEXT,
    width         INTEGER,
    height        INTEGER,
    has_thumbnail INTEGER NOT NULL DEFAULT 0,
    thumbnail_type TEXT,                  -- content type of the thumbnail, if any
    sha256        TEXT NOT NULL,
    is_image      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX media_by_sha256 ON media(sha256);
CREATE INDEX media_by_age ON media(created_at);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    sender_id       TEXT NOT NULL,
    client_id       TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('text', 'image', 'file')),
    text            TEXT,                 -- NULL once deleted for everyone
    media_id        TEXT REFERENCES media(id) ON DELETE SET NULL,
    reply_to        TEXT,
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted_at      INTEGER,
    UNIQUE (conversation_id, seq)
);
-- Idempotent sends: one message per (conversation, sender, client_id).
CREATE UNIQUE INDEX messages_by_client_id
    ON messages(conversation_id, sender_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX messages_by_media ON messages(media_id) WHERE media_id IS NOT NULL;

-- Messages deleted "for me": hidden for one user only.
CREATE TABLE hidden_messages (
    user_id    TEXT NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, message_id)
);

-- Every move of a member's mark: answers "when did u receive / read message n".
CREATE TABLE mark_moves (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('delivered', 'read')),
    up_to_seq       INTEGER NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX mark_moves_by_member ON mark_moves(conversation_id, user_id, kind, up_to_seq);

-- The durable event log, the single source of sync. Positions are allocated by the single
-- writer in commit order. Message events hold a reference, never the text.
CREATE TABLE events (
    pos             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    user_id         TEXT,                 -- set: for this user only; else for the members
    message_id      TEXT,
    data            TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX events_by_conversation ON events(conversation_id, pos);
CREATE INDEX events_by_user ON events(user_id, pos) WHERE user_id IS NOT NULL;

-- Small facts about the server's own state, such as how far the event log has been pruned.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE INDEX events_by_time ON events(created_at);
