-- A factor found without its user. See sqlite/0008_factor_lookup.sql for
-- what the column is; the same change here.
ALTER TABLE factors ADD COLUMN lookup TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX factors_lookup ON factors (kind, lookup) WHERE lookup <> '';
