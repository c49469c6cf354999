-- schema_guard.check(sql): a migration script judged against the live catalog,
-- nothing executed, one row per finding.
SET client_min_messages = warning;
\pset null '-'
SET lock_timeout = 0;
-- one finding per rule, from the same engine as the hook
SELECT statement, line, rule, action, relation, lock_mode, rewrites, scans
  FROM schema_guard.check($$
CREATE INDEX ON items (code);
ALTER TABLE items ALTER COLUMN qty TYPE bigint;
ALTER TABLE items ADD COLUMN r float8 DEFAULT random();
ALTER TABLE items ADD CONSTRAINT c CHECK (qty > 0);
ALTER TABLE items RENAME COLUMN label TO title;
DROP TABLE parent_tbl;
$$);
-- nothing was executed
SELECT count(*) AS indexes_on_code FROM pg_indexes WHERE tablename = 'items' AND indexdef LIKE '%(code)%';
SELECT format_type(atttypid, atttypmod) AS qty_type FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty';

-- a script with no findings returns no rows
SET lock_timeout = '2s';
SELECT count(*) AS findings FROM schema_guard.check($$
SET lock_timeout = '2s';
ALTER TABLE items ADD COLUMN r int;
ALTER TABLE items ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;
CREATE INDEX CONCURRENTLY items_code_idx ON items (code);
$$);
RESET lock_timeout;

-- statements depend on earlier ones: SET lock_timeout, tables created earlier,
-- BEGIN/COMMIT, NOT VALID then VALIDATE in one transaction, CONCURRENTLY in a block
SELECT statement, line, rule, action, relation
  FROM schema_guard.check($$-- migration 0042
CREATE TABLE audit_log (id bigint, at timestamptz);
CREATE INDEX ON audit_log (at);            -- new in this script: fine
ALTER TABLE audit_log ALTER COLUMN id TYPE numeric;
ALTER TABLE items ADD COLUMN a1 int;       -- lock_timeout is still 0
SET lock_timeout = '3s';
ALTER TABLE items ADD COLUMN a2 int;       -- bounded now
BEGIN;
ALTER TABLE items ADD CONSTRAINT qty_pos CHECK (qty > 0) NOT VALID;
ALTER TABLE items VALIDATE CONSTRAINT qty_pos;   -- still under the ACCESS EXCLUSIVE lock
CREATE INDEX CONCURRENTLY items_code_idx ON items (code);
COMMIT;
ALTER TABLE items VALIDATE CONSTRAINT items_checked_not_null;  -- its own transaction: fine
BEGIN;
SET LOCAL lock_timeout = 0;
ALTER TABLE items ADD COLUMN a3 int;
COMMIT;
ALTER TABLE items ADD COLUMN a4 int;       -- SET LOCAL ended with the transaction
$$);

-- unknown relations are findings, not an abort of the whole check
SELECT statement, rule, message FROM schema_guard.check($$
SET lock_timeout = '1s';
ALTER TABLE no_such_table ADD COLUMN x int;
ALTER TABLE IF EXISTS no_such_table ADD COLUMN x int;
DROP TABLE IF EXISTS no_such_table;
CREATE INDEX ON items (code);
$$);

-- a syntax error: the statements before it are judged, the error has its statement and position
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
CREATE INDEX ON items (code);
ALTER TABLE items ADD COLUMN oops int DEFALT 5;
DROP TABLE items;
$$);
SELECT statement, line, rule, message FROM schema_guard.check('ALTER TABLE items ADD COLUMN x int DEFAULT ''unterminated');

-- NULL gives NULL (no rows), empty and comment-only scripts give no rows
SELECT count(*) AS null_rows FROM schema_guard.check(NULL);
SELECT count(*) AS empty_rows FROM schema_guard.check('');
SELECT count(*) AS comment_rows FROM schema_guard.check('-- nothing here');
SELECT count(*) AS semicolons_rows FROM schema_guard.check(';;;');

