-- Statements that lock relations they do not name, and statements judged only for
-- their locks.  Each probe compares the guard's verdict and the locks it foresees
-- (explain()) with what pg_locks, relfilenode and the scan counters show.
SET client_min_messages = warning;
\pset null '-'
SET schema_guard.mode = off;
-- cluster-wide objects left by an interrupted earlier run
DROP TABLESPACE IF EXISTS st_space;
DROP ROLE IF EXISTS st_owner;
CREATE TABLE st_country (id int PRIMARY KEY);
INSERT INTO st_country SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE st_city (id int PRIMARY KEY, country int REFERENCES st_country);
INSERT INTO st_city SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE st_other (id int, note text);
INSERT INTO st_other SELECT g, 'n' FROM generate_series(1, 2000) g;
CREATE VIEW st_view AS SELECT id FROM st_other;
CREATE MATERIALIZED VIEW st_matview AS SELECT id FROM st_other;
CREATE TABLE st_part (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE st_part_1 PARTITION OF st_part FOR VALUES FROM (0) TO (1000);
CREATE TABLE st_part_2 PARTITION OF st_part FOR VALUES FROM (1000) TO (3000);
CREATE TABLE st_part_default PARTITION OF st_part DEFAULT;
INSERT INTO st_part SELECT g, g FROM generate_series(1, 2000) g;
CREATE TYPE st_mood AS ENUM ('calm', 'busy');
CREATE TABLE st_moods (id int, mood st_mood);
INSERT INTO st_moods SELECT g, 'calm' FROM generate_series(1, 2000) g;
CREATE DOMAIN st_code AS text;
CREATE TABLE st_codes (id int, code st_code);
INSERT INTO st_codes SELECT g, 'c' FROM generate_series(1, 2000) g;
CREATE FUNCTION st_one() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';
CREATE TABLE st_defaults (id int DEFAULT st_one(), v int);
INSERT INTO st_defaults SELECT g, g FROM generate_series(1, 2000) g;
CREATE SEQUENCE st_seq;
CREATE TABLE st_serials (id int DEFAULT nextval('st_seq'), v int);
INSERT INTO st_serials (v) SELECT g FROM generate_series(1, 2000) g;
CREATE FUNCTION st_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER st_trigger BEFORE UPDATE ON st_other FOR EACH ROW EXECUTE FUNCTION st_noop();
CREATE RULE st_rule AS ON DELETE TO st_other DO ALSO NOTIFY st_other_deleted;
CREATE SCHEMA st_app;
CREATE TABLE st_app.orders (id int PRIMARY KEY);
INSERT INTO st_app.orders SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE st_lines (id int, order_id int REFERENCES st_app.orders);
INSERT INTO st_lines SELECT g, g FROM generate_series(1, 2000) g;
CREATE TYPE st_pair AS (a int, b int);
CREATE TABLE st_pairs OF st_pair;
INSERT INTO st_pairs SELECT g, g FROM generate_series(1, 2000) g;
CREATE ROLE st_owner;
CREATE TABLE st_owned (id int);
INSERT INTO st_owned SELECT g FROM generate_series(1, 2000) g;
ALTER TABLE st_owned OWNER TO st_owner;
CREATE TABLE st_noindex (id int);
INSERT INTO st_noindex SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE st_indexed (id int);
CREATE INDEX st_indexed_id ON st_indexed (id);
INSERT INTO st_indexed SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE st_ref (id int PRIMARY KEY);
INSERT INTO st_ref SELECT g FROM generate_series(1, 3000) g;
CREATE TABLE st_events (id int, ref int REFERENCES st_ref, tag text) PARTITION BY RANGE (id);
CREATE INDEX st_events_tag ON st_events (tag);
CREATE UNIQUE INDEX st_events_id ON st_events (id);
CREATE TABLE st_events_1 PARTITION OF st_events FOR VALUES FROM (0) TO (1000);
-- a table without the parent's indexes and foreign key
CREATE TABLE st_bare (id int, ref int, tag text);
INSERT INTO st_bare SELECT g, g, 't' FROM generate_series(1000, 1999) g;
-- a table prepared for attaching: matching indexes, the foreign key, the bound as CHECK
CREATE TABLE st_ready (id int, ref int, tag text);
INSERT INTO st_ready SELECT g, g, 't' FROM generate_series(1000, 1999) g;
CREATE INDEX st_ready_tag ON st_ready (tag);
CREATE UNIQUE INDEX st_ready_id ON st_ready (id);
ALTER TABLE st_ready ADD CONSTRAINT st_ready_ref_fkey FOREIGN KEY (ref) REFERENCES st_ref;
ALTER TABLE st_ready ADD CONSTRAINT st_ready_bound CHECK (id IS NOT NULL AND id >= 1000 AND id < 2000);
-- an index that differs from the parent's (another operator class) does not count
CREATE TABLE st_other_opclass (id int, ref int, tag text);
INSERT INTO st_other_opclass SELECT g, g, 't' FROM generate_series(1000, 1999) g;
CREATE INDEX st_other_opclass_tag ON st_other_opclass (tag text_pattern_ops);
CREATE UNIQUE INDEX st_other_opclass_id ON st_other_opclass (id);
ALTER TABLE st_other_opclass ADD CONSTRAINT st_other_opclass_bound CHECK (id IS NOT NULL AND id >= 1000 AND id < 2000);
ALTER TABLE st_other_opclass ADD CONSTRAINT st_other_opclass_ref_fkey FOREIGN KEY (ref) REFERENCES st_ref;
CREATE TABLE st_log (id int, city int REFERENCES st_city);
INSERT INTO st_log SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE st_orders (id int, ref int REFERENCES st_ref, note int);
INSERT INTO st_orders SELECT g, g, g FROM generate_series(1, 2000) g;
CREATE VIEW st_order_notes AS SELECT note FROM st_orders;
CREATE INDEX st_orders_note ON st_orders (note);
CREATE TABLE st_byref (id int, ref int REFERENCES st_ref) PARTITION BY RANGE (id);
CREATE TABLE st_byref_1 PARTITION OF st_byref FOR VALUES FROM (0) TO (1000);
CREATE TABLE st_byref_default PARTITION OF st_byref DEFAULT;
INSERT INTO st_byref SELECT g, g FROM generate_series(1, 2000) g;
CREATE INDEX st_byref_ref ON st_byref (ref);
CREATE DOMAIN st_base AS int;
CREATE DOMAIN st_derived AS st_base;
CREATE TABLE st_dom (id st_derived);
INSERT INTO st_dom SELECT g FROM generate_series(1, 2000) g;
CREATE MATERIALIZED VIEW st_dom_mv AS SELECT id FROM st_dom;
CREATE TABLE st_dom_part (id int, v st_base) PARTITION BY RANGE (id);
CREATE TABLE st_dom_part_1 PARTITION OF st_dom_part FOR VALUES FROM (0) TO (3000);
INSERT INTO st_dom_part SELECT g, g FROM generate_series(1, 2000) g;
CREATE EXTENSION citext;
CREATE FUNCTION st_double(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
CREATE TABLE st_generated (a int, b int GENERATED ALWAYS AS (st_double(a)) STORED, email citext);
INSERT INTO st_generated (a, email) SELECT g, 'x' FROM generate_series(1, 2000) g;
CREATE INDEX st_generated_a ON st_generated (a);
CREATE TABLE st_ppk (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE st_ppk_1 PARTITION OF st_ppk FOR VALUES FROM (0) TO (1000);
CREATE TABLE st_ppk_2 PARTITION OF st_ppk FOR VALUES FROM (1000) TO (3000);
INSERT INTO st_ppk SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE st_rf (id int, pid int);
INSERT INTO st_rf SELECT g, g FROM generate_series(1, 2000) g;
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE st_space LOCATION '';
-- no autovacuum worker may hold a lock that a probe would report as a conflict
DO $$
DECLARE r regclass;
BEGIN
  FOR r IN SELECT c.oid FROM pg_class c WHERE c.relname LIKE 'st\_%' AND c.relkind IN ('r', 'm') LOOP
    EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = off)', r);
  END LOOP;
END $$;
ANALYZE;
RESET schema_guard.mode;

-- DROP TABLE locks the tables its foreign keys reference (their RI triggers go)
SELECT * FROM sg_test.probe('drop table: the referenced table', 'DROP TABLE st_city CASCADE', 'st_country');
SELECT * FROM sg_test.probe('drop table cascade: a referencing table''s foreign key goes', 'DROP TABLE st_city CASCADE', 'st_log');
SELECT * FROM sg_test.probe('drop table: the dropped table', 'DROP TABLE st_city CASCADE', 'st_city');
SELECT * FROM sg_test.probe('drop table cascade: the referencing table', 'DROP TABLE st_country CASCADE', 'st_city');
SELECT * FROM sg_test.probe('drop table without foreign keys locks nothing else', 'DROP TABLE st_other CASCADE', 'st_country');
SELECT * FROM sg_test.probe('drop partition: the parent', 'DROP TABLE st_part_1', 'st_part');
SELECT * FROM sg_test.probe('drop partition: the default partition', 'DROP TABLE st_part_1', 'st_part_default');
SELECT * FROM sg_test.probe('drop partitioned table: a partition', 'DROP TABLE st_part', 'st_part_2');
-- views and materialized views
SELECT * FROM sg_test.probe('drop view', 'DROP VIEW st_view', 'st_view');
SELECT * FROM sg_test.probe('drop view leaves its table alone', 'DROP VIEW st_view', 'st_other');
SELECT * FROM sg_test.probe('drop materialized view', 'DROP MATERIALIZED VIEW st_matview', 'st_matview');
SELECT * FROM sg_test.probe('create or replace view', 'CREATE OR REPLACE VIEW st_view AS SELECT id FROM st_other', 'st_view');
SELECT * FROM sg_test.probe('alter view', 'ALTER VIEW st_view ALTER COLUMN id SET DEFAULT 0', 'st_view');
SELECT * FROM sg_test.probe('drop table cascade drops the view', 'DROP TABLE st_other CASCADE', 'st_view');
-- DROP ... CASCADE of types, domains, functions and sequences drops columns
SELECT * FROM sg_test.probe('drop type cascade drops the column', 'DROP TYPE st_mood CASCADE', 'st_moods');
SELECT * FROM sg_test.probe('drop domain cascade drops the column', 'DROP DOMAIN st_code CASCADE', 'st_codes');
SELECT * FROM sg_test.probe('drop function cascade drops the default', 'DROP FUNCTION st_one() CASCADE', 'st_defaults');
SELECT * FROM sg_test.probe('drop sequence cascade drops the default', 'DROP SEQUENCE st_seq CASCADE', 'st_serials');
-- DROP SCHEMA ... CASCADE and DROP OWNED drop tables
SELECT * FROM sg_test.probe('drop schema cascade drops its tables', 'DROP SCHEMA st_app CASCADE', 'st_app.orders');
SELECT * FROM sg_test.probe('drop schema cascade: foreign keys into it', 'DROP SCHEMA st_app CASCADE', 'st_lines');
SELECT * FROM sg_test.probe('drop owned drops the role''s tables', 'DROP OWNED BY st_owner', 'st_owned');
SELECT * FROM sg_test.probe('reassign owned', 'REASSIGN OWNED BY st_owner TO CURRENT_USER', 'st_owned');
-- typed tables: ALTER TYPE ... CASCADE
SELECT * FROM sg_test.probe('alter attribute type rewrites typed tables', 'ALTER TYPE st_pair ALTER ATTRIBUTE a TYPE bigint CASCADE', 'st_pairs');
SELECT * FROM sg_test.probe('drop attribute drops the column', 'ALTER TYPE st_pair DROP ATTRIBUTE b CASCADE', 'st_pairs');
SELECT * FROM sg_test.probe('add attribute', 'ALTER TYPE st_pair ADD ATTRIBUTE c int CASCADE', 'st_pairs');
SELECT * FROM sg_test.probe('rename attribute renames the column', 'ALTER TYPE st_pair RENAME ATTRIBUTE a TO aa CASCADE', 'st_pairs');
-- statements judged for their locks
SELECT * FROM sg_test.probe('create rule', 'CREATE RULE st_rule2 AS ON UPDATE TO st_other DO ALSO NOTIFY st_other_updated', 'st_other');
SELECT * FROM sg_test.probe('drop rule', 'DROP RULE st_rule ON st_other', 'st_other');
SELECT * FROM sg_test.probe('rename constraint', 'ALTER TABLE st_city RENAME CONSTRAINT st_city_country_fkey TO st_city_country_fk', 'st_city');
SELECT * FROM sg_test.probe('rename trigger', 'ALTER TRIGGER st_trigger ON st_other RENAME TO st_trigger2', 'st_other');
SELECT * FROM sg_test.probe('drop trigger', 'DROP TRIGGER st_trigger ON st_other', 'st_other');
SELECT * FROM sg_test.probe('alter sequence', 'ALTER SEQUENCE st_seq OWNED BY NONE', 'st_seq');
SELECT * FROM sg_test.probe('alter index set tablespace copies it', 'ALTER INDEX st_indexed_id SET TABLESPACE st_space', 'st_indexed_id');
SELECT * FROM sg_test.probe('alter table all in tablespace', 'ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE st_space', 'st_noindex');
SELECT * FROM sg_test.probe('alter index all in tablespace', 'ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE st_space', 'st_indexed_id');
-- no-ops: no lock, or a lock and no work
SELECT * FROM sg_test.probe('drop trigger if exists of a missing trigger', 'DROP TRIGGER IF EXISTS st_missing ON st_other', 'st_other');
SELECT * FROM sg_test.probe('drop view if exists of a missing view', 'DROP VIEW IF EXISTS st_missing_view', 'st_other');
SELECT * FROM sg_test.probe('create index if not exists on an existing name', 'CREATE INDEX IF NOT EXISTS st_indexed_id ON st_indexed (id)', 'st_indexed');
SELECT * FROM sg_test.probe('reindex a table without indexes', 'REINDEX TABLE st_noindex', 'st_noindex');
SELECT * FROM sg_test.probe('reindex a table with an index', 'REINDEX TABLE st_indexed', 'st_indexed');
SELECT * FROM sg_test.probe('create index on only a partitioned table', 'CREATE INDEX st_part_v ON ONLY st_part (v)', 'st_part');
SELECT * FROM sg_test.probe('create index on a partitioned table: a partition', 'CREATE INDEX st_part_v ON st_part (v)', 'st_part_1');
-- ATTACH PARTITION builds the parent's missing indexes and validates its foreign keys
SELECT * FROM sg_test.probe('attach: indexes built, foreign key validated', 'ALTER TABLE st_events ATTACH PARTITION st_bare FOR VALUES FROM (1000) TO (2000)', 'st_bare');
SELECT * FROM sg_test.probe('attach: the referenced table is read', 'ALTER TABLE st_events ATTACH PARTITION st_bare FOR VALUES FROM (1000) TO (2000)', 'st_ref');
SELECT * FROM sg_test.probe('attach a prepared table: nothing built or scanned', 'ALTER TABLE st_events ATTACH PARTITION st_ready FOR VALUES FROM (1000) TO (2000)', 'st_ready');
SELECT * FROM sg_test.probe('attach a prepared table: its foreign key''s triggers go', 'ALTER TABLE st_events ATTACH PARTITION st_ready FOR VALUES FROM (1000) TO (2000)', 'st_ref');
SELECT * FROM sg_test.probe('attach: an index with another operator class is not reused', 'ALTER TABLE st_events ATTACH PARTITION st_other_opclass FOR VALUES FROM (1000) TO (2000)', 'st_other_opclass');
SELECT * FROM sg_test.probe('create table partition of: the referenced table', 'CREATE TABLE st_events_2 PARTITION OF st_events FOR VALUES FROM (1000) TO (2000)', 'st_ref');
-- TRUNCATE reaches partitions and, with CASCADE, the referencing tables
SELECT * FROM sg_test.probe('truncate a partitioned table: a partition', 'TRUNCATE st_part', 'st_part_2');
SELECT * FROM sg_test.probe('truncate cascade: referencing table', 'TRUNCATE st_country CASCADE', 'st_city');
SELECT * FROM sg_test.probe('truncate cascade: referencing the referencing table', 'TRUNCATE st_country CASCADE', 'st_log');
SELECT * FROM sg_test.probe('truncate only the named table', 'TRUNCATE st_log', 'st_city');
-- dependents of a dropped column or constraint, partitions of a detached or locked table
SELECT * FROM sg_test.probe('drop foreign key: the referenced table', 'ALTER TABLE st_orders DROP CONSTRAINT st_orders_ref_fkey', 'st_ref');
SELECT * FROM sg_test.probe('drop a column with a foreign key: the referenced table', 'ALTER TABLE st_orders DROP COLUMN ref', 'st_ref');
SELECT * FROM sg_test.probe('drop column cascade drops the view', 'ALTER TABLE st_orders DROP COLUMN note CASCADE', 'st_order_notes');
SELECT * FROM sg_test.probe('drop a column without foreign key leaves the other table alone', 'ALTER TABLE st_orders DROP COLUMN note CASCADE', 'st_ref');
SELECT * FROM sg_test.probe('detach partition: the default partition', 'ALTER TABLE st_byref DETACH PARTITION st_byref_1', 'st_byref_default');
SELECT * FROM sg_test.probe('detach partition: the referenced table', 'ALTER TABLE st_byref DETACH PARTITION st_byref_1', 'st_ref');
SELECT * FROM sg_test.probe('drop a partitioned index: a partition', 'DROP INDEX st_byref_ref', 'st_byref_1');
SELECT * FROM sg_test.probe('reindex index', 'REINDEX INDEX st_orders_note', 'st_orders');
SELECT * FROM sg_test.probe('lock table: a partition', 'LOCK TABLE st_byref', 'st_byref_1');
SELECT * FROM sg_test.probe('lock table only', 'LOCK TABLE ONLY st_byref', 'st_byref_1');
-- ALTER DOMAIN reaches columns of domains over the domain, materialized views and partitions
SELECT * FROM sg_test.probe('alter domain: a column of a derived domain', 'ALTER DOMAIN st_base ADD CONSTRAINT st_positive CHECK (VALUE > 0)', 'st_dom');
SELECT * FROM sg_test.probe('alter domain: a materialized view', 'ALTER DOMAIN st_base ADD CONSTRAINT st_positive CHECK (VALUE > 0)', 'st_dom_mv');
SELECT * FROM sg_test.probe('alter domain: a partition', 'ALTER DOMAIN st_base ADD CONSTRAINT st_positive CHECK (VALUE > 0)', 'st_dom_part_1');
SELECT * FROM sg_test.probe('alter domain set not null: a partitioned table is locked, not read', 'ALTER DOMAIN st_base SET NOT NULL', 'st_dom_part');
-- an object that is part of another (a generated column's expression, an extension's
-- type) takes its owner along
SELECT * FROM sg_test.probe('drop function cascade drops a generated column', 'DROP FUNCTION st_double(int) CASCADE', 'st_generated');
SELECT * FROM sg_test.probe('drop extension cascade drops a column of its type', 'DROP EXTENSION citext CASCADE', 'st_generated');
SELECT * FROM sg_test.probe('alter index depends on extension', 'ALTER INDEX st_generated_a DEPENDS ON EXTENSION citext', 'st_generated_a');
-- a foreign key to a partitioned table locks and reads its partitions
SELECT * FROM sg_test.probe('add foreign key to a partitioned table: a partition', 'ALTER TABLE st_rf ADD CONSTRAINT st_rf_fk FOREIGN KEY (pid) REFERENCES st_ppk', 'st_ppk_1');
SELECT * FROM sg_test.probe('add column references a partitioned table: a partition', 'ALTER TABLE st_rf ADD COLUMN p2 int REFERENCES st_ppk', 'st_ppk_2');
SELECT * FROM sg_test.probe('create table references a partitioned table: a partition', 'CREATE TABLE st_new_ref (pid int REFERENCES st_ppk)', 'st_ppk_2');
SELECT * FROM sg_test.probe('create table with a table foreign key: the referenced table', 'CREATE TABLE st_new_tfk (r int, FOREIGN KEY (r) REFERENCES st_ref)', 'st_ref');
-- the guard names the locks that wait: lock_timeout_missing on a table the statement does not name
SET lock_timeout = 0;
SELECT rule, relation, lock_mode FROM schema_guard.check('DROP TRIGGER IF EXISTS st_missing ON st_other');
SELECT e FROM schema_guard.explain('DROP TABLE st_city CASCADE') e WHERE e ~ '^table';
-- without CASCADE the referencing st_log makes PostgreSQL refuse after locking st_city only
SELECT e FROM schema_guard.explain('DROP TABLE st_city') e WHERE e ~ '^table';
SELECT e FROM schema_guard.explain('DROP TYPE st_mood CASCADE') e WHERE e ~ '^(table|block)';
-- without CASCADE the dependent column makes PostgreSQL refuse: only the type is judged
SELECT e FROM schema_guard.explain('DROP TYPE st_mood') e WHERE e ~ '^(table|block)';
RESET lock_timeout;
-- messages say what happens
SET schema_guard.mode = block;
SET lock_timeout = '2s';
ALTER TABLE st_events ATTACH PARTITION st_bare FOR VALUES FROM (1000) TO (2000);
ALTER TABLE st_log ADD CONSTRAINT st_log_city_fk FOREIGN KEY (city) REFERENCES st_city;
BEGIN;
TRUNCATE st_log;
ROLLBACK;
BEGIN;
ALTER TABLE st_log ADD CONSTRAINT st_log_positive CHECK (id > 0) NOT VALID;
SET LOCAL schema_guard.rules = 'lock_conflict:off';
ALTER TABLE st_log VALIDATE CONSTRAINT st_log_positive;
ROLLBACK;
SELECT hint FROM schema_guard.check('ALTER TABLE st_log ADD;') WHERE rule = 'syntax_error';
RESET lock_timeout;
RESET schema_guard.mode;
SET schema_guard.mode = off;
DROP OWNED BY st_owner;
DROP ROLE st_owner;
DROP TABLESPACE st_space;
DROP EXTENSION citext CASCADE;
RESET schema_guard.mode;
