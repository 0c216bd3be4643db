-- Run history: one row per workflow that fired on a record, with the actions it took.
CREATE TABLE workflow_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL,
    workflow_name TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    cause TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actions TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, seq);
CREATE INDEX workflow_runs_by_record ON workflow_runs (record_type, record_id, seq);

-- Reminder tasks given to people (or channels) by reminder actions; the App Home lists the open ones.
CREATE TABLE reminder_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES workflow_runs (id),
    assignee TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX reminder_tasks_by_assignee ON reminder_tasks (assignee, done_at, id);

-- The one company this installation serves; defaults_seeded_at marks the default workflows as given once.
CREATE TABLE company (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL DEFAULT '',
    defaults_seeded_at TEXT
);
INSERT INTO company (id, name, defaults_seeded_at)
VALUES (1, '', strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00');

-- A new company starts with two enabled defaults (catalog: bill-payment-reminder, unsent-invoice-reminder).
INSERT INTO workflows (id, record_type, data, created_at, updated_at)
SELECT 'wf_default_bill_payment_reminder', 'bill',
       json_set('{"actions":[{"message":"Bill {{ record.id }} from {{ contact.name or record.customer or record.vendor }} for {{ record.balance | money(record.currency) }} is due {{ record.due_date | day }}.","to":["group:finance-team"],"type":"reminder"}],"conditions":[{"field":"due_date","op":"due_within_days","value":3},{"field":"balance","op":"gt","value":"0"}],"description":"Every weekday morning, reminds the team of bills due within 3 days.","enabled":true,"id":"wf_default_bill_payment_reminder","name":"Bill payment reminder","record_type":"bill","schedule":"0 9 * * 1-5","status":"published","trigger":"scheduled","trigger_fields":[]}', '$.created_at', now, '$.updated_at', now), now, now
FROM (SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00' AS now);

INSERT INTO workflows (id, record_type, data, created_at, updated_at)
SELECT 'wf_default_unsent_invoice_reminder', 'invoice',
       json_set('{"actions":[{"message":"Invoice {{ record.id }} to {{ contact.name or record.customer or record.vendor }} for {{ record.amount | money(record.currency) }} has not been sent yet.","to":["group:finance-team"],"type":"reminder"}],"conditions":[{"field":"email_status","op":"eq","value":"not_sent"},{"field":"status","op":"eq","value":"open"},{"field":"created_at","op":"days_since_at_least","value":1}],"description":"Every weekday morning, reminds the team of open invoices created a day or more ago and not yet sent.","enabled":true,"id":"wf_default_unsent_invoice_reminder","name":"Unsent invoice reminder","record_type":"invoice","schedule":"0 9 * * 1-5","status":"published","trigger":"scheduled","trigger_fields":[]}', '$.created_at', now, '$.updated_at', now), now, now
FROM (SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00' AS now);
