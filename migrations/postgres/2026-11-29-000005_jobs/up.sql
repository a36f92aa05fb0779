-- Scheduled work: reminders sent once, calendar updates numbered, personal data erased after
-- retention, extra manage links (reminders carry one), job runs claimed once across
-- instances, and the daily figures kept after retention.
ALTER TABLE reservations ADD COLUMN reminder_sent_at TIMESTAMP;
ALTER TABLE reservations ADD COLUMN ics_sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN erased_at TIMESTAMP;
CREATE INDEX reservations_visit ON reservations (visit_on, status);

-- More manage links for one reservation (the reminder's, the second visit's): only the hash.
CREATE TABLE manage_links (
    token_hash      TEXT PRIMARY KEY,
    reservation_id  TEXT NOT NULL REFERENCES reservations (id),
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX manage_links_reservation ON manage_links (reservation_id);

-- One row per (job, scheduled instant): inserting it claims the run, so two instances never
-- run it twice; a run that died is taken over once its lease has run out.
CREATE TABLE job_runs (
    id            TEXT PRIMARY KEY,
    job           TEXT NOT NULL,
    scheduled_at  TIMESTAMP NOT NULL,
    status        TEXT NOT NULL,     -- running, ok, failed, skipped
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    lease_until   TIMESTAMP,
    instance      TEXT,
    rows          BIGINT,
    error         TEXT,
    UNIQUE (job, scheduled_at)
);
CREATE INDEX job_runs_job ON job_runs (job, scheduled_at);

-- Daily figures per counter, day and procedure: no personal data, kept after retention.
CREATE TABLE daily_stats (
    counter_id     TEXT NOT NULL,
    day            DATE NOT NULL,
    procedure_id   TEXT NOT NULL,
    booked         BIGINT NOT NULL,
    cancelled      BIGINT NOT NULL,
    completed      BIGINT NOT NULL,
    no_show        BIGINT NOT NULL,
    walk_ins       BIGINT NOT NULL,
    wait_p50       BIGINT,
    wait_p90       BIGINT,
    computed_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (counter_id, day, procedure_id)
);