-- actions follow the current settings
SET schema_guard.mode = warn;
SELECT rule, action FROM schema_guard.check('CREATE INDEX ON items (code)') WHERE rule = 'create_index_blocking';
RESET schema_guard.mode;
BEGIN;
SET LOCAL schema_guard.allow = 'create_index_blocking';
SELECT count(*) AS allowed_rows FROM schema_guard.check('SET lock_timeout = ''1s''; CREATE INDEX ON items (code)');
COMMIT;

-- message and hint
SELECT message, hint FROM schema_guard.check('ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (parent_id) REFERENCES parent_tbl') WHERE rule = 'add_foreign_key_scan';

-- a 10,000-statement script is handled in one call
SELECT count(*) AS findings, count(DISTINCT statement) AS statements, max(line) AS last_line
  FROM schema_guard.check((SELECT string_agg(format('ALTER TABLE items ALTER COLUMN qty TYPE bigint; -- %s', g), E'\n') FROM generate_series(1, 10000) g));

-- psql scripts are read as psql runs them: meta-commands, variables, \if, COPY data
SET lock_timeout = 0;
SELECT statement, line, rule, action, relation FROM schema_guard.check($$\set ON_ERROR_STOP 1
\echo 'migration 0042'
BEGIN;
\set tbl items
\set col code
SET LOCAL lock_timeout = '1s';
CREATE INDEX ON :"tbl" (:col);
\if :{?undefined_variable}
  DROP TABLE items;
\elif yes
  ALTER TABLE :tbl ADD COLUMN n int;
\else
  DROP TABLE items;
\endif
COMMIT;
COPY items (id) FROM stdin;
1
DROP TABLE items;
\.
SELECT :'col' AS quoted \gexec
\! echo shell
\i other_file.sql
\unknowncommand
$$);
-- a syntax error does not hide the rest: psql goes on without ON_ERROR_STOP ...
SELECT statement, line, rule, action, message FROM schema_guard.check($$SET lock_timeout = '1s';
ALTER TABLE items ADD COLUMN oops int DEFALT 5;
CREATE INDEX ON items (code);
BEGIN;
SELEC 1;
DROP TABLE items;   -- fails: the transaction is aborted
COMMIT;
TRUNCATE items;
$$);
-- ... and stops with it
SELECT statement, line, rule, message FROM schema_guard.check($$\set ON_ERROR_STOP on
SET lock_timeout = '1s';
ALTER TABLE items ADD COLUMN oops int DEFALT 5;
DROP TABLE items;
$$);
-- positions count characters, whatever the encoding; BEGIN ATOMIC bodies and dollar
-- quotes hold semicolons without ending the statement
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
COMMENT ON TABLE items IS 'è·ü·ñ·é — ünïcödé; ☃';
CREATE FUNCTION atomic_f() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 1;
  SELECT CASE WHEN true THEN 2 END;
END;
DO $body$ BEGIN PERFORM 1; /* ; */ END $body$;
SELECT 'ñ' FRM items;
DROP TABLE items;
$$);
-- locks the script's transaction already holds wait for nobody: no lock_timeout_missing
-- for z1; COMMIT AND CHAIN releases the locks but opens the next transaction at once
SELECT statement, line, rule FROM schema_guard.check($$BEGIN;
LOCK TABLE items IN ACCESS EXCLUSIVE MODE;
ALTER TABLE items ADD COLUMN z1 int;
COMMIT AND CHAIN;
ALTER TABLE items ADD COLUMN z2 int;
CREATE INDEX CONCURRENTLY ON items (code);
COMMIT;
ALTER TABLE items ADD COLUMN z3 int;
$$);
-- AUTOCOMMIT off: psql opens a transaction, so CONCURRENTLY fails there
SELECT statement, line, rule FROM schema_guard.check($$\set AUTOCOMMIT off
SET lock_timeout = '1s';
CREATE INDEX CONCURRENTLY ON items (code);
$$);
-- \g with an empty query buffer sends the previous query again (psql's previous_buf):
-- the column exists the second time
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
ALTER TABLE items ADD COLUMN again int;
\g
$$);
-- the script's SET standard_conforming_strings = off: psql and the server then read
-- backslashes in '...' as escapes (the DROP is inside the string); RESET restores it
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
SET standard_conforming_strings = off;
SELECT 'it\'s; DROP TABLE items; --';
CREATE INDEX ON items (code);
RESET standard_conforming_strings;
SELECT 'a\'; TRUNCATE items; SELECT ''';
$$);
-- ... and the calling session's setting is the script's start
SET standard_conforming_strings = off;
SELECT statement, line, rule FROM schema_guard.check($$SET lock_timeout = '1s';
SELECT 'it\'s; DROP TABLE items; --';
$$);
RESET standard_conforming_strings;
SHOW escape_string_warning;
RESET lock_timeout;

