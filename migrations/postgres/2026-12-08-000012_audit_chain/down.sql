DROP TABLE audit_head;
DROP INDEX audit_log_unlinked;
DROP INDEX audit_log_seq;
ALTER TABLE audit_log DROP COLUMN nonce;
ALTER TABLE audit_log DROP COLUMN personal_digest;
ALTER TABLE audit_log DROP COLUMN hash;
ALTER TABLE audit_log DROP COLUMN seq;
