-- Breaking and destructive operations.  DROP TABLE, TRUNCATE, DROP INDEX and
-- DETACH PARTITION warn by default; RENAME and DROP COLUMN block.
SET client_min_messages = warning;
\pset null '-'
SELECT * FROM sg_test.probe('rename table', 'ALTER TABLE items RENAME TO items_renamed', 'items');
-- ALTER INDEX ... RENAME accepts a table and renames it
SELECT * FROM sg_test.probe('rename table through ALTER INDEX', 'ALTER INDEX items RENAME TO items_renamed', 'items');
SELECT * FROM sg_test.probe('rename an index', 'ALTER INDEX items_label_idx RENAME TO items_label_idx2', 'items');
SELECT * FROM sg_test.probe('rename column', 'ALTER TABLE items RENAME COLUMN label TO title', 'items');
SELECT * FROM sg_test.probe('drop column', 'ALTER TABLE items DROP COLUMN label', 'items');
SELECT * FROM sg_test.probe('drop column if exists, absent', 'ALTER TABLE items DROP COLUMN IF EXISTS nothing_here', 'items');
SELECT * FROM sg_test.probe('drop table', 'DROP TABLE parent_tbl', 'parent_tbl');
SELECT * FROM sg_test.probe('truncate', 'TRUNCATE parent_tbl', 'parent_tbl');
SELECT * FROM sg_test.probe('drop index', 'DROP INDEX items_label_idx', 'items');
-- default severities: warnings run the statement
\set VERBOSITY terse
SET lock_timeout = '5s';
CREATE TABLE scratch (id int);
INSERT INTO scratch VALUES (1);
BEGIN;
TRUNCATE scratch;
SELECT count(*) AS rows_after_truncate FROM scratch;
ROLLBACK;
ALTER TABLE scratch RENAME TO scratch2;
ALTER TABLE scratch RENAME COLUMN id TO ident;
ALTER TABLE scratch DROP COLUMN id;
DROP TABLE scratch;
SELECT to_regclass('scratch') AS dropped;
