-- One row that the health check rewrites to prove that a write can commit, after writes failed
-- for want of storage.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
