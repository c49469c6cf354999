-- pgTAP: fk_index_audit() against the executor.  For each foreign key the RI
-- probe of a parent DELETE either uses an index of the child (counted with
-- pg_stat_get_xact_numscans) or scans the child; the audit must list exactly
-- the foreign keys whose probe scanned.  Then every fix is applied and the
-- report is empty; the audit runs with the caller's rights and sees the same
-- as a plain role.
BEGIN;
SET LOCAL schema_guard.mode = off;
SET LOCAL client_min_messages = warning;
SELECT plan(10);

SELECT has_function('schema_guard', 'fk_index_audit', ARRAY['name[]'], 'fk_index_audit(VARIADIC name[]) exists');
SELECT is(
  (SELECT bool_or(prosecdef) FROM pg_proc
    WHERE pronamespace = 'schema_guard'::regnamespace AND proname IN ('fk_index_audit', 'rls_audit', 'rls_access')),
  false, 'the audits are SECURITY INVOKER');
SELECT ok(
  (SELECT bool_and('search_path=pg_catalog, pg_temp' = ANY (proconfig)) FROM pg_proc
    WHERE pronamespace = 'schema_guard'::regnamespace AND proname IN ('fk_index_audit', 'rls_audit', 'rls_access')),
  'the audits pin search_path');

