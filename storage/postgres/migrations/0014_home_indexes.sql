-- Who each pending request waits on (the approvers of its current step), kept by every write of a request,
-- so a person's tasks are found from their own rows, not by reading every request's steps.
-- (SQLite's INSERT OR IGNORE also skips a JSON null approver: hence ON CONFLICT DO NOTHING and IS NOT NULL.)
CREATE TABLE request_approvers (
    approver TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (approver, request_id)
);
CREATE INDEX request_approvers_by_request ON request_approvers (request_id);
INSERT INTO request_approvers (approver, request_id)
SELECT a.value, r.id
FROM approval_requests AS r
CROSS JOIN LATERAL jsonb_array_elements(r.steps::jsonb) AS s (value)
CROSS JOIN LATERAL jsonb_array_elements_text(s.value -> 'approvers') AS a (value)
WHERE r.status = 'pending' AND s.value -> 'index' = to_jsonb(r.current_step) AND a.value IS NOT NULL
ON CONFLICT DO NOTHING;
-- A person's own documents, newest first.
CREATE INDEX records_by_creator ON records ((data::jsonb ->> 'created_by'), created_at DESC, id);
