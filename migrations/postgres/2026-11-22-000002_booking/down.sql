DROP TABLE outbox;
DROP TABLE reservations;
DROP TABLE verifications;
