-- Staff sign-in with a second factor (docs/security.md): the time step of the last TOTP code
-- accepted, so a code seen once (over a shoulder, in a proxy's log) cannot sign in again.
ALTER TABLE staff ADD COLUMN totp_last_step BIGINT;
