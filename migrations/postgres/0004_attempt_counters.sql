-- Attempt counters (idp/lockout). See sqlite/0004_attempt_counters.sql for
-- what they are; the same table here.
CREATE TABLE attempt_counters (
    counter_key TEXT    NOT NULL PRIMARY KEY,
    attempts    BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX attempt_counters_expires ON attempt_counters (expires_at);
