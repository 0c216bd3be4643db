CREATE TABLE records (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    approval_status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE INDEX records_by_status ON records (approval_status, type);

CREATE TABLE contacts (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE workflows (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    requester TEXT,
    status TEXT NOT NULL,
    current_step INTEGER NOT NULL,
    steps TEXT NOT NULL,
    created_at TEXT NOT NULL,
    step_started_at TEXT NOT NULL,
    decided_at TEXT,
    reason TEXT
);
CREATE INDEX requests_by_record ON approval_requests (record_type, record_id);
CREATE INDEX requests_by_status ON approval_requests (status);

CREATE TABLE votes (
    request_id TEXT NOT NULL REFERENCES approval_requests (id),
    step_index INTEGER NOT NULL,
    approver TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT,
    acted_by TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (request_id, step_index, approver)
);

CREATE TABLE slack_messages (
    request_id TEXT NOT NULL REFERENCES approval_requests (id),
    step_index INTEGER NOT NULL,
    user_id TEXT,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    PRIMARY KEY (channel, ts)
);
CREATE INDEX slack_messages_by_request ON slack_messages (request_id);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_subject ON audit (subject_type, subject_id, seq);

CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
