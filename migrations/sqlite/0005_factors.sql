-- Second factors (issue 10): one table for every method, so that listing,
-- resetting and deleting a user's factors is one query. A row is an
-- authenticator app (kind 'totp': secret is the seed sealed with the
-- master key, last_step the last accepted time step), an email address
-- ('email': address), a recovery code ('recovery': secret is its hash,
-- last_used_at when it was consumed), later a phone or a security key;
-- data is a method's own fields as JSON text ('' for none). confirmed_at 0
-- is an enrolment not confirmed yet, which ends at expires_at (0: no end)
-- and is then purged by DeleteExpired. Times are Unix microseconds (0 =
-- unset). Factors die with their user. Keep in step with
-- postgres/0005_factors.sql.
CREATE TABLE factors (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    secret       BLOB,
    address      TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    confirmed_at INTEGER NOT NULL,
    last_step    INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX factors_user ON factors (user_id, created_at);
CREATE INDEX factors_expires ON factors (expires_at);
