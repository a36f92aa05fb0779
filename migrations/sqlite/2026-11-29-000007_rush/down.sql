DROP INDEX outbox_due;
ALTER TABLE outbox DROP COLUMN priority;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
DROP INDEX slots_counter_day;
ALTER TABLE slots DROP COLUMN version;
CREATE INDEX slots_counter_day ON slots (counter_id, visit_on);
