-- The table_rewrite event trigger stops a rewrite the analysis did not predict.
-- The analysis decides timestamp -> timestamptz from the session's TimeZone; an
-- event trigger that changes TimeZone after the guard has judged the statement
-- makes the server rewrite what the analysis (rightly, at that moment) did not
-- predict, so the backstop catches it.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
SET TimeZone = 'UTC';
SET schema_guard.mode = off;
CREATE TABLE stamps (id int, at timestamp);
INSERT INTO stamps SELECT g, now() FROM generate_series(1, 100) g;
CREATE FUNCTION move_timezone() RETURNS event_trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM set_config('TimeZone', 'America/New_York', true); END $$;
CREATE EVENT TRIGGER move_timezone ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION move_timezone();
RESET schema_guard.mode;
SELECT relfilenode AS before_node FROM pg_class WHERE oid = 'stamps'::regclass \gset
BEGIN;
ALTER TABLE stamps ALTER COLUMN at TYPE timestamptz;
ROLLBACK;
SELECT relfilenode = :before_node AS unchanged FROM pg_class WHERE oid = 'stamps'::regclass;
SET schema_guard.mode = warn;
BEGIN;
ALTER TABLE stamps ALTER COLUMN at TYPE timestamptz;
SELECT relfilenode <> :before_node AS rewritten FROM pg_class WHERE oid = 'stamps'::regclass;
ROLLBACK;
RESET schema_guard.mode;
SET schema_guard.mode = off;
DROP EVENT TRIGGER move_timezone;
DROP FUNCTION move_timezone();
RESET schema_guard.mode;
RESET TimeZone;
-- ALTER TYPE ... ALTER ATTRIBUTE ... CASCADE rewrites the typed tables: predicted
-- (and blocked) before any lock is taken, not left to the backstop.
SET schema_guard.mode = off;
CREATE TYPE item_pair AS (a int, b int);
CREATE TABLE pairs OF item_pair;
INSERT INTO pairs SELECT g, g FROM generate_series(1, 100) g;
RESET schema_guard.mode;
ALTER TYPE item_pair ALTER ATTRIBUTE a TYPE bigint CASCADE;
-- predicted rewrites are not reported twice
ALTER TABLE pairs ALTER COLUMN b TYPE bigint;
-- the event trigger function refuses to be called directly
SELECT schema_guard.table_rewrite_backstop();
