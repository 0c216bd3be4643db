-- Delivered items are deleted after the retention (SIGNOFF_OUTBOX_RETENTION): found by when they were sent.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE status = 'sent';
