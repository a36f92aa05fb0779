-- Email verification tokens: only the SHA-256 of the token is kept.
CREATE TABLE verifications (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL,          -- normalised (lower case)
    ip_key      TEXT NOT NULL,          -- SHA-256 of the client IP, for the per-IP limit
    counter_id  TEXT,
    slot_id     TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX verifications_email_created ON verifications (email, created_at);
CREATE INDEX verifications_ip_created ON verifications (ip_key, created_at);

-- Reservations. No individual number (マイナンバー) and no PIN is ever stored.
CREATE TABLE reservations (
    id                  TEXT PRIMARY KEY,
    reservation_number  TEXT NOT NULL UNIQUE,
    manage_token_hash   TEXT NOT NULL UNIQUE,
    status              TEXT NOT NULL,   -- confirmed, cancelled, checked_in, completed, no_show
    channel             TEXT NOT NULL,   -- web, phone
    counter_id          TEXT NOT NULL,
    slot_id             TEXT NOT NULL REFERENCES slots (id),
    visit_on            TEXT NOT NULL,
    starts_at           TEXT NOT NULL,
    ends_at             TEXT NOT NULL,
    procedure_id        TEXT NOT NULL,
    applicant_type      TEXT NOT NULL,
    name                TEXT NOT NULL,
    name_kana           TEXT NOT NULL,
    phone               TEXT NOT NULL,
    email               TEXT,
    representative_name TEXT,
    notes               TEXT,
    person_key          TEXT NOT NULL,   -- kana without spaces + phone digits
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    cancelled_at        TEXT,
    cancel_reason       TEXT,
    created_by          TEXT             -- staff login for phone bookings
);
CREATE INDEX reservations_slot ON reservations (slot_id, status);
CREATE INDEX reservations_person ON reservations (person_key, procedure_id, status);
CREATE INDEX reservations_email ON reservations (email, status);
CREATE INDEX reservations_counter_day ON reservations (counter_id, visit_on);

-- The transactional outbox: written in the transaction that causes the mail, delivered by the
-- mail worker. A row is claimed with a lease (claimed_until) so two workers never send it twice.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,      -- verification, booking_confirmed, booking_changed, booking_cancelled
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,      -- JSON to render from; secrets are scrubbed once sent
    subject         TEXT,
    status          TEXT NOT NULL,      -- pending, sending, sent, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    claimed_by      TEXT,
    last_error      TEXT,
    reservation_id  TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
