-- Every write to the workflows table, whoever makes it (the bot, `signoff workflows apply` in another
-- process), bumps this one row in the same transaction. A running bot compares it with the version it
-- last loaded and reloads its scheduled workflows and cron jobs, so a change takes effect without a restart.
CREATE TABLE workflows_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
INSERT INTO workflows_version (id, version, changed_at)
VALUES (1, 1, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00');

CREATE FUNCTION workflows_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workflows_version SET version = version + 1, changed_at = CASE TG_OP
        WHEN 'DELETE' THEN to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'
        ELSE NEW.updated_at END
    WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER workflows_version_added AFTER INSERT ON workflows
FOR EACH ROW EXECUTE FUNCTION workflows_version_bump();

CREATE TRIGGER workflows_version_changed AFTER UPDATE ON workflows
FOR EACH ROW EXECUTE FUNCTION workflows_version_bump();

CREATE TRIGGER workflows_version_removed AFTER DELETE ON workflows
FOR EACH ROW EXECUTE FUNCTION workflows_version_bump();

-- One meaning of enabled: an enabled workflow is live. A draft that an admin enabled is published;
-- a draft that was never enabled is stored as disabled. (SQLite's json_extract(data, '$.enabled') = 1
-- holds for JSON true and for the number 1.)
UPDATE workflows SET data = jsonb_set(data::jsonb, '{status}', '"published"')::text
WHERE data::jsonb ->> 'status' = 'draft' AND data::jsonb -> 'enabled' IN ('true', '1')
  AND id IN (SELECT subject_id FROM audit WHERE subject_type = 'workflow' AND action = 'workflow_enabled');
UPDATE workflows SET data = jsonb_set(data::jsonb, '{enabled}', 'false')::text
WHERE data::jsonb ->> 'status' = 'draft' AND data::jsonb -> 'enabled' IN ('true', '1');

-- Run history also tells the story of approvals: started, each decision (by whom, for whom, why),
-- forced approvals, escalations, expiry and cancellation. `event` is `actions` for a workflow's actions.
ALTER TABLE workflow_runs ADD COLUMN event TEXT NOT NULL DEFAULT 'actions';
ALTER TABLE workflow_runs ADD COLUMN request_id TEXT;
ALTER TABLE workflow_runs ADD COLUMN actor TEXT;
ALTER TABLE workflow_runs ADD COLUMN on_behalf_of TEXT;
ALTER TABLE workflow_runs ADD COLUMN decision TEXT;
ALTER TABLE workflow_runs ADD COLUMN reason TEXT;
ALTER TABLE workflow_runs ADD COLUMN step INTEGER;
