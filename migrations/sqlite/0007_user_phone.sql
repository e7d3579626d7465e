-- A user's phone number on their profile (issue 11), in E.164 form
-- ("+41791234567", idp/phone.Parse); '' is no number. Keep in step with
-- postgres/0007_user_phone.sql.
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
