-- pgTAP: schema_guard.audit() and audit_checks().  For every check a positive
-- case, the traps the other tools fall into (research/audit-lints.md §1, §6)
-- as negative cases, and the fix the audit gives applied at top level (with
-- \gexec, so CONCURRENTLY runs for real, with the guard on) and the finding
-- gone afterwards.  Runs outside a transaction: the fixture is dropped at
-- the end (and at the start, after an aborted run).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS tap_audit, tap_audit_w, tap_audit_x CASCADE;
DROP PUBLICATION IF EXISTS tap_audit_pub;
DROP ROLE IF EXISTS tap_audit_stranger;
DROP ROLE IF EXISTS tap_audit_owner;
DROP ROLE IF EXISTS tap_audit_member;
SET schema_guard.mode = off;   -- the fixture; the fixes run with the guard on
SET lock_timeout = '10s';      -- as the guard asks of statements that take ACCESS EXCLUSIVE
SELECT no_plan();

CREATE SCHEMA tap_audit;
SET search_path = tap_audit, public;
CREATE FUNCTION pg_temp.rows(chk text)
RETURNS TABLE (relation text, object text, severity text, detail text, fix text)
LANGUAGE sql AS $$
  SELECT relation::text, object, severity, detail, fix FROM schema_guard.audit('tap_audit') WHERE "check" = chk
$$;
CREATE FUNCTION pg_temp.objects(chk text) RETURNS text[]
LANGUAGE sql AS $$
  SELECT coalesce(array_agg(coalesce(object, relation::text) ORDER BY 1), '{}') FROM pg_temp.rows(chk)
$$;

------------------------------------------------------------------ the surface
SELECT has_function('schema_guard', 'audit', ARRAY['name[]'], 'audit(VARIADIC name[]) exists');
SELECT has_function('schema_guard', 'audit_checks', 'audit_checks() exists');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'schema_guard.audit(name[])'::regprocedure), false,
  'audit() is SECURITY INVOKER');
SELECT ok((SELECT 'search_path=pg_catalog, pg_temp' = ANY (proconfig) FROM pg_proc
            WHERE oid = 'schema_guard.audit(name[])'::regprocedure), 'audit() pins search_path');
SELECT is((SELECT count(*)::int FROM schema_guard.audit_checks()), 36, 'audit_checks() lists 36 checks');
SELECT is((SELECT count(DISTINCT "check")::int FROM schema_guard.audit_checks()), 36, 'check names are unique');
SELECT is_empty($$SELECT "check" FROM schema_guard.audit_checks()
                   WHERE severity NOT IN ('high', 'medium', 'low')
                      OR source NOT IN ('audit', 'fk_index_audit', 'rls_audit')
                      OR "check" !~ '^[a-z_]+$' OR length(description) < 20$$,
  'every check has a severity, a source, a snake_case name and a description');
SELECT is_empty($$SELECT "check" FROM schema_guard.audit_checks() WHERE NOT enabled$$, 'all checks are on by default');

