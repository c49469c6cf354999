-- pgTAP: schema_guard.check() and explain() from a test harness.
SET client_min_messages = warning;
SET schema_guard.mode = off;
DROP TABLE IF EXISTS tap_check;
CREATE TABLE tap_check (id int PRIMARY KEY, v varchar(10));
INSERT INTO tap_check SELECT g, 'v' FROM generate_series(1, 500) g;
DROP TABLE IF EXISTS tap_check_nopk;
CREATE TABLE tap_check_nopk (a int, b int);
INSERT INTO tap_check_nopk SELECT g, g FROM generate_series(1, 500) g;
DROP DOMAIN IF EXISTS tap_check_dom;
CREATE DOMAIN tap_check_dom AS int;
DROP TABLE IF EXISTS tap_parts, tap_parts_2026;
CREATE TABLE tap_parts (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE INDEX tap_parts_at ON tap_parts (at);
CREATE TABLE tap_parts_2026 (id int, at date NOT NULL);
INSERT INTO tap_parts_2026 SELECT g, DATE '2026-01-01' + g FROM generate_series(1, 300) g;
-- a user's function with effects that outlive a rollback (a session advisory lock)
CREATE OR REPLACE FUNCTION tap_runs(d date) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN PERFORM pg_advisory_lock(4242); RETURN d; END $f$;
RESET schema_guard.mode;

BEGIN;
SELECT plan(27);
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
-- What the script creates or changes on an existing table counts for the statements after it
-- (the hook sees it when the script runs; the catalog check() reads does not have it yet).
SELECT is_empty($$SELECT rule FROM schema_guard.check('ALTER TABLE tap_check ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;
  ALTER TABLE tap_check VALIDATE CONSTRAINT v_nn; ALTER TABLE tap_check ALTER COLUMN v SET NOT NULL')$$,
  'SET NOT NULL after the script validated CHECK (v IS NOT NULL): no scan');
SELECT results_eq($$SELECT rule FROM schema_guard.check('ALTER TABLE tap_check ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;
  ALTER TABLE tap_check ALTER COLUMN v SET NOT NULL')$$,
  $$VALUES ('set_not_null_scan')$$, '... but a CHECK that is still NOT VALID proves nothing');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('BEGIN; ALTER TABLE tap_check ADD CONSTRAINT v_nn CHECK (v IS NOT NULL);
  ROLLBACK; ALTER TABLE tap_check ALTER COLUMN v SET NOT NULL')$$,
  $$VALUES (2, 'add_check_scan'), (4, 'set_not_null_scan')$$, '... nor one the script rolled back');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('ALTER TABLE tap_check SET UNLOGGED; ALTER TABLE tap_check SET LOGGED')$$,
  $$VALUES (1, 'set_persistence_rewrite'), (2, 'set_persistence_rewrite')$$, 'SET LOGGED after the script''s SET UNLOGGED rewrites');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('ALTER DOMAIN tap_check_dom ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;
  ALTER TABLE tap_check ADD COLUMN d tap_check_dom')$$,
  $$VALUES (2, 'add_column_rewrite')$$, 'ADD COLUMN of a domain the script constrained rewrites');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('CREATE INDEX CONCURRENTLY tap_check_lower_v ON tap_check (lower(v));
  ALTER TABLE tap_check ALTER COLUMN v TYPE varchar(20)')$$,
  $$VALUES (2, 'alter_column_type_index_rebuild')$$, 'an expression index the script built is rebuilt by a type change');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('CREATE UNIQUE INDEX CONCURRENTLY tap_check_nopk_a ON tap_check_nopk (a);
  ALTER TABLE tap_check_nopk ADD CONSTRAINT tap_check_nopk_pkey PRIMARY KEY USING INDEX tap_check_nopk_a')$$,
  $$VALUES (2, 'set_not_null_scan')$$, 'a primary key USING an index the script built, over a nullable column, scans');
SELECT results_eq($$SELECT statement, rule, relation::text FROM schema_guard.check('SET lock_timeout = 0;
  CREATE TRIGGER tap_trg BEFORE UPDATE ON tap_check FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
  DROP TRIGGER tap_trg ON tap_check')$$,
  $$VALUES (2, 'lock_timeout_missing', 'tap_check'), (3, 'lock_timeout_missing', 'tap_check')$$,
  'DROP TRIGGER of a trigger the script created locks its table');
SELECT is_empty($$SELECT rule FROM schema_guard.check('SET lock_timeout = 0; SET schema_guard.lock_timeout = ''3s''; ALTER TABLE tap_check ADD COLUMN y int')$$,
  'schema_guard.lock_timeout set by the script bounds the wait, as the hook applies it');
SELECT results_eq($$SELECT statement, rule, relation::text FROM schema_guard.check('SET lock_timeout = 0; CREATE TABLE tap_new (id int);
  ALTER TABLE tap_new ADD CONSTRAINT tap_new_fk FOREIGN KEY (id) REFERENCES tap_check')$$,
  $$VALUES (3, 'lock_timeout_missing', 'tap_check')$$, 'a FOREIGN KEY a new table adds waits for its lock on the existing referenced table');
SELECT is_empty($$SELECT rule FROM schema_guard.check('CREATE INDEX CONCURRENTLY tap_parts_2026_at ON tap_parts_2026 (at);
  ALTER TABLE tap_parts_2026 ADD CONSTRAINT bound CHECK (at >= DATE ''2026-01-01'' AND at < DATE ''2027-01-01'') NOT VALID;
  ALTER TABLE tap_parts_2026 VALIDATE CONSTRAINT bound;
  ALTER TABLE tap_parts ATTACH PARTITION tap_parts_2026 FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')')$$,
  'ATTACH PARTITION after the script validated a CHECK implying the bound and built the parent''s index: no scan, no build');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('
  ALTER TABLE tap_parts_2026 ADD CONSTRAINT bound CHECK (at >= DATE ''2025-01-01'' AND at < DATE ''2027-01-01'');
  CREATE INDEX CONCURRENTLY tap_parts_2026_at ON tap_parts_2026 (at DESC);
  ALTER TABLE tap_parts ATTACH PARTITION tap_parts_2026 FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')') ORDER BY 1, 2$$,
  $$VALUES (1, 'add_check_scan'), (3, 'attach_partition_index_build'), (3, 'attach_partition_scan')$$,
  '... but a CHECK that does not imply the bound (a wider range), or an index in another order, does not count');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('
  ALTER TABLE tap_parts_2026 ADD CONSTRAINT bound CHECK (at >= DATE ''2026-01-01'' AND at < DATE ''2027-01-01'') NOT VALID;
  ALTER TABLE tap_parts ATTACH PARTITION tap_parts_2026 FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')') ORDER BY 1, 2$$,
  $$VALUES (2, 'attach_partition_index_build'), (2, 'attach_partition_scan')$$,
  '... nor a CHECK still NOT VALID');
-- check() executes nothing: a user's function in the script's CHECK is not folded
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('
  ALTER TABLE tap_parts_2026 ADD CONSTRAINT bound CHECK (at >= tap_runs(DATE ''2026-01-01'') AND at < DATE ''2027-01-01'');
  ALTER TABLE tap_parts ATTACH PARTITION tap_parts_2026 FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')') ORDER BY 1, 2$$,
  $$VALUES (1, 'add_check_scan'), (2, 'attach_partition_index_build'), (2, 'attach_partition_scan')$$,
  'a CHECK that calls a user''s function proves no bound (check() does not run it): the scan is reported');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), 0::bigint,
  '... and the function did not run (no advisory lock taken)');
