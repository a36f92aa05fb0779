-- Holds (仮押さえ): a verified resident's chosen slot kept while they fill in the form. A live
-- hold's seats are counted in slots.offer_held, which from here on counts every held seat
-- (waiting-list offers and holds); booked + offer_held <= capacity still holds every seat.
-- The id is the SHA-256 of the hold's public id (a bearer token, as manage links are).
CREATE TABLE holds (
    id TEXT PRIMARY KEY NOT NULL,
    verification_hash TEXT NOT NULL,
    email_key TEXT NOT NULL,
    ip_key TEXT NOT NULL,
    counter_id TEXT NOT NULL,
    slot_id TEXT NOT NULL,
    visit_on DATE NOT NULL,
    seats INTEGER NOT NULL CHECK (seats > 0),
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    reservation_id TEXT
);
-- One live hold per verified address (a new one replaces it), whatever the instance.
CREATE UNIQUE INDEX holds_live_email ON holds (email_key) WHERE status = 'live';
CREATE INDEX holds_live_expiry ON holds (expires_at) WHERE status = 'live';
CREATE INDEX holds_live_ip ON holds (ip_key) WHERE status = 'live';
