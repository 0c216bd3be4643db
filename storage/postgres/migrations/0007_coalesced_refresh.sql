-- A message refresh re-renders the request's current state when it is sent, so one still queued
-- for a request makes another one redundant: enqueue looks it up through this partial index.
CREATE INDEX outbox_queued_by_target ON outbox (kind, target) WHERE status = 'queued';
