DROP TABLE daily_stats;
DROP TABLE job_runs;
DROP TABLE manage_links;
DROP INDEX reservations_visit;
ALTER TABLE reservations DROP COLUMN erased_at;
ALTER TABLE reservations DROP COLUMN ics_sequence;
ALTER TABLE reservations DROP COLUMN reminder_sent_at;
