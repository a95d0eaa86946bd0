-- Blocking: `blocker_id` blocked `blocked_id`. Neither can then open or send into their direct
-- conversation, and the blocked one receives none of the blocker's typing or presence and
-- does not find it in user search. The primary key answers "whom did this user block" and
-- "did A block B"; the index on blocked_id answers "who blocked this user".
CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks(blocked_id, blocker_id);
