-- A fair start at a month's opening (booking.fair_start_seconds): web bookings that arrive in
-- the first N seconds wait here, then are served in one random order by whichever instance
-- claims the opening's draw. A request's body (with its verification and manage tokens) is
-- erased once it is served; the row keeps only the outcome until it is delivered.
CREATE TABLE fair_start_requests (
    id TEXT PRIMARY KEY NOT NULL,
    opening TIMESTAMP NOT NULL,
    link_hash TEXT NOT NULL,
    body TEXT,
    outcome TEXT,
    entered_at TIMESTAMP NOT NULL,
    served_at TIMESTAMP
);
CREATE INDEX fair_start_requests_opening ON fair_start_requests (opening, served_at);
CREATE INDEX fair_start_requests_link ON fair_start_requests (link_hash);
-- One draw per opening: the seed of its order, who serves it and until when (another instance
-- takes over a draw whose lease ran out, with the same seed, so the order is the same).
CREATE TABLE fair_start_draws (
    opening TIMESTAMP PRIMARY KEY NOT NULL,
    seed TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL,
    served INTEGER NOT NULL DEFAULT 0,
    finished_at TIMESTAMP
);