------------------------------------------------------------------ duplicate_index
CREATE TABLE dup (id int PRIMARY KEY, email text, phone text, a int, b int, e text, u int);
CREATE INDEX email ON dup (email);                   -- indexes named after their column (splinter 0009's FP)
CREATE INDEX phone ON dup (phone);
CREATE INDEX dup_a ON dup (a);
CREATE INDEX dup_a_again ON dup (a);                 -- duplicate
CREATE INDEX dup_a_desc ON dup (a DESC);             -- other order: not a duplicate
CREATE INDEX dup_a_part ON dup (a) WHERE a > 0;      -- predicate
CREATE INDEX dup_a_part2 ON dup (a) WHERE a > 1;     -- another predicate
CREATE INDEX dup_a_hash ON dup USING hash (a);       -- another method
CREATE INDEX dup_e_c ON dup (e COLLATE "C");         -- another collation
CREATE INDEX dup_e ON dup (e);
CREATE INDEX dup_lower ON dup ((lower(e)));
CREATE INDEX dup_lower_again ON dup (  (  lower(e)  )  );  -- the same tree, other parse locations
CREATE INDEX dup_upper ON dup ((upper(e)));
CREATE UNIQUE INDEX dup_id ON dup (id);              -- same as the primary key's
CREATE INDEX dup_u ON dup (u) INCLUDE (b);
CREATE INDEX dup_u_plain ON dup (u);                 -- redundant, not a duplicate
CREATE TABLE dup_part (k int, v int) PARTITION BY RANGE (k);
CREATE TABLE dup_part_1 PARTITION OF dup_part FOR VALUES FROM (0) TO (10);
CREATE TABLE dup_part_2 PARTITION OF dup_part FOR VALUES FROM (10) TO (20);
CREATE INDEX dup_part_v ON dup_part (v);
CREATE INDEX dup_part_v_again ON dup_part (v);       -- once on the parent, not per partition

SELECT is(pg_temp.objects('duplicate_index'),
  ARRAY['tap_audit.dup_a_again', 'tap_audit.dup_id', 'tap_audit.dup_lower_again', 'tap_audit.dup_part_v_again'],
  'duplicate_index: exact twins compared on the catalog, partitioned ones once, the primary key kept');
SELECT matches((SELECT detail FROM pg_temp.rows('duplicate_index') WHERE object = 'tap_audit.dup_id'),
  'same definition as tap_audit.dup_pkey \(the primary key, kept\)', 'the primary key is the one kept');
SELECT is((SELECT fix FROM pg_temp.rows('duplicate_index') WHERE object = 'tap_audit.dup_part_v_again'),
  'DROP INDEX tap_audit.dup_part_v_again;', 'a partitioned index is dropped without CONCURRENTLY (not supported)');
SELECT is((SELECT fix FROM pg_temp.rows('duplicate_index') WHERE object = 'tap_audit.dup_a_again'),
  'DROP INDEX CONCURRENTLY tap_audit.dup_a_again;', 'the fix drops the newer twin concurrently');

------------------------------------------------------------------ redundant_index
CREATE TABLE red (id int PRIMARY KEY, a int, b int, c1 int, c12 int, "user" int, user_id int, x int, p boolean);
CREATE INDEX red_a ON red (a);                        -- prefix of red_a_b
CREATE INDEX red_a_b ON red (a, b);
CREATE INDEX red_c1 ON red (c1);                      -- attnum 1 vs 12 (postgres-checkup H004's FP)
CREATE INDEX red_c12 ON red (c12, x);
CREATE INDEX red_user ON red ("user");                -- "user" vs user_id (pglinter B002's FP)
CREATE INDEX red_user_id ON red (user_id, x);
CREATE INDEX red_id_x ON red (id, x);                 -- the primary key is never the one to drop
CREATE UNIQUE INDEX red_b_u ON red (b);               -- a unique index is never the one to drop
CREATE INDEX red_b_x ON red (b, x);
CREATE INDEX red_x_part ON red (x) WHERE p;           -- another predicate than red_x_b's
CREATE INDEX red_x_b ON red (x, b);
CREATE INDEX red_c1_brin ON red USING brin (c1, x);   -- another access method
CREATE INDEX red_c12_incl ON red (c12) INCLUDE (b);   -- INCLUDE column the wider index lacks
CREATE TABLE red_fk (id int PRIMARY KEY, r int REFERENCES red, s int);
CREATE INDEX red_fk_r ON red_fk (r);                  -- serves the foreign key; so does red_fk_r_s
CREATE INDEX red_fk_r_s ON red_fk (r, s);

SELECT is(pg_temp.objects('redundant_index'),
  ARRAY['tap_audit.dup_u_plain', 'tap_audit.red_a', 'tap_audit.red_fk_r'],
  'redundant_index: leading parts of a wider btree index with the same predicate, INCLUDE columns covered');
SELECT matches((SELECT detail FROM pg_temp.rows('redundant_index') WHERE object = 'tap_audit.red_fk_r'),
  'serves the RI check of foreign key red_fk_r_fkey; tap_audit.red_fk_r_s serves it too',
  'an index that serves a foreign key says so');
SELECT matches((SELECT detail FROM pg_temp.rows('redundant_index') WHERE object = 'tap_audit.dup_u_plain'),
  'leading part of tap_audit.dup_u \(u\) INCLUDE \(b\)', 'a wider INCLUDE list covers');

-- the fixes, with the guard on
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('duplicate_index') WHERE fix IS NOT NULL AND fix NOT LIKE 'DROP INDEX tap_audit.dup_part%' \gexec
SET schema_guard.mode = off;
SELECT fix FROM pg_temp.rows('duplicate_index') WHERE fix LIKE 'DROP INDEX tap_audit.dup_part%' \gexec
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('redundant_index') \gexec
SET schema_guard.mode = off;
SELECT is(pg_temp.objects('duplicate_index'), '{}', 'duplicate_index: nothing left after the fixes');
SELECT is(pg_temp.objects('redundant_index'), '{}', 'redundant_index: nothing left after the fixes');
SELECT ok(to_regclass('tap_audit.dup_pkey') IS NOT NULL AND to_regclass('tap_audit.dup_lower') IS NOT NULL
          AND to_regclass('tap_audit.red_a_b') IS NOT NULL AND to_regclass('tap_audit.red_b_u') IS NOT NULL,
  'the kept indexes are still there');

------------------------------------------------------------------ invalid_index
CREATE TABLE inv (id int PRIMARY KEY, v int);
INSERT INTO inv SELECT g, g FROM generate_series(1, 100) g;
CREATE FUNCTION inv_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE INDEX inv_f_idx ON inv (inv_f(v));
-- a failed CREATE INDEX CONCURRENTLY, and an interrupted REINDEX CONCURRENTLY
\set ON_ERROR_STOP 0
\set VERBOSITY terse
CREATE INDEX CONCURRENTLY inv_failed ON inv ((1 / (v - 50)));
CREATE OR REPLACE FUNCTION inv_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1 / ($1 - 50)';
REINDEX INDEX CONCURRENTLY inv_f_idx;
\set ON_ERROR_STOP 1
\set VERBOSITY default
CREATE OR REPLACE FUNCTION inv_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
-- a partitioned index built ON ONLY the parent, one partition attached
CREATE TABLE inv_part (k int, v int) PARTITION BY RANGE (k);
CREATE TABLE inv_part_1 PARTITION OF inv_part FOR VALUES FROM (0) TO (10);
CREATE TABLE inv_part_2 PARTITION OF inv_part FOR VALUES FROM (10) TO (20);
CREATE INDEX inv_part_v ON ONLY inv_part (v);
CREATE INDEX inv_part_1_v ON inv_part_1 (v);
ALTER INDEX inv_part_v ATTACH PARTITION inv_part_1_v;

SELECT is(pg_temp.objects('invalid_index'),
  ARRAY['tap_audit.inv_f_idx_ccnew', 'tap_audit.inv_failed', 'tap_audit.inv_part_v'],
  'invalid_index: a failed CREATE INDEX CONCURRENTLY, a REINDEX CONCURRENTLY leftover, an invalid partitioned index');
SELECT is((SELECT fix FROM pg_temp.rows('invalid_index') WHERE object = 'tap_audit.inv_f_idx_ccnew'),
  'DROP INDEX CONCURRENTLY tap_audit.inv_f_idx_ccnew;', 'the leftover is dropped: the valid original stays');
SELECT matches((SELECT detail FROM pg_temp.rows('invalid_index') WHERE object = 'tap_audit.inv_f_idx_ccnew'),
  'leftover of an interrupted REINDEX CONCURRENTLY; valid index tap_audit.inv_f_idx has the same definition',
  'the leftover is named as such');
SELECT is((SELECT fix FROM pg_temp.rows('invalid_index') WHERE object = 'tap_audit.inv_failed'),
  'REINDEX INDEX CONCURRENTLY tap_audit.inv_failed;', 'a failed build is rebuilt');
SELECT matches((SELECT detail FROM pg_temp.rows('invalid_index') WHERE object = 'tap_audit.inv_part_v'),
  'partition tap_audit.inv_part_2 has no valid index attached', 'the partition without the index is named');
SELECT is((SELECT fix FROM pg_temp.rows('invalid_index') WHERE object = 'tap_audit.inv_part_v'),
  E'CREATE INDEX CONCURRENTLY inv_part_2_idx ON tap_audit.inv_part_2 USING btree (v);\nALTER INDEX tap_audit.inv_part_v ATTACH PARTITION tap_audit.inv_part_2_idx;',
  'its fix builds the index on that partition concurrently and attaches it');

-- the fixes (the failed build's data first)
DELETE FROM inv WHERE v = 50;
SET schema_guard.mode = block;
SELECT regexp_split_to_table(fix, E'\n') FROM pg_temp.rows('invalid_index') WHERE fix IS NOT NULL \gexec
SET schema_guard.mode = off;
SELECT is(pg_temp.objects('invalid_index'), '{}', 'invalid_index: nothing left after the fixes');
SELECT ok((SELECT indisvalid FROM pg_index WHERE indexrelid = 'tap_audit.inv_failed'::regclass),
  'the rebuilt index is valid');
SELECT ok((SELECT indisvalid FROM pg_index WHERE indexrelid = 'tap_audit.inv_part_v'::regclass),
  'the partitioned index is valid');

-- not while it is being built: a CREATE INDEX CONCURRENTLY waiting for a writer
CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA public;
DO $$
BEGIN
  PERFORM dblink_connect(c, format('dbname=%s host=%s port=%s', current_database(),
                                   split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')))
  FROM unnest(ARRAY['tap_audit_writer', 'tap_audit_builder']) c;
  PERFORM dblink_exec('tap_audit_builder', 'SET schema_guard.mode = off');
  PERFORM dblink_exec('tap_audit_writer', 'BEGIN');
  PERFORM dblink_exec('tap_audit_writer', 'INSERT INTO tap_audit.inv VALUES (1000, 1000)');
  PERFORM dblink_send_query('tap_audit_builder', 'CREATE INDEX CONCURRENTLY inv_building ON tap_audit.inv (v)');
END $$;
DO $$
BEGIN
  FOR i IN 1..600 LOOP   -- at most 60 s
    EXIT WHEN EXISTS (SELECT FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid
                       WHERE c.relname = 'inv_building' AND p.phase LIKE 'waiting for writers%');
    PERFORM pg_sleep(0.1);
    PERFORM pg_stat_clear_snapshot();   -- the activity snapshot is per transaction otherwise
  END LOOP;
END $$;
SELECT ok((SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'tap_audit.inv_building'::regclass),
  'the index being built is invalid in the catalog');
SELECT is(pg_temp.objects('invalid_index'), '{}', 'invalid_index: not reported while CREATE INDEX CONCURRENTLY builds it');
-- cancelled (not waited for: its last phase would wait for this session's snapshot)
DO $$ BEGIN PERFORM dblink_cancel_query('tap_audit_builder'); END $$;
SELECT ok((SELECT status FROM dblink_get_result('tap_audit_builder', false) AS r(status text)) IS NULL,
  'the build is cancelled');
DO $$
BEGIN
  PERFORM FROM dblink_get_result('tap_audit_builder', false) AS r(status text);
  PERFORM dblink_exec('tap_audit_writer', 'COMMIT');
  PERFORM dblink_disconnect('tap_audit_writer');
  PERFORM dblink_disconnect('tap_audit_builder');
END $$;
SELECT is(pg_temp.objects('invalid_index'), ARRAY['tap_audit.inv_building'],
  'invalid_index: reported once the build is over');
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('invalid_index') \gexec
SET schema_guard.mode = off;
SELECT is(pg_temp.objects('invalid_index'), '{}', 'invalid_index: nothing left after REINDEX CONCURRENTLY');

------------------------------------------------------------------ not_valid_constraint
CREATE TABLE nv_parent (id int PRIMARY KEY);
INSERT INTO nv_parent VALUES (1);
CREATE TABLE nv (id int, p int, v int);
INSERT INTO nv VALUES (1, 1, 1);
ALTER TABLE nv ADD CONSTRAINT nv_v_positive CHECK (v > 0) NOT VALID;
ALTER TABLE nv ADD CONSTRAINT nv_p_fkey FOREIGN KEY (p) REFERENCES nv_parent NOT VALID;
CREATE TABLE nv_child () INHERITS (nv);                -- inherits a NOT VALID copy: reported once, on nv
CREATE DOMAIN nv_dom AS int;
CREATE TABLE nv_dom_user (d nv_dom);
ALTER DOMAIN nv_dom ADD CONSTRAINT nv_dom_positive CHECK (VALUE > 0) NOT VALID;
ALTER TABLE nv ADD CONSTRAINT nv_valid CHECK (id > 0);  -- validated: not reported

SELECT is(pg_temp.objects('not_valid_constraint'), ARRAY['nv_dom_positive', 'nv_p_fkey', 'nv_v_positive'],
  'not_valid_constraint: table and domain constraints, inherited copies not repeated');
SELECT is((SELECT fix FROM pg_temp.rows('not_valid_constraint') WHERE object = 'nv_p_fkey'),
  'ALTER TABLE tap_audit.nv VALIDATE CONSTRAINT nv_p_fkey;', 'the fix validates');
SELECT is((SELECT fix FROM pg_temp.rows('not_valid_constraint') WHERE object = 'nv_dom_positive'),
  'ALTER DOMAIN tap_audit.nv_dom VALIDATE CONSTRAINT nv_dom_positive;', 'a domain constraint too');
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('not_valid_constraint') WHERE object <> 'nv_dom_positive' \gexec
SET schema_guard.mode = off;    -- ALTER DOMAIN VALIDATE takes SHARE on the tables: the guard would block it
SELECT fix FROM pg_temp.rows('not_valid_constraint') \gexec
SELECT is(pg_temp.objects('not_valid_constraint'), '{}', 'not_valid_constraint: nothing left after the fixes');

------------------------------------------------------------------ table_without_primary_key
CREATE SCHEMA tap_audit_x;
CREATE TABLE tap_audit_x.plain (a int);
CREATE TABLE tap_audit_x.with_pk (a int PRIMARY KEY);
CREATE TABLE tap_audit_x.parted (k int, v int) PARTITION BY RANGE (k);
CREATE TABLE tap_audit_x.parted_1 PARTITION OF tap_audit_x.parted FOR VALUES FROM (0) TO (10);
CREATE TABLE tap_audit_x.parted_2 PARTITION OF tap_audit_x.parted FOR VALUES FROM (10) TO (20);
CREATE TABLE tap_audit_x.parted_3 PARTITION OF tap_audit_x.parted FOR VALUES FROM (20) TO (30);
CREATE TABLE tap_audit_x.pub_default (a int);
CREATE TABLE tap_audit_x.pub_full (a int);
ALTER TABLE tap_audit_x.pub_full REPLICA IDENTITY FULL;
CREATE TABLE tap_audit_x.pub_index (a int NOT NULL, b int);
CREATE UNIQUE INDEX pub_index_a ON tap_audit_x.pub_index (a);
ALTER TABLE tap_audit_x.pub_index REPLICA IDENTITY USING INDEX pub_index_a;
CREATE TABLE tap_audit_x.nullable_unique (a int UNIQUE);
SET client_min_messages = error;   -- wal_level is not logical here
CREATE PUBLICATION tap_audit_pub FOR TABLE tap_audit_x.pub_default, tap_audit_x.pub_full, tap_audit_x.pub_index;
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.pk_rows() RETURNS TABLE (relation text, severity text, fix text)
LANGUAGE sql AS $$
  SELECT relation::text, severity, fix FROM schema_guard.audit('tap_audit_x') WHERE "check" = 'table_without_primary_key'
$$;

SELECT set_eq($$SELECT relation, severity FROM pg_temp.pk_rows()$$,
  $$VALUES ('tap_audit_x.nullable_unique', 'low'), ('tap_audit_x.parted', 'low'), ('tap_audit_x.plain', 'low'),
           ('tap_audit_x.pub_default', 'high'), ('tap_audit_x.pub_full', 'medium'), ('tap_audit_x.pub_index', 'low')$$,
  'table_without_primary_key: a partitioned table once, severity from publications and replica identity');
SELECT is((SELECT fix FROM pg_temp.pk_rows() WHERE relation = 'tap_audit_x.pub_index'),
  'ALTER TABLE tap_audit_x.pub_index ADD PRIMARY KEY USING INDEX pub_index_a;',
  'a unique index on NOT NULL columns becomes the primary key');
SELECT is((SELECT fix FROM pg_temp.pk_rows() WHERE relation = 'tap_audit_x.nullable_unique'), NULL,
  'a unique index on a nullable column is no fix (SET NOT NULL would scan)');
SELECT matches((SELECT detail FROM schema_guard.audit('tap_audit_x') WHERE relation = 'tap_audit_x.pub_default'::regclass),
  'A publication replicates its UPDATE and DELETE: they fail', 'the replication failure is named');
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.pk_rows() WHERE fix IS NOT NULL \gexec
SET schema_guard.mode = off;
SELECT is((SELECT count(*)::int FROM pg_temp.pk_rows() WHERE relation = 'tap_audit_x.pub_index'), 0,
  'table_without_primary_key: gone after the fix');
DROP PUBLICATION tap_audit_pub;

------------------------------------------------------------------ foreign_key_type_mismatch / duplicate_foreign_key
CREATE TABLE fk_num (id numeric PRIMARY KEY);
CREATE TABLE fk_big (id bigint PRIMARY KEY, t text UNIQUE, v varchar(20) UNIQUE, a int, b int, UNIQUE (a, b));
CREATE DOMAIN fk_int_dom AS bigint;
CREATE TABLE fk_child (
  n int REFERENCES fk_num,                 -- cast on the column: no index serves the RI check
  i int REFERENCES fk_big,                 -- narrower than the key
  d fk_int_dom REFERENCES fk_big,          -- a domain over the same type: fine
  s varchar REFERENCES fk_big (t),         -- varchar to text: the same values
  short varchar(5) REFERENCES fk_big (v),  -- shorter than the key
  x bigint, y bigint);
CREATE INDEX ON fk_child (n);
ALTER TABLE fk_child ADD CONSTRAINT fk_child_xy FOREIGN KEY (x, y) REFERENCES fk_big (a, b);
ALTER TABLE fk_child ADD CONSTRAINT fk_child_yx FOREIGN KEY (y, x) REFERENCES fk_big (b, a);   -- same pairs
ALTER TABLE fk_child ADD CONSTRAINT fk_child_i_again FOREIGN KEY (i) REFERENCES fk_big;         -- duplicate
ALTER TABLE fk_child ADD CONSTRAINT fk_child_i_cascade FOREIGN KEY (i) REFERENCES fk_big ON DELETE CASCADE;
-- partition clones are not duplicates
CREATE TABLE fk_ref_part (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE fk_ref_part_1 PARTITION OF fk_ref_part FOR VALUES FROM (0) TO (10);
CREATE TABLE fk_ref_part_2 PARTITION OF fk_ref_part FOR VALUES FROM (10) TO (20);
CREATE TABLE fk_part_child (r int REFERENCES fk_ref_part, k int) PARTITION BY RANGE (k);
CREATE TABLE fk_part_child_1 PARTITION OF fk_part_child FOR VALUES FROM (0) TO (10);

SELECT set_eq($$SELECT object, severity FROM pg_temp.rows('foreign_key_type_mismatch')$$,
  $$VALUES ('fk_child_n_fkey', 'high'), ('fk_child_i_fkey', 'medium'), ('fk_child_i_again', 'medium'),
           ('fk_child_i_cascade', 'medium'), ('fk_child_short_fkey', 'low'), ('fk_child_xy', 'low'),
           ('fk_child_yx', 'low')$$,
  'foreign_key_type_mismatch: a cast high, a narrower integer medium, domains and varchar/text not at all');
SELECT matches((SELECT detail FROM pg_temp.rows('foreign_key_type_mismatch') WHERE object = 'fk_child_n_fkey'),
  'compares n::numeric, so no index on n can serve it', 'the cast is named');
SELECT set_eq($$SELECT object, fix FROM pg_temp.rows('duplicate_foreign_key')$$,
  $$VALUES ('fk_child_yx', 'ALTER TABLE tap_audit.fk_child DROP CONSTRAINT fk_child_yx;'),
           ('fk_child_i_again', 'ALTER TABLE tap_audit.fk_child DROP CONSTRAINT fk_child_i_again;'),
           ('fk_child_i_cascade', NULL)$$,
  'duplicate_foreign_key: same pairs in any order; different actions leave the choice to the team; no partition clones');
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('duplicate_foreign_key') WHERE fix IS NOT NULL \gexec
SET schema_guard.mode = off;
SELECT is(pg_temp.objects('duplicate_foreign_key'), ARRAY['fk_child_i_cascade'],
  'duplicate_foreign_key: only the one left to the team after the fixes');

------------------------------------------------------------------ sequence_overflow
\o /dev/null
CREATE TABLE sq_int (id serial PRIMARY KEY);                          -- int column and sequence
SELECT setval('sq_int_id_seq', 2000000000);
CREATE TABLE sq_narrow_seq (id bigint PRIMARY KEY);                   -- bigint column, integer sequence
CREATE SEQUENCE sq_narrow AS integer OWNED BY sq_narrow_seq.id;
ALTER TABLE sq_narrow_seq ALTER id SET DEFAULT nextval('sq_narrow');
SELECT setval('sq_narrow', 1700000000);
CREATE TABLE sq_big (id bigserial PRIMARY KEY);                       -- bigint key an int column references
CREATE TABLE sq_big_ref (big_id int REFERENCES sq_big);
SELECT setval('sq_big_id_seq', 1800000000);
CREATE TABLE sq_fine (id bigint GENERATED ALWAYS AS IDENTITY);        -- far from the end
SELECT setval(pg_get_serial_sequence('tap_audit.sq_fine', 'id'), 2000000000);
CREATE SEQUENCE sq_cycle AS integer MAXVALUE 1000 CYCLE;              -- cycles by design
CREATE TABLE sq_cycle_user (id int DEFAULT nextval('sq_cycle'));
SELECT setval('sq_cycle', 999);
CREATE SEQUENCE sq_unused AS smallint;                                -- never called
CREATE SEQUENCE sq_down AS integer INCREMENT -1 MAXVALUE -1;          -- descending
SELECT setval('sq_down', -2100000000);
\o

SELECT set_eq($$SELECT object, severity FROM pg_temp.rows('sequence_overflow')$$,
  $$VALUES ('tap_audit.sq_int_id_seq', 'high'), ('tap_audit.sq_narrow', 'medium'),
           ('tap_audit.sq_big_id_seq', 'medium'), ('tap_audit.sq_down', 'high')$$,
  'sequence_overflow: the sequence''s bounds, the column it feeds and the foreign key columns referencing it');
SELECT matches((SELECT detail FROM pg_temp.rows('sequence_overflow') WHERE object = 'tap_audit.sq_big_id_seq'),
  'foreign key column tap_audit.sq_big_ref.big_id \(integer\)', 'the referencing int column is what overflows');
SELECT is((SELECT fix FROM pg_temp.rows('sequence_overflow') WHERE object = 'tap_audit.sq_narrow'),
  'ALTER SEQUENCE tap_audit.sq_narrow AS bigint MAXVALUE 9223372036854775807;',
  'a narrow sequence feeding bigint columns is widened');
SELECT is((SELECT fix FROM pg_temp.rows('sequence_overflow') WHERE object = 'tap_audit.sq_int_id_seq'), NULL,
  'a narrow column is the team''s migration');
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('sequence_overflow') WHERE fix IS NOT NULL \gexec
SET schema_guard.mode = off;
SELECT is((SELECT count(*)::int FROM pg_temp.rows('sequence_overflow') WHERE object = 'tap_audit.sq_narrow'), 0,
  'sequence_overflow: gone after the fix');
-- under the caller's privileges: a role that may not read a sequence learns nothing about it
CREATE ROLE tap_audit_stranger;
GRANT USAGE ON SCHEMA tap_audit TO tap_audit_stranger;
SET ROLE tap_audit_stranger;
SELECT is((SELECT count(*)::int FROM schema_guard.audit('tap_audit') WHERE "check" = 'sequence_overflow'), 0,
  'a role without SELECT or USAGE on the sequences gets no sequence rows (and no error)');
RESET ROLE;
GRANT SELECT ON SEQUENCE sq_int_id_seq TO tap_audit_stranger;
SET ROLE tap_audit_stranger;
SELECT is((SELECT array_agg(object) FROM schema_guard.audit('tap_audit') WHERE "check" = 'sequence_overflow'),
  ARRAY['tap_audit.sq_int_id_seq'], 'with SELECT on it, the role sees that sequence');
RESET ROLE;
-- the sequences are read without a lock that outlives the audit
BEGIN;
SELECT count(*) >= 0 FROM schema_guard.audit('tap_audit') \g /dev/null
SELECT is_empty($$SELECT l.relation::regclass FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE l.pid = pg_backend_pid() AND c.relnamespace = 'tap_audit'::regnamespace$$,
  'audit() holds no lock on any audited relation afterwards, sequences included');
COMMIT;

------------------------------------------------------------------ reg_type_column
CREATE DOMAIN reg_dom AS regconfig;
CREATE TYPE reg_comp AS (o regoper, n int);
CREATE TYPE reg_range AS RANGE (subtype = regtype);   -- regtype is allowed: not reported
CREATE TABLE reg_rows (a regproc);                    -- a table's row type carries its columns' types
CREATE TABLE reg (
  p regproc, pa regproc[], d reg_dom, c reg_comp, r reg_rows, ns regnamespace,
  ok_class regclass, ok_type regtype, ok_role regrole, ok_range reg_range, ok_oid oid);
CREATE MATERIALIZED VIEW reg_mv AS SELECT 'abs(int)'::regprocedure AS f;
CREATE TABLE reg_part (k int, p regoperator) PARTITION BY RANGE (k);
CREATE TABLE reg_part_1 PARTITION OF reg_part FOR VALUES FROM (0) TO (10);

SELECT set_eq($$SELECT relation, object FROM pg_temp.rows('reg_type_column')$$,
  $$VALUES ('reg', 'p'), ('reg', 'pa'), ('reg', 'd'), ('reg', 'c'), ('reg', 'r'), ('reg', 'ns'),
           ('reg_rows', 'a'), ('reg_mv', 'f'), ('reg_part', 'p')$$,
  'reg_type_column: pg_upgrade''s list through arrays, domains, composite and row types; regclass, regtype, regrole allowed; a partitioned table once');
SELECT matches((SELECT detail FROM pg_temp.rows('reg_type_column') WHERE relation = 'reg' AND object = 'd'),
  'of type tap_audit.reg_dom: a domain over regconfig', 'the path to the refused type is shown');
SELECT matches((SELECT detail FROM pg_temp.rows('reg_type_column') WHERE relation = 'reg' AND object = 'r'),
  'a composite type with a field of type regproc', 'through a row type');
ALTER TABLE reg DROP COLUMN p, DROP COLUMN pa, DROP COLUMN d, DROP COLUMN c, DROP COLUMN r, DROP COLUMN ns;
DROP TABLE reg_rows, reg_part;
DROP MATERIALIZED VIEW reg_mv;
SELECT is(pg_temp.objects('reg_type_column'), '{}', 'reg_type_column: nothing left once the columns are gone');

------------------------------------------------------------------ public_create_schema / definer_function_writable_path
CREATE SCHEMA tap_audit_w;
CREATE ROLE tap_audit_owner;
CREATE ROLE tap_audit_member IN ROLE tap_audit_owner;
GRANT CREATE ON SCHEMA tap_audit_w TO PUBLIC;
GRANT CREATE ON SCHEMA tap_audit TO tap_audit_stranger;
GRANT CREATE ON SCHEMA tap_audit_x TO tap_audit_member;   -- acts as the owner anyway
GRANT USAGE ON SCHEMA tap_audit_w TO PUBLIC;
CREATE FUNCTION tap_audit.definer_public() RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = tap_audit_w, pg_temp AS 'SELECT 1';
CREATE FUNCTION tap_audit.definer_stranger() RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = "tap_audit", pg_catalog, pg_temp AS 'SELECT 1';
CREATE FUNCTION tap_audit.definer_safe() RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
CREATE FUNCTION tap_audit.definer_member() RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = tap_audit_x, pg_temp AS 'SELECT 1';
ALTER FUNCTION tap_audit.definer_member() OWNER TO tap_audit_owner;
ALTER SCHEMA tap_audit_x OWNER TO tap_audit_owner;
CREATE FUNCTION tap_audit.definer_missing() RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = no_such_schema, pg_temp AS 'SELECT 1';     -- nobody else may CREATE on the database
CREATE FUNCTION tap_audit.invoker_public() RETURNS int LANGUAGE sql
  SET search_path = tap_audit_w AS 'SELECT 1';                  -- not SECURITY DEFINER

SELECT set_eq($$SELECT object, fix FROM pg_temp.rows('definer_function_writable_path')$$,
  $$VALUES ('tap_audit.definer_public()', 'REVOKE CREATE ON SCHEMA tap_audit_w FROM PUBLIC;'),
           ('tap_audit.definer_stranger()', NULL)$$,
  'definer_function_writable_path: schemas others can create in; not the owner''s members, not invoker functions');
SELECT matches((SELECT detail FROM pg_temp.rows('definer_function_writable_path') WHERE object = 'tap_audit.definer_stranger()'),
  'tap_audit_stranger may create objects in schema tap_audit', 'the role is named');
SELECT set_eq($$SELECT object, fix FROM schema_guard.audit('tap_audit_w', 'tap_audit', 'tap_audit_x') WHERE "check" = 'public_create_schema'$$,
  $$VALUES ('tap_audit_w', 'REVOKE CREATE ON SCHEMA tap_audit_w FROM PUBLIC;')$$,
  'public_create_schema: PUBLIC, not named roles');
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO PUBLIC', current_database()); END $$;
SELECT ok('tap_audit.definer_missing()' = ANY (pg_temp.objects('definer_function_writable_path')),
  'a schema that does not exist counts when others may create schemas');
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM PUBLIC', current_database()); END $$;
SET schema_guard.mode = block;
SELECT fix FROM schema_guard.audit('tap_audit_w', 'tap_audit')
 WHERE "check" IN ('public_create_schema', 'definer_function_writable_path') AND fix IS NOT NULL
 GROUP BY fix \gexec
SET schema_guard.mode = off;
REVOKE CREATE ON SCHEMA tap_audit FROM tap_audit_stranger;
SELECT is_empty($$SELECT * FROM schema_guard.audit('tap_audit_w', 'tap_audit', 'tap_audit_x')
                  WHERE "check" IN ('public_create_schema', 'definer_function_writable_path')$$,
  'public_create_schema, definer_function_writable_path: nothing left after the fixes');

------------------------------------------------------------------ xid_wraparound
CREATE TABLE xid_old (v int) WITH (autovacuum_freeze_max_age = 100000);
CREATE TABLE xid_young (v int);
BEGIN;
-- keeps autovacuum from freezing it meanwhile (it skips a table it cannot lock)
LOCK TABLE xid_old IN SHARE UPDATE EXCLUSIVE MODE;
-- 100,000 transaction IDs: one per subtransaction that writes
DO $$
BEGIN
  FOR i IN 1..100000 LOOP
    BEGIN
      INSERT INTO tap_audit.xid_young VALUES (i);
    EXCEPTION WHEN division_by_zero THEN NULL;
    END;
  END LOOP;
END $$;
SELECT is(pg_temp.objects('xid_wraparound'), ARRAY['xid_old'],
  'xid_wraparound: a table past its own autovacuum_freeze_max_age');
SELECT is((SELECT fix FROM pg_temp.rows('xid_wraparound')), 'VACUUM (FREEZE) tap_audit.xid_old;', 'the fix freezes it');
COMMIT;
SET client_min_messages = warning;
SET schema_guard.mode = block;
SELECT fix FROM pg_temp.rows('xid_wraparound') \gexec
SET schema_guard.mode = off;
SELECT is(pg_temp.objects('xid_wraparound'), '{}', 'xid_wraparound: gone after VACUUM (FREEZE)');

------------------------------------------------------------------ fk_index_audit(), rls_audit() and the switches
CREATE TABLE rel_parent (id int PRIMARY KEY);
CREATE TABLE rel_child (p int REFERENCES rel_parent);
CREATE TABLE rls_table (id int);
ALTER TABLE rls_table ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON rls_table TO tap_audit_stranger;
SELECT set_eq(
  $$SELECT relation::text, object, severity, fix FROM schema_guard.audit('tap_audit') WHERE "check" = 'unindexed_foreign_key'$$,
  $$SELECT relation::text, constraint_name::text, severity, fix FROM schema_guard.fk_index_audit('tap_audit')$$,
  'unindexed_foreign_key: the rows of fk_index_audit()');
SELECT set_eq(
  $$SELECT "check", relation::text, object, severity, detail, fix FROM schema_guard.audit('tap_audit')
     WHERE "check" IN (SELECT "check" FROM schema_guard.audit_checks() WHERE source = 'rls_audit')$$,
  $$SELECT "check", relation::text, policy::text, severity, detail, fix FROM schema_guard.rls_audit('tap_audit')$$,
  'the rows of rls_audit() under their own check names');
SELECT ok((SELECT count(*) FROM schema_guard.audit('tap_audit') WHERE "check" = 'rls_without_policy') = 1,
  'rls_without_policy is among them');
-- views whose owner bypasses RLS (rls_audit()'s definer_view): judged on the owner, not on the text of reloptions
CREATE TABLE rls_rows (id int, tenant int);
ALTER TABLE rls_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON rls_rows USING (tenant = 1);
CREATE TABLE plain_rows (id int PRIMARY KEY);
CREATE VIEW v_definer AS SELECT id FROM rls_rows;                                   -- owned by a superuser
CREATE VIEW v_invoker WITH (security_invoker = t) AS SELECT id FROM rls_rows;      -- stored as 't' (splinter 0010's FP)
CREATE VIEW v_plain AS SELECT id FROM plain_rows;                                   -- no RLS behind it
SELECT set_eq($$SELECT relation::text, severity, fix FROM schema_guard.audit('tap_audit') WHERE "check" = 'definer_view'$$,
  $$VALUES ('v_definer', 'high', 'ALTER VIEW tap_audit.v_definer SET (security_invoker = true);')$$,
  'definer_view: the view whose owner bypasses RLS; not an invoker view stored as t, not a view over plain tables');
SET schema_guard.mode = block;
SELECT fix FROM schema_guard.audit('tap_audit') WHERE "check" = 'definer_view' \gexec
SET schema_guard.mode = off;
SELECT is_empty($$SELECT * FROM schema_guard.audit('tap_audit') WHERE "check" = 'definer_view'$$,
  'definer_view: gone after the fix');
SELECT is_empty($$SELECT * FROM schema_guard.audit('public') WHERE "check" = 'public_create_schema'$$,
  'public_create_schema: not PostgreSQL 15''s default public schema');
SELECT is_empty($$SELECT a."check" FROM schema_guard.audit('tap_audit') a
                   LEFT JOIN schema_guard.audit_checks() c ON c."check" = a."check"
                   WHERE c."check" IS NULL
                      OR array_position(ARRAY['low', 'medium', 'high'], a.severity)
                         > array_position(ARRAY['low', 'medium', 'high'], c.severity)$$,
  'every row''s check is in audit_checks(), at no higher severity than listed');

SET schema_guard.audit_skip = 'unindexed_foreign_key, rls_without_policy, table_without_primary_key';
SELECT is_empty($$SELECT * FROM schema_guard.audit('tap_audit')
                   WHERE "check" IN ('unindexed_foreign_key', 'rls_without_policy', 'table_without_primary_key')$$,
  'schema_guard.audit_skip leaves checks out');
SELECT set_eq($$SELECT "check" FROM schema_guard.audit_checks() WHERE NOT enabled$$,
  ARRAY['unindexed_foreign_key', 'rls_without_policy', 'table_without_primary_key'],
  'audit_checks() shows which are off');
RESET schema_guard.audit_skip;
SELECT throws_ok($$SET schema_guard.audit_skip = 'no_such_check'$$, '22023', NULL,
  'an unknown check name is refused');
SELECT ok((SELECT count(*) FROM schema_guard.audit('tap_audit') WHERE "check" = 'unindexed_foreign_key') > 0,
  'RESET turns it back on');
-- a plain role gets its rows without errors (catalogs are readable by everyone)
SET ROLE tap_audit_stranger;
SELECT lives_ok($$SELECT * FROM schema_guard.audit()$$, 'audit() of every schema runs as a plain role');
RESET ROLE;
SELECT lives_ok($$SELECT * FROM schema_guard.audit()$$, 'audit() of every schema runs');

------------------------------------------------------------------ clean-up
SELECT * FROM finish();
SET client_min_messages = warning;
DROP SCHEMA tap_audit, tap_audit_w, tap_audit_x CASCADE;
DROP EXTENSION IF EXISTS dblink;
DROP OWNED BY tap_audit_stranger, tap_audit_owner, tap_audit_member;
DROP ROLE tap_audit_stranger;
DROP ROLE tap_audit_member;
DROP ROLE tap_audit_owner;
