-- Reaching people who are not looking: Web Push subscriptions, notification settings and
-- mutes, webhooks, and the durable positions ("followers") of the tasks that deliver them
-- from the event log. Times are milliseconds since the epoch, UTC.

-- Keys the server makes once and keeps (the VAPID key pair among them): the first stored wins.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- A browser's push subscription, bound to the session that registered it: one per session
-- and one per endpoint. Revoking or expiring the session deletes it (cascade).
CREATE TABLE push_subscriptions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     BLOB NOT NULL,
    auth       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id, created_at);

-- A user's notification settings, once changed; the defaults apply without a row.
CREATE TABLE notification_settings (
    user_id             TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    previews            INTEGER NOT NULL,
    mentions_when_muted INTEGER NOT NULL,
    dnd_until           INTEGER
);

-- A member's mute of a conversation, until `until`. A member that leaves (its members row is
-- deleted) loses its mute.
CREATE TABLE mutes (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    until           INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id),
    FOREIGN KEY (conversation_id, user_id)
        REFERENCES members(conversation_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX mutes_by_user ON mutes(user_id);

-- A user's (a bot's) HTTP endpoint receiving the durable events of one conversation (or of
-- all its conversations when conversation_id is NULL).
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT,
    failed_at       INTEGER
);
CREATE INDEX webhooks_by_user ON webhooks(user_id, created_at);
CREATE INDEX webhooks_by_conversation ON webhooks(conversation_id) WHERE conversation_id IS NOT NULL;

-- A task that follows the event log: how far it got, and which node holds it until when.
-- A webhook's follower (`webhook:<id>`) goes with its webhook.
CREATE TABLE followers (
    name        TEXT PRIMARY KEY,
    pos         INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    webhook_id  TEXT REFERENCES webhooks(id) ON DELETE CASCADE
);
CREATE INDEX followers_by_webhook ON followers(webhook_id) WHERE webhook_id IS NOT NULL;

-- The events a webhook gave up delivering, by position.
CREATE TABLE webhook_dead_letters (
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    pos        INTEGER NOT NULL,
    body       TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    failed_at  INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, pos)
) WITHOUT ROWID;
