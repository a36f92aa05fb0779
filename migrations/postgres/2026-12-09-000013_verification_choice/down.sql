ALTER TABLE verifications DROP COLUMN applicant_type;
ALTER TABLE verifications DROP COLUMN procedure_id;
