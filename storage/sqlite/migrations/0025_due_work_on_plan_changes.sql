-- An open request is planned again only when what its timetable depends on changes (its status, step, the step's
-- start or its approvers), not on every vote: a vote that leaves the step open changes no due time.
DROP TRIGGER due_work_request_changed;
CREATE TRIGGER due_work_request_changed AFTER UPDATE ON approval_requests WHEN NEW.status = 'pending' AND (
    OLD.status IS NOT NEW.status OR OLD.current_step IS NOT NEW.current_step
    OR OLD.step_started_at IS NOT NEW.step_started_at OR OLD.steps IS NOT NEW.steps
    OR OLD.created_at IS NOT NEW.created_at OR OLD.workflow_id IS NOT NEW.workflow_id)
BEGIN
    INSERT INTO due_work (kind, subject_id, next_due_at) VALUES ('approval', NEW.id, NEW.step_started_at)
    ON CONFLICT (kind, subject_id) DO UPDATE SET next_due_at = excluded.next_due_at;
END;
