-- A party (several people in one booking): each of its reservations (the first person's too)
-- names the party by the first person's reservation id; a booking of one has no row here. The
-- party counts once toward booking.max_active_per_email.
CREATE TABLE party_members (
    reservation_id TEXT PRIMARY KEY NOT NULL,
    party_id TEXT NOT NULL,
    -- 0 for the first person, then the others in the order the booking gave them.
    position INTEGER NOT NULL
);
CREATE INDEX party_members_party ON party_members (party_id);
