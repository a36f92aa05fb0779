-- What the resident chose before asking for the link (the procedure and who comes), so that
-- the link opened in another browser (a phone's mail app) comes back to it, as it does to the slot.
ALTER TABLE verifications ADD COLUMN procedure_id TEXT;
ALTER TABLE verifications ADD COLUMN applicant_type TEXT;
