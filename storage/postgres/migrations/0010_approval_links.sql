-- Approval by e-mail. A link is a random 256-bit token of which only the SHA-256 is kept, bound to one
-- seat (request, step, approver) and one decision; it expires, and using one link of a seat uses them all
-- (a compare-and-set on used_at in the transaction that counts the vote).
CREATE TABLE approval_links (
    token_hash TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES approval_requests (id),
    step_index INTEGER NOT NULL,
    approver TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    email TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX approval_links_by_seat ON approval_links (request_id, step_index, approver);

-- What users.lookupByEmail said about an approver's e-mail: their Slack user, or none (user_id NULL).
-- Looked up again once expired; a known user keeps the e-mail as one of their identities meanwhile.
CREATE TABLE slack_identities (
    email TEXT PRIMARY KEY,
    user_id TEXT,
    checked_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX slack_identities_by_user ON slack_identities (user_id);
