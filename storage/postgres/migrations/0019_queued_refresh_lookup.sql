-- A coalesced refresh looks for one of its kind and target still queued and already due: with the due time
-- in the partial index, that lookup no longer reads through every queued item due by now.
DROP INDEX outbox_queued_by_target;
CREATE INDEX outbox_queued_by_target ON outbox (kind, target, not_before) WHERE status = 'queued';
