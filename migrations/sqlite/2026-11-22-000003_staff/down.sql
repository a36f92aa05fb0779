DROP TABLE closures;
DROP TABLE audit_log;
DROP TABLE staff_sessions;
DROP TABLE staff;
