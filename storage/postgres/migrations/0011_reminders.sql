-- A person's reminder of a document by a workflow ends when the document stops matching the workflow;
-- until then Done (done_at) keeps it dismissed and no new one is made.
ALTER TABLE reminder_tasks ADD COLUMN ended_at TEXT;
UPDATE reminder_tasks SET ended_at = created_at
WHERE id NOT IN (SELECT max(id) FROM reminder_tasks GROUP BY assignee, workflow_id, record_type, record_id);
CREATE INDEX reminder_tasks_live ON reminder_tasks (workflow_id, record_type, record_id, assignee)
WHERE ended_at IS NULL;

-- The default unsent-invoice reminder considers only invoices that may be sent (approved or needing no approval).
UPDATE workflows
SET data = jsonb_set(data::jsonb, '{conditions}',
                     coalesce(data::jsonb -> 'conditions', '[]'::jsonb)
                     || jsonb_build_array('{"field":"approval_status","op":"in","value":["none","approved"]}'::jsonb))::text
WHERE id = 'wf_default_unsent_invoice_reminder'
  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(workflows.data::jsonb -> 'conditions') AS c (value)
                  WHERE c.value ->> 'field' = 'approval_status');
