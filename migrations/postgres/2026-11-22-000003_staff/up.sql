-- Staff accounts: an argon2 hash, never the password.
CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    login          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,        -- phone, desk, admin
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

-- Bearer sessions: only the token's SHA-256 is kept.
CREATE TABLE staff_sessions (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    staff_id    TEXT NOT NULL REFERENCES staff (id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- Who did what: every staff write, in the transaction of the write; failed logins too.
-- No passwords or tokens are ever written here.
CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    at           TIMESTAMP NOT NULL,
    staff_login  TEXT,                   -- NULL for a failed login by an unknown name
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       TEXT NOT NULL,          -- JSON
    ip_key       TEXT                    -- SHA-256 of the client IP (login throttling)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action_target ON audit_log (action, target, at);
CREATE INDEX audit_log_action_ip ON audit_log (action, ip_key, at);

-- Days an administrator closed (besides closure_dates in the configuration).
CREATE TABLE closures (
    id          TEXT PRIMARY KEY,
    counter_id  TEXT NOT NULL,
    closed_on   DATE NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (counter_id, closed_on)
);