CREATE SCHEMA tap_fk;
SET LOCAL search_path = tap_fk, public;
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE p2 (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE pn (id numeric PRIMARY KEY);
CREATE TABLE pt (id text PRIMARY KEY);
INSERT INTO p SELECT g FROM generate_series(1, 2500) g;
INSERT INTO p2 SELECT g, g FROM generate_series(1, 2500) g;
INSERT INTO pn SELECT g FROM generate_series(1, 2500) g;
INSERT INTO pt SELECT g FROM generate_series(1, 2500) g;

-- served
CREATE TABLE c_plain (a int REFERENCES p);                CREATE INDEX ON c_plain (a);
CREATE TABLE c_order (a int, b int, FOREIGN KEY (a, b) REFERENCES p2);
                                                          CREATE INDEX ON c_order (b, a);
CREATE TABLE c_wider (a int, b int, c int, FOREIGN KEY (a, b) REFERENCES p2);
                                                          CREATE INDEX ON c_wider (a, b, c);
CREATE TABLE c_notnull (a int REFERENCES p);              CREATE INDEX ON c_notnull (a) WHERE a IS NOT NULL;
CREATE TABLE c_hash (a int REFERENCES p);                 CREATE INDEX ON c_hash USING hash (a);
CREATE TABLE c_bigint (a bigint REFERENCES p);            CREATE INDEX ON c_bigint (a);
CREATE TABLE c_varchar (a varchar REFERENCES pt);         CREATE INDEX ON c_varchar (a);
CREATE TABLE c_pattern (a text REFERENCES pt);            CREATE INDEX ON c_pattern (a text_pattern_ops);
CREATE TABLE c_castidx (a int REFERENCES pn);             CREATE INDEX ON c_castidx ((a::numeric));
-- not served
CREATE TABLE c_none (a int REFERENCES p);
CREATE TABLE c_notlead (x int, a int REFERENCES p);       CREATE INDEX ON c_notlead (x, a);
CREATE TABLE c_partial (a int REFERENCES p, f boolean);   CREATE INDEX ON c_partial (a) WHERE f;
CREATE TABLE c_expr (a int REFERENCES p);                 CREATE INDEX ON c_expr ((a + 0));
CREATE TABLE c_cast (a int REFERENCES pn);                CREATE INDEX ON c_cast (a);
CREATE TABLE c_coll (a text REFERENCES pt);               CREATE INDEX ON c_coll (a COLLATE "C");
CREATE TABLE c_brin (a int REFERENCES p);                 CREATE INDEX ON c_brin USING brin (a);
-- not covered by the rule (every FK column must be searchable), although the
-- probe can use the leading column: left out of the executor comparison
CREATE TABLE m_include (a int, b int, FOREIGN KEY (a, b) REFERENCES p2);
                                                          CREATE INDEX ON m_include (a) INCLUDE (b);
CREATE TABLE m_two (a int, b int, x int, FOREIGN KEY (a, b) REFERENCES p2);
CREATE INDEX ON m_two (a, x);                             CREATE INDEX ON m_two (x, b);

-- 2000 referencing rows each: an index that serves the probe reads two or
-- three blocks per probe, a full scan of the same index reads all of it
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, array_agg(a.attname ORDER BY a.attnum) AS cols,
                  bool_or(a.atttypid IN ('text'::regtype, 'varchar'::regtype)) AS texty
           FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (k.conkey)
           WHERE c.relnamespace = 'tap_fk'::regnamespace GROUP BY c.relname
  LOOP
    EXECUTE format('INSERT INTO tap_fk.%I (%s) SELECT %s FROM generate_series(1, 2000) g',
                   r.relname, array_to_string(r.cols, ', '),
                   array_to_string(array_fill(CASE WHEN r.texty THEN 'g::text' ELSE 'g' END::text,
                                              ARRAY[cardinality(r.cols)]), ', '));
  END LOOP;
END $$;
UPDATE c_notlead SET x = a;
ANALYZE;

-- whether an index CAN serve the probe: no sequential scan when one can, and
-- an index that is read from end to end does not count
SET LOCAL enable_seqscan = off;
SET LOCAL jit = off;
CREATE TEMP TABLE before_scans AS
  SELECT i.indrelid, i.indexrelid, pg_stat_get_xact_numscans(i.indexrelid) AS n,
         pg_stat_get_xact_blocks_fetched(i.indexrelid) AS blocks
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
  WHERE c.relnamespace = 'tap_fk'::regnamespace;
CREATE TEMP VIEW unserved AS
  SELECT c.oid::regclass AS relation FROM pg_class c
  WHERE c.relnamespace = 'tap_fk'::regnamespace AND c.relname LIKE 'c\_%' AND c.relkind = 'r'
    AND NOT EXISTS (SELECT FROM before_scans b
                     WHERE b.indrelid = c.oid AND pg_stat_get_xact_numscans(b.indexrelid) > b.n
                       AND pg_stat_get_xact_blocks_fetched(b.indexrelid) - b.blocks
                           <= 3 * (pg_stat_get_xact_numscans(b.indexrelid) - b.n));
DELETE FROM p WHERE id > 2480;
DELETE FROM p2 WHERE a > 2480;
DELETE FROM pn WHERE id > 2480;
DELETE FROM pt WHERE id::int > 2480;

SELECT set_eq(
  $$SELECT relation FROM unserved$$,
  $$SELECT relation FROM schema_guard.fk_index_audit('tap_fk') WHERE relation::text LIKE 'c\_%'$$,
  'the audit lists exactly the foreign keys whose RI probe no index served');
SELECT is((SELECT count(*) FROM schema_guard.fk_index_audit('tap_fk'))::int, 9,
  'nine foreign keys without a usable index');
SELECT results_eq(
  $$SELECT relation::text, reason FROM schema_guard.fk_index_audit('tap_fk') ORDER BY 1$$,
  $$VALUES ('c_brin', 'wrong access method'), ('c_cast', 'column type forces a cast'), ('c_coll', 'collation differs'),
           ('c_expr', 'no index'), ('c_none', 'no index'), ('c_notlead', 'not the leading columns'),
           ('c_partial', 'only a partial index'), ('m_include', 'only as INCLUDE column'), ('m_two', 'no index')$$,
  'the reasons');

-- a plain role sees the same (catalogs are readable; the audit needs no privilege)
CREATE TEMP TABLE as_superuser AS SELECT * FROM schema_guard.fk_index_audit('tap_fk');
CREATE ROLE tap_fk_reader;
GRANT SELECT ON as_superuser TO tap_fk_reader;
SET LOCAL ROLE tap_fk_reader;
SELECT set_eq(
  $$SELECT relation, constraint_name, reason, fix FROM schema_guard.fk_index_audit('tap_fk')$$,
  $$SELECT relation, constraint_name, reason, fix FROM as_superuser$$,
  'a role without privileges on the tables gets the same report');
RESET ROLE;

-- every fix works: applied here without CONCURRENTLY (inside a transaction)
SELECT lives_ok(
  $q$DO $d$ DECLARE f text;
    BEGIN
      FOR f IN SELECT fix FROM schema_guard.fk_index_audit('tap_fk') LOOP
        EXECUTE replace(f, 'CONCURRENTLY ', '');
      END LOOP;
    END $d$ $q$,
  'every fix runs');
SELECT is_empty($$SELECT * FROM schema_guard.fk_index_audit('tap_fk')$$, 'nothing is left to report');

-- and the executor agrees: an index now serves every probe
DELETE FROM before_scans;
INSERT INTO before_scans
  SELECT i.indrelid, i.indexrelid, pg_stat_get_xact_numscans(i.indexrelid),
         pg_stat_get_xact_blocks_fetched(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
  WHERE c.relnamespace = 'tap_fk'::regnamespace;
DELETE FROM p WHERE id > 2460;
DELETE FROM p2 WHERE a > 2460;
DELETE FROM pn WHERE id > 2460;
DELETE FROM pt WHERE id::int > 2460;
SELECT is_empty($$SELECT relation FROM unserved$$, 'after the fixes an index serves every RI probe');

SELECT * FROM finish();
ROLLBACK;
