-- When a customer or vendor changes (its fields, or the groups it is in), the pre-fills of its not-yet-approved
-- documents follow: those documents are found by contact.
CREATE INDEX records_by_customer ON records ((data::jsonb ->> 'customer'));
CREATE INDEX records_by_vendor ON records ((data::jsonb ->> 'vendor'));
