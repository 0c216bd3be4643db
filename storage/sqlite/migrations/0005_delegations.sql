CREATE TABLE delegations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    principal TEXT NOT NULL,
    delegate TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX delegations_by_delegate ON delegations (delegate, ends_at);
CREATE INDEX delegations_by_principal ON delegations (principal, ends_at);
