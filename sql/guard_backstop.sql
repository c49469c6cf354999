-- The table_rewrite event trigger stops a rewrite the analysis did not predict.
-- ALTER TYPE ... ALTER ATTRIBUTE ... CASCADE rewrites typed tables; the analysis
-- does not judge ALTER TYPE, so the backstop catches it.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
SET schema_guard.mode = off;
CREATE TYPE item_pair AS (a int, b int);
CREATE TABLE pairs OF item_pair;
INSERT INTO pairs SELECT g, g FROM generate_series(1, 100) g;
RESET schema_guard.mode;
SELECT relfilenode AS before_node FROM pg_class WHERE oid = 'pairs'::regclass \gset
ALTER TYPE item_pair ALTER ATTRIBUTE a TYPE bigint CASCADE;
SELECT relfilenode = :before_node AS unchanged FROM pg_class WHERE oid = 'pairs'::regclass;
SET schema_guard.mode = warn;
ALTER TYPE item_pair ALTER ATTRIBUTE a TYPE bigint CASCADE;
SELECT relfilenode <> :before_node AS rewritten FROM pg_class WHERE oid = 'pairs'::regclass;
RESET schema_guard.mode;
-- predicted rewrites are not reported twice
ALTER TABLE pairs ALTER COLUMN b TYPE bigint;
-- the event trigger function refuses to be called directly
SELECT schema_guard.table_rewrite_backstop();
