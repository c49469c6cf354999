-- pgTAP: schema_guard.check() and explain() from a test harness.
SET client_min_messages = warning;
SET schema_guard.mode = off;
DROP TABLE IF EXISTS tap_check;
CREATE TABLE tap_check (id int PRIMARY KEY, v varchar(10));
INSERT INTO tap_check SELECT g, 'v' FROM generate_series(1, 500) g;
RESET schema_guard.mode;

BEGIN;
SELECT plan(9);
SET LOCAL lock_timeout = '2s';
SELECT results_eq(
  $$SELECT rule, action FROM schema_guard.check('CREATE INDEX ON tap_check (v); ALTER TABLE tap_check ALTER COLUMN v TYPE varchar(20)')$$,
  $$VALUES ('create_index_blocking', 'block')$$,
  'one finding for an unsafe index, none for a varchar widening');
SELECT is_empty($$SELECT * FROM schema_guard.check('CREATE INDEX CONCURRENTLY ON tap_check (v)')$$, 'CONCURRENTLY has no finding');
SELECT results_eq(
  $$SELECT statement, line FROM schema_guard.check(E'SET lock_timeout = 0;\n\nALTER TABLE tap_check ADD COLUMN x int;')$$,
  $$VALUES (2, 3)$$, 'statement number and line');
SELECT results_eq(
  $$SELECT rule FROM schema_guard.check('CREATE TABLE t2 (id int); CREATE INDEX ON t2 (id); ALTER TABLE t2 ALTER COLUMN id TYPE bigint')$$,
  $$SELECT NULL::text WHERE false$$, 'a table created earlier in the script is new');
SELECT results_eq(
  $$SELECT rule FROM schema_guard.check('BEGIN; ALTER TABLE tap_check ADD CONSTRAINT c CHECK (id > 0) NOT VALID; ALTER TABLE tap_check VALIDATE CONSTRAINT c; COMMIT')$$,
  $$VALUES ('validate_under_strong_lock')$$, 'VALIDATE in the NOT VALID transaction');
SELECT results_eq(
  $$SELECT rule FROM schema_guard.check('ALTER TABLE missing_table ADD COLUMN x int')$$,
  $$VALUES ('relation_missing')$$, 'a missing relation is a finding');
SELECT results_eq(
  $$SELECT rule, statement FROM schema_guard.check('ALTER TABLE tap_check ADD COLUMN x int; SELEC 1')$$,
  $$VALUES ('syntax_error', 2)$$, 'a syntax error names its statement');
SELECT is((SELECT count(*)::int FROM schema_guard.check(NULL)), 0, 'NULL gives no rows');
SELECT ok((SELECT bool_or(l LIKE '%SHARE lock, blocks writes%') FROM schema_guard.explain('CREATE INDEX ON tap_check (v)') l),
  'explain() names the lock and what it blocks');
SELECT * FROM finish();
ROLLBACK;
SET schema_guard.mode = off;
DROP TABLE tap_check;
