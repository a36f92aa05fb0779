-- A slot's row exists once something happened to it (a booking, a capacity change); the
-- calendar derives the rest from configuration. The seat is taken here by a conditional
-- UPDATE … SET booked = booked + 1 WHERE booked < capacity that must touch one row, and the
-- CHECK makes an overbooked row impossible whatever the code does.
CREATE TABLE slots (
    id          TEXT PRIMARY KEY,
    counter_id  TEXT NOT NULL,
    visit_on    TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    capacity    INTEGER NOT NULL CHECK (capacity >= 0),
    booked      INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0),
    updated_at  TEXT NOT NULL,
    CHECK (booked <= capacity)
);
CREATE INDEX slots_counter_day ON slots (counter_id, visit_on);
