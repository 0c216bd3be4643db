-- Payment reminders are owed from when their settings were saved: settings saved before this version count as
-- saved now, so the upgrade sends no reminder of the past to every open invoice.
UPDATE scheduler_settings
SET data = jsonb_set(data::jsonb, '{since}',
                     to_jsonb(to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'))::text
WHERE name = 'invoice_reminders' AND data::jsonb -> 'since' IS NULL;