-- the relations a script creates, drops and renames, through its search_path; DO blocks
SET schema_guard.mode = off;
CREATE SCHEMA other_schema;
RESET schema_guard.mode;
SELECT statement, line, rule, relation FROM schema_guard.check($$SET lock_timeout = '1s';
CREATE TABLE other_schema.items (id int);           -- another schema: public.items is still meant
CREATE INDEX ON items (code);                       -- existing: blocks
CREATE TABLE IF NOT EXISTS items (id int);          -- exists: creates nothing
CREATE INDEX ON items (qty);                        -- still the existing table: blocks
CREATE TABLE fresh (id int);
CREATE INDEX fresh_idx ON fresh (id);
DROP INDEX fresh_idx;                               -- the script's own index
TRUNCATE fresh, items;                              -- several relations: the existing one is judged
DROP TABLE fresh;
ALTER TABLE fresh ADD COLUMN x int;                 -- dropped earlier: fails at deploy
SELECT 1 AS a INTO selected;
CREATE INDEX ON selected (a);                       -- SELECT INTO created it
SET search_path = other_schema, public;
CREATE INDEX ON items (id);                         -- other_schema.items now: new
DO $do$ BEGIN EXECUTE 'CREATE INDEX ON public.items (code)'; END $do$;
DO $do$ BEGIN ALTER TABLE public.items ALTER COLUMN qty TYPE bigint; END $do$;
DO $do$ BEGIN EXECUTE format('DROP TABLE %I', 'x'); END $do$;
DO $do$ BEGIN PERFORM 1; END $do$;                  -- no DDL: nothing to say
$$);
SET schema_guard.mode = off;
DROP SCHEMA other_schema;
RESET schema_guard.mode;

-- procedures the script CALLs (its own or existing ones) and columns it adds
SET schema_guard.mode = off;
CREATE PROCEDURE index_items() LANGUAGE plpgsql AS $p$ BEGIN CREATE INDEX ON items (qty); END $p$;
CREATE PROCEDURE drop_dynamic() LANGUAGE plpgsql AS $p$ BEGIN EXECUTE 'DROP ' || 'TABLE nothing'; END $p$;
RESET schema_guard.mode;
SELECT statement, line, rule, relation FROM schema_guard.check($$SET lock_timeout = '1s';
CALL index_items();
CALL drop_dynamic();
CREATE PROCEDURE retype() LANGUAGE sql AS 'ALTER TABLE items ALTER COLUMN qty TYPE numeric';
CALL retype();
ALTER TABLE items ADD COLUMN added int DEFAULT 0;
ALTER TABLE items ALTER COLUMN added SET NOT NULL;   -- scans: observed with pg_stat_get_xact_numscans()
$$);
SET schema_guard.mode = off;
DROP PROCEDURE index_items();
DROP PROCEDURE drop_dynamic();
RESET schema_guard.mode;

