-- Safety of the guard itself (issue 9): what it evaluates leaves no trace, a
-- probe that raises fails closed, cancels and timeouts are never swallowed, and
-- the table_rewrite backstop never blocks a rewrite that was predicted and allowed.
SET client_min_messages = warning;
SET lock_timeout = '5s';
SET schema_guard.mode = off;
CREATE SCHEMA safety;
SET search_path = safety, public;
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, g FROM generate_series(1, 500) g;
CREATE TABLE trace (what text);
-- an IMMUTABLE function that writes (through a volatile helper: a non-volatile
-- function may not INSERT itself)
CREATE FUNCTION leave_trace() RETURNS void LANGUAGE plpgsql AS $$
BEGIN INSERT INTO safety.trace VALUES ('written'); END $$;
CREATE FUNCTION writes() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN PERFORM safety.leave_trace(); RETURN 7; END $$;
-- an IMMUTABLE function that raises on every other call: on the guard's call,
-- not on PostgreSQL's (a sequence is not rolled back with the guard's subtransaction)
CREATE SEQUENCE calls;
CREATE FUNCTION raises_once() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('safety.calls') % 2 = 1 THEN RAISE EXCEPTION 'odd call fails'; END IF;
  RETURN 1;
END $$;
CREATE FUNCTION slow() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(2)';
CREATE TABLE parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
CREATE TABLE parted_d PARTITION OF parted DEFAULT;
INSERT INTO parted SELECT g, g FROM generate_series(1, 1500) g;
CREATE TABLE loose (id int);
INSERT INTO loose SELECT generate_series(1000, 1100);
CREATE TABLE loose2 (id int, v int);
INSERT INTO loose2 SELECT g, g FROM generate_series(1000, 1100) g;
-- a constant partition bound cast to a domain: the guard's evaluation runs its CHECK
CREATE DOMAIN odd_int AS int CHECK (raises_once() = 1);
RESET schema_guard.mode;
SET lock_timeout = '5s';

--------------------------------------------------------------------------------
-- 1. Nothing the guard evaluates leaves a trace: constant folding of the DEFAULT
-- runs writes(), in a subtransaction that is always rolled back.
SELECT rule FROM schema_guard.check('ALTER TABLE t ADD COLUMN w int DEFAULT writes()') ORDER BY 1;
SELECT count(*) > 0 AS explained FROM schema_guard.explain('ALTER TABLE t ADD COLUMN w int DEFAULT writes()');
SELECT count(*) AS rows_after_check_and_explain FROM trace;
-- judged by the hook and blocked: no row either
ALTER TABLE t ADD COLUMN w int DEFAULT writes() CHECK (w > 0);
SELECT count(*) AS rows_after_blocked_statement FROM trace;
-- allowed and run: exactly the one row PostgreSQL's own evaluation writes
BEGIN;
SET LOCAL schema_guard.allow = 'add_check_scan';
ALTER TABLE t ADD COLUMN w int DEFAULT writes() CHECK (w > 0);
SELECT count(*) AS rows_after_allowed_statement FROM trace;
ROLLBACK;
-- a partition bound that is not a constant is not evaluated by the guard at all: both
-- scans are assumed
SELECT rule FROM schema_guard.check('ALTER TABLE parted ATTACH PARTITION loose2 FOR VALUES FROM (1000 + writes() - 7) TO (1100 + writes())') ORDER BY 1;
SELECT count(*) AS rows_after_bound_check FROM trace;

--------------------------------------------------------------------------------
-- 2. A probe that raises fails closed: the statement is judged as if the rewrite
-- or scan happens, and the DETAIL says why.
\set VERBOSITY default
SELECT setval('calls', 1, false) IS NOT NULL AS reset;
ALTER TABLE t ADD COLUMN c int DEFAULT raises_once() CHECK (c > 0);
SELECT setval('calls', 1, false) IS NOT NULL AS reset;
ALTER TABLE t ADD COLUMN r int DEFAULT raises_once() REFERENCES t (id);
SELECT setval('calls', 1, false) IS NOT NULL AS reset;
ALTER TABLE parted ATTACH PARTITION loose2 FOR VALUES FROM ('1000'::odd_int) TO (1101);
\set VERBOSITY terse
SELECT setval('calls', 1, false) IS NOT NULL AS reset;
SELECT rule, rewrites, scans FROM schema_guard.check('ALTER TABLE t ADD COLUMN c int DEFAULT raises_once() CHECK (c > 0)') ORDER BY 1;
SELECT setval('calls', 1, false) IS NOT NULL AS reset;
SELECT rule, relation, scans FROM schema_guard.check($$ALTER TABLE parted ATTACH PARTITION loose2 FOR VALUES FROM ('1000'::odd_int) TO (1101)$$) ORDER BY 1, 2;
SELECT count(*) AS committed FROM pg_attribute WHERE attrelid = 't'::regclass AND attname IN ('c', 'r');
-- an error PostgreSQL itself raises while parsing is still PostgreSQL's own
ALTER TABLE t ADD COLUMN bad int DEFAULT no_such_function();

