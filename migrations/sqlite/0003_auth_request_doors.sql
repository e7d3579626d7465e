-- Auth requests: protocol data is the door's, login constraints the flow's.
-- The flow's "this login must be for that user" (OIDC id_token_hint, SAML
-- Subject) gets a column of its own instead of a key in the string map
-- "extra", which becomes door_data: opaque JSON that only the door that
-- wrote it reads. The OIDC door no longer keeps a private step: the step
-- after done is the flow's "issued".
ALTER TABLE auth_requests ADD COLUMN subject_hint TEXT NOT NULL DEFAULT '';
UPDATE auth_requests
    SET subject_hint = COALESCE(json_extract(extra, '$.id_token_hint_sub'), '')
    WHERE json_valid(extra) AND json_type(extra) = 'object';
ALTER TABLE auth_requests RENAME COLUMN extra TO door_data;
UPDATE auth_requests SET door_data = '';
UPDATE auth_requests SET step = 'issued' WHERE step = 'code_issued';
