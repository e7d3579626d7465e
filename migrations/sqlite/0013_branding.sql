-- An organization's branding of the login pages (storage.Branding, as
-- JSON): rows written before it read as none. Keep in step with
-- postgres/0013_branding.sql.
ALTER TABLE organizations ADD COLUMN branding TEXT NOT NULL DEFAULT '{}';
