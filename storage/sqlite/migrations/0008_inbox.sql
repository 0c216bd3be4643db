-- Verified Slack requests, committed before they are acknowledged.
-- `identity` (the request signature, Slack's event id or a Socket Mode envelope id) refuses a replay,
-- whichever process it reaches. Rows with work (`queued`) are leased by one process at a time
-- (`lease_owner`, `lease_until` in wall-clock epoch seconds) and become `done` in the transaction that
-- commits their effects; `seen` rows only remember an identity whose work ran before its answer.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identity TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL,
    received_s REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    done_s REAL,
    last_error TEXT
);
CREATE INDEX inbox_open ON inbox (lease_until) WHERE status = 'queued';
CREATE INDEX inbox_received ON inbox (received_s);
-- A dead letter put back in the queue by an admin: its delivery horizon counts from then.
ALTER TABLE outbox ADD COLUMN requeued_at TEXT;
