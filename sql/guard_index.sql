-- Index builds under lock, each with its safe counterpart.
SET client_min_messages = warning;
\pset null '-'
SELECT * FROM sg_test.probe('create index', 'CREATE INDEX items_code_idx ON items (code)', 'items');
SELECT * FROM sg_test.probe('create unique index', 'CREATE UNIQUE INDEX items_code_key ON items (code, id)', 'items');
SELECT * FROM sg_test.probe('create index if not exists, existing', 'CREATE INDEX IF NOT EXISTS items_label_idx ON items (label)', 'items');
SELECT * FROM sg_test.probe('add unique constraint', 'ALTER TABLE items ADD CONSTRAINT items_code_uniq UNIQUE (code, id)', 'items');
SELECT * FROM sg_test.probe('add primary key', 'ALTER TABLE items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id)', 'items');
SELECT * FROM sg_test.probe('add exclusion constraint', 'ALTER TABLE items ADD CONSTRAINT items_excl EXCLUDE USING btree (id WITH =)', 'items');
SELECT * FROM sg_test.probe('add column unique', 'ALTER TABLE items ADD COLUMN r int UNIQUE', 'items');
SELECT * FROM sg_test.probe('unique using index', 'ALTER TABLE items ADD CONSTRAINT items_qty_uniq UNIQUE USING INDEX items_qty_key', 'items');
SELECT * FROM sg_test.probe('reindex table', 'REINDEX TABLE items', 'items');
SELECT * FROM sg_test.probe('reindex index', 'REINDEX INDEX items_label_idx', 'items');
SELECT * FROM sg_test.probe('refresh materialized view', 'REFRESH MATERIALIZED VIEW items_mv', 'items_mv');
-- CONCURRENTLY forms run outside a transaction block: judged at top level.
\set VERBOSITY terse
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY items_code_idx ON items (code);
REINDEX INDEX CONCURRENTLY items_code_idx;
REINDEX TABLE CONCURRENTLY items_mv;
REFRESH MATERIALIZED VIEW CONCURRENTLY items_mv;
DROP INDEX CONCURRENTLY items_code_idx;
-- a blocked CREATE INDEX leaves nothing behind
CREATE INDEX items_code_idx2 ON items (code);
SELECT count(*) AS leftover_indexes FROM pg_class WHERE relname = 'items_code_idx2';
-- REINDEX SCHEMA / DATABASE name every table
REINDEX SCHEMA public;
