-- The SAML front door. See sqlite/0010_saml.sql for what the tables and
-- columns are; the same change here. Entity ids are listed in order, so
-- they use the "C" collation (byte order, as SQLite's).
CREATE TABLE service_providers (
    entity_id           TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL,
    metadata            BYTEA,
    metadata_url        TEXT    NOT NULL,
    metadata_fetched_at BIGINT  NOT NULL,
    metadata_error      TEXT    NOT NULL,
    settings            TEXT    NOT NULL,
    source              TEXT    NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

CREATE TABLE saml_request_ids (
    entity_id  TEXT    NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    id         TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (entity_id, id)
);
CREATE INDEX saml_request_ids_expires ON saml_request_ids (expires_at);

CREATE TABLE saml_nameids (
    entity_id TEXT NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name_id   TEXT NOT NULL,
    PRIMARY KEY (entity_id, user_id),
    UNIQUE (entity_id, name_id)
);
CREATE INDEX saml_nameids_user ON saml_nameids (user_id);

CREATE TABLE saml_participants (
    session_hash      TEXT    NOT NULL,
    entity_id         TEXT    NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    name_id           TEXT    NOT NULL,
    name_id_format    TEXT    NOT NULL,
    sp_name_qualifier TEXT    NOT NULL,
    session_index     TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    PRIMARY KEY (session_hash, entity_id)
);
CREATE INDEX saml_participants_expires ON saml_participants (expires_at);
CREATE INDEX saml_participants_entity ON saml_participants (entity_id);

CREATE TABLE saml_logouts (
    id         TEXT    NOT NULL PRIMARY KEY,
    state      BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX saml_logouts_expires ON saml_logouts (expires_at);

ALTER TABLE clients ADD COLUMN initiate_login_uri TEXT NOT NULL DEFAULT '';