--------------------------------------------------------------------------------
-- 3. statement_timeout during a slow IMMUTABLE function in a DEFAULT: 57014,
-- from the hook and from check(), and nothing committed.
\set VERBOSITY default
SET statement_timeout = '300ms';
ALTER TABLE t ADD COLUMN s int DEFAULT slow();
SELECT count(*) FROM schema_guard.check('ALTER TABLE t ADD COLUMN s int DEFAULT slow()');
SELECT count(*) FROM schema_guard.explain('ALTER TABLE t ADD COLUMN s int DEFAULT slow()');
RESET statement_timeout;
\set VERBOSITY terse
SELECT count(*) AS column_s FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 's';

--------------------------------------------------------------------------------
-- 4. The backstop never blocks a rewrite that was predicted and allowed.
-- (a) another table_rewrite event trigger that sorts first and runs a statement
SET schema_guard.mode = off;
CREATE FUNCTION other_rewrite_trigger() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN SET LOCAL work_mem = '8MB'; EXECUTE 'CREATE TEMP TABLE IF NOT EXISTS rewrite_seen (relid oid)'; END $$;
CREATE EVENT TRIGGER aaa_other_rewrite ON table_rewrite EXECUTE FUNCTION other_rewrite_trigger();
RESET schema_guard.mode;
BEGIN;
SET LOCAL schema_guard.allow = 'add_column_rewrite';
ALTER TABLE t ADD COLUMN rnd float8 DEFAULT random();
ROLLBACK;
SET schema_guard.mode = off;
DROP EVENT TRIGGER aaa_other_rewrite;
-- (b) a volatile default that runs SET, for every row of every partition
CREATE FUNCTION sets_and_returns() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
BEGIN SET LOCAL work_mem = '4MB'; RETURN 1; END $$;
RESET schema_guard.mode;
BEGIN;
SET LOCAL schema_guard.allow = 'add_column_rewrite';
ALTER TABLE parted ADD COLUMN x int DEFAULT sets_and_returns();
SELECT count(*) AS rewritten_rows FROM parted WHERE x = 1;
ROLLBACK;
-- the backstop still stops what nobody predicted (an event trigger moves TimeZone
-- after the guard judged timestamp -> timestamptz as no rewrite)
SET schema_guard.mode = off;
CREATE TABLE stamps (at timestamp);
INSERT INTO stamps VALUES (now());
CREATE FUNCTION move_timezone() RETURNS event_trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM set_config('TimeZone', 'America/New_York', true); END $$;
CREATE EVENT TRIGGER move_timezone ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION move_timezone();
RESET schema_guard.mode;
SET TimeZone = 'UTC';
ALTER TABLE stamps ALTER COLUMN at TYPE timestamptz;
RESET TimeZone;
SET schema_guard.mode = off;
DROP EVENT TRIGGER move_timezone;
RESET schema_guard.mode;


