-- Reactions: one per (message, emoji, member). The primary key counts a message's reactions
-- by emoji and answers "did this member react so"; the index lists who reacted, oldest first.
CREATE TABLE reactions (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;
CREATE INDEX reactions_by_time ON reactions(message_id, created_at, user_id, emoji);

-- Mentions: the members a message's text mentions, as it renders them (space-separated ids),
-- and one row per mentioned member, to count a member's unread mentions per conversation.
ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE TABLE mentions (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    message_id      TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, conversation_id, seq)
) WITHOUT ROWID;
CREATE INDEX mentions_by_message ON mentions(message_id);

-- Search. The full-text index holds the words natter_core::search makes of each message's
-- text (folded, joined by spaces; the `ascii` tokeniser takes them as they are). Its external
-- content is message_search_ids, keyed by an integer of its own: the messages' rowids are not
-- stable (VACUUM may renumber a table without an INTEGER PRIMARY KEY). Rows leave the index
-- by FTS5's 'delete' command with the words they were indexed with, and 'secure-delete' makes
-- that remove them from the index's pages for good: a message deleted for everyone leaves no
-- word of it behind.
CREATE TABLE message_search_ids (
    id         INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    words      TEXT NOT NULL
);
CREATE VIRTUAL TABLE message_search USING fts5(
    words, content = 'message_search_ids', content_rowid = 'id', tokenize = 'ascii'
);
INSERT INTO message_search (message_search, rank) VALUES ('secure-delete', 1);
-- Messages stored before the index existed: the store indexes them when it opens.
CREATE TABLE message_search_backlog (message_id TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO message_search_backlog (message_id)
    SELECT id FROM messages WHERE text IS NOT NULL AND deleted_at IS NULL;
