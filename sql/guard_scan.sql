-- Validation scans under a write-blocking lock, each with its safe counterpart.
SET client_min_messages = warning;
\pset null '-'
SELECT * FROM sg_test.probe('add check', 'ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0)', 'items');
SELECT * FROM sg_test.probe('add check not valid', 'ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID', 'items');
SELECT * FROM sg_test.probe('add column with check', 'ALTER TABLE items ADD COLUMN r int CHECK (r > 0)', 'items');
SELECT * FROM sg_test.probe('add foreign key', 'ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parent_tbl', 'items');
SELECT * FROM sg_test.probe('add foreign key: referenced side', 'ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parent_tbl', 'parent_tbl');
SELECT * FROM sg_test.probe('add foreign key not valid', 'ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parent_tbl NOT VALID', 'items');
-- a REFERENCES on a new, all-NULL column is not validated by the server
SELECT * FROM sg_test.probe('add column references', 'ALTER TABLE items ADD COLUMN r int REFERENCES parent_tbl', 'items');
SELECT * FROM sg_test.probe('add column references with default', 'ALTER TABLE items ADD COLUMN r int DEFAULT 1 REFERENCES parent_tbl', 'items');
SELECT * FROM sg_test.probe('set not null', 'ALTER TABLE items ALTER COLUMN qty SET NOT NULL', 'items');
SELECT * FROM sg_test.probe('set not null backed by validated check', 'ALTER TABLE items ALTER COLUMN checked SET NOT NULL', 'items');
SELECT * FROM sg_test.probe('set not null on a not null column', 'ALTER TABLE items ALTER COLUMN id SET NOT NULL', 'items');
-- a NOT VALID check does not count
SET schema_guard.mode = off;
ALTER TABLE items ADD CONSTRAINT qty_nn_unvalidated CHECK (qty IS NOT NULL) NOT VALID;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('set not null with only a NOT VALID check', 'ALTER TABLE items ALTER COLUMN qty SET NOT NULL', 'items');
SET schema_guard.mode = off;
ALTER TABLE items DROP CONSTRAINT qty_nn_unvalidated;
RESET schema_guard.mode;
-- (on a table with rows it fails outright; on an empty one it still scans)
SELECT * FROM sg_test.probe('add column not null without default', 'ALTER TABLE empty_tbl ADD COLUMN r int NOT NULL', 'empty_tbl');
SELECT * FROM sg_test.probe('primary key using index on nullable column', 'ALTER TABLE items DROP CONSTRAINT items_pkey, ADD CONSTRAINT items_pk2 PRIMARY KEY USING INDEX items_qty_key', 'items');
SELECT * FROM sg_test.probe('primary key using index on not null column', 'ALTER TABLE items DROP CONSTRAINT items_pkey, ADD CONSTRAINT items_pk2 PRIMARY KEY USING INDEX items_id_key', 'items');
SELECT * FROM sg_test.probe('validate constraint', 'ALTER TABLE items VALIDATE CONSTRAINT items_checked_not_null', 'items');
-- ALTER DOMAIN scans every table using the domain
SELECT * FROM sg_test.probe('alter domain add constraint', 'ALTER DOMAIN plain_text ADD CONSTRAINT not_empty CHECK (VALUE <> '''')', 'items');
SELECT * FROM sg_test.probe('alter domain set not null', 'ALTER DOMAIN plain_text SET NOT NULL', 'items');
SELECT * FROM sg_test.probe('alter domain add constraint not valid', 'ALTER DOMAIN plain_text ADD CONSTRAINT not_empty CHECK (VALUE <> '''') NOT VALID', 'items');
SET schema_guard.mode = off;
ALTER DOMAIN plain_text ADD CONSTRAINT not_blank CHECK (VALUE <> ' ') NOT VALID;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('alter domain validate constraint', 'ALTER DOMAIN plain_text VALIDATE CONSTRAINT not_blank', 'items');
SET schema_guard.mode = off;
ALTER DOMAIN plain_text DROP CONSTRAINT not_blank;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('alter domain unused by tables', 'ALTER DOMAIN positive_int ADD CONSTRAINT small CHECK (VALUE < 1000000)', 'items');
-- ALTER COLUMN TYPE without a rewrite still re-verifies the column's CHECK constraints
SET schema_guard.mode = off;
CREATE TABLE checked_tbl (id int PRIMARY KEY, v varchar(10) CHECK (length(v) > 0), w varchar(10));
INSERT INTO checked_tbl SELECT g, 'v' || g, 'w' FROM generate_series(1, 1000) g;
CREATE TABLE fk_child (id int, checked_id int REFERENCES checked_tbl);
INSERT INTO fk_child SELECT g, g FROM generate_series(1, 1000) g;
RESET schema_guard.mode;
SELECT * FROM sg_test.probe('type change on a column with a CHECK', 'ALTER TABLE checked_tbl ALTER COLUMN v TYPE varchar(20)', 'checked_tbl');
SELECT * FROM sg_test.probe('type change on a column without a CHECK', 'ALTER TABLE checked_tbl ALTER COLUMN w TYPE varchar(20)', 'checked_tbl');
-- a FOREIGN KEY column's type change locks the table on the other side too
SET lock_timeout = '2s';
SELECT * FROM schema_guard.explain('ALTER TABLE fk_child ALTER COLUMN checked_id TYPE bigint');
RESET lock_timeout;
SELECT * FROM sg_test.probe('type change on a referenced column: the referencing table', 'ALTER TABLE checked_tbl ALTER COLUMN id TYPE bigint', 'fk_child');