--------------------------------------------------------------------------------
-- 5. Exemptions cannot be obtained by renaming or moving.  A schema named in
-- schema_guard.exempt_schemas counts only when it belongs to an extension (as
-- pg_repack's schema repack does); renaming a schema and SET SCHEMA are judged as
-- the breaking changes they are.
SET schema_guard.mode = off;
CREATE SCHEMA app_data;
CREATE TABLE app_data.big (id int);
INSERT INTO app_data.big SELECT generate_series(1, 1000);
RESET schema_guard.mode;
ALTER SCHEMA app_data RENAME TO repack;
BEGIN;
SET LOCAL schema_guard.allow = 'rename_schema';
ALTER SCHEMA app_data RENAME TO repack;
-- renamed, but not exempt: still judged
CREATE INDEX ON repack.big (id);
ROLLBACK;
-- the real thing: an extension's schema (schema_guard's own stands in for pg_repack's)
SET schema_guard.mode = off;
CREATE SCHEMA repack;
ALTER EXTENSION schema_guard ADD SCHEMA repack;
RESET schema_guard.mode;
\set VERBOSITY default
ALTER TABLE app_data.big SET SCHEMA repack;
\set VERBOSITY terse
ALTER TABLE app_data.big SET SCHEMA public;
SELECT rule, relation FROM schema_guard.check('ALTER SCHEMA app_data RENAME TO repack2; ALTER TABLE repack2.big SET SCHEMA repack;') ORDER BY 1;
SET schema_guard.mode = off;
ALTER EXTENSION schema_guard DROP SCHEMA repack;
DROP SCHEMA repack CASCADE;
DROP SCHEMA app_data CASCADE;
RESET schema_guard.mode;

--------------------------------------------------------------------------------
-- 6. A role that may not run a statement gets PostgreSQL's own permission error,
-- never a verdict; check() and explain() show sizes only of tables the caller has a
-- privilege on.
CREATE ROLE regress_sg_safety_app;
CREATE ROLE regress_sg_safety_reader;
GRANT USAGE ON SCHEMA safety TO regress_sg_safety_app, regress_sg_safety_reader;
GRANT SELECT ON t TO regress_sg_safety_reader;
SET ROLE regress_sg_safety_app;
ALTER TABLE t ADD COLUMN x float8 DEFAULT random();
ALTER TABLE t RENAME COLUMN v TO v2;
CREATE INDEX ON t (v);
TRUNCATE t;
DROP TABLE t;
BEGIN;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
ALTER TABLE parted ATTACH PARTITION loose FOR VALUES FROM (1000) TO (1101);
DROP SCHEMA safety CASCADE;
ALTER SEQUENCE calls RESTART;
DROP OWNED BY CURRENT_USER, postgres;
SELECT line FROM schema_guard.explain('ALTER TABLE t ADD COLUMN x float8 DEFAULT random()') AS line WHERE line LIKE '%table safety.t%';
RESET ROLE;
SET ROLE regress_sg_safety_reader;
-- SELECT is a privilege on t: the size is shown, but ALTER still needs ownership
ALTER TABLE t ADD COLUMN x float8 DEFAULT random();
SELECT line ~ 'table safety.t \([0-9]+ kB\)' AS size_shown FROM schema_guard.explain('ALTER TABLE t ADD COLUMN x float8 DEFAULT random()') AS line WHERE line LIKE '%table safety.t%';
RESET ROLE;
DROP OWNED BY regress_sg_safety_app, regress_sg_safety_reader;
DROP ROLE regress_sg_safety_app;
DROP ROLE regress_sg_safety_reader;

--------------------------------------------------------------------------------
-- 7. Fail closed when the analysis raises an error it cannot explain.  A function in
-- a DEFAULT that raises internal_error (SQLSTATE XX000, what a catalog lookup raises
-- when a row vanished under it) makes the whole analysis fail, every time it is tried
-- again on a fresh catalog: the statement is blocked as judgement_failed, with the
-- error in DETAIL, never let through unjudged.
SET schema_guard.mode = off;
CREATE FUNCTION internal_failure() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'not what it seems' USING ERRCODE = 'internal_error'; END $$;
RESET schema_guard.mode;
\set VERBOSITY default
ALTER TABLE t ADD COLUMN j int DEFAULT internal_failure();
\set VERBOSITY terse
SELECT rule, action, message FROM schema_guard.check('ALTER TABLE t ADD COLUMN j int DEFAULT internal_failure()');
-- warn: the statement runs, and PostgreSQL raises the function's error itself
SET schema_guard.mode = warn;
ALTER TABLE t ADD COLUMN j int DEFAULT internal_failure();
RESET schema_guard.mode;
-- allowed: the statement runs as PostgreSQL runs it
BEGIN;
SET LOCAL schema_guard.allow = 'judgement_failed';
ALTER TABLE t ADD COLUMN j int DEFAULT internal_failure();
ROLLBACK;
SELECT count(*) AS column_j FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'j';

SET schema_guard.mode = off;
DROP SCHEMA safety CASCADE;
RESET schema_guard.mode;
RESET search_path;
