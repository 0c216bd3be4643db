-- Correct by the database, whatever the number of processes on it:
-- A request's version is bumped by every update; an update names the version it read (compare-and-set),
-- so two units of work that read the same request never both write it.
ALTER TABLE approval_requests ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Who holds an outbox item's lease: marking it sent, retried, dead or given back needs the same owner.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;

-- A sweep leases the due rows it handles until it stores their next due time (or the lease ends), so two
-- sweeps never handle one subject at the same time. `lease_until` is a stored time stamp, as next_due_at.
ALTER TABLE due_work ADD COLUMN lease_owner TEXT;
ALTER TABLE due_work ADD COLUMN lease_until TEXT;

-- The test clock's offset from real time (microseconds), shared by every process on the database.
-- BIGINT: SQLite's INTEGER has 8 bytes, and more than 36 minutes in microseconds overflow PostgreSQL's 4.
CREATE TABLE shared_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset_us BIGINT NOT NULL
);
