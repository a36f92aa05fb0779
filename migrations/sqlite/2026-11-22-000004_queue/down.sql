DROP TABLE call_events;
DROP TABLE ticket_sequences;
DROP TABLE tickets;
