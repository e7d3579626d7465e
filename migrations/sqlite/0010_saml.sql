-- The SAML front door (idp/samlidp). Keep in step with
-- postgres/0010_saml.sql: same tables, columns and indexes.
--
-- service_providers: the SAML applications, by entity id. metadata is the
-- provider's EntityDescriptor as given or last fetched; settings the door's
-- per-provider choices as JSON (storage.SPSettings), so that a new setting
-- needs no migration.
CREATE TABLE service_providers (
    entity_id           TEXT    NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL,
    metadata            BLOB,
    metadata_url        TEXT    NOT NULL,
    metadata_fetched_at INTEGER NOT NULL,
    metadata_error      TEXT    NOT NULL,
    settings            TEXT    NOT NULL,
    source              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

-- saml_request_ids: AuthnRequest and LogoutRequest ids seen, per provider,
-- until expires_at (a request is refused as stale after that anyway). One
-- no longer live is replaced by the next use, or purged by DeleteExpired.
CREATE TABLE saml_request_ids (
    entity_id  TEXT    NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    id         TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (entity_id, id)
) STRICT;
CREATE INDEX saml_request_ids_expires ON saml_request_ids (expires_at);

-- saml_nameids: the persistent NameID of a user at a provider: random,
-- pairwise, stable; unique per provider so that two users never share one.
CREATE TABLE saml_nameids (
    entity_id TEXT NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name_id   TEXT NOT NULL,
    PRIMARY KEY (entity_id, user_id),
    UNIQUE (entity_id, name_id)
) STRICT;
CREATE INDEX saml_nameids_user ON saml_nameids (user_id);

-- saml_participants: the providers a browser session signed in to, with
-- what their assertion named, for single logout. No foreign key to
-- sessions: a record outlives a replaced session until it is moved to the
-- new one, and expires with the session's absolute end.
CREATE TABLE saml_participants (
    session_hash      TEXT    NOT NULL,
    entity_id         TEXT    NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    name_id           TEXT    NOT NULL,
    name_id_format    TEXT    NOT NULL,
    sp_name_qualifier TEXT    NOT NULL,
    session_index     TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    PRIMARY KEY (session_hash, entity_id)
) STRICT;
CREATE INDEX saml_participants_expires ON saml_participants (expires_at);
CREATE INDEX saml_participants_entity ON saml_participants (entity_id);

-- saml_logouts: single logouts in progress; state is the door's JSON.
CREATE TABLE saml_logouts (
    id         TEXT    NOT NULL PRIMARY KEY,
    state      BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX saml_logouts_expires ON saml_logouts (expires_at);

-- A client's initiate_login_uri ('' : none), for "My apps".
ALTER TABLE clients ADD COLUMN initiate_login_uri TEXT NOT NULL DEFAULT '';
