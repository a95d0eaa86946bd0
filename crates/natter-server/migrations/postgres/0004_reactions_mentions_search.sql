-- Reactions, mentions and search (SQLite's 0007).
CREATE TABLE reactions (
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji      TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE INDEX reactions_by_time ON reactions(message_id, created_at, user_id, emoji);

ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE TABLE mentions (
    user_id         TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    message_id      TEXT COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, conversation_id, seq)
);
CREATE INDEX mentions_by_message ON mentions(message_id);

-- Search: the words natter_core::search makes of the text, as a tsvector built from them
-- (array_to_tsvector: no parser, no dictionary), so both engines find the same messages.
-- NULL once deleted for everyone.
ALTER TABLE messages ADD COLUMN search tsvector;
CREATE INDEX messages_search ON messages USING GIN (search);
-- Messages stored before the index existed: the store indexes them when it opens.
CREATE TABLE message_search_backlog (message_id TEXT COLLATE "C" PRIMARY KEY);
INSERT INTO message_search_backlog (message_id)
    SELECT id FROM messages WHERE text IS NOT NULL AND deleted_at IS NULL;
