-- MFA under organization policy (issue 10).
-- auth_requests.flow_data is the login flow's own state as JSON (which
-- second factor is being enrolled, a code sent for this login, the page to
-- acknowledge before the login is done); only idp/authflow reads it.
-- users.mfa_skipped_at is when the user chose "Skip for now": a skip counts
-- only for the policy generation it was made in (an organization that
-- turns MFA off and on again clears every skip at once, without a write
-- per user). users.mfa_enrol_method is the method an administrator's reset
-- asks the user to enrol ('' for any allowed). Keep in step with
-- postgres/0006_mfa_enrolment.sql.
ALTER TABLE auth_requests ADD COLUMN flow_data TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mfa_skipped_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_enrol_method TEXT NOT NULL DEFAULT '';
