-- A blocked statement leaves the database exactly as it was: the catalog rows of
-- every relation, column, constraint, index and sequence, and every relfilenode,
-- are the same before and after a batch of blocked statements.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
CREATE FUNCTION catalog_fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
    SELECT format('%s %s %s %s %s %s', c.oid, c.relname, c.relkind, c.relfilenode, c.relpersistence, c.reltablespace) AS x
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL SELECT format('%s %s %s %s %s', a.attrelid, a.attname, a.atttypid, a.attnotnull, a.attisdropped)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL SELECT format('%s %s %s', conrelid, conname, convalidated) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT format('%s %s', indexrelid, indisvalid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
  ) s $$;
SELECT catalog_fingerprint() AS before \gset
ALTER TABLE items ADD COLUMN r uuid DEFAULT gen_random_uuid();
ALTER TABLE items ALTER COLUMN qty TYPE bigint;
ALTER TABLE items ADD CONSTRAINT c CHECK (qty > 0);
ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (parent_id) REFERENCES parent_tbl;
ALTER TABLE items ALTER COLUMN qty SET NOT NULL;
ALTER TABLE items ADD COLUMN s serial;
ALTER TABLE items SET UNLOGGED;
CREATE INDEX blocked_idx ON items (code);
CREATE UNIQUE INDEX blocked_uidx ON items (id, code);
ALTER TABLE items ADD CONSTRAINT u UNIQUE (id, code);
REINDEX TABLE items;
CLUSTER items USING items_pkey;
ALTER TABLE items RENAME TO items2;
ALTER TABLE items RENAME COLUMN code TO code2;
ALTER TABLE items DROP COLUMN code;
REFRESH MATERIALIZED VIEW items_mv;
DO $$ BEGIN ALTER TABLE items ALTER COLUMN amount TYPE numeric(8,3); END $$;
SELECT catalog_fingerprint() = :'before' AS catalog_unchanged;
DROP FUNCTION catalog_fingerprint();
