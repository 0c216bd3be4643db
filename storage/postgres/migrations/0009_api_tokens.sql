-- Bearer tokens of the REST API, each with a role (admin, integration, read). Only the SHA-256 of a
-- token is kept: a request's token is hashed and looked up, so the table never holds a usable secret.
-- Revoked tokens stay listed (revoked_at) and are refused; names are never reused.
CREATE TABLE api_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'integration', 'read')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
