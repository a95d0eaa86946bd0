-- Accounts: admins, and for later disabled and deleted users; invites (SQLite's 0005).
ALTER TABLE users ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;

-- A server that had users before admins existed: its first user is its first admin.
UPDATE users SET admin = TRUE
 WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);

-- An invite lets `uses_left` more people register until `expires_at`. Revoking deletes it.
CREATE TABLE invites (
    code       TEXT COLLATE "C" PRIMARY KEY,
    creator_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    uses_left  BIGINT NOT NULL CHECK (uses_left >= 0),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX invites_by_creator ON invites(creator_id, created_at);
