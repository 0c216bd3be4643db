-- When a step is settled without a seat that was e-mailed links, that seat is told once: `told_at` records it.
ALTER TABLE approval_links ADD COLUMN told_at TEXT;
CREATE INDEX approval_links_untold ON approval_links (request_id) WHERE used_at IS NULL AND told_at IS NULL;