-- functions called from queries: their DDL runs through the hook like the script's own
-- (from the script's CREATE FUNCTION or the catalog; a function called twice or per
-- row is judged once); a body that cannot be read is a note naming the function
SET schema_guard.mode = off;
CREATE FUNCTION index_qty() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN CREATE INDEX ON items (qty); END $f$;
CREATE FUNCTION wraps_index() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM (SELECT index_qty()) AS x';
CREATE FUNCTION retype_rows() RETURNS SETOF int LANGUAGE plpgsql
  AS $f$ BEGIN ALTER TABLE items ALTER COLUMN label TYPE varchar(5); RETURN NEXT 1; END $f$;
CREATE FUNCTION dynamic_ddl(t text) RETURNS void LANGUAGE plpgsql
  AS $f$ BEGIN EXECUTE 'ALTER TABLE ' || t || ' ADD COLUMN z float8 DEFAULT random()'; END $f$;
CREATE FUNCTION overloaded(int) RETURNS void LANGUAGE sql AS 'TRUNCATE items';
CREATE FUNCTION overloaded(text) RETURNS void LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION no_ddl() RETURNS int LANGUAGE sql AS 'SELECT count(*)::int FROM items';
RESET schema_guard.mode;
SELECT statement, line, rule, relation, message FROM schema_guard.check($$SET lock_timeout = '1s';
SELECT index_qty(), index_qty() FROM items;          -- once
SELECT * FROM retype_rows();
SELECT wraps_index();                                -- through an SQL function
CREATE FUNCTION mine(n int) RETURNS int LANGUAGE plpgsql
  AS $f$ DECLARE x int; BEGIN x := n; EXECUTE 'ALTER TABLE items ALTER COLUMN qty TYPE bigint'; RETURN x; END $f$;
INSERT INTO parent_tbl VALUES (mine(1));
DO $do$ BEGIN PERFORM index_qty(); END $do$;
DO $do$ DECLARE n int; BEGIN n := wraps_index(); END $do$;
SELECT dynamic_ddl('items');
SELECT overloaded(1);                                -- the parser's choice for constants
SELECT overloaded(id) FROM items;                    -- which one: not resolved without the table
SELECT now(), count(*), no_ddl() FROM items;         -- built-in and DDL-free: nothing
DROP FUNCTION mine(int);
SELECT mine(1);                                      -- dropped: runs nothing
$$);
SET schema_guard.mode = off;
DROP FUNCTION wraps_index();
DROP FUNCTION index_qty();
DROP FUNCTION retype_rows();
DROP FUNCTION dynamic_ddl(text);
DROP FUNCTION overloaded(int);
DROP FUNCTION overloaded(text);
DROP FUNCTION no_ddl();
RESET schema_guard.mode;

-- after a rename the new name is the existing table (its size, rows, indexes); columns
-- the script added are judged as on the table after the ADD COLUMN
SET schema_guard.mode = off;
CREATE SCHEMA moved_to;
RESET schema_guard.mode;
SELECT statement, line, rule, relation FROM schema_guard.check($$SET lock_timeout = '1s';
ALTER TABLE items ADD COLUMN added int;
ALTER TABLE items ALTER COLUMN added TYPE bigint;          -- rewrites
ALTER TABLE items ALTER COLUMN added TYPE int8;            -- same type now: nothing
ALTER TABLE items ALTER COLUMN added SET DEFAULT 0;        -- catalog only
ALTER TABLE items ALTER COLUMN added SET NOT NULL;         -- scans
ALTER TABLE items ADD COLUMN filled text NOT NULL DEFAULT 'x';
ALTER TABLE items ALTER COLUMN filled SET NOT NULL;        -- already NOT NULL: nothing
ALTER TABLE items ALTER COLUMN filled TYPE varchar(20);    -- rewrites
ALTER TABLE items ALTER COLUMN filled TYPE text;           -- binary coercible: nothing
ALTER TABLE items RENAME COLUMN added TO added2;           -- breaks code
ALTER TABLE items DROP COLUMN added2;                      -- breaks code
ALTER TABLE items ALTER COLUMN added2 TYPE int;            -- dropped: the server refuses it
ALTER TABLE items RENAME COLUMN qty TO quantity;
ALTER TABLE items ALTER COLUMN quantity TYPE bigint;       -- the existing qty: rewrites
ALTER TABLE items RENAME TO things;
ALTER TABLE things ALTER COLUMN label TYPE varchar(5);     -- the existing items
CREATE INDEX ON things (code);
ALTER TABLE parent_tbl RENAME TO parents;
ALTER TABLE things ADD CONSTRAINT fk FOREIGN KEY (parent_id) REFERENCES parents;
ALTER TABLE things SET SCHEMA moved_to;
TRUNCATE moved_to.things;
CREATE SCHEMA fresh_schema;
ALTER TABLE parents SET SCHEMA fresh_schema;               -- into the script's own schema
DROP TABLE fresh_schema.parents;
$$);
SET schema_guard.mode = off;
DROP SCHEMA moved_to;
RESET schema_guard.mode;

