-- Fairness. Seats held for phone bookings (phone_held: the web may not take them until their
-- release), seats held for a waiting-list offer (offer_held: nobody but the offered resident
-- may take them), the voluntary proxy's linked second visit, and the waiting list itself.
ALTER TABLE slots ADD COLUMN phone_held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE slots ADD COLUMN offer_held INTEGER NOT NULL DEFAULT 0;
-- Like the CHECK on booked: a seat is booked or held for an offer, never both, never more
-- than the capacity, whatever the code does (SQLite cannot add a CHECK to a table, so a
-- trigger says it).
CREATE TRIGGER slots_seats_insert BEFORE INSERT ON slots
WHEN NEW.offer_held < 0 OR NEW.phone_held < 0 OR NEW.booked + NEW.offer_held > NEW.capacity
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: slot seats'); END;
CREATE TRIGGER slots_seats_update BEFORE UPDATE ON slots
WHEN NEW.offer_held < 0 OR NEW.phone_held < 0 OR NEW.booked + NEW.offer_held > NEW.capacity
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: slot seats'); END;

ALTER TABLE reservations ADD COLUMN visit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE reservations ADD COLUMN first_visit_id TEXT REFERENCES reservations (id);
ALTER TABLE reservations ADD COLUMN completed_at TEXT;
CREATE INDEX reservations_first_visit ON reservations (first_visit_id);

-- The waiting list (キャンセル待ち): per counter, day and procedure, in order of joining.
CREATE TABLE waitlist (
    id                   TEXT PRIMARY KEY,
    manage_token_hash    TEXT NOT NULL UNIQUE,
    counter_id           TEXT NOT NULL,
    visit_on             TEXT NOT NULL,
    procedure_id         TEXT NOT NULL,
    applicant_type       TEXT NOT NULL,
    name                 TEXT NOT NULL,
    name_kana            TEXT NOT NULL,
    phone                TEXT NOT NULL,
    email                TEXT NOT NULL,
    representative_name  TEXT,
    person_key           TEXT NOT NULL,
    status               TEXT NOT NULL,      -- waiting, offered, accepted, expired, left
    offer_slot_id        TEXT,
    offer_expires_at     TEXT,
    offers               INTEGER NOT NULL DEFAULT 0,
    seq                  BIGINT NOT NULL,      -- order of joining, per counter and day
    reservation_id       TEXT REFERENCES reservations (id),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX waitlist_day ON waitlist (counter_id, visit_on, status, seq);
CREATE INDEX waitlist_offers ON waitlist (status, offer_expires_at);
CREATE INDEX waitlist_person ON waitlist (person_key, procedure_id, status);
CREATE INDEX waitlist_email ON waitlist (email, status);

-- Links mailed for a waiting-list entry (the offer's): only the hash.
CREATE TABLE waitlist_links (
    token_hash   TEXT PRIMARY KEY,
    waitlist_id  TEXT NOT NULL REFERENCES waitlist (id),
    created_at   TEXT NOT NULL
);
CREATE INDEX waitlist_links_entry ON waitlist_links (waitlist_id);
