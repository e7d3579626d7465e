-- A user's phone number. See sqlite/0007_user_phone.sql for what the
-- column is; the same change here.
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
