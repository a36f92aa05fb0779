-- Tickets people follow on their phones: each ticket's public id (the QR code on the printed
-- ticket points at /ticket/{public_id}; random, 96 bits or more, never derived from the
-- label), and a reserved visitor's request to be mailed when their turn nears (once).
ALTER TABLE tickets ADD COLUMN public_id TEXT NOT NULL DEFAULT '';
UPDATE tickets SET public_id = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX tickets_public_id ON tickets (public_id);
ALTER TABLE tickets ADD COLUMN alert_requested_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN alert_sent_at TIMESTAMP;
-- A kiosk account's counter (role kiosk: it checks in and issues walk-in tickets there only).
ALTER TABLE staff ADD COLUMN counter_id TEXT;
