-- Rewrites under ACCESS EXCLUSIVE, each with its safe counterpart.  Every probe
-- shows the guard's verdict next to what the server really did.
SET client_min_messages = warning;
\pset null '-'
SELECT * FROM sg_test.probe('add column volatile default', 'ALTER TABLE items ADD COLUMN r float8 DEFAULT random()', 'items');
SELECT * FROM sg_test.probe('add column clock_timestamp', 'ALTER TABLE items ADD COLUMN r timestamptz DEFAULT clock_timestamp()', 'items');
SELECT * FROM sg_test.probe('add column gen_random_uuid', 'ALTER TABLE items ADD COLUMN r uuid DEFAULT gen_random_uuid()', 'items');
SELECT * FROM sg_test.probe('add column serial', 'ALTER TABLE items ADD COLUMN r serial', 'items');
SELECT * FROM sg_test.probe('add column bigserial', 'ALTER TABLE items ADD COLUMN r bigserial', 'items');
SELECT * FROM sg_test.probe('add column identity', 'ALTER TABLE items ADD COLUMN r int GENERATED ALWAYS AS IDENTITY', 'items');
SELECT * FROM sg_test.probe('add column stored generated', 'ALTER TABLE items ADD COLUMN r int GENERATED ALWAYS AS (qty * 2) STORED', 'items');
SELECT * FROM sg_test.probe('add column constrained domain', 'ALTER TABLE items ADD COLUMN r positive_int', 'items');
SELECT * FROM sg_test.probe('add column constrained domain default', 'ALTER TABLE items ADD COLUMN r positive_int DEFAULT 1', 'items');
-- user-defined functions are judged by their volatility, not their name
CREATE FUNCTION volatile_seven() RETURNS int LANGUAGE plpgsql VOLATILE AS 'BEGIN RETURN 7; END';
CREATE FUNCTION stable_seven() RETURNS int LANGUAGE plpgsql STABLE AS 'BEGIN RETURN 7; END';
-- a VOLATILE SQL function whose body is a constant is inlined by the planner: no rewrite
CREATE FUNCTION inlined_seven() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 7';
SELECT * FROM sg_test.probe('add column user volatile default', 'ALTER TABLE items ADD COLUMN r int DEFAULT volatile_seven()', 'items');
SELECT * FROM sg_test.probe('add column inlined sql default', 'ALTER TABLE items ADD COLUMN r int DEFAULT inlined_seven()', 'items');
-- safe: no rewrite
SELECT * FROM sg_test.probe('add column nullable', 'ALTER TABLE items ADD COLUMN r int', 'items');
SELECT * FROM sg_test.probe('add column constant default', 'ALTER TABLE items ADD COLUMN r int NOT NULL DEFAULT 5', 'items');
SELECT * FROM sg_test.probe('add column now()', 'ALTER TABLE items ADD COLUMN r timestamptz DEFAULT now()', 'items');
SELECT * FROM sg_test.probe('add column user stable default', 'ALTER TABLE items ADD COLUMN r int DEFAULT stable_seven()', 'items');
SELECT * FROM sg_test.probe('add column unconstrained domain', 'ALTER TABLE items ADD COLUMN r plain_text DEFAULT ''x''', 'items');

-- ALTER COLUMN TYPE
SELECT * FROM sg_test.probe('int to bigint', 'ALTER TABLE items ALTER COLUMN qty TYPE bigint', 'items');
SELECT * FROM sg_test.probe('varchar shrink', 'ALTER TABLE items ALTER COLUMN code TYPE varchar(5)', 'items');
SELECT * FROM sg_test.probe('numeric scale change', 'ALTER TABLE items ALTER COLUMN amount TYPE numeric(8,3)', 'items');
SELECT * FROM sg_test.probe('text to varchar(n)', 'ALTER TABLE items ALTER COLUMN label TYPE varchar(50)', 'items');
SELECT * FROM sg_test.probe('to constrained domain', 'ALTER TABLE items ALTER COLUMN qty TYPE positive_int', 'items');
SELECT * FROM sg_test.probe('USING expression', 'ALTER TABLE items ALTER COLUMN label TYPE int USING length(label)', 'items');
SET TimeZone = 'America/New_York';
SELECT * FROM sg_test.probe('timestamp to timestamptz outside UTC', 'ALTER TABLE items ALTER COLUMN created TYPE timestamptz', 'items');
SET TimeZone = 'UTC';
SELECT * FROM sg_test.probe('timestamp to timestamptz in UTC', 'ALTER TABLE items ALTER COLUMN created TYPE timestamptz', 'items');
RESET TimeZone;
SELECT * FROM sg_test.probe('collation change rebuilds index', 'ALTER TABLE items ALTER COLUMN label TYPE text COLLATE "C"', 'items');
-- safe: binary-coercible or typmod widening
SELECT * FROM sg_test.probe('varchar widen', 'ALTER TABLE items ALTER COLUMN code TYPE varchar(20)', 'items');
SELECT * FROM sg_test.probe('varchar to text', 'ALTER TABLE items ALTER COLUMN code TYPE text', 'items');
SELECT * FROM sg_test.probe('numeric precision widen', 'ALTER TABLE items ALTER COLUMN amount TYPE numeric(9,2)', 'items');
SELECT * FROM sg_test.probe('USING the column itself', 'ALTER TABLE items ALTER COLUMN code TYPE text USING code', 'items');

