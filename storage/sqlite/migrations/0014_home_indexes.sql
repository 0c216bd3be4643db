-- Who each pending request waits on (the approvers of its current step), kept by every write of a request,
-- so a person's tasks are found from their own rows, not by reading every request's steps.
CREATE TABLE request_approvers (
    approver TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (approver, request_id)
) WITHOUT ROWID;
CREATE INDEX request_approvers_by_request ON request_approvers (request_id);
INSERT OR IGNORE INTO request_approvers (approver, request_id)
SELECT a.value, r.id FROM approval_requests r, json_each(r.steps) s, json_each(s.value, '$.approvers') a
WHERE r.status = 'pending' AND json_extract(s.value, '$.index') = r.current_step;
-- A person's own documents, newest first.
CREATE INDEX records_by_creator ON records (json_extract(data, '$.created_by'), created_at DESC, id);
