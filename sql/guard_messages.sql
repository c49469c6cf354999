-- The shape of the guard's messages: primary text naming the rule, DETAIL with the
-- relation, its size, the lock, what it blocks and why, HINT with the safe recipe
-- and the override, and the guard's own SQLSTATE SG001.
SET client_min_messages = warning;
SET lock_timeout = '5s';
\set VERBOSITY default
ALTER TABLE items ALTER COLUMN qty TYPE bigint;
ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parent_tbl;
ALTER TABLE items RENAME COLUMN code TO item_code;
-- several findings in one statement: the first blocks, DETAIL names the others
ALTER TABLE items ALTER COLUMN qty TYPE bigint, ADD CONSTRAINT c CHECK (id > 0), DROP COLUMN note;
ALTER TABLE items ALTER COLUMN qty TYPE bigint, ALTER COLUMN amount SET NOT NULL;
SET schema_guard.mode = warn;
BEGIN;
ALTER TABLE items ADD COLUMN r float8 DEFAULT random();
ROLLBACK;
RESET schema_guard.mode;
SET lock_timeout = 0;
BEGIN;
ALTER TABLE items ADD COLUMN r int;
ROLLBACK;
\set VERBOSITY sqlstate
CREATE INDEX ON items (code);
SET lock_timeout = '5s';
-- bad input is PostgreSQL's to report, unchanged
\set VERBOSITY terse
ALTER TABLE no_such_table ADD COLUMN x int;
ALTER TABLE items ALTER COLUMN no_such_column TYPE int;
ALTER TABLE items ADD COLUMN x int DEFAULT no_such_function();
ALTER TABLE items ALTER COLUMN label TYPE int;
CREATE INDEX ON no_such_table (x);
DROP TABLE IF EXISTS no_such_table;
TRUNCATE no_such_table;
ALTER DOMAIN no_such_domain ADD CONSTRAINT c CHECK (VALUE > 0);
REINDEX INDEX no_such_index;
CREATE TABLE fail_part PARTITION OF parent_tbl FOR VALUES IN (1);
SELECT count(*) AS check_rows FROM schema_guard.check('CREATE TABLE fail_part PARTITION OF parent_tbl FOR VALUES IN (1)');
