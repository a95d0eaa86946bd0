-- natter's schema on PostgreSQL: the final state of the SQLite migrations (0001-0004) in one
-- step. Times are milliseconds since the epoch, UTC. Ids and usernames compare byte-wise
-- (COLLATE "C"), as SQLite compares them, so that orders and prefix searches agree.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT
);

CREATE TABLE sessions (
    id             TEXT COLLATE "C" PRIMARY KEY,
    user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash     BYTEA NOT NULL UNIQUE,  -- SHA-256 of the token; the token is never stored
    device_name    TEXT,
    created_at     BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE conversations (
    id                TEXT COLLATE "C" PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name              TEXT,
    -- "<length of lower id>:<lower id>:<higher id>" for direct conversations: one per pair.
    direct_key        TEXT COLLATE "C" UNIQUE,
    created_at        BIGINT NOT NULL,
    last_message_at   BIGINT NOT NULL,
    last_seq          BIGINT NOT NULL DEFAULT 0,
    -- The status watermarks (kept so that they never move backwards) and the member count,
    -- which decides who hears of a member's marks.
    all_delivered_seq BIGINT NOT NULL DEFAULT 0,
    all_read_seq      BIGINT NOT NULL DEFAULT 0,
    member_count      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       BIGINT NOT NULL,
    join_order      BIGINT NOT NULL,     -- ranks members by how long they have stood
    joined_seq      BIGINT NOT NULL,     -- last_seq at joining: the member sees later seqs only
    joined_pos      BIGINT NOT NULL,     -- event log head at joining: sees later events only
    delivered_seq   BIGINT NOT NULL DEFAULT 0,
    read_seq        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members(user_id);
-- The lowest of these over a conversation's members is its watermark (natter_core::receipts).
CREATE INDEX members_delivered_watermark ON members (conversation_id, GREATEST(joined_seq, delivered_seq));
CREATE INDEX members_read_watermark ON members (conversation_id, GREATEST(joined_seq, read_seq));

CREATE TABLE media (
    id             TEXT COLLATE "C" PRIMARY KEY,
    uploader_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    filename       TEXT,
    width          BIGINT,
    height         BIGINT,
    has_thumbnail  BOOLEAN NOT NULL DEFAULT FALSE,
    thumbnail_type TEXT,                  -- content type of the thumbnail, if any
    sha256         TEXT NOT NULL,
    is_image       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);
CREATE INDEX media_by_sha256 ON media(sha256);
CREATE INDEX media_by_age ON media(created_at);
CREATE INDEX media_by_uploader ON media(uploader_id);

CREATE TABLE messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    sender_id       TEXT COLLATE "C" NOT NULL,
    client_id       TEXT COLLATE "C",
    kind            TEXT NOT NULL CHECK (kind IN ('text', 'image', 'file')),
    text            TEXT,                 -- NULL once deleted for everyone
    media_id        TEXT COLLATE "C" REFERENCES media(id) ON DELETE SET NULL,
    reply_to        TEXT COLLATE "C",
    created_at      BIGINT NOT NULL,
    edited_at       BIGINT,
    deleted_at      BIGINT,
    UNIQUE (conversation_id, seq)
);
-- Idempotent sends: one message per (conversation, sender, client_id).
CREATE UNIQUE INDEX messages_by_client_id
    ON messages(conversation_id, sender_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX messages_by_media ON messages(media_id) WHERE media_id IS NOT NULL;

-- Messages deleted "for me": hidden for one user only.
CREATE TABLE hidden_messages (
    user_id    TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, message_id)
);

-- Every move of a member's mark: answers "when did u receive / read message n".
CREATE TABLE mark_moves (
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('delivered', 'read')),
    up_to_seq       BIGINT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX mark_moves_by_member ON mark_moves(conversation_id, user_id, kind, up_to_seq);

-- The durable event log, the single source of sync. Message events hold a reference, never
-- the text. Positions are not a sequence: each writing transaction takes its positions from
-- event_head as its last statement before COMMIT, holding that row's lock until it commits, so
-- positions are allocated in commit order and without gaps (docs/design/event-order.md).
CREATE TABLE events (
    pos             BIGINT PRIMARY KEY,
    kind            TEXT NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C",     -- set: for this user only; else for the members
    message_id      TEXT COLLATE "C",
    data            TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_by_conversation ON events(conversation_id, pos);
CREATE INDEX events_by_user ON events(user_id, pos) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_time ON events(created_at);

-- The position of the newest event ever appended (pruning does not lower it): one row.
CREATE TABLE event_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    pos BIGINT NOT NULL
);
INSERT INTO event_head (id, pos) VALUES (1, 0);

-- Small facts about the server's own state, such as how far the event log has been pruned.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
