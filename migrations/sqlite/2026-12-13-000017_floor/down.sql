ALTER TABLE staff DROP COLUMN counter_id;
ALTER TABLE tickets DROP COLUMN alert_sent_at;
ALTER TABLE tickets DROP COLUMN alert_requested_at;
DROP INDEX tickets_public_id;
ALTER TABLE tickets DROP COLUMN public_id;
