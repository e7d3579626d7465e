-- A factor found without its user (issue 11): a passkey sign-in reads a
-- credential id before anyone is identified, so WebAuthn factors carry it
-- here as base64url ('' for every other kind). Unique per kind: WebAuthn
-- asks that a credential id be registered to one account only, and an
-- authenticator chooses it, so the database, not a read-then-write, is
-- what refuses a second registration of the same id. Keep in step with
-- postgres/0008_factor_lookup.sql.
ALTER TABLE factors ADD COLUMN lookup TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX factors_lookup ON factors (kind, lookup) WHERE lookup <> '';
