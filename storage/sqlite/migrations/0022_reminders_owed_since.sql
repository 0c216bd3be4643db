-- Payment reminders are owed from when their settings were saved: settings saved before this version count as
-- saved now, so the upgrade sends no reminder of the past to every open invoice.
UPDATE scheduler_settings
SET data = json_set(data, '$.since', strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00')
WHERE name = 'invoice_reminders' AND json_extract(data, '$.since') IS NULL;
