-- Every write to the workflows table, whoever makes it (the bot, `signoff workflows apply` in another
-- process), bumps this one row in the same transaction. A running bot compares it with the version it
-- last loaded and reloads its scheduled workflows and cron jobs, so a change takes effect without a restart.
CREATE TABLE workflows_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
INSERT INTO workflows_version (id, version, changed_at)
VALUES (1, 1, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00');

CREATE TRIGGER workflows_version_added AFTER INSERT ON workflows
BEGIN
    UPDATE workflows_version SET version = version + 1, changed_at = NEW.updated_at WHERE id = 1;
END;

CREATE TRIGGER workflows_version_changed AFTER UPDATE ON workflows
BEGIN
    UPDATE workflows_version SET version = version + 1, changed_at = NEW.updated_at WHERE id = 1;
END;

CREATE TRIGGER workflows_version_removed AFTER DELETE ON workflows
BEGIN
    UPDATE workflows_version SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00' WHERE id = 1;
END;

-- One meaning of enabled: an enabled workflow is live. A draft that an admin enabled is published;
-- a draft that was never enabled is stored as disabled.
UPDATE workflows SET data = json_set(data, '$.status', 'published')
WHERE json_extract(data, '$.status') = 'draft' AND json_extract(data, '$.enabled') = 1
  AND id IN (SELECT subject_id FROM audit WHERE subject_type = 'workflow' AND action = 'workflow_enabled');
UPDATE workflows SET data = json_set(data, '$.enabled', json('false'))
WHERE json_extract(data, '$.status') = 'draft' AND json_extract(data, '$.enabled') = 1;

-- Run history also tells the story of approvals: started, each decision (by whom, for whom, why),
-- forced approvals, escalations, expiry and cancellation. `event` is `actions` for a workflow's actions.
ALTER TABLE workflow_runs ADD COLUMN event TEXT NOT NULL DEFAULT 'actions';
ALTER TABLE workflow_runs ADD COLUMN request_id TEXT;
ALTER TABLE workflow_runs ADD COLUMN actor TEXT;
ALTER TABLE workflow_runs ADD COLUMN on_behalf_of TEXT;
ALTER TABLE workflow_runs ADD COLUMN decision TEXT;
ALTER TABLE workflow_runs ADD COLUMN reason TEXT;
ALTER TABLE workflow_runs ADD COLUMN step INTEGER;
