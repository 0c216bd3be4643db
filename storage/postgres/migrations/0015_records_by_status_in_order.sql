-- Documents of one approval status in (type, id) order: a list page reads only its own rows, at any depth.
DROP INDEX records_by_status;
CREATE INDEX records_by_status ON records (approval_status, type, id);
