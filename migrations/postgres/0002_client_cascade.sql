-- Codes and tokens die with their client. Without this, deleting a client
-- left its access tokens answering introspection and userinfo (and its
-- admin API tokens working) until they expired, and a token endpoint call
-- racing with the delete could store a token for a client that no longer
-- exists. The foreign key settles both in the database: the delete
-- cascades, and an insert for a deleted client fails. Keep in step with
-- sqlite/0002_client_cascade.sql.
--
-- Auth requests get no such key: a SAML request names a service provider,
-- which is not a row of clients.

-- Rows of clients deleted before this migration are dead already.
DELETE FROM auth_codes WHERE client_id NOT IN (SELECT id FROM clients);
DELETE FROM refresh_tokens WHERE client_id NOT IN (SELECT id FROM clients);
DELETE FROM access_tokens WHERE client_id NOT IN (SELECT id FROM clients);

ALTER TABLE auth_codes ADD CONSTRAINT auth_codes_client_fk
    FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_client_fk
    FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE;
ALTER TABLE access_tokens ADD CONSTRAINT access_tokens_client_fk
    FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE;

-- The cascade finds a client's rows by these, not by scanning the tables.
CREATE INDEX auth_codes_client ON auth_codes (client_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
