-- Statements the guard passes on to the server, which rejects them with its own error:
-- the guard adds nothing and changes nothing.  These are the server's messages whose
-- wording changed between majors, so they live here, with one expected output per
-- wording: guard_server_errors.out (15) and guard_server_errors_1.out (18: the position
-- of an unknown type, units in GUC range errors, the ATTACH PARTITION wording and its
-- DETAIL, a parser stack that runs out one character earlier).
SET client_min_messages = warning;
SET lock_timeout = '5s';
\set VERBOSITY default
ALTER TABLE items ALTER COLUMN label TYPE no_such_type;
ALTER TABLE items ATTACH PARTITION parent_tbl FOR VALUES FROM (1) TO (2);
SET schema_guard.lock_timeout = -1;
SET schema_guard.min_table_size = '-1';
-- too deep for the server's parser: its own clean error, the guard never sees it
\set VERBOSITY terse
\set ECHO none
SELECT format('ALTER TABLE items ADD COLUMN deep int DEFAULT %s1%s', repeat('(', 100000), repeat(')', 100000)) \gexec
\set ECHO all
SELECT count(*) AS deep_columns FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'deep';
