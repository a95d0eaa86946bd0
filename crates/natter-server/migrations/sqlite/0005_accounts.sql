-- Accounts: admins, and for later disabled and deleted users; invites.
ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;

-- A server that had users before admins existed: its first user is its first admin, as it
-- would have been.
UPDATE users SET admin = 1
 WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);

-- An invite lets `uses_left` more people register until `expires_at`. Revoking deletes it.
CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX invites_by_creator ON invites(creator_id, created_at);
