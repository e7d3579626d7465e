-- Codes and tokens die with their client; see postgres/0002_client_cascade.sql
-- for why. SQLite cannot add a foreign key to a table, so each table is
-- rebuilt with it: create, copy the rows of existing clients, drop, rename.
-- No other table references these three, so dropping them cascades nowhere.

CREATE TABLE auth_codes_new (
    hash            TEXT    NOT NULL PRIMARY KEY,
    auth_request_id TEXT    NOT NULL,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    grant_id        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    consumed_at     INTEGER NOT NULL
) STRICT;
INSERT INTO auth_codes_new (hash, auth_request_id, client_id, grant_id, created_at, expires_at, consumed_at)
    SELECT hash, auth_request_id, client_id, grant_id, created_at, expires_at, consumed_at
    FROM auth_codes WHERE client_id IN (SELECT id FROM clients);
DROP TABLE auth_codes;
ALTER TABLE auth_codes_new RENAME TO auth_codes;
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX auth_codes_client ON auth_codes (client_id);

CREATE TABLE refresh_tokens_new (
    hash       TEXT    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    amr        TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;
INSERT INTO refresh_tokens_new (hash, family_id, client_id, user_id, session_id, scopes, audience, amr,
        auth_time, created_at, expires_at, used_at, revoked_at)
    SELECT hash, family_id, client_id, user_id, session_id, scopes, audience, amr,
        auth_time, created_at, expires_at, used_at, revoked_at
    FROM refresh_tokens WHERE client_id IN (SELECT id FROM clients);
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);

CREATE TABLE access_tokens_new (
    hash       TEXT    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    subject    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;
INSERT INTO access_tokens_new (hash, family_id, client_id, user_id, subject, scopes, audience,
        created_at, expires_at, revoked_at)
    SELECT hash, family_id, client_id, user_id, subject, scopes, audience,
        created_at, expires_at, revoked_at
    FROM access_tokens WHERE client_id IN (SELECT id FROM clients);
DROP TABLE access_tokens;
ALTER TABLE access_tokens_new RENAME TO access_tokens;
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
