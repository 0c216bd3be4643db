-- A write whose number of changed rows is checked (a compare-and-set) is sent with the transaction's COMMIT, in
-- one round trip: it counts its rows in SQL and fails there when the count is wrong, so the COMMIT that follows
-- it never commits. The tag names the write in the error, so the store raises that write's own error.
CREATE FUNCTION signoff_expect_rows(changed bigint, expected bigint, tag integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF changed <> expected THEN
        RAISE EXCEPTION 'a checked write changed % rows, not %', changed, expected
            USING ERRCODE = 'SG001', DETAIL = tag::text;
    END IF;
    RETURN changed;
END
$$;
