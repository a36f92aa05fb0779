-- Hostile input, round two (docs/security.md).
-- Secrets the service makes itself at first start (the key of client-address hashes), shared by
-- every instance on the database.
CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
-- Addresses are compared in a canonical form for every limit: case-folded, a sub-address
-- (+tag) removed. Existing rows get theirs here; new rows are written with it.
ALTER TABLE verifications ADD COLUMN email_key TEXT;
ALTER TABLE reservations ADD COLUMN email_key TEXT;
ALTER TABLE waitlist ADD COLUMN email_key TEXT;
UPDATE verifications SET email_key = lower(CASE
    WHEN instr(substr(email, 1, instr(email, '@') - 1), '+') > 0
    THEN substr(email, 1, instr(email, '+') - 1) || substr(email, instr(email, '@'))
    ELSE email END);
UPDATE reservations SET email_key = lower(CASE
    WHEN instr(substr(email, 1, instr(email, '@') - 1), '+') > 0
    THEN substr(email, 1, instr(email, '+') - 1) || substr(email, instr(email, '@'))
    ELSE email END) WHERE email IS NOT NULL;
UPDATE waitlist SET email_key = lower(CASE
    WHEN instr(substr(email, 1, instr(email, '@') - 1), '+') > 0
    THEN substr(email, 1, instr(email, '+') - 1) || substr(email, instr(email, '@'))
    ELSE email END) WHERE email IS NOT NULL;
CREATE INDEX verifications_email_key ON verifications (email_key, created_at);
CREATE INDEX reservations_email_key ON reservations (email_key, status, ends_at);
CREATE INDEX waitlist_email_key ON waitlist (email_key, status);
-- Bookings refused on a verification link: a link is used up after a few, so a refused booking
-- cannot be used to probe, without end, who holds a reservation.
ALTER TABLE verifications ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
-- Staff sign-in with a second factor: a TOTP secret (enrolled once confirmed), one-time
-- recovery codes (their hashes), and sessions that know when they were last used and whether
-- they may only enrol.
ALTER TABLE staff ADD COLUMN totp_secret TEXT;
ALTER TABLE staff ADD COLUMN totp_enrolled_at TIMESTAMP;
CREATE TABLE staff_recovery_codes (
    id          TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL REFERENCES staff (id),
    code_hash   TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX staff_recovery_codes_staff ON staff_recovery_codes (staff_id);
ALTER TABLE staff_sessions ADD COLUMN last_seen_at TIMESTAMP;
ALTER TABLE staff_sessions ADD COLUMN enrol_only BOOLEAN NOT NULL DEFAULT FALSE;
-- A staff cancellation keeps its reason for the audit and sends the resident other words.
ALTER TABLE reservations ADD COLUMN cancel_message TEXT;
