#!/usr/bin/env bash
# Time schema_guard.check() on a generated 10,000-statement migration (a mix of safe
# and unsafe DDL over 100 existing tables, transactions, SET lock_timeout, new tables).
# Reports statements/second, best of a few runs.  Not a test: it reports numbers.
source "$(dirname "$0")/../scripts/lib.sh"
install_deps
build_install
STATEMENTS=${STATEMENTS:-10000}
DIR=$SG_TMP/schema_guard_check_bench
trap 'stop_cluster $DIR' EXIT
start_cluster "$DIR" $(sg_port 54353) "shared_preload_libraries = 'schema_guard'"
export PGHOST=$DIR/sock PGPORT=$(sg_port 54353) PGUSER=postgres PGDATABASE=postgres
psql -X -q <<'SQL'
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
DO $$ BEGIN
  FOR i IN 1..100 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v varchar(20), n numeric(8,2), c text)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, ''v'', g, ''c'' FROM generate_series(1, 100) g', i);
  END LOOP;
END $$;
SQL
psql -X -At <<SQL
CREATE TEMP TABLE script AS
SELECT string_agg(CASE g % 10
    WHEN 0 THEN format('SET lock_timeout = ''%ss'';', g % 5 + 1)
    WHEN 1 THEN format('CREATE INDEX ON t%s (c);', g % 100 + 1)
    WHEN 2 THEN format('ALTER TABLE t%s ALTER COLUMN v TYPE varchar(40);', g % 100 + 1)
    WHEN 3 THEN format('ALTER TABLE t%s ADD COLUMN IF NOT EXISTS x%s int;', g % 100 + 1, g)
    WHEN 4 THEN format('ALTER TABLE t%s ALTER COLUMN n TYPE numeric(8,3);', g % 100 + 1)
    WHEN 5 THEN 'BEGIN;'
    WHEN 6 THEN format('ALTER TABLE t%s ADD CONSTRAINT k%s CHECK (id > 0) NOT VALID;', g % 100 + 1, g)
    WHEN 7 THEN format('ALTER TABLE t%s VALIDATE CONSTRAINT k%s;', (g - 1) % 100 + 1, g - 1)
    WHEN 8 THEN 'COMMIT;'
    ELSE format('CREATE TABLE new%s (id int); CREATE INDEX ON new%s (id);', g, g) END, E'\n') AS sql
FROM generate_series(1, $STATEMENTS) g;
SELECT 'statements in script: ' || (SELECT count(*) FROM regexp_matches(sql, ';', 'g')) FROM script;
DO \$\$
DECLARE t0 timestamptz; best float8 := 1e9; n int; f int; s text;
BEGIN
  SELECT sql INTO s FROM script;
  SELECT count(*) INTO n FROM regexp_matches(s, ';', 'g');
  FOR r IN 1..3 LOOP
    t0 := clock_timestamp();
    SELECT count(*) INTO f FROM schema_guard.check(s);
    best := least(best, extract(epoch FROM clock_timestamp() - t0));
  END LOOP;
  RAISE NOTICE 'check(): % statements, % findings, best of 3: % s = % statements/s',
    n, f, round(best::numeric, 3), round((n / best)::numeric);
END \$\$;
SQL
