-- schema_guard.fk_index_audit(): every edge case of the coverage rule, the
-- covered ones included (they must not be listed), partitions, reasons, fixes.
SET schema_guard.mode = off;
\set VERBOSITY terse
CREATE SCHEMA afk;
SET search_path = afk;

CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE p2 (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE pn (id numeric PRIMARY KEY);
CREATE TABLE pt (id text PRIMARY KEY);

-- covered: leading columns in another order
CREATE TABLE ok_order (a int, b int, FOREIGN KEY (a, b) REFERENCES p2);
CREATE INDEX ON ok_order (b, a);
-- covered: the FK columns lead a wider index
CREATE TABLE ok_wider (a int, b int, c int, FOREIGN KEY (a, b) REFERENCES p2);
CREATE INDEX ON ok_wider (a, b, c);
-- covered: a partial index the probe's "a = $1" proves
CREATE TABLE ok_notnull (a int REFERENCES p);
CREATE INDEX ON ok_notnull (a) WHERE a IS NOT NULL;
CREATE TABLE ok_notnull2 (a int, b int, FOREIGN KEY (a, b) REFERENCES p2);
CREATE INDEX ON ok_notnull2 (a, b) WHERE a IS NOT NULL AND b IS NOT NULL;
-- covered: hash, single column
CREATE TABLE ok_hash (a int REFERENCES p);
CREATE INDEX ON ok_hash USING hash (a);
-- covered: cross-type operators in one family (bigint -> int, smallint -> int)
CREATE TABLE ok_bigint (a bigint REFERENCES p);
CREATE INDEX ON ok_bigint (a);
CREATE TABLE ok_smallint (a smallint REFERENCES p);
CREATE INDEX ON ok_smallint (a);
-- covered: varchar -> text is a binary-coercible relabel; pattern opclass has =
CREATE TABLE ok_varchar (a varchar REFERENCES pt);
CREATE INDEX ON ok_varchar (a);
CREATE TABLE ok_pattern (a text REFERENCES pt);
CREATE INDEX ON ok_pattern (a text_pattern_ops);
-- covered: the FK column is the primary key
CREATE TABLE ok_pk (id int PRIMARY KEY REFERENCES p);
-- covered: the expression index the cast forces (int -> numeric)
CREATE TABLE ok_cast (a int REFERENCES pn);
CREATE INDEX ON ok_cast ((a::numeric));

-- not covered: the FK column is not leading
CREATE TABLE bad_notlead (x int, a int REFERENCES p);
CREATE INDEX bad_notlead_x_a ON bad_notlead (x, a);
-- not covered: b is only an INCLUDE column
CREATE TABLE bad_include (a int, b int, FOREIGN KEY (a, b) REFERENCES p2);
CREATE INDEX bad_include_a ON bad_include (a) INCLUDE (b);
-- not covered: the predicate is not implied by a IS NOT NULL
CREATE TABLE bad_partial (a int REFERENCES p, flag boolean);
CREATE INDEX bad_partial_a ON bad_partial (a) WHERE flag;
-- not covered: only an expression index on another expression
CREATE TABLE bad_expr (a int REFERENCES p);
CREATE INDEX ON bad_expr ((a + 0));
-- not covered: the index is invalid (a failed CREATE INDEX CONCURRENTLY)
CREATE TABLE bad_invalid (a int REFERENCES p);
INSERT INTO p SELECT g FROM generate_series(1, 20) g;
INSERT INTO bad_invalid VALUES (1), (1);
CREATE UNIQUE INDEX CONCURRENTLY bad_invalid_a ON bad_invalid (a);
-- not covered: BRIN cannot serve the probe
CREATE TABLE bad_brin (a int REFERENCES p);
CREATE INDEX bad_brin_a ON bad_brin USING brin (a);
-- not covered: each column leads a different index
CREATE TABLE bad_two (a int, b int, x int, FOREIGN KEY (a, b) REFERENCES p2);
CREATE INDEX ON bad_two (a, x);
CREATE INDEX ON bad_two (x, b);
-- not covered: int -> numeric, the probe casts the column and skips its index
CREATE TABLE bad_cast (a int REFERENCES pn);
CREATE INDEX bad_cast_a ON bad_cast (a);
-- not covered: the index has another collation than the probe
CREATE TABLE bad_coll (a text REFERENCES pt);
CREATE INDEX bad_coll_a ON bad_coll (a COLLATE "C");
-- three columns: covered in another order; not covered by a two-column
-- index, nor by a partial one
CREATE TABLE p3 (x int, y int, z int, PRIMARY KEY (x, y, z));
CREATE TABLE ok_three (a int, b int, c int, FOREIGN KEY (a, b, c) REFERENCES p3);
CREATE INDEX ON ok_three (c, a, b);
CREATE TABLE bad_three (a int, b int, c int, FOREIGN KEY (a, b, c) REFERENCES p3);
CREATE INDEX bad_three_ab ON bad_three (a, b);
CREATE TABLE bad_three_partial (a int, b int, c int, f boolean, FOREIGN KEY (a, b, c) REFERENCES p3);
CREATE INDEX bad_three_partial_abc ON bad_three_partial (b, c, a) WHERE f;
-- not covered: no index at all, self-reference, two FKs on one column
CREATE TABLE bad_none (a int REFERENCES p ON DELETE CASCADE);
CREATE TABLE bad_self (id int PRIMARY KEY, parent int REFERENCES bad_self);
CREATE TABLE bad_twofk (a int CONSTRAINT bad_twofk_p REFERENCES p, CONSTRAINT bad_twofk_pt FOREIGN KEY (a) REFERENCES ok_pk);
-- quoting and names: an existing relation takes the natural index name
CREATE TABLE "Bad Quote" ("Col A" int REFERENCES p);
CREATE TABLE bad_taken (a int REFERENCES p);
CREATE SEQUENCE bad_taken_a_idx;
CREATE TABLE bad_long_table_name_that_is_quite_long_indeed_xx (a_fairly_long_column_name_too int REFERENCES p);

-- partitioned referencing table, no index: one row, the leaves named
CREATE TABLE pc (a int REFERENCES p, k int) PARTITION BY RANGE (k);
CREATE TABLE pc1 PARTITION OF pc FOR VALUES FROM (0) TO (10);
CREATE TABLE pc2 PARTITION OF pc FOR VALUES FROM (10) TO (20);
-- partitioned, an unfinished ON ONLY index: one leaf has it, one lacks it
CREATE TABLE pd (a int REFERENCES p, k int) PARTITION BY RANGE (k);
CREATE TABLE pd1 PARTITION OF pd FOR VALUES FROM (0) TO (10);
CREATE TABLE pd2 PARTITION OF pd FOR VALUES FROM (10) TO (20);
CREATE INDEX pd_a ON ONLY pd (a);
CREATE INDEX pd1_a ON pd1 (a);
ALTER INDEX pd_a ATTACH PARTITION pd1_a;
-- partitioned, covered by a valid partitioned index
CREATE TABLE pe (a int REFERENCES p, k int) PARTITION BY RANGE (k);
CREATE TABLE pe1 PARTITION OF pe FOR VALUES FROM (0) TO (10);
CREATE INDEX ON pe (a);
-- partitioned, every leaf indexed on its own (no partitioned index): served
CREATE TABLE pf (a int REFERENCES p, k int) PARTITION BY RANGE (k);
CREATE TABLE pf1 PARTITION OF pf FOR VALUES FROM (0) TO (10);
CREATE INDEX ON pf1 (a);
-- a FK to a partitioned table with three partitions: one logical FK
CREATE TABLE pp (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE pp1 PARTITION OF pp FOR VALUES FROM (0) TO (10);
CREATE TABLE pp2 PARTITION OF pp FOR VALUES FROM (10) TO (20);
CREATE TABLE pp3 PARTITION OF pp FOR VALUES FROM (20) TO (30);
CREATE TABLE to_pp (a int REFERENCES pp);

-- the pg_constraint rows behind the logical FKs: partition clones exist
SELECT count(*) > 4 AS has_clones FROM pg_constraint
WHERE contype = 'f' AND conparentid <> 0 AND connamespace = 'afk'::regnamespace;

SELECT relation, constraint_name, columns, referenced, reason, candidate_index, partitions,
       on_delete, severity
FROM schema_guard.fk_index_audit('afk');

-- covered foreign keys are not listed
SELECT count(*) AS covered_listed FROM schema_guard.fk_index_audit('afk')
WHERE relation::text LIKE 'ok\_%' OR relation::text IN ('pe', 'pf');

-- the fixes
\pset format unaligned
\pset tuples_only on
SELECT relation || ': ' || fix FROM schema_guard.fk_index_audit('afk')
WHERE relation::text NOT IN ('pc', 'pd') ORDER BY relation::text, constraint_name;
SELECT fix FROM schema_guard.fk_index_audit('afk') WHERE relation = 'pc'::regclass;
SELECT fix FROM schema_guard.fk_index_audit('afk') WHERE relation = 'pd'::regclass;
\pset tuples_only off
\pset format aligned

-- the fixes work: run them, then nothing is left to report
CREATE INDEX CONCURRENTLY IF NOT EXISTS bad_cast_a_idx ON afk.bad_cast ((a::numeric));
DELETE FROM bad_invalid;
REINDEX INDEX CONCURRENTLY afk.bad_invalid_a;
CREATE INDEX CONCURRENTLY pd2_a_idx ON afk.pd2 (a);
ALTER INDEX afk.pd_a ATTACH PARTITION afk.pd2_a_idx;
CREATE INDEX pc_a_idx ON ONLY afk.pc (a);
CREATE INDEX CONCURRENTLY pc1_a_idx ON afk.pc1 (a);
ALTER INDEX afk.pc_a_idx ATTACH PARTITION afk.pc1_a_idx;
CREATE INDEX CONCURRENTLY pc2_a_idx ON afk.pc2 (a);
ALTER INDEX afk.pc_a_idx ATTACH PARTITION afk.pc2_a_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS bad_taken_a_idx1 ON afk.bad_taken (a);
SELECT relation, reason FROM schema_guard.fk_index_audit('afk')
WHERE relation::text IN ('bad_cast', 'bad_invalid', 'pc', 'pd', 'bad_taken');

-- severity: size (relpages, no relation opened), parent writes, cascading
CREATE TABLE sev_parent (id int PRIMARY KEY);
CREATE TABLE sev_big (a int REFERENCES sev_parent);
CREATE TABLE sev_mid (a int REFERENCES sev_parent);
CREATE TABLE sev_mid_cascade (a int REFERENCES sev_parent ON DELETE CASCADE);
CREATE TABLE busy_parent (id int PRIMARY KEY, v int);
CREATE TABLE sev_small_busy (a int REFERENCES busy_parent);
UPDATE pg_class SET relpages = 200000 WHERE oid = 'sev_big'::regclass;
UPDATE pg_class SET relpages = 2000 WHERE oid IN ('sev_mid'::regclass, 'sev_mid_cascade'::regclass);
INSERT INTO busy_parent SELECT g, 0 FROM generate_series(1, 10000) g;
UPDATE busy_parent SET v = 1;
SELECT pg_stat_force_next_flush();
SELECT relation, table_bytes, parent_writes >= 10000 AS busy_parent, on_delete, severity
FROM schema_guard.fk_index_audit('afk') WHERE relation::text LIKE 'sev\_%';

-- the schema filter: one name, several names, none (another schema is not listed)
CREATE SCHEMA afk2;
CREATE TABLE afk2.c (a int REFERENCES afk.p);
SELECT count(*) FILTER (WHERE relation = 'afk2.c'::regclass) AS in_afk2,
       count(*) FILTER (WHERE relation::text LIKE 'bad\_%') AS in_afk
FROM schema_guard.fk_index_audit('afk2');
SELECT count(DISTINCT relation::regclass::text LIKE 'afk2.%') AS both_schemas FROM schema_guard.fk_index_audit('afk', 'afk2');
SELECT count(*) > 0 AS unfiltered_sees_both FROM schema_guard.fk_index_audit()
WHERE relation = 'afk2.c'::regclass;

-- catalog reads only: no lock on any user relation
BEGIN;
SELECT count(*) >= 0 AS ran FROM schema_guard.fk_index_audit();
SELECT count(*) AS user_relation_locks FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation >= 16384;
COMMIT;

-- the index names of the fixes: at most 63 bytes, cut by characters, numbered
-- past names in use; bad arguments are an error
SELECT schema_guard._free_relname('afk'::regnamespace, repeat('é', 40), 'idx') AS cut,
       octet_length(schema_guard._free_relname('afk'::regnamespace, repeat('é', 40), 'idx')) AS bytes;
SELECT schema_guard._free_relname('afk'::regnamespace, 'bad_taken_a', 'idx') AS numbered;
SELECT schema_guard._free_relname('afk'::regnamespace, 'x', repeat('s', 17));
SELECT schema_guard._free_relname('afk'::regnamespace, 'x', 'idx', -1);
SELECT schema_guard._free_relname('afk'::regnamespace, NULL, 'idx') IS NULL AS null_in_null_out;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA afk2 CASCADE;
DROP SCHEMA afk CASCADE;
