-- Lock waits: a missing lock_timeout warns; other sessions holding or waiting for a
-- conflicting lock block the statement before it queues (or warn when a
-- lock_timeout bounds the wait); schema_guard.lock_timeout is applied when the
-- session has none.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = 0;
-- catalog-only, but an ACCESS EXCLUSIVE request without lock_timeout
ALTER TABLE items ADD COLUMN note2 text;
-- SHARE UPDATE EXCLUSIVE blocks neither reads nor writes: no warning
ALTER TABLE items VALIDATE CONSTRAINT items_checked_not_null;
-- statements judged for their locks only
CREATE FUNCTION noop_trigger() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
BEGIN;
CREATE TRIGGER items_noop BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION noop_trigger();
DROP TRIGGER items_noop ON items;
CREATE POLICY items_all ON items USING (true);
ALTER POLICY items_all ON items USING (id > 0);
DROP POLICY items_all ON items;
LOCK TABLE items IN SHARE MODE;
LOCK TABLE items IN ACCESS SHARE MODE;
LOCK TABLE items IN ACCESS EXCLUSIVE MODE NOWAIT;
-- ACCESS EXCLUSIVE is held now: nothing left to wait for
ALTER TABLE items ADD COLUMN w1 int;
CREATE TABLE items_child (item_id int REFERENCES items);
CREATE TABLE unrelated (id int);
ROLLBACK;
DROP FUNCTION noop_trigger();
-- with a lock_timeout: no warning
SET lock_timeout = '2s';
ALTER TABLE items ADD COLUMN note3 text;
SET schema_guard.mode = off;
ALTER TABLE items DROP COLUMN note2, DROP COLUMN note3;
RESET schema_guard.mode;

-- A second session holds ACCESS SHARE on items in an open transaction.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('holder', format('dbname=%s host=%s port=%s', current_database(),
       current_setting('unix_socket_directories'), current_setting('port'))) AS connected;
SELECT dblink_exec('holder', 'BEGIN');
SELECT dblink_exec('holder', 'LOCK TABLE items IN ACCESS SHARE MODE');
SELECT pid AS holder_pid FROM dblink('holder', 'SELECT pg_backend_pid()') AS t(pid int) \gset

CREATE FUNCTION lock_verdict(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text;
BEGIN
  EXECUTE stmt;
  RETURN 'ran';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ' ' || msg || ' / names holder: ' ||
         (detail LIKE '%pid ' || current_setting('sg.holder_pid') || ' holds AccessShareLock%')::text;
END $$;
SELECT set_config('sg.holder_pid', :'holder_pid', false) IS NOT NULL AS ok;

-- no lock_timeout: blocked at once, before queueing
SET lock_timeout = 0;
SELECT lock_verdict('ALTER TABLE items ADD COLUMN note2 text');
-- a SHARE request (CREATE INDEX ... would also be judged by its own rule)
BEGIN;
SET LOCAL schema_guard.allow = 'create_index_blocking';
SELECT lock_verdict('CREATE INDEX items_note_idx ON items (note)');
COMMIT;
-- with a lock_timeout the wait is bounded: a warning, then the server's own timeout
SET lock_timeout = '50ms';
SELECT lock_verdict('ALTER TABLE items ADD COLUMN note2 text');
-- the guard's lock_timeout is applied when the session has none
SET lock_timeout = 0;
SET schema_guard.lock_timeout = '50ms';
SELECT lock_verdict('ALTER TABLE items ADD COLUMN note2 text');
SHOW lock_timeout;
RESET schema_guard.lock_timeout;
-- a lock that does not conflict (SHARE UPDATE EXCLUSIVE vs ACCESS SHARE) is fine
SELECT lock_verdict('ALTER TABLE items VALIDATE CONSTRAINT items_checked_not_null');
-- the rule can be turned off
SET schema_guard.rules = 'lock_conflict:off, lock_timeout_missing:off';
SET lock_timeout = '50ms';
SELECT lock_verdict('ALTER TABLE items ADD COLUMN note2 text');
RESET schema_guard.rules;
RESET lock_timeout;
SELECT dblink_exec('holder', 'ROLLBACK');
-- CREATE SCHEMA runs its elements as sub-statements: it is judged as they would be.
-- A FOREIGN KEY of a new table waits (SHARE ROW EXCLUSIVE) for a writer of items.
SELECT dblink_exec('holder', 'BEGIN');
SELECT dblink_exec('holder', 'LOCK TABLE items IN ROW EXCLUSIVE MODE');
SET lock_timeout = 0;
SET statement_timeout = '5s';  -- unjudged, it would wait for the holder
SELECT lock_verdict('CREATE SCHEMA sg_lw_fk CREATE TABLE t_fk (id int REFERENCES public.items (id))');
RESET statement_timeout;
SELECT count(*) AS schema_created FROM pg_namespace WHERE nspname = 'sg_lw_fk';
SELECT dblink_exec('holder', 'ROLLBACK');
SELECT dblink_disconnect('holder');
-- without lock_timeout, as CREATE TABLE ... REFERENCES is
CREATE SCHEMA sg_lw_fk CREATE TABLE t_fk (id int REFERENCES public.items (id));
-- an unqualified name the statement creates is the new table (the new schema is first
-- on the search path while the elements run), not public.items: no warning
CREATE SCHEMA sg_lw_own CREATE TABLE items (id int PRIMARY KEY, up int REFERENCES items) CREATE TABLE r (x int REFERENCES items (id));
SELECT confrelid::regclass AS referenced FROM pg_constraint WHERE conrelid = 'sg_lw_own.r'::regclass AND contype = 'f';
RESET lock_timeout;
SET schema_guard.mode = off;
DROP SCHEMA sg_lw_fk, sg_lw_own CASCADE;
RESET schema_guard.mode;
DROP FUNCTION lock_verdict(text);
SET schema_guard.mode = off;
DROP INDEX items_note_idx;
RESET schema_guard.mode;
