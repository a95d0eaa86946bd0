-- Blocking (SQLite's 0006): `blocker_id` blocked `blocked_id`. The primary key answers "whom did
-- this user block" and "did A block B"; the index on blocked_id "who blocked this user".
CREATE TABLE blocks (
    blocker_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_by_blocked ON blocks(blocked_id, blocker_id);