-- a statement the server refuses (a duplicate, a missing relation or column, a SET it
-- does not accept) fails as on the server: inside a transaction block the statements up
-- to ROLLBACK or COMMIT are not judged (one note says so), outside one the script goes
-- on; the hook still judges a statement it sees before the server refuses it
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
BEGIN;
CREATE TABLE items (id int);                       -- exists
CREATE INDEX ON items (code);                      -- not judged: the block failed
TRUNCATE items;
ROLLBACK;
BEGIN;
ALTER TABLE no_such_table ADD COLUMN x int;
DROP TABLE items;
COMMIT;
BEGIN;
SET schema_guard.mode = 'nonsense';
DROP TABLE items;
COMMIT;
BEGIN;
CREATE INDEX CONCURRENTLY ON items (code);
TRUNCATE items;
COMMIT;
ALTER TABLE items ADD COLUMN qty int;
ALTER TABLE items ALTER COLUMN nope SET NOT NULL;
ALTER TABLE items RENAME COLUMN qty TO code;         -- judged by the hook, then refused
CREATE SCHEMA public;
CREATE INDEX items_pkey ON items (code);            -- judged by the hook, then refused
SET no_such_parameter = 1;
SET lock_timeout = 'soon';
DO $do$ BEGIN CREATE TABLE items (id int); CREATE INDEX ON items (code); END $do$;  -- stops at the error
CREATE INDEX ON items (code);                       -- judged
$$);
-- ... with ON_ERROR_STOP psql stops there
SELECT statement, line, rule, message FROM schema_guard.check($$\set ON_ERROR_STOP on
SET lock_timeout = '1s';
CREATE TABLE items (id int);
DROP TABLE items;
$$);
-- ... and a SET the calling role may not make is that error, not silently ignored
SET schema_guard.mode = off;
CREATE ROLE sg_check_plain;
GRANT USAGE, CREATE ON SCHEMA public TO sg_check_plain;
CREATE TABLE plain_owned (id int, note text);
ALTER TABLE plain_owned OWNER TO sg_check_plain;
RESET schema_guard.mode;
SET ROLE sg_check_plain;
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
BEGIN;
SET LOCAL schema_guard.allow = 'drop_column';
ALTER TABLE plain_owned DROP COLUMN note;
COMMIT;
SET session_replication_role = replica;
ALTER TABLE plain_owned DROP COLUMN note;
$$);
RESET ROLE;
SET schema_guard.mode = off;
DROP TABLE plain_owned;
REVOKE ALL ON SCHEMA public FROM sg_check_plain;
DROP ROLE sg_check_plain;
RESET schema_guard.mode;