-- persistence, access method, tablespace
SELECT * FROM sg_test.probe('set unlogged', 'ALTER TABLE items SET UNLOGGED', 'items');
SELECT * FROM sg_test.probe('set logged when already logged', 'ALTER TABLE items SET LOGGED', 'items');
CREATE ACCESS METHOD heap_copy TYPE TABLE HANDLER heap_tableam_handler;
SELECT * FROM sg_test.probe('set access method', 'ALTER TABLE items SET ACCESS METHOD heap_copy', 'items');
SET schema_guard.mode = off;
CREATE MATERIALIZED VIEW items_mv2 AS SELECT id FROM items;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('set access method of a materialized view', 'ALTER MATERIALIZED VIEW items_mv2 SET ACCESS METHOD heap_copy', 'items_mv2');
SET schema_guard.mode = off;
DROP MATERIALIZED VIEW items_mv2;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('set access method unchanged', 'ALTER TABLE items SET ACCESS METHOD heap', 'items');
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE sg_regress_ts LOCATION '';
RESET allow_in_place_tablespaces;
SELECT * FROM sg_test.probe('set tablespace', 'ALTER TABLE items SET TABLESPACE sg_regress_ts', 'items');
SELECT * FROM sg_test.probe('set tablespace unchanged', 'ALTER TABLE items SET TABLESPACE pg_default', 'items');
SELECT * FROM sg_test.probe('cluster', 'CLUSTER items USING items_pkey', 'items');

-- traditional inheritance: the children are rewritten too (and the backstop knows it)
SET schema_guard.mode = off;
CREATE TABLE inh_parent (id int, v int);
CREATE TABLE inh_child () INHERITS (inh_parent);
INSERT INTO inh_child SELECT g, g FROM generate_series(1, 1000) g;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('type change on an inheritance parent: the child', 'ALTER TABLE inh_parent ALTER COLUMN v TYPE bigint', 'inh_child');
SET schema_guard.mode = warn;
SET lock_timeout = '5s';
BEGIN;
ALTER TABLE inh_parent ALTER COLUMN v TYPE bigint;
ROLLBACK;
RESET lock_timeout;
RESET schema_guard.mode;

-- VACUUM FULL cannot run in a transaction block: judged at top level.
\set VERBOSITY terse
SET lock_timeout = '5s';
CREATE TEMP TABLE before_vacuum AS SELECT relfilenode FROM pg_class WHERE oid = 'items'::regclass;
VACUUM FULL items;
SELECT relfilenode = (SELECT relfilenode FROM before_vacuum) AS unchanged_after_block FROM pg_class WHERE oid = 'items'::regclass;
SET schema_guard.mode = warn;
VACUUM FULL items;
SELECT relfilenode <> (SELECT relfilenode FROM before_vacuum) AS rewritten_in_warn_mode FROM pg_class WHERE oid = 'items'::regclass;
RESET schema_guard.mode;
VACUUM items;
-- A repeated option counts by its last value, as ExecVacuum() and ExecReindex() read
-- them: FULL false, FULL true rewrites; CONCURRENTLY true, CONCURRENTLY false does not.
CREATE TEMP TABLE before_repeat AS
  SELECT relname, relfilenode FROM pg_class WHERE oid IN ('items'::regclass, 'items_label_idx'::regclass);
