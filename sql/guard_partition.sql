-- Partitioned tables: indexes, NOT NULL, ATTACH and DETACH PARTITION.
SET client_min_messages = warning;
\pset null '-'
SET schema_guard.mode = off;
CREATE TABLE events (id int, day int) PARTITION BY RANGE (day);
CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (100);
INSERT INTO events SELECT g, g % 100 FROM generate_series(1, 2000) g;
CREATE TABLE events_2 (id int, day int);
INSERT INTO events_2 SELECT g, 100 + g % 100 FROM generate_series(1, 500) g;
-- the bound needs NOT NULL too: a range partition's constraint includes day IS NOT NULL
CREATE TABLE events_3 (id int, day int NOT NULL CONSTRAINT events_3_bound CHECK (day >= 200 AND day < 300));
INSERT INTO events_3 SELECT g, 200 + g % 100 FROM generate_series(1, 500) g;
CREATE TABLE events_4 (id int, day int CHECK (day >= 300 AND day < 400));
INSERT INTO events_4 SELECT g, 300 + g % 100 FROM generate_series(1, 500) g;
RESET schema_guard.mode;

SELECT * FROM sg_test.probe('create index on partitioned table', 'CREATE INDEX events_id_idx ON events (id)', 'events_1');
SELECT * FROM sg_test.probe('create index on only the parent', 'CREATE INDEX events_id_idx ON ONLY events (id)', 'events');
SELECT * FROM sg_test.probe('set not null on partitioned table', 'ALTER TABLE events ALTER COLUMN id SET NOT NULL', 'events_1');
SELECT * FROM sg_test.probe('attach without a check', 'ALTER TABLE events ATTACH PARTITION events_2 FOR VALUES FROM (100) TO (200)', 'events_2');
SELECT * FROM sg_test.probe('attach with a check implying the bound', 'ALTER TABLE events ATTACH PARTITION events_3 FOR VALUES FROM (200) TO (300)', 'events_3');
SELECT * FROM sg_test.probe('attach with a check missing NOT NULL', 'ALTER TABLE events ATTACH PARTITION events_4 FOR VALUES FROM (300) TO (400)', 'events_4');
SELECT * FROM sg_test.probe('detach partition', 'ALTER TABLE events DETACH PARTITION events_1', 'events_1');

-- the default partition is scanned unless its constraints exclude the new bound
SET schema_guard.mode = off;
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events_default SELECT g, 1000 + g FROM generate_series(1, 500) g;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('attach with a default partition', 'ALTER TABLE events ATTACH PARTITION events_3 FOR VALUES FROM (200) TO (300)', 'events_default');
-- CREATE TABLE ... PARTITION OF scans the default partition the same way
SELECT * FROM sg_test.probe('create partition with a default partition', 'CREATE TABLE events_5 PARTITION OF events FOR VALUES FROM (500) TO (600)', 'events_default');
SET schema_guard.mode = off;
ALTER TABLE events_default ADD CONSTRAINT events_default_not_500 CHECK (day IS NOT NULL AND (day < 500 OR day >= 600));
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('create partition, default partition excludes the bound', 'CREATE TABLE events_5 PARTITION OF events FOR VALUES FROM (500) TO (600)', 'events_default');
SELECT * FROM sg_test.probe('create partition: the parent is locked', 'CREATE TABLE events_5 PARTITION OF events FOR VALUES FROM (500) TO (600)', 'events');
-- A bound that is not a constant is not evaluated by the guard (transformPartitionBound()
-- would run nextval() a second time, and a rolled-back probe does not give the value
-- back): the scans are assumed, and the partition gets the bound it gets without the guard.
SET schema_guard.mode = off;
CREATE SEQUENCE events_bound_seq START 700;
RESET schema_guard.mode;
SET lock_timeout = '5s';
SELECT rule, relation FROM schema_guard.check($$CREATE TABLE events_6 PARTITION OF events FOR VALUES FROM (nextval('events_bound_seq')) TO (800)$$);
SELECT rule, relation FROM schema_guard.check($$ALTER TABLE events ATTACH PARTITION events_4 FOR VALUES FROM (nextval('events_bound_seq')) TO (800)$$);
SELECT last_value, is_called FROM events_bound_seq;
CREATE TABLE events_6 PARTITION OF events FOR VALUES FROM (nextval('events_bound_seq')) TO (800);
SELECT last_value, is_called FROM events_bound_seq;
SET schema_guard.mode = warn;
CREATE TABLE events_6 PARTITION OF events FOR VALUES FROM (nextval('events_bound_seq')) TO (800);
RESET schema_guard.mode;
SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE oid = 'events_6'::regclass;
SELECT last_value, is_called FROM events_bound_seq;
-- constants, casts of constants and MINVALUE / MAXVALUE are still evaluated and proven
SELECT rule, relation FROM schema_guard.check($$CREATE TABLE events_7 PARTITION OF events FOR VALUES FROM ('500'::int) TO (600)$$);
SELECT rule, relation FROM schema_guard.check($$CREATE TABLE events_7 PARTITION OF events FOR VALUES FROM (MINVALUE) TO (-10)$$);
-- CREATE SCHEMA runs its elements as sub-statements: CREATE TABLE ... PARTITION OF in it
-- is judged as on its own (ACCESS EXCLUSIVE on the parent, the default partition scanned)
CREATE SCHEMA sg_part_s CREATE TABLE events_8 PARTITION OF public.events FOR VALUES FROM (5000) TO (6000);
SELECT count(*) AS schema_created FROM pg_namespace WHERE nspname = 'sg_part_s';
SELECT rule, relation FROM schema_guard.check($$CREATE SCHEMA sg_part_s CREATE TABLE events_8 PARTITION OF public.events FOR VALUES FROM (5000) TO (6000)$$);
SELECT e FROM schema_guard.explain($$CREATE SCHEMA sg_part_s CREATE TABLE events_8 PARTITION OF public.events FOR VALUES FROM (5000) TO (6000)$$) e
 WHERE e LIKE '%lock,%';
RESET lock_timeout;
SET schema_guard.mode = off;
DROP TABLE events_6;
DROP SEQUENCE events_bound_seq;
RESET schema_guard.mode;

-- the recipe for a partitioned index
\set VERBOSITY default
SET lock_timeout = '5s';
CREATE INDEX events_day_idx ON events (day);
\set VERBOSITY terse
CREATE INDEX events_day_idx ON ONLY events (day);
CREATE INDEX CONCURRENTLY events_1_day_idx ON events_1 (day);
ALTER INDEX events_day_idx ATTACH PARTITION events_1_day_idx;
CREATE INDEX CONCURRENTLY events_default_day_idx ON events_default (day);
ALTER INDEX events_day_idx ATTACH PARTITION events_default_day_idx;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_day_idx'::regclass;
