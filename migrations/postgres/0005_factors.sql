-- Second factors (issue 10). See sqlite/0005_factors.sql for what they
-- are; the same table here.
CREATE TABLE factors (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    secret       BYTEA,
    address      TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    confirmed_at BIGINT  NOT NULL,
    last_step    BIGINT  NOT NULL,
    last_used_at BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX factors_user ON factors (user_id, created_at);
CREATE INDEX factors_expires ON factors (expires_at);
