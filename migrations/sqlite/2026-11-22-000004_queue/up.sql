-- Queue tickets (整理券): reserved visitors get one at check-in, walk-ins at the desk.
-- Labels (R-012, W-034) restart every day per counter.
CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    counter_id      TEXT NOT NULL,
    service_on      TEXT NOT NULL,
    kind            TEXT NOT NULL,       -- reserved, walk_in
    number          INTEGER NOT NULL,
    label           TEXT NOT NULL,
    status          TEXT NOT NULL,       -- waiting, called, completed, no_show
    reservation_id  TEXT UNIQUE REFERENCES reservations (id),  -- one check-in per reservation
    procedure_id    TEXT,
    slot_starts_at  TEXT,
    issued_at       TEXT NOT NULL,
    called_at       TEXT,
    desk            TEXT,
    calls           INTEGER NOT NULL DEFAULT 0,
    finished_at     TEXT,
    UNIQUE (counter_id, service_on, label)
);
CREATE INDEX tickets_queue ON tickets (counter_id, service_on, status);

-- The last ticket number per counter, day and kind: taken by one conditional UPDATE.
CREATE TABLE ticket_sequences (
    counter_id   TEXT NOT NULL,
    service_on   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    last_number  INTEGER NOT NULL,
    PRIMARY KEY (counter_id, service_on, kind)
);

-- Every call and recall, for the waiting-room screens (ticket and desk only: no personal data).
-- Ids grow in commit order per counter: calls are serialised per counter and day.
CREATE TABLE call_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    counter_id  TEXT NOT NULL,
    service_on  TEXT NOT NULL,
    label       TEXT NOT NULL,
    desk        TEXT NOT NULL,
    called_at   TEXT NOT NULL
);
CREATE INDEX call_events_counter ON call_events (counter_id, service_on, id);
