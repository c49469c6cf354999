-- Hostile and odd input: NULLs and empty strings, 1 MB statements, deeply nested
-- expressions, invalid UTF-8 (and raw non-UTF-8 bytes in a SQL_ASCII database),
-- prepared statements, aborted transactions, subtransactions, procedures that
-- COMMIT, SECURITY DEFINER functions and event triggers.  None may crash the server;
-- each gets a clear error or the correct verdict.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
\set regress_db :DBNAME
CREATE SCHEMA hostile;
SET search_path = hostile, public;

-- verdict(stmt): 'ran', or the SQLSTATE with the guard's rule / the error's message
CREATE FUNCTION hostile.verdict(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text;
BEGIN
  EXECUTE stmt;
  RETURN 'ran';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
  RETURN SQLSTATE || ' ' || CASE WHEN SQLSTATE = 'SG001'
                                 THEN substring(msg from '^schema_guard: [a-z_]+')
                                 ELSE left(msg, 90) END;
END $$;

-- the fixture, committed (so not "created in this transaction")
SET schema_guard.mode = off;
CREATE TABLE h (id int PRIMARY KEY, v text, n int);
INSERT INTO h SELECT g, 'v' || g, g FROM generate_series(1, 2000) g;
CREATE VIEW hv AS SELECT id, v FROM h;
RESET schema_guard.mode;
SELECT active FROM schema_guard.status();

--------------------------------------------------------------------------------
-- NULLs and empty strings
SELECT hostile.verdict(NULL);
SELECT hostile.verdict('');
SELECT hostile.verdict('   ;  ; ');
SELECT count(*) AS findings FROM schema_guard.check(NULL);
SELECT count(*) AS findings FROM schema_guard.check('');
SELECT count(*) AS findings FROM schema_guard.check(' ;;; -- only a comment');
SELECT count(*) AS lines FROM schema_guard.explain(NULL);
SELECT hostile.verdict($$SELECT count(*) FROM schema_guard.explain('')$$);
-- GUC values: empty is "nothing", junk is refused with a clear error
SET schema_guard.allow = '';
SET schema_guard.rules = '';
SELECT set_config('schema_guard.rules', NULL, false) AS rules_from_null;
SHOW schema_guard.rules;
SET schema_guard.rules = ' , , ';
SET schema_guard.rules = ':block';
SET schema_guard.rules = 'drop_table:';
SET schema_guard.rules = 'drop_table:sometimes';
SET schema_guard.allow = 'no_such_rule';
SET schema_guard.allow = ' , ';
SET schema_guard.mode = '';
-- a 130 kB allow list (every rule, 200 times over) is accepted and allows
BEGIN;
SELECT length(set_config('schema_guard.allow', string_agg(rule_id, ','), true)) > 100000 AS long_allow
  FROM schema_guard.rules(), generate_series(1, 200);
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN v TO v_renamed');
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN v_renamed TO v');
COMMIT;
-- NULL and empty values inside DDL
SELECT hostile.verdict('ALTER TABLE h ALTER COLUMN v SET DEFAULT NULL');
SELECT hostile.verdict($$ALTER TABLE h ADD COLUMN e1 text DEFAULT ''$$);
SELECT hostile.verdict('ALTER TABLE h ADD COLUMN e2 text DEFAULT NULL::text');
SELECT hostile.verdict('ALTER TABLE h ADD COLUMN e3 int DEFAULT NULL NOT NULL');
SELECT hostile.verdict('COMMENT ON TABLE h IS NULL');
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN v TO ""');
SELECT hostile.verdict('CREATE INDEX "" ON h (v)');
SELECT hostile.verdict('ALTER TABLE h ALTER COLUMN n TYPE int USING NULL');

--------------------------------------------------------------------------------
-- 1 MB statements, sent as top-level queries (\gexec; not echoed)
-- a 1 MB statement that runs (the megabyte is a comment)
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN big1 text /* %s */', repeat('x', 1048576)) \gexec
\set ECHO all
-- the same with a volatile default after the megabyte: blocked
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN big2 text /* %s */ DEFAULT random()::text', repeat('y', 1048576)) \gexec
\set ECHO all
-- one ALTER TABLE of 1 MB: 30,000 subcommands, the last one rewrites
\set ECHO none
SELECT 'ALTER TABLE h ' || string_agg('ALTER COLUMN v SET STATISTICS 100', ', ') || ', ALTER COLUMN n TYPE bigint'
  FROM generate_series(1, 30000) \gexec
\set ECHO all
SELECT format_type(atttypid, atttypmod) AS n_type FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname = 'n';
-- 1 MB of statements in one query string (24,000 statements judged, then a blocked one)
-- (results not shown: one command tag per statement)
\set ECHO none
\o /dev/null
SELECT string_agg('ALTER TABLE h ADD COLUMN IF NOT EXISTS big1 text', '; ') || '; CREATE INDEX h_v_idx ON h (v)'
  FROM generate_series(1, 24000) \gexec
\o
\set ECHO all
SELECT count(*) AS h_v_idx FROM pg_class WHERE relname = 'h_v_idx';
-- a 1 MB index expression
\set ECHO none
SELECT format('CREATE INDEX h_big_idx ON h ((v || %L))', repeat('z', 1048576)) \gexec
\set ECHO all
SELECT string_agg(attname, ',') AS big_columns FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname LIKE 'big%';
-- check() on a 1 MB migration script
SELECT count(*) AS findings, string_agg(DISTINCT rule, ',') AS rules
  FROM schema_guard.check(repeat('ALTER TABLE h ADD COLUMN IF NOT EXISTS c1 int; ', 22000) || 'CREATE INDEX ON h (n);');

--------------------------------------------------------------------------------
-- Deeply nested expressions in a DEFAULT
-- 2,000 nested non-volatile calls: no rewrite, runs
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN deep1 int DEFAULT %s1%s', repeat('abs(', 2000), repeat(')', 2000)) \gexec
\set ECHO all
-- random() at the bottom of 2,000 nested calls: the guard finds it
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN deep2 float8 DEFAULT %srandom()%s', repeat('abs(', 2000), repeat(')', 2000)) \gexec
\set ECHO all
-- a 3,000-term sum with random() at the deepest leaf
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN deep3 float8 DEFAULT random()%s', repeat(' + 1', 3000)) \gexec
\set ECHO all
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN deep4 int DEFAULT 1%s', repeat(' + 1', 3000)) \gexec
\set ECHO all
-- too deep for the server itself: its own clean errors, with the guard on or off
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN deep5 int DEFAULT 1%s', repeat(' + 1', 100000)) \gexec
\set ECHO all
SET schema_guard.mode = off;
\set ECHO none
SELECT format('ALTER TABLE h ADD COLUMN deep5 int DEFAULT 1%s', repeat(' + 1', 100000)) \gexec
\set ECHO all
RESET schema_guard.mode;
-- check() and explain() on the same
SELECT rule FROM schema_guard.check(format('ALTER TABLE h ADD COLUMN deep7 float8 DEFAULT %srandom()%s;', repeat('abs(', 2000), repeat(')', 2000)))
  WHERE rule <> 'lock_timeout_missing';
-- check() raises the server's own stack depth error too (never swallowed)
SELECT hostile.verdict(format($$SELECT count(*) FROM schema_guard.check('ALTER TABLE h ADD COLUMN deep8 int DEFAULT 1%s')$$, repeat(' + 1', 100000)));
SELECT count(*) AS columns_added FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname LIKE 'deep%';

--------------------------------------------------------------------------------
-- Invalid UTF-8 (this database is UTF8: the server rejects it before the guard sees it)
SELECT convert_from('\xc328'::bytea, 'UTF8');
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN v TO ' || quote_ident(convert_from('\xff'::bytea, 'UTF8')));
SELECT hostile.verdict(E'ALTER TABLE h RENAME COLUMN v TO "\xff\xfe"');
SELECT hostile.verdict(E'ALTER TABLE h RENAME COLUMN v TO "\xed\xa0\x80"');
SELECT count(*) AS findings FROM schema_guard.check(E'ALTER TABLE h RENAME COLUMN v TO "\xc3"');
-- valid, unusual UTF-8: identifiers reach the message intact
SET schema_guard.mode = off;
CREATE TABLE "tāble ☃ ""q""" ("cølumn 🐘" int);
INSERT INTO "tāble ☃ ""q""" SELECT generate_series(1, 100);
RESET schema_guard.mode;
ALTER TABLE "tāble ☃ ""q""" RENAME COLUMN "cølumn 🐘" TO "ç";
CREATE INDEX ON "tāble ☃ ""q""" ("cølumn 🐘");
SELECT rule, relation FROM schema_guard.check($$ALTER TABLE "tāble ☃ ""q""" RENAME COLUMN "cølumn 🐘" TO "ç";$$)
  WHERE rule <> 'lock_timeout_missing';

-- A SQL_ASCII database takes any byte: raw non-UTF-8 names reach the guard, which must
-- judge and report them (printed here with the bytes escaped).
CREATE DATABASE regress_sg_hostile_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_sg_hostile_ascii
SET client_min_messages = warning;
SET schema_guard.exempt_setup = off;  -- the table is created below, by this session
\set VERBOSITY terse
SET lock_timeout = '5s';
CREATE EXTENSION schema_guard;
CREATE FUNCTION verdict_bytes(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text;
BEGIN
  EXECUTE stmt;
  RETURN 'ran';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
  RETURN SQLSTATE || ' ' || encode(convert_to(msg, 'SQL_ASCII'), 'escape');
END $$;
CREATE FUNCTION raw(hex text) RETURNS text LANGUAGE sql AS $$ SELECT convert_from(decode(hex, 'hex'), 'SQL_ASCII') $$;
SET schema_guard.mode = off;
SELECT verdict_bytes(format('CREATE TABLE %I (%I int, v text)', raw('74ff80c3'), raw('fe28')));
SELECT verdict_bytes(format('INSERT INTO %I SELECT g, %L FROM generate_series(1, 500) g', raw('74ff80c3'), raw('c328ff')));
RESET schema_guard.mode;
SELECT verdict_bytes(format('ALTER TABLE %I RENAME COLUMN %I TO %I', raw('74ff80c3'), raw('fe28'), raw('eda080')));
SELECT verdict_bytes(format('CREATE INDEX %I ON %I (%I)', raw('69ff'), raw('74ff80c3'), raw('fe28')));
SELECT verdict_bytes(format('ALTER TABLE %I ADD COLUMN %I text DEFAULT %L', raw('74ff80c3'), raw('c0af'), raw('ff')));
SELECT verdict_bytes(format('ALTER TABLE %I ADD COLUMN %I text DEFAULT %L || random()', raw('74ff80c3'), raw('c0b0'), raw('ff')));
SELECT encode(convert_to(string_agg(rule || ' on ' || relation::text, '; '), 'SQL_ASCII'), 'escape') AS check_findings
  FROM schema_guard.check(format('ALTER TABLE %I RENAME COLUMN %I TO x;', raw('74ff80c3'), raw('fe28')))
  WHERE rule <> 'lock_timeout_missing';
SELECT count(*) AS column_not_renamed FROM pg_attribute WHERE attrelid = (SELECT oid FROM pg_class WHERE relname = raw('74ff80c3')) AND attname = raw('fe28');
\c :regress_db
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
SET search_path = hostile, public;
DROP DATABASE regress_sg_hostile_ascii;

--------------------------------------------------------------------------------
-- Prepared statements.  SQL-level PREPARE takes no utility statement; a prepared
-- statement that runs DDL through a function is judged at every EXECUTE.
PREPARE p_ddl AS CREATE INDEX ON h (v);
PREPARE p_verdict(text) AS SELECT hostile.verdict($1);
EXECUTE p_verdict('ALTER TABLE h RENAME COLUMN v TO v2');
EXECUTE p_verdict('ALTER TABLE h ADD COLUMN prepared1 int');
SET schema_guard.mode = warn;
EXECUTE p_verdict('ALTER TABLE h RENAME COLUMN prepared1 TO prepared2');
RESET schema_guard.mode;
EXECUTE p_verdict('ALTER TABLE h RENAME COLUMN prepared2 TO prepared3');
DEALLOCATE p_verdict;
-- (the extended query protocol itself: test/t/memory.sh runs DDL with pgbench -M prepared)

--------------------------------------------------------------------------------
-- Aborted transactions: the server's own error, the guard stays out of it
BEGIN;
SELECT 1 / 0;
CREATE INDEX ON h (v);
ALTER TABLE h RENAME COLUMN v TO v2;
ROLLBACK;
-- a block aborts the transaction like any error
BEGIN;
ALTER TABLE h ADD COLUMN in_tx int;
ALTER TABLE h RENAME COLUMN v TO v2;
SELECT 1;
ROLLBACK;
SELECT count(*) AS in_tx_column FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname = 'in_tx';

--------------------------------------------------------------------------------
-- Subtransactions
BEGIN;
SAVEPOINT a;
ALTER TABLE h RENAME COLUMN v TO v2;
ROLLBACK TO SAVEPOINT a;
ALTER TABLE h ADD COLUMN sub1 int;
-- a table created in a released subtransaction is still new in this transaction
SAVEPOINT b;
CREATE TABLE sub_new (id int);
INSERT INTO sub_new SELECT generate_series(1, 1000);
RELEASE SAVEPOINT b;
CREATE INDEX sub_new_idx ON sub_new (id);
ALTER TABLE sub_new ALTER COLUMN id TYPE bigint;
-- a table created in a rolled-back subtransaction is gone
SAVEPOINT c;
CREATE TABLE sub_gone (id int);
ROLLBACK TO SAVEPOINT c;
SELECT hostile.verdict('ALTER TABLE sub_gone ADD COLUMN x int');
-- SET LOCAL schema_guard.allow rolled back with its savepoint
SAVEPOINT d;
SET LOCAL schema_guard.allow = 'rename_column';
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN n TO n2');
ROLLBACK TO SAVEPOINT d;
SHOW schema_guard.allow;
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN n TO n2');
COMMIT;
SELECT count(*) AS sub_committed FROM pg_class WHERE relname IN ('sub_new', 'sub_new_idx');
SELECT attname FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname IN ('v', 'v2', 'n', 'n2', 'sub1') ORDER BY 1;
-- now committed: judged
SELECT hostile.verdict('CREATE INDEX sub_new_idx2 ON sub_new (id)');
-- blocked statements caught in a loop of subtransactions
DO $$
DECLARE caught int := 0;
BEGIN
  FOR i IN 1..500 LOOP
    BEGIN
      EXECUTE format('ALTER TABLE h RENAME COLUMN v TO v_%s', i);
    EXCEPTION WHEN SQLSTATE 'SG001' THEN caught := caught + 1;
    END;
  END LOOP;
  RAISE WARNING 'caught % of 500', caught;
END $$;

--------------------------------------------------------------------------------
-- Procedures with COMMIT: after the COMMIT, a table the procedure created is no
-- longer new, and SET LOCAL ends with the transaction
CREATE PROCEDURE hostile.p_commit() LANGUAGE plpgsql AS $$
BEGIN
  CREATE TABLE proc_t (id int);
  INSERT INTO proc_t SELECT generate_series(1, 1000);
  CREATE INDEX proc_t_a ON proc_t (id);
  COMMIT;
  CREATE INDEX proc_t_b ON proc_t (id);
END $$;
CALL hostile.p_commit();
SELECT relname FROM pg_class WHERE relname LIKE 'proc_t%' ORDER BY 1;
CREATE PROCEDURE hostile.p_allow() LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL schema_guard.allow = 'create_index_blocking';
  CREATE INDEX proc_t_c ON proc_t (id);
  COMMIT;
  CREATE INDEX proc_t_d ON proc_t (id);
END $$;
CALL hostile.p_allow();
SELECT relname FROM pg_class WHERE relname LIKE 'proc_t%' ORDER BY 1;
-- COMMIT and ROLLBACK between caught blocks
CREATE PROCEDURE hostile.p_loop() LANGUAGE plpgsql AS $$
DECLARE caught int := 0;
BEGIN
  FOR i IN 1..6 LOOP
    BEGIN
      EXECUTE format('ALTER TABLE h ADD COLUMN loop_%s int', i);
      EXECUTE 'ALTER TABLE h RENAME COLUMN v TO v2';
    EXCEPTION WHEN SQLSTATE 'SG001' THEN caught := caught + 1;
    END;
    EXECUTE format('ALTER TABLE h ADD COLUMN kept_%s int', i);
    IF i % 2 = 0 THEN COMMIT; ELSE ROLLBACK; END IF;
  END LOOP;
  RAISE WARNING 'caught %', caught;
END $$;
CALL hostile.p_loop();
SELECT string_agg(attname, ',' ORDER BY attname) AS loop_columns
  FROM pg_attribute WHERE attrelid = 'h'::regclass AND (attname LIKE 'loop_%' OR attname LIKE 'kept_%') AND NOT attisdropped;
-- schema_guard.lock_timeout across a procedure's COMMIT: restored afterwards
SET lock_timeout = 0;
SET schema_guard.lock_timeout = '3s';
SET schema_guard.rules = 'lock_timeout_missing:off';
CREATE PROCEDURE hostile.p_timeout() LANGUAGE plpgsql AS $$
BEGIN
  ALTER TABLE h ADD COLUMN t1 int;
  RAISE WARNING 'lock_timeout after the ALTER: %', current_setting('lock_timeout');
  COMMIT;
  ALTER TABLE h ADD COLUMN t2 int;
  COMMIT;
END $$;
CALL hostile.p_timeout();
SHOW lock_timeout;
RESET schema_guard.rules;
RESET schema_guard.lock_timeout;
SET lock_timeout = '5s';

--------------------------------------------------------------------------------
-- SECURITY DEFINER functions
CREATE ROLE regress_sg_hostile_app LOGIN;
GRANT USAGE, CREATE ON SCHEMA hostile TO regress_sg_hostile_app;
GRANT EXECUTE ON FUNCTION hostile.verdict(text) TO regress_sg_hostile_app;
CREATE FUNCTION hostile.sd_rename() RETURNS void SECURITY DEFINER LANGUAGE plpgsql AS $$
BEGIN ALTER TABLE hostile.h RENAME COLUMN v TO v2; END $$;
CREATE FUNCTION hostile.sd_rename_off() RETURNS void SECURITY DEFINER SET schema_guard.mode = off LANGUAGE plpgsql AS $$
BEGIN ALTER TABLE hostile.h RENAME COLUMN v TO v2; END $$;
CREATE FUNCTION hostile.sd_rename_back() RETURNS void SECURITY DEFINER SET schema_guard.allow = 'rename_column' LANGUAGE plpgsql AS $$
BEGIN ALTER TABLE hostile.h RENAME COLUMN v2 TO v; END $$;
SET ROLE regress_sg_hostile_app;
-- the guard judges the definer's DDL like any other
SELECT hostile.sd_rename();
-- the application role cannot loosen the guard itself ...
SET schema_guard.mode = off;
SET schema_guard.allow = 'rename_column';
-- ... but a superuser-owned function's SET clause does, for its body only
SELECT hostile.sd_rename_off();
SHOW schema_guard.mode;
SELECT hostile.sd_rename_back();
SHOW schema_guard.allow;
-- nor can it create a function that does
CREATE FUNCTION hostile.app_off() RETURNS void SET schema_guard.mode = off LANGUAGE sql AS $$ SELECT 1 $$;
RESET ROLE;
-- a SECURITY DEFINER function handed to the application role loses that power
CREATE FUNCTION hostile.sd_handed() RETURNS void SECURITY DEFINER SET schema_guard.mode = off LANGUAGE plpgsql AS $$
BEGIN ALTER TABLE hostile.h RENAME COLUMN v TO v2; END $$;
ALTER FUNCTION hostile.sd_handed() OWNER TO regress_sg_hostile_app;
SET ROLE regress_sg_hostile_app;
SELECT hostile.sd_handed();
RESET ROLE;
SELECT attname FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname IN ('v', 'v2') ORDER BY 1;
DROP FUNCTION hostile.sd_handed();
REVOKE ALL ON SCHEMA hostile FROM regress_sg_hostile_app;
REVOKE ALL ON FUNCTION hostile.verdict(text) FROM regress_sg_hostile_app;
DROP ROLE regress_sg_hostile_app;

--------------------------------------------------------------------------------
-- Event triggers
CREATE TABLE et_seen (event text, tag text);
CREATE FUNCTION hostile.et_log() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO hostile.et_seen VALUES (tg_event, tg_tag); END $$;
CREATE EVENT TRIGGER regress_sg_et_start ON ddl_command_start EXECUTE FUNCTION hostile.et_log();
CREATE EVENT TRIGGER regress_sg_et_end ON ddl_command_end EXECUTE FUNCTION hostile.et_log();
CREATE EVENT TRIGGER regress_sg_et_rewrite ON table_rewrite EXECUTE FUNCTION hostile.et_log();
CREATE EVENT TRIGGER regress_sg_et_drop ON sql_drop EXECUTE FUNCTION hostile.et_log();
DELETE FROM et_seen;
-- blocked before any event trigger fires
ALTER TABLE h RENAME COLUMN v TO v2;
SELECT count(*) AS events_for_blocked FROM et_seen;
-- allowed: start and end fire
ALTER TABLE h ADD COLUMN et1 int;
SELECT event, tag FROM et_seen ORDER BY event;
DELETE FROM et_seen;
-- warn mode: the rewrite runs, the user's table_rewrite trigger and the guard's backstop both fire
SET schema_guard.mode = warn;
ALTER TABLE h ALTER COLUMN et1 TYPE text;
RESET schema_guard.mode;
SELECT event, tag FROM et_seen ORDER BY event;
DELETE FROM et_seen;
-- DDL run by an event trigger is judged
CREATE FUNCTION hostile.et_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN EXECUTE 'CREATE INDEX et_idx ON hostile.h (n)'; END $$;
CREATE EVENT TRIGGER regress_sg_et_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION hostile.et_ddl();
CREATE TABLE et_new (id int);
SELECT to_regclass('hostile.et_new') AS et_new, to_regclass('hostile.et_idx') AS et_idx;
ALTER EVENT TRIGGER regress_sg_et_ddl DISABLE;
-- a sql_drop trigger: DROP COLUMN blocked, DROP TABLE warned and run
CREATE TABLE et_drop_me (id int);
DELETE FROM et_seen;
ALTER TABLE h DROP COLUMN et1;
DROP TABLE et_drop_me;
SELECT event, tag FROM et_seen ORDER BY event, tag;
-- an event trigger that raises: its error, not the guard's
CREATE FUNCTION hostile.et_veto() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'vetoed % by event trigger', tg_tag; END $$;
CREATE EVENT TRIGGER regress_sg_et_veto ON ddl_command_start WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION hostile.et_veto();
ALTER TABLE h ADD COLUMN vetoed int;
ALTER TABLE h RENAME COLUMN v TO v2;
DROP EVENT TRIGGER regress_sg_et_veto;
DROP EVENT TRIGGER regress_sg_et_ddl;
DROP EVENT TRIGGER regress_sg_et_start;
DROP EVENT TRIGGER regress_sg_et_end;
DROP EVENT TRIGGER regress_sg_et_rewrite;
DROP EVENT TRIGGER regress_sg_et_drop;

--------------------------------------------------------------------------------
-- Odd statements
SELECT hostile.verdict('ALTER TABLE no_such_table ADD COLUMN x int');
SELECT hostile.verdict('ALTER TABLE IF EXISTS no_such_table RENAME COLUMN a TO b');
SELECT hostile.verdict('CREATE INDEX ON no_such_table (x)');
SELECT hostile.verdict('DROP TABLE IF EXISTS no_such_table, no_such_table2');
SELECT hostile.verdict('ALTER TABLE h RENAME COLUMN no_such_column TO x');
SELECT hostile.verdict('ALTER TABLE hv ADD COLUMN x int');
SELECT hostile.verdict('ALTER TABLE hv RENAME COLUMN v TO v2');
-- ALTER INDEX on a table renames the table: judged like ALTER TABLE ... RENAME
SELECT hostile.verdict('ALTER TABLE h RENAME TO h_renamed');
SELECT hostile.verdict('ALTER INDEX h RENAME TO h_renamed');
SET schema_guard.mode = off;
ALTER TABLE IF EXISTS h_renamed RENAME TO h;
RESET schema_guard.mode;
SELECT hostile.verdict('ALTER SEQUENCE h RENAME TO h_renamed');
SELECT hostile.verdict('ALTER TABLE pg_catalog.pg_class ADD COLUMN x int');
SELECT hostile.verdict('CREATE INDEX ON pg_catalog.pg_am (amname)');
SELECT hostile.verdict('LOCK TABLE h IN ACCESS EXCLUSIVE MODE');
SELECT hostile.verdict('ALTER TABLE h ALTER COLUMN id TYPE no_such_type');
SELECT hostile.verdict('ALTER TABLE h ADD COLUMN bad int DEFAULT no_such_function()');
SELECT hostile.verdict('ALTER TABLE h ADD CONSTRAINT c CHECK (no_such_column > 0)');
SELECT hostile.verdict('ALTER TABLE h ALTER COLUMN n TYPE int8 USING n::int8');
SELECT hostile.verdict('ALTER TABLE ONLY h ADD COLUMN only1 int');
-- a 200-character name: truncated by the server (NOTICE), judged under the truncated name
SELECT hostile.verdict(format('ALTER TABLE h RENAME COLUMN v TO %s', repeat('w', 200)));
-- several statements in one query string: each judged, the statement text cut right
SELECT 1 AS one \; ALTER TABLE h ADD COLUMN multi1 int \; ALTER TABLE h RENAME COLUMN v TO v2 \; SELECT 2 AS two;
SELECT count(*) AS multi1 FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname = 'multi1';
-- temporary tables are exempt, even committed
CREATE TEMP TABLE tmp_t AS SELECT generate_series(1, 1000) AS id;
CREATE INDEX ON tmp_t (id);
ALTER TABLE tmp_t RENAME COLUMN id TO id2;
-- recursion: DDL judged 100 levels deep in nested PL/pgSQL calls
CREATE FUNCTION hostile.recurse(depth int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF depth = 0 THEN RETURN hostile.verdict('ALTER TABLE hostile.h RENAME COLUMN v TO v2'); END IF;
  RETURN hostile.recurse(depth - 1);
END $$;
SELECT hostile.recurse(100);
-- the guard's functions inside DDL expressions
SELECT hostile.verdict($$ALTER TABLE h ADD COLUMN rule_count int DEFAULT 0 CHECK (rule_count >= 0)$$);
SELECT hostile.verdict('CREATE TABLE rules_copy AS SELECT * FROM schema_guard.rules()');
SELECT count(*) > 0 AS rules_copied FROM rules_copy;

--------------------------------------------------------------------------------
-- The session is healthy, the guard still active, and nothing changed that should not
SELECT active, effective_mode FROM schema_guard.status();
SELECT count(*) AS rows_h, count(DISTINCT v) AS distinct_v FROM h;
SELECT attname FROM pg_attribute WHERE attrelid = 'h'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SET schema_guard.mode = off;
DROP SCHEMA hostile CASCADE;
RESET schema_guard.mode;
RESET search_path;
