-- The people whose App Home tab was published by any process: a change republishes their Home, whichever
-- process makes the change.
CREATE TABLE home_users (
    user_id TEXT PRIMARY KEY,
    first_at TEXT NOT NULL
);
