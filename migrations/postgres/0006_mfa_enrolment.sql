-- MFA under organization policy. See sqlite/0006_mfa_enrolment.sql for
-- what the columns are; the same change here.
ALTER TABLE auth_requests ADD COLUMN flow_data TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mfa_skipped_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_enrol_method TEXT NOT NULL DEFAULT '';
