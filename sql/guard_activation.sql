-- Activation: the guard acts only in databases where the extension exists, and
-- goes quiet when it is dropped.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
SELECT active, hook_installed, load_method, extension_installed, effective_mode, message FROM schema_guard.status();
SET schema_guard.mode = warn;
SELECT active, effective_mode FROM schema_guard.status();
SET schema_guard.mode = off;
SELECT active, effective_mode, message FROM schema_guard.status();
RESET schema_guard.mode;

-- a second database without the extension is not guarded
CREATE DATABASE sg_unguarded;
\c sg_unguarded
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE TABLE t (id int);
INSERT INTO t SELECT generate_series(1, 100);
CREATE INDEX t_id_idx ON t (id);
ALTER TABLE t RENAME COLUMN id TO ident;
SELECT count(*) AS indexes FROM pg_indexes WHERE tablename = 't';
\c contrib_regression
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
DROP DATABASE sg_unguarded;

-- dropping the extension switches the guard off in this database at once
BEGIN;
DROP EXTENSION schema_guard CASCADE;
CREATE INDEX items_act_idx ON items (code);
ROLLBACK;
CREATE INDEX items_act_idx ON items (code);
SELECT extname FROM pg_extension WHERE extname = 'schema_guard';
-- ... and on again when it is created again
SET schema_guard.mode = off;
DROP EXTENSION schema_guard;
RESET schema_guard.mode;
-- DROP EXTENSION leaves nothing behind but its schema, empty (an extension cannot own
-- the schema it is installed in)
SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'schema_guard') AS schemas,
       (SELECT count(*) FROM pg_class WHERE relnamespace = 'schema_guard'::regnamespace)
       + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'schema_guard'::regnamespace)
       + (SELECT count(*) FROM pg_type WHERE typnamespace = 'schema_guard'::regnamespace) AS in_schema,
       (SELECT count(*) FROM pg_proc WHERE proname LIKE '%schema_guard%' OR prosrc LIKE 'schema_guard%') AS functions,
       (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'schema_guard%') AS event_triggers,
       (SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'schema_guard') AS members;
CREATE INDEX items_act_idx ON items (code);
DROP INDEX items_act_idx;
CREATE EXTENSION schema_guard;
CREATE INDEX items_act_idx ON items (code);
