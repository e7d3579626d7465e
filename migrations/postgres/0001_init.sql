-- Gatehouse schema, PostgreSQL dialect. Keep in step with sqlite/0001_init.sql:
-- same tables, columns and indexes; only the types differ.
-- Times are Unix microseconds (0 = unset), durations nanoseconds, lists and
-- maps JSON text. Text that is sorted or paged (emails, names) uses the "C"
-- collation so that order is byte order, the same as SQLite's.

CREATE TABLE organizations (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    COLLATE "C" NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    mfa             TEXT    NOT NULL,
    password_policy TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

-- A domain is the primary key so that it can belong to one organization only.
CREATE TABLE org_domains (
    domain TEXT    NOT NULL PRIMARY KEY,
    org_id TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ord    BIGINT  NOT NULL
);
CREATE INDEX org_domains_org ON org_domains (org_id, ord);

-- users.org_id has no ON DELETE action: deleting an organization that still
-- has users fails instead of orphaning or silently deleting accounts.
CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    org_id              TEXT    REFERENCES organizations (id),
    email               TEXT    COLLATE "C" NOT NULL UNIQUE,
    email_verified      BOOLEAN NOT NULL,
    name                TEXT    NOT NULL,
    password_hash       TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    roles               TEXT    NOT NULL,
    locked_until        BIGINT  NOT NULL,
    mfa_skipped         BOOLEAN NOT NULL,
    mfa_enroll_required BOOLEAN NOT NULL,
    password_changed_at BIGINT  NOT NULL,
    last_login_at       BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);
CREATE INDEX users_org_email ON users (org_id, email);

CREATE TABLE clients (
    id                           TEXT    NOT NULL PRIMARY KEY,
    org_id                       TEXT    NOT NULL,
    name                         TEXT    NOT NULL,
    secret_hash                  TEXT    NOT NULL,
    is_public                    BOOLEAN NOT NULL,
    redirect_uris                TEXT    NOT NULL,
    post_logout_redirect_uris    TEXT    NOT NULL,
    grant_types                  TEXT    NOT NULL,
    scopes                       TEXT    NOT NULL,
    id_token_signed_response_alg TEXT    NOT NULL,
    access_token_format          TEXT    NOT NULL,
    access_token_ttl             BIGINT  NOT NULL,
    id_token_ttl                 BIGINT  NOT NULL,
    refresh_token_ttl            BIGINT  NOT NULL,
    require_mfa                  BOOLEAN NOT NULL,
    source                       TEXT    NOT NULL,
    created_at                   BIGINT  NOT NULL,
    updated_at                   BIGINT  NOT NULL
);

CREATE TABLE auth_requests (
    id                    TEXT    NOT NULL PRIMARY KEY,
    protocol              TEXT    NOT NULL,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    scopes                TEXT    NOT NULL,
    response_type         TEXT    NOT NULL,
    response_mode         TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    prompt                TEXT    NOT NULL,
    max_age               BIGINT,
    login_hint            TEXT    NOT NULL,
    acr_values            TEXT    NOT NULL,
    ui_locales            TEXT    NOT NULL,
    extra                 TEXT    NOT NULL,
    step                  TEXT    NOT NULL,
    org_id                TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    session_id            TEXT    NOT NULL,
    auth_time             BIGINT  NOT NULL,
    amr                   TEXT    NOT NULL,
    attempts              BIGINT  NOT NULL,
    created_at            BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL
);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

CREATE TABLE auth_codes (
    hash            TEXT    NOT NULL PRIMARY KEY,
    auth_request_id TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    grant_id        TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    consumed_at     BIGINT  NOT NULL
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

-- Tokens, sessions and one-time tokens die with their user. user_id is NULL
-- for tokens without a user (client_credentials).
CREATE TABLE refresh_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    amr        TEXT    NOT NULL,
    auth_time  BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT  NOT NULL,
    revoked_at BIGINT  NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    subject    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT  NOT NULL
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE sessions (
    hash            TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    REFERENCES users (id) ON DELETE CASCADE,
    auth_time       BIGINT  NOT NULL,
    amr             TEXT    NOT NULL,
    ip              TEXT    NOT NULL,
    user_agent      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_seen_at    BIGINT  NOT NULL,
    idle_expires_at BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_idle_expires ON sessions (idle_expires_at);

CREATE TABLE one_time_tokens (
    hash            TEXT    NOT NULL PRIMARY KEY,
    purpose         TEXT    NOT NULL,
    user_id         TEXT    REFERENCES users (id) ON DELETE CASCADE,
    auth_request_id TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    consumed_at     BIGINT  NOT NULL
);
CREATE INDEX one_time_tokens_purpose_user ON one_time_tokens (purpose, user_id);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);

CREATE TABLE signing_keys (
    id                 TEXT    NOT NULL PRIMARY KEY,
    key_use            TEXT    NOT NULL,
    algorithm          TEXT    NOT NULL,
    public_key         BYTEA,
    private_key_sealed BYTEA,
    certificate        BYTEA,
    created_at         BIGINT  NOT NULL,
    not_before         BIGINT  NOT NULL,
    retire_at          BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL
);
CREATE INDEX signing_keys_use ON signing_keys (key_use, created_at);

-- Identity ids are never reused, so a BeforeID cursor stays valid.
CREATE TABLE audit_events (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at BIGINT  NOT NULL,
    event_type  TEXT    NOT NULL,
    org_id      TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    user_agent  TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    details     TEXT    NOT NULL
);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE INDEX audit_events_type ON audit_events (event_type, id);
