-- Auth requests: protocol data is the door's, login constraints the flow's.
-- See sqlite/0003_auth_request_doors.sql for why; the same change here.
ALTER TABLE auth_requests ADD COLUMN subject_hint TEXT NOT NULL DEFAULT '';
UPDATE auth_requests
    SET subject_hint = COALESCE(extra::jsonb ->> 'id_token_hint_sub', '')
    WHERE extra LIKE '{%';
ALTER TABLE auth_requests RENAME COLUMN extra TO door_data;
UPDATE auth_requests SET door_data = '';
UPDATE auth_requests SET step = 'issued' WHERE step = 'code_issued';
