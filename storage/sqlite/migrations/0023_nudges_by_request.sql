-- The sweep reads when each open request was last reminded or escalated (a reminder owed by the timetable
-- waits when one was sent late, so that approvers are not reminded twice in a row): by request.
CREATE INDEX performed_actions_subject ON performed_actions (subject_id, kind);
