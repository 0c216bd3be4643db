-- SQLite's WITHOUT ROWID tables are plain tables here (PostgreSQL has no rowid). SQLite's REAL is an 8-byte
-- float: it is DOUBLE PRECISION here (PostgreSQL's REAL has 4 bytes, too few for epoch seconds).

-- When the scheduler must next look at a subject (an open approval request, an invoice, a scheduled
-- workflow). A sweep reads only the rows due by now through the partial index, so its cost follows
-- the due work, not the size of the tables. NULL: nothing planned until the subject changes.
CREATE TABLE due_work (
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    next_due_at TEXT,
    spec TEXT,
    PRIMARY KEY (kind, subject_id)
);
CREATE INDEX due_work_by_time ON due_work (next_due_at) WHERE next_due_at IS NOT NULL;

-- Every action the scheduler performed, by idempotency key: claimed in the transaction that
-- performs it and queues its messages, so no action is ever performed twice.
CREATE TABLE performed_actions (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    due_at TEXT NOT NULL,
    performed_at TEXT NOT NULL
);

CREATE TABLE scheduler_settings (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Wall-clock second since which an attempt of unknown outcome may have delivered the item: set when
-- it is first claimed, kept through crashes, timeouts and server errors, cleared once it is sent (or
-- given back untried). A claimed item with it set is looked up in Slack before it is posted again.
ALTER TABLE outbox ADD COLUMN claimed_wall_s DOUBLE PRECISION;

-- Any change to a request or an invoice makes it due for planning again (at its own time stamp,
-- which is in the past): the next sweep plans it and stores its real next due time.
CREATE FUNCTION due_work_plan_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO due_work (kind, subject_id, next_due_at) VALUES ('approval', NEW.id, NEW.step_started_at)
    ON CONFLICT (kind, subject_id) DO UPDATE SET next_due_at = excluded.next_due_at;
    RETURN NULL;
END;
$$;

CREATE FUNCTION due_work_forget_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM due_work WHERE kind = 'approval' AND subject_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION due_work_plan_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO due_work (kind, subject_id, next_due_at) VALUES ('invoice', NEW.id, NEW.updated_at)
    ON CONFLICT (kind, subject_id) DO UPDATE SET next_due_at = excluded.next_due_at;
    RETURN NULL;
END;
$$;

CREATE FUNCTION due_work_forget_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM due_work WHERE kind = 'invoice' AND subject_id = OLD.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER due_work_request_added AFTER INSERT ON approval_requests
FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION due_work_plan_request();

CREATE TRIGGER due_work_request_changed AFTER UPDATE ON approval_requests
FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION due_work_plan_request();

CREATE TRIGGER due_work_request_closed AFTER UPDATE ON approval_requests
FOR EACH ROW WHEN (NEW.status <> 'pending') EXECUTE FUNCTION due_work_forget_request();

CREATE TRIGGER due_work_invoice_added AFTER INSERT ON records
FOR EACH ROW WHEN (NEW.type = 'invoice') EXECUTE FUNCTION due_work_plan_invoice();

CREATE TRIGGER due_work_invoice_changed AFTER UPDATE ON records
FOR EACH ROW WHEN (NEW.type = 'invoice') EXECUTE FUNCTION due_work_plan_invoice();

CREATE TRIGGER due_work_invoice_removed AFTER DELETE ON records
FOR EACH ROW WHEN (OLD.type = 'invoice') EXECUTE FUNCTION due_work_forget_invoice();

INSERT INTO due_work (kind, subject_id, next_due_at)
    SELECT 'approval', id, step_started_at FROM approval_requests WHERE status = 'pending';
INSERT INTO due_work (kind, subject_id, next_due_at)
    SELECT 'invoice', id, updated_at FROM records WHERE type = 'invoice';
