-- An open request is planned again only when what its timetable depends on changes (its status, step, the step's
-- start or its approvers), not on every vote: a vote that leaves the step open changes no due time.
DROP TRIGGER due_work_request_changed ON approval_requests;
CREATE TRIGGER due_work_request_changed AFTER UPDATE ON approval_requests
FOR EACH ROW WHEN (NEW.status = 'pending' AND (
    OLD.status IS DISTINCT FROM NEW.status OR OLD.current_step IS DISTINCT FROM NEW.current_step
    OR OLD.step_started_at IS DISTINCT FROM NEW.step_started_at OR OLD.steps IS DISTINCT FROM NEW.steps
    OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.workflow_id IS DISTINCT FROM NEW.workflow_id))
EXECUTE FUNCTION due_work_plan_request();
