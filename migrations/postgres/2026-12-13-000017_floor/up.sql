-- Tickets people follow on their phones: each ticket's public id (the QR code on the printed
-- ticket points at /ticket/{public_id}; random, 96 bits or more, never derived from the
-- label), and a reserved visitor's request to be mailed when their turn nears (once).
ALTER TABLE tickets ADD COLUMN public_id TEXT;
UPDATE tickets SET public_id = replace(gen_random_uuid()::text, '-', '');
ALTER TABLE tickets ALTER COLUMN public_id SET NOT NULL;
CREATE UNIQUE INDEX tickets_public_id ON tickets (public_id);
ALTER TABLE tickets ADD COLUMN alert_requested_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN alert_sent_at TIMESTAMP;
-- A kiosk account's counter (role kiosk: it checks in and issues walk-in tickets there only).
ALTER TABLE staff ADD COLUMN counter_id TEXT;
