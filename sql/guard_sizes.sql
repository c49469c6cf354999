-- Real table sizes.  The work a statement does under its lock on a table that holds
-- no row is O(1): the rewrite, scan and index-build rules do not fire on empty tables
-- (nor below schema_guard.min_table_size); the lock-wait rules fire at every size.
-- check() and explain() judge every table as if it were large unless
-- schema_guard.table_sizes = real.  (The setup passes stay off in this database.)
SET client_min_messages = warning;
\set VERBOSITY terse
SET schema_guard.table_sizes = auto;
SET lock_timeout = '2s';
CREATE TABLE sz_empty (id int, v text);
CREATE TABLE sz_full (id int, v text);
INSERT INTO sz_full SELECT g, 'v' || g FROM generate_series(1, 1000) g;
CREATE TABLE sz_parted (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE sz_parted_1 PARTITION OF sz_parted FOR VALUES FROM (0) TO (100);
CREATE TABLE sz_parted_2 PARTITION OF sz_parted FOR VALUES FROM (100) TO (200);
CREATE MATERIALIZED VIEW sz_mv_unpopulated AS SELECT id FROM sz_full WITH NO DATA;
CREATE MATERIALIZED VIEW sz_mv_no_rows AS SELECT id FROM sz_full WHERE id < 0;
-- empty: index builds, scans and rewrites run
CREATE INDEX sz_empty_id_idx ON sz_empty (id);
ALTER TABLE sz_empty ADD PRIMARY KEY (id), ADD CONSTRAINT sz_empty_v_check CHECK (v <> '');
ALTER TABLE sz_empty ALTER COLUMN id TYPE bigint, ADD COLUMN created timestamptz DEFAULT clock_timestamp();
ALTER TABLE sz_empty ADD CONSTRAINT sz_empty_fk FOREIGN KEY (id) REFERENCES sz_empty (id);
CREATE INDEX sz_parted_id_idx ON sz_parted (id);
REFRESH MATERIALIZED VIEW sz_mv_unpopulated;
SELECT pg_relation_size('sz_empty') AS empty_bytes;
-- ... but the breaking rules do not depend on the size
ALTER TABLE sz_empty RENAME COLUMN v TO w;
-- ... nor do the lock-wait rules
SET lock_timeout = 0;
CREATE INDEX sz_empty_v_idx ON sz_empty (v);
SET lock_timeout = '2s';
-- a REFRESH runs the view's query whatever the view's size: only an unpopulated view passes
REFRESH MATERIALIZED VIEW sz_mv_no_rows;
-- rows: blocked
CREATE INDEX sz_full_id_idx ON sz_full (id);
ALTER TABLE sz_full ADD CONSTRAINT sz_full_v_check CHECK (v <> '');
-- one partition with a row: the partitioned table is not empty
INSERT INTO sz_parted VALUES (150, 'x');
CREATE INDEX sz_parted_v_idx ON sz_parted (v);
-- rows inserted by this very transaction count (their blocks exist), and so do the
-- dead rows it leaves behind when it rolls back
CREATE TABLE sz_txn (id int);
BEGIN;
INSERT INTO sz_txn VALUES (1);
CREATE INDEX sz_txn_id_idx ON sz_txn (id);
ROLLBACK;
CREATE INDEX sz_txn_id_idx ON sz_txn (id);
-- rows deleted but not vacuumed away: the blocks remain, and so does the verdict
DELETE FROM sz_full;
CREATE INDEX sz_full_id_idx ON sz_full (id);
-- after TRUNCATE the table is empty again
TRUNCATE sz_full;
CREATE INDEX sz_full_id_idx ON sz_full (id);
-- min_table_size: small tables pass the work rules, not the lock-wait rules
INSERT INTO sz_full SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SET schema_guard.min_table_size = '1MB';
CREATE INDEX sz_full_v_idx ON sz_full (v);
SET lock_timeout = 0;
ALTER TABLE sz_full ADD COLUMN w int;
SET lock_timeout = '2s';
RESET schema_guard.min_table_size;
-- assume_large: every table is judged, empty ones too (migrations run live in an empty CI database)
SET schema_guard.table_sizes = assume_large;
CREATE INDEX sz_empty_w_idx ON sz_empty (w);
SET schema_guard.table_sizes = auto;
-- check() and explain() judge as if every table were large, unless table_sizes = real
SELECT rule, action FROM schema_guard.check('CREATE INDEX ON sz_empty (w); ALTER TABLE sz_empty ADD CHECK (id > 0);');
SELECT line FROM schema_guard.explain('CREATE INDEX ON sz_empty (w)') AS line WHERE line LIKE 'block%' OR line LIKE 'verdict%';
SET schema_guard.table_sizes = real;
SELECT rule, action FROM schema_guard.check('CREATE INDEX ON sz_empty (w); ALTER TABLE sz_empty ADD CHECK (id > 0); CREATE INDEX ON sz_full (v);');
SELECT line FROM schema_guard.explain('CREATE INDEX ON sz_empty (w)') AS line WHERE line LIKE 'block%' OR line LIKE 'verdict%';
RESET schema_guard.table_sizes;
SELECT name, setting, context FROM pg_settings WHERE name IN ('schema_guard.table_sizes', 'schema_guard.exempt_setup') ORDER BY name;
SET schema_guard.mode = off;
DROP MATERIALIZED VIEW sz_mv_unpopulated, sz_mv_no_rows;
DROP TABLE sz_empty, sz_full, sz_parted, sz_txn;
