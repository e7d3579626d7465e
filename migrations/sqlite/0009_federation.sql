-- Federation (upstream identity providers). Keep in step with
-- postgres/0009_federation.sql: same tables, columns and indexes.
--
-- connectors: an organization's upstream OIDC or SAML provider. config is
-- the type's own settings as JSON bytes, secret_sealed the client secret
-- sealed with the master key (NULL: none); storage reads neither. A
-- connector dies with its organization (ON DELETE CASCADE): it is part of
-- the organization's configuration, like its domains, and an organization
-- is deleted only once it has no users, so no link can be left behind by
-- it anyway; refusing the delete would add a blocker DeleteOrganization's
-- contract does not name.
CREATE TABLE connectors (
    id             TEXT    NOT NULL PRIMARY KEY,
    org_id         TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connector_type TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    enabled        INTEGER NOT NULL,
    trust_email    INTEGER NOT NULL,
    trust_mfa      INTEGER NOT NULL,
    jit            INTEGER NOT NULL,
    require_sso    INTEGER NOT NULL,
    config         BLOB,
    secret_sealed  BLOB,
    source         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX connectors_org ON connectors (org_id, id);

-- A domain is the primary key so that it can belong to one connector only,
-- as org_domains does for organizations; ord keeps the caller's order.
CREATE TABLE connector_domains (
    domain       TEXT    NOT NULL PRIMARY KEY,
    connector_id TEXT    NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    ord          INTEGER NOT NULL
) STRICT;
CREATE INDEX connector_domains_connector ON connector_domains (connector_id, ord);

-- links: an upstream identity (connector_id, subject) tied to a local user,
-- keyed by the pair and never by email. group_names is a JSON list (GROUPS
-- is an SQL keyword). A link dies with its user and with its connector.
CREATE TABLE links (
    connector_id  TEXT    NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    subject       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT    NOT NULL,
    group_names   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (connector_id, subject)
) STRICT;
CREATE INDEX links_user ON links (user_id, created_at);

-- assertion_ids: the replay cache of upstream SAML assertions. A record is
-- live until expires_at; one that is no longer live counts as none and is
-- replaced by the next use, or purged by DeleteExpired.
CREATE TABLE assertion_ids (
    connector_id TEXT    NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    id           TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (connector_id, id)
) STRICT;
CREATE INDEX assertion_ids_expires ON assertion_ids (expires_at);

-- The identity an upstream proved for a login in progress, as JSON ('' for
-- none), and the link a refresh token or a session stood on ('' for a
-- local login). No foreign key: the caller refuses a token or session whose
-- link or connector is gone, and rows written before this migration read
-- as local ones.
ALTER TABLE auth_requests ADD COLUMN upstream TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN connector_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN upstream_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN connector_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN upstream_subject TEXT NOT NULL DEFAULT '';
