DROP TABLE waitlist_links;
DROP TABLE waitlist;
DROP INDEX reservations_first_visit;
ALTER TABLE reservations DROP COLUMN completed_at;
ALTER TABLE reservations DROP COLUMN first_visit_id;
ALTER TABLE reservations DROP COLUMN visit;
ALTER TABLE slots DROP CONSTRAINT slots_seats;
ALTER TABLE slots DROP COLUMN offer_held;
ALTER TABLE slots DROP COLUMN phone_held;