SELECT is_empty($$SELECT rule FROM schema_guard.check('
  ALTER TABLE tap_parts_2026 ADD CONSTRAINT bound CHECK (at >= DATE ''2026-01-01'' AND at < DATE ''2027-01-01'' AND tap_runs(DATE ''2026-01-01'') IS NOT NULL);
  ALTER TABLE tap_parts ATTACH PARTITION tap_parts_2026 FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')') WHERE rule = 'attach_partition_scan'$$,
  'the CHECK''s other clauses still prove the bound: no scan');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), 0::bigint,
  '... and the function did not run');
SELECT results_eq($$SELECT statement, rule FROM schema_guard.check('
  ALTER TABLE tap_parts_2026 ADD CONSTRAINT bound CHECK (at >= DATE ''2026-01-01'' AND at < DATE ''2027-01-01'');
  ALTER TABLE tap_parts ATTACH PARTITION tap_parts_2026 FOR VALUES FROM (tap_runs(DATE ''2026-01-01'')) TO (''2027-01-01'')') ORDER BY 1, 2$$,
  $$VALUES (1, 'add_check_scan'), (2, 'attach_partition_index_build'), (2, 'attach_partition_scan')$$,
  'a bound that calls a user''s function is not evaluated by the script simulation: no proof, the scan is reported');
SELECT * FROM finish();
ROLLBACK;
SET schema_guard.mode = off;
DROP TABLE tap_check;
DROP TABLE tap_check_nopk;
DROP DOMAIN tap_check_dom;
DROP TABLE tap_parts, tap_parts_2026;
DROP FUNCTION tap_runs(date);
