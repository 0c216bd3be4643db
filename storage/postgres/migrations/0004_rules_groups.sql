-- group_members is read in SQLite's rowid order (ORDER BY g.name, m.rowid): here that implicit column is an
-- explicit identity column named rowid, in insertion order as SQLite's is.
CREATE TABLE rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX rules_by_status ON rules (status, created_at);

-- One row per record field a rule filled or suggested: enough to show it and to undo it exactly.
-- previous is the JSON of the value before the pre-fill, NULL when the custom field did not exist.
CREATE TABLE prefills (
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    value TEXT NOT NULL,
    previous TEXT,
    competing TEXT NOT NULL DEFAULT '[]',
    is_suggestion INTEGER NOT NULL DEFAULT 0,
    chosen_by TEXT,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (record_type, record_id, field)
);
CREATE INDEX prefills_by_rule ON prefills (rule_id);

CREATE TABLE contact_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('auto', 'added', 'removed')),
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (group_id, source, member_id)
);
CREATE INDEX group_members_by_member ON group_members (member_id);
