-- The audit log's hash chain (src/db/chain.rs): an entry's position, its hash (over the one
-- before and itself), the digest of what retention may erase and the nonce it was made with.
-- Entries written before this migration are linked by the first transaction that seals.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
ALTER TABLE audit_log ADD COLUMN personal_digest TEXT;
ALTER TABLE audit_log ADD COLUMN nonce TEXT;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_unlinked ON audit_log (at, id) WHERE seq IS NULL;

-- The chain's end: one row, locked by whoever links entries.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'madoguchi-audit-genesis');
