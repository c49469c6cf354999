-- DDL is judged the same wherever it comes from: DO blocks, functions, procedures,
-- dynamic SQL.  Relations created in the same transaction and temporary tables
-- are exempt from the lock-duration rules: nobody else can see them.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
DO $$ BEGIN CREATE INDEX items_nested_idx ON items (code); END $$;
DO $$ BEGIN EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE bigint', 'items', 'qty'); END $$;
CREATE FUNCTION migrate_items() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  ALTER TABLE items ADD COLUMN stamp timestamptz DEFAULT clock_timestamp();
END $$;
SELECT migrate_items();
CREATE PROCEDURE migrate_items_proc() LANGUAGE plpgsql AS $$
BEGIN
  COMMIT;
  ALTER TABLE items RENAME COLUMN label TO title;
END $$;
CALL migrate_items_proc();
CREATE FUNCTION migrate_sql() RETURNS void LANGUAGE sql AS $$ REINDEX TABLE items $$;
SELECT migrate_sql();
-- nothing changed
SELECT count(*) AS nested_index FROM pg_class WHERE relname = 'items_nested_idx';
SELECT format_type(atttypid, atttypmod) AS qty_type FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty';
SELECT count(*) AS stamp_columns FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'stamp';

-- a table created in this transaction: everything goes
BEGIN;
CREATE TABLE fresh (id int, v varchar(10));
INSERT INTO fresh SELECT g, 'x' FROM generate_series(1, 1000) g;
CREATE INDEX fresh_v_idx ON fresh (v);
ALTER TABLE fresh ALTER COLUMN id TYPE bigint;
ALTER TABLE fresh ADD COLUMN created timestamptz DEFAULT clock_timestamp();
ALTER TABLE fresh ADD CONSTRAINT fresh_id_positive CHECK (id > 0);
ALTER TABLE fresh ALTER COLUMN id SET NOT NULL;
ALTER TABLE fresh RENAME COLUMN v TO code;
ALTER TABLE fresh RENAME TO fresh_table;
TRUNCATE fresh_table;
DROP TABLE fresh_table;
COMMIT;
-- ... also inside a subtransaction that created it
BEGIN;
SAVEPOINT s1;
CREATE TABLE fresh2 (id int);
RELEASE SAVEPOINT s1;
CREATE INDEX ON fresh2 (id);
ALTER TABLE fresh2 ALTER COLUMN id TYPE bigint;
COMMIT;
-- ... but not in the next transaction
CREATE INDEX fresh2_id_idx2 ON fresh2 (id);
DROP TABLE fresh2;
-- a foreign key from a new table still locks the existing referenced table
BEGIN;
SET LOCAL lock_timeout = 0;
CREATE TABLE fresh3 (parent_id int);
ALTER TABLE fresh3 ADD FOREIGN KEY (parent_id) REFERENCES parent_tbl;
ROLLBACK;
-- temporary tables
CREATE TEMP TABLE scratch_tmp AS SELECT g AS id FROM generate_series(1, 1000) g;
CREATE INDEX ON scratch_tmp (id);
ALTER TABLE scratch_tmp ALTER COLUMN id TYPE bigint;
ALTER TABLE scratch_tmp RENAME COLUMN id TO ident;
DROP TABLE scratch_tmp;
-- tables in schema_guard.exempt_schemas (default: pg_repack's work schema) are
-- treated like new tables, when the schema belongs to an extension (as pg_repack's
-- does; here it is added to schema_guard to stand in for it)
SET schema_guard.mode = off;
CREATE SCHEMA repack;
CREATE TABLE repack.table_1 AS SELECT g AS id FROM generate_series(1, 1000) g;
RESET schema_guard.mode;
CREATE UNIQUE INDEX index_0 ON repack.table_1 (id);
ALTER EXTENSION schema_guard ADD SCHEMA repack;
CREATE UNIQUE INDEX index_1 ON repack.table_1 (id);
SET schema_guard.exempt_schemas = '';
CREATE UNIQUE INDEX index_2 ON repack.table_1 (id);
RESET schema_guard.exempt_schemas;
ALTER EXTENSION schema_guard DROP SCHEMA repack;
SET schema_guard.mode = off;
DROP SCHEMA repack CASCADE;
RESET schema_guard.mode;
