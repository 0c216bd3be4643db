-- The archive of closed approvals. Once a document's last request has been decided for longer than
-- SIGNOFF_ARCHIVE_AFTER and none is pending, its closed requests, their votes, its runs and the audit lines of
-- the document and of those requests move out of the live tables into a part: the documents archived by one
-- transaction, as one zlib-compressed JSON blob (with a preset dictionary kept here). Reads of requests, runs
-- and the audit trail look in the live tables and in the parts; the Slack message references of archived
-- requests are dropped (their cards are never updated again).
CREATE TABLE archived_parts (
    part INTEGER PRIMARY KEY,
    dictionary INTEGER NOT NULL,
    packed BLOB NOT NULL
);

-- The preset dictionaries the parts are compressed with, made once from the first part.
CREATE TABLE archive_dictionaries (
    id INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);

-- Which parts hold what: a document (its type and id), a request ('request', id) or a run ('run', id).
CREATE TABLE archived_subjects (
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    PRIMARY KEY (subject_type, subject_id, part)
) WITHOUT ROWID;

-- Archived runs, newest first, by workflow: the span of run numbers (seq) one part holds of one workflow.
CREATE TABLE archived_runs (
    workflow_id TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    part INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, last_seq)
) WITHOUT ROWID;
CREATE INDEX archived_runs_by_seq ON archived_runs (last_seq);

-- The audit trail stays append-only: a line may leave the table only once its subject has been archived.
DROP TRIGGER audit_is_append_only_delete;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
WHEN NOT EXISTS (SELECT 1 FROM archived_subjects s WHERE s.subject_type = OLD.subject_type
                 AND s.subject_id = OLD.subject_id)
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

-- Closed requests are found by when they were decided.
DROP INDEX requests_by_status;
CREATE INDEX requests_by_status ON approval_requests (status, decided_at);

-- A person's documents, newest first, read backwards from an index that new documents append to.
DROP INDEX records_by_creator;
CREATE INDEX records_by_creator ON records (json_extract(data, '$.created_by'), created_at, id);
