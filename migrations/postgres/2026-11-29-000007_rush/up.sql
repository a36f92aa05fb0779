-- The noon rush (docs/benchmarks.md).
-- A slot row's version grows by one with every change to its seats. COUNT(*) and SUM(version)
-- of a day's rows then change whenever anything on that day changed, so a reader asks one
-- aggregate per range (from the index alone) and reuses what it rendered while it is equal.
ALTER TABLE slots ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
DROP INDEX slots_counter_day;
CREATE INDEX slots_counter_day ON slots (counter_id, visit_on, version);
-- Mail a resident is waiting for (a verification link, a waiting-list offer) goes out first:
-- 0 before 1.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, priority, next_attempt_at);