VACUUM (FULL false, FULL true) items;
VACUUM (FULL 'false', FULL 'on') items;
REINDEX (CONCURRENTLY true, CONCURRENTLY false) TABLE items;
SELECT c.relname, c.relfilenode = b.relfilenode AS unchanged_after_block
  FROM pg_class c JOIN before_repeat b USING (relname) WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1;
-- the last value says no rewrite (plain VACUUM) and a concurrent rebuild: allowed
VACUUM (FULL true, FULL false) items;
SELECT relfilenode = (SELECT relfilenode FROM before_repeat WHERE relname = 'items') AS plain_vacuum_kept_file
  FROM pg_class WHERE oid = 'items'::regclass;
REINDEX (CONCURRENTLY false, CONCURRENTLY true) INDEX items_label_idx;
SELECT relfilenode <> (SELECT relfilenode FROM before_repeat WHERE relname = 'items_label_idx') AS rebuilt_concurrently
  FROM pg_class WHERE oid = 'items_label_idx'::regclass;
-- VACUUM FULL of a partitioned table whose owner is someone else: PostgreSQL skips the
-- parent with a WARNING but still vacuums every partition the caller owns
-- (expand_vacuum_rel() adds them all, vacuum_rel() checks each).
CREATE ROLE sg_rewrite_partowner;
CREATE TABLE vp (id int) PARTITION BY RANGE (id);
CREATE TABLE vp1 PARTITION OF vp FOR VALUES FROM (0) TO (100);
CREATE TABLE vp2 PARTITION OF vp FOR VALUES FROM (100) TO (200);
INSERT INTO vp SELECT g FROM generate_series(0, 199) g;
ALTER TABLE vp1 OWNER TO sg_rewrite_partowner;
CREATE TEMP TABLE before_vp AS SELECT relname, relfilenode FROM pg_class WHERE oid IN ('vp1'::regclass, 'vp2'::regclass);
SET ROLE sg_rewrite_partowner;
VACUUM FULL vp;
RESET ROLE;
SELECT c.relname, c.relfilenode = b.relfilenode AS unchanged_after_block
  FROM pg_class c JOIN before_vp b USING (relname) WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1;
SET schema_guard.mode = warn;
SET ROLE sg_rewrite_partowner;
-- SQLSTATEs only: the guard's SG001 warning for vp1, then PostgreSQL's two skipping
-- warnings (01000), whose wording changed in 16
\set VERBOSITY sqlstate
VACUUM FULL vp;
\set VERBOSITY terse
RESET ROLE;
RESET schema_guard.mode;
SELECT c.relname, c.relfilenode <> b.relfilenode AS rewritten_in_warn_mode
  FROM pg_class c JOIN before_vp b USING (relname) WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1;
SET schema_guard.mode = off;
DROP TABLE vp;
DROP ROLE sg_rewrite_partowner;
RESET schema_guard.mode;
-- REINDEX (TABLESPACE ts) asks CREATE on ts before anything else (ExecReindex()): a
-- table's owner without it gets PostgreSQL's own error, not a verdict.
SET schema_guard.mode = off;
CREATE ROLE sg_rewrite_tsless;
CREATE TABLE ts_owned (id int PRIMARY KEY);
INSERT INTO ts_owned SELECT generate_series(1, 100);
ALTER TABLE ts_owned OWNER TO sg_rewrite_tsless;
RESET schema_guard.mode;
SET ROLE sg_rewrite_tsless;
REINDEX (TABLESPACE sg_regress_ts) TABLE ts_owned;
RESET ROLE;
SELECT reltablespace = 0 AS index_not_moved FROM pg_class WHERE oid = 'ts_owned_pkey'::regclass;
-- with CREATE on the tablespace, the owner's REINDEX is judged
GRANT CREATE ON TABLESPACE sg_regress_ts TO sg_rewrite_tsless;
SET ROLE sg_rewrite_tsless;
REINDEX (TABLESPACE sg_regress_ts) TABLE ts_owned;
RESET ROLE;
SELECT reltablespace = 0 AS index_not_moved FROM pg_class WHERE oid = 'ts_owned_pkey'::regclass;
SET schema_guard.mode = off;
REVOKE CREATE ON TABLESPACE sg_regress_ts FROM sg_rewrite_tsless;
DROP TABLE ts_owned;
DROP ROLE sg_rewrite_tsless;
RESET schema_guard.mode;
DROP TABLESPACE sg_regress_ts;
