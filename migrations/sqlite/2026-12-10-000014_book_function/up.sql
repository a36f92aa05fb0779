-- PostgreSQL's booking function (one round trip for a booking); SQLite is in the process and
-- has no round trips to save. Kept so both backends list the same migrations.
SELECT 1;
