-- Reaching people who are not looking (SQLite's 0008): Web Push subscriptions, notification
-- settings and mutes, webhooks, and the durable positions ("followers") of the tasks that
-- deliver them from the event log. Times are milliseconds since the epoch, UTC.

-- Keys the server makes once and keeps (the VAPID key pair among them): the first stored wins.
CREATE TABLE server_keys (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);

-- A browser's push subscription, bound to the session that registered it: one per session
-- and one per endpoint. Revoking or expiring the session deletes it (cascade).
CREATE TABLE push_subscriptions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
    endpoint   TEXT COLLATE "C" NOT NULL UNIQUE,
    p256dh     BYTEA NOT NULL,
    auth       BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id, created_at);

-- A user's notification settings, once changed; the defaults apply without a row.
CREATE TABLE notification_settings (
    user_id             TEXT COLLATE "C" PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    previews            BOOLEAN NOT NULL,
    mentions_when_muted BOOLEAN NOT NULL,
    dnd_until           BIGINT
);

-- A member's mute of a conversation, until `until`. A member that leaves (its members row is
-- deleted) loses its mute. members' primary key is (conversation_id, user_id).
CREATE TABLE mutes (
    conversation_id TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" NOT NULL,
    until           BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id),
    FOREIGN KEY (conversation_id, user_id)
        REFERENCES members(conversation_id, user_id) ON DELETE CASCADE
);
CREATE INDEX mutes_by_user ON mutes(user_id);

-- A user's (a bot's) HTTP endpoint receiving the durable events of one conversation (or of
-- all its conversations when conversation_id is NULL).
CREATE TABLE webhooks (
    id              TEXT COLLATE "C" PRIMARY KEY,
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id TEXT COLLATE "C" REFERENCES conversations(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    failed_at       BIGINT
);
CREATE INDEX webhooks_by_user ON webhooks(user_id, created_at);
CREATE INDEX webhooks_by_conversation ON webhooks(conversation_id) WHERE conversation_id IS NOT NULL;

-- A task that follows the event log: how far it got, and which node holds it until when.
-- A webhook's follower (`webhook:<id>`) goes with its webhook.
CREATE TABLE followers (
    name        TEXT COLLATE "C" PRIMARY KEY,
    pos         BIGINT NOT NULL,
    holder      TEXT COLLATE "C" NOT NULL,
    lease_until BIGINT NOT NULL,
    webhook_id  TEXT COLLATE "C" REFERENCES webhooks(id) ON DELETE CASCADE
);
CREATE INDEX followers_by_webhook ON followers(webhook_id) WHERE webhook_id IS NOT NULL;

-- The events a webhook gave up delivering, by position.
CREATE TABLE webhook_dead_letters (
    webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    pos        BIGINT NOT NULL,
    body       TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    failed_at  BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, pos)
);
