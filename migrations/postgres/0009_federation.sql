-- Federation (upstream identity providers). See sqlite/0009_federation.sql
-- for what the tables and columns are and why connectors die with their
-- organization; the same change here. Ids that are sorted (connectors by
-- id, a user's links by time, then connector and subject) use the "C"
-- collation, so that order is byte order, the same as SQLite's.
CREATE TABLE connectors (
    id             TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    org_id         TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connector_type TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    enabled        BOOLEAN NOT NULL,
    trust_email    BOOLEAN NOT NULL,
    trust_mfa      BOOLEAN NOT NULL,
    jit            BOOLEAN NOT NULL,
    require_sso    BOOLEAN NOT NULL,
    config         BYTEA,
    secret_sealed  BYTEA,
    source         TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX connectors_org ON connectors (org_id, id);

CREATE TABLE connector_domains (
    domain       TEXT    NOT NULL PRIMARY KEY,
    connector_id TEXT    NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    ord          BIGINT  NOT NULL
);
CREATE INDEX connector_domains_connector ON connector_domains (connector_id, ord);

CREATE TABLE links (
    connector_id  TEXT    COLLATE "C" NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    subject       TEXT    COLLATE "C" NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT    NOT NULL,
    group_names   TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (connector_id, subject)
);
CREATE INDEX links_user ON links (user_id, created_at);

CREATE TABLE assertion_ids (
    connector_id TEXT    NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    id           TEXT    NOT NULL,
    expires_at   BIGINT  NOT NULL,
    PRIMARY KEY (connector_id, id)
);
CREATE INDEX assertion_ids_expires ON assertion_ids (expires_at);

ALTER TABLE auth_requests ADD COLUMN upstream TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN connector_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN upstream_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN connector_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN upstream_subject TEXT NOT NULL DEFAULT '';