-- a schema the script renames: its tables under the new name are the existing ones; a
-- column a view, a policy or a trigger uses cannot change type (the server refuses it
-- after the hook judged it); CREATE TABLE AS runs the functions of its query
SET schema_guard.mode = off;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric(10,2), note text);
INSERT INTO shop.orders SELECT g, g, 'n' FROM generate_series(1, 100) g;
CREATE VIEW shop.order_totals AS SELECT id, total FROM shop.orders;
CREATE POLICY order_notes ON shop.orders USING (note <> 'x');
CREATE FUNCTION index_items_qty() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN CREATE INDEX ON items (qty); RETURN 1; END $f$;
RESET schema_guard.mode;
SELECT statement, line, rule, relation, message FROM schema_guard.check($$SET lock_timeout = '1s';
ALTER SCHEMA shop RENAME TO store;
CREATE INDEX ON store.orders (total);
ALTER TABLE store.orders ALTER COLUMN id TYPE bigint;
ALTER TABLE store.orders ALTER COLUMN total TYPE numeric(12,2);
ALTER TABLE store.orders ALTER COLUMN note TYPE varchar(10);
CREATE TABLE copied AS SELECT index_items_qty() AS x;
CREATE MATERIALIZED VIEW later AS SELECT index_items_qty() AS x WITH NO DATA;
$$);
SET schema_guard.mode = off;
DROP SCHEMA shop CASCADE;
DROP FUNCTION index_items_qty();
RESET schema_guard.mode;

-- ROLLBACK, a failed COMMIT and ROLLBACK TO SAVEPOINT undo what the script did in the
-- block (renamed and dropped relations, added, renamed and dropped columns); COMMIT and
-- RELEASE keep it
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
BEGIN;
ALTER TABLE items RENAME TO items_old;
ROLLBACK;
ALTER TABLE items ALTER COLUMN code TYPE varchar(5);   -- items is still there: a rewrite
BEGIN;
ALTER TABLE items DROP COLUMN code;
ROLLBACK;
ALTER TABLE items ALTER COLUMN code TYPE varchar(4);   -- code is still there
BEGIN;
ALTER TABLE items ADD COLUMN c int;
ROLLBACK;
ALTER TABLE items ALTER COLUMN c TYPE bigint;          -- fails: c was rolled back
BEGIN;
DROP TABLE items;
ALTER TABLE no_such_table ADD COLUMN x int;            -- fails: the COMMIT rolls back
COMMIT;
ALTER TABLE items ALTER COLUMN code TYPE varchar(3);   -- items was not dropped
BEGIN;
SAVEPOINT s1;
ALTER TABLE items RENAME COLUMN label TO title;
ROLLBACK TO SAVEPOINT s1;
ALTER TABLE items ALTER COLUMN label TYPE varchar(7);  -- label again
SAVEPOINT s2;
ALTER TABLE items ADD COLUMN d int;
RELEASE SAVEPOINT s2;
COMMIT;
ALTER TABLE items ALTER COLUMN d TYPE bigint;          -- d was committed
$$);

-- a relation name the server refuses before looking anything up (too many dotted
-- names, another database) is that statement's error, as on the server; the rest of the
-- script is judged
SELECT statement, line, rule, message FROM schema_guard.check($$SET lock_timeout = '1s';
DROP TABLE a.b.c.d;
DROP TABLE IF EXISTS nowhere.public.items;
DROP TRIGGER t ON a.b.c.d;
BEGIN;
DROP VIEW IF EXISTS x.y.z.w;
TRUNCATE items;                                        -- not judged: the block failed
COMMIT;
TRUNCATE items;
$$);

-- check() memory is bounded by the input: 100,000 statements in one call, and the
-- documented size limit
SELECT count(*) AS findings FROM schema_guard.check(repeat(E'SELECT 1;\n', 100000));
\set VERBOSITY terse
SELECT count(*) FROM schema_guard.check(repeat('-', 256 * 1024 * 1024 + 1));
\set VERBOSITY default

-- explain(): one statement, in words
SET lock_timeout = '2s';
SELECT * FROM schema_guard.explain('ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (parent_id) REFERENCES parent_tbl');
SELECT * FROM schema_guard.explain('ALTER TABLE items ADD COLUMN r int');
SELECT * FROM schema_guard.explain('SELECT 1');
\set VERBOSITY terse
SELECT * FROM schema_guard.explain('SELECT 1; SELECT 2');
SELECT * FROM schema_guard.explain('ALTER TABEL items');
SELECT * FROM schema_guard.explain(NULL);
