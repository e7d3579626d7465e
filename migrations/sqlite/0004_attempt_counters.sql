-- Attempt counters (idp/lockout): failed guesses at a user's secrets and
-- failures per client network, shared by every instance on the database.
-- counter_key is the caller's ("user:<id>", "ip:<prefix>@<window>"); a row
-- counts until expires_at (Unix microseconds) and is then dead: the next
-- attempt starts a fresh count, and DeleteExpired purges it. Keep in step
-- with postgres/0004_attempt_counters.sql.
CREATE TABLE attempt_counters (
    counter_key TEXT    NOT NULL PRIMARY KEY,
    attempts    INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX attempt_counters_expires ON attempt_counters (expires_at);
