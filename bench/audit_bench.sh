#!/usr/bin/env bash
# The audit functions on a large catalog, side by side with the plain-SQL
# catalog query for unindexed foreign keys, in one run on one throwaway cluster.
#
# Catalog: 10,000 tables, 20,000 foreign keys (a single-column and a two-column
# one per table, each with one of several index shapes: covered, covered in
# another order or by a wider / NOT NULL partial / hash index, not covered by a
# partial, INCLUDE-only or missing index), 10,000 policies on 5,000 tables
# (current_setting() per row, and a scalar subquery plus EXISTS), 500 views,
# 100 SECURITY DEFINER functions.
#
# The catalog is measured in two states, side by side in one run:
#   not analysed: no statistics on the system catalogs (as right after a
#                 catalog is built, before autovacuum analyses it; the run
#                 deletes the catalogs' pg_statistic rows to get there);
#   analysed:     after ANALYZE of the system catalogs (the planner then picks
#                 other plans for the plain query, hash joins among them).
# Reported, per state and query, over ROUNDS alternating rounds:
#   wall: the best \timing of the query, run a second time in its session
#         (warm caches, psql output discarded);
#   cpu:  server CPU per query (utime+stime of the backend, from /proc, over a
#         session that runs the query once to warm up, then REPEAT times), which
#         other load on the machine disturbs far less than wall-clock time.
# Targets: fk_index_audit() <= 1.5x the plain query in both states and
# < 0.3 s, rls_audit() < 1 s, audit() (every check) < 1 s on TABLES=6000.
# Not a test: it reports numbers.  TABLES (default 10000) sizes the catalog.
source "$(dirname "$0")/../scripts/lib.sh"
install_deps
build_install
ROUNDS=${ROUNDS:-5}
TABLES=${TABLES:-10000}
REPEAT=${REPEAT:-5}
DIR=${BENCH_DIR:-$SG_TMP/schema_guard_audit_bench}
PORT=${BENCH_PORT:-$(sg_port 54340)}
psql_b() { (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$PORT" -U postgres "$@"); }
# BENCH_REUSE=1 (for development): keep the cluster and its catalog after the
# run, and reuse them next time (the extension is re-created from the build).
if [ "${BENCH_REUSE:-0}" = 1 ] && [ -f "$DIR/generated" ]; then
  (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null) ||
    (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null)
  psql_b -d bench -c "DROP EXTENSION IF EXISTS schema_guard" -c "CREATE EXTENSION schema_guard" 2>/dev/null
else
[ "${BENCH_REUSE:-0}" = 1 ] || trap 'stop_cluster "$DIR"' EXIT
start_cluster "$DIR" "$PORT" "max_locks_per_transaction = 1024" "autovacuum = off"
echo "== generating the catalog (takes a minute)"
psql_b -c "CREATE DATABASE bench"
psql_b -d bench -v tables="$TABLES" <<'SQL'
SET client_min_messages = warning;
CREATE ROLE bench_app LOGIN;
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO bench_app;
CREATE PROCEDURE bench.mk(lo int, hi int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN lo..hi LOOP
    EXECUTE format('CREATE TABLE bench.t%s (id bigint PRIMARY KEY, tenant_id int NOT NULL, a_id bigint, b_id bigint,
                    v int, flag boolean, UNIQUE (tenant_id, id))', i);
    IF i % 50 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
CREATE PROCEDURE bench.fk(lo int, hi int) LANGUAGE plpgsql AS $$
DECLARE t text; par text; half text;
BEGIN
  FOR i IN lo..hi LOOP
    t := format('bench.t%s', i);
    par := format('bench.t%s', CASE WHEN i = 1 THEN hi ELSE i - 1 END);
    half := format('bench.t%s', greatest(i / 2, 1));
    EXECUTE format('ALTER TABLE %s ADD FOREIGN KEY (a_id) REFERENCES %s (id)', t, par);
    EXECUTE format('ALTER TABLE %s ADD FOREIGN KEY (tenant_id, b_id) REFERENCES %s (tenant_id, id) ON DELETE CASCADE', t, half);
    CASE i % 10
      WHEN 0, 1, 2 THEN EXECUTE format('CREATE INDEX ON %s (a_id)', t);
      WHEN 3 THEN EXECUTE format('CREATE INDEX ON %s (a_id, v)', t);
      WHEN 4 THEN EXECUTE format('CREATE INDEX ON %s (a_id) WHERE a_id IS NOT NULL', t);
      WHEN 5 THEN EXECUTE format('CREATE INDEX ON %s (a_id) WHERE flag', t);
      WHEN 7 THEN EXECUTE format('CREATE INDEX ON %s (v) INCLUDE (a_id)', t);
      WHEN 8 THEN EXECUTE format('CREATE INDEX ON %s USING hash (a_id)', t);
      ELSE NULL;
    END CASE;
    CASE i % 4
      WHEN 0 THEN EXECUTE format('CREATE INDEX ON %s (b_id, tenant_id)', t);
      WHEN 1 THEN EXECUTE format('CREATE INDEX ON %s (tenant_id) INCLUDE (b_id)', t);
      WHEN 3 THEN EXECUTE format('CREATE INDEX ON %s (tenant_id, b_id, v)', t);
      ELSE NULL;
    END CASE;
    IF i % 2 = 0 THEN
      EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
      EXECUTE format('CREATE POLICY tenant ON %s USING (tenant_id = current_setting(''app.tenant'')::int)', t);
      EXECUTE format('CREATE POLICY edit ON %s FOR UPDATE TO bench_app
                        USING ((tenant_id = (SELECT NULLIF(current_setting(''app.tenant'', true), '''')::int))
                               AND EXISTS (SELECT 1 FROM %s m WHERE m.id = a_id AND m.v > 0))
                        WITH CHECK (true)', t, par);
    END IF;
    IF i % 50 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
CALL bench.mk(1, :tables);
CALL bench.fk(1, :tables);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA bench TO bench_app;
SELECT set_config('bench.tables', :'tables', false);
DO $$
BEGIN
  FOR i IN 1..least(500, current_setting('bench.tables')::int / 2) LOOP
    EXECUTE format('CREATE VIEW bench.v%s %s AS SELECT id, tenant_id FROM bench.t%s', i,
                   CASE WHEN i % 2 = 0 THEN 'WITH (security_invoker = true)' ELSE '' END, i * 2);
  END LOOP;
  FOR i IN 1..100 LOOP
    EXECUTE format('CREATE FUNCTION bench.f%s(int) RETURNS bigint LANGUAGE sql SECURITY DEFINER %s
                    AS ''SELECT count(*) FROM bench.t%s WHERE tenant_id = $1''',
                   i, CASE WHEN i % 2 = 0 THEN 'SET search_path = bench, pg_temp' ELSE '' END, i * 2);
  END LOOP;
END $$;
DROP PROCEDURE bench.mk(int, int);
DROP PROCEDURE bench.fk(int, int);
VACUUM ANALYZE;
CREATE EXTENSION schema_guard;
SQL
touch "$DIR/generated"
fi
psql_b -d bench -At -c "
  SELECT format('catalog: %s tables, %s foreign keys, %s indexes, %s policies, %s pg_depend rows',
    (SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'bench'::regnamespace),
    (SELECT count(*) FROM pg_constraint WHERE contype = 'f'),
    (SELECT count(*) FROM pg_index), (SELECT count(*) FROM pg_policy), (SELECT count(*) FROM pg_depend))"

W=$(mktemp -d); chmod 777 "$W"
# The plain-SQL catalog query: foreign keys with no index whose leading
# columns are the FK columns in any order (the pgx / Cybertec form), with the
# column names, as such queries are usually written.
cat > "$W/plain.sql" <<'SQL'
SELECT c.conrelid::regclass AS relation,
       c.conname AS constraint_name,
       array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
       c.confrelid::regclass AS referenced
FROM pg_constraint c
WHERE c.contype = 'f'
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = c.conrelid
      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
SQL
echo 'SELECT * FROM schema_guard.fk_index_audit()' > "$W/fk.sql"
echo 'SELECT * FROM schema_guard.rls_audit()' > "$W/rls.sql"
echo 'SELECT * FROM schema_guard.audit()' > "$W/audit.sql"
chmod 644 "$W"/*.sql

rows() { psql_b -d bench -At -c "SELECT count(*) FROM ($(cat "$W/$1.sql")) q"; }

wall() {   # \timing of the query in a session that has run it once (warm caches), in ms
  psql_b -d bench -o /dev/null -f "$W/$1.sql" -c '\timing on' -f "$W/$1.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
cpu() {    # backend utime+stime per query, in ms, over a session running it REPEAT times
  local q; q=$(cat "$W/$1.sql")
  psql_b -d bench -At <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND :pid
\o /dev/null
$q;
\! cat /proc/\$BACKEND/stat > $W/cpu0
$(for _ in $(seq "$REPEAT"); do echo "$q;"; done)
\! cat /proc/\$BACKEND/stat > $W/cpu1
\o
SQL
  awk -v hz="$(getconf CLK_TCK)" -v n="$REPEAT" 'NR == FNR { t0 = $14 + $15; next } { printf "%.1f\n", ($14 + $15 - t0) * 1000 / hz / n }' \
    "$W/cpu0" "$W/cpu1"
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
declare -A best bestcpu
# measure STATE QUERY...: best wall and cpu of each query over ROUNDS alternating rounds
measure() {
  local state=$1; shift
  for q in "$@"; do wall "$q" >/dev/null; done   # warm the caches
  for _ in $(seq "$ROUNDS"); do
    for q in "$@"; do
      local t c k="$state/$q"
      t=$(wall "$q"); c=$(cpu "$q")
      if [ -z "${best[$k]:-}" ] || lt "$t" "${best[$k]}"; then best[$k]=$t; fi
      if [ -z "${bestcpu[$k]:-}" ] || lt "$c" "${bestcpu[$k]}"; then bestcpu[$k]=$c; fi
    done
  done
}
plan_of_plain() {  # the join the planner picks for the plain query
  psql_b -d bench -At -c "EXPLAIN $(cat "$W/plain.sql")" | grep -oE 'Hash (Anti )?Join|Nested Loop( Anti Join)?|Merge (Anti )?Join' | head -1
}
catalog_stats() {
  psql_b -d bench -At -c "SELECT count(*) FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid
                            WHERE c.relnamespace = 'pg_catalog'::regnamespace"
}

# state 1: no statistics on the system catalogs
psql_b -d bench -q -c "DELETE FROM pg_statistic WHERE starelid IN
                         (SELECT oid FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace)"
echo "== not analysed: $(catalog_stats) pg_statistic rows for the catalogs; plain query: $(plan_of_plain)"
echo "rows: plain $(rows plain), fk_index_audit $(rows fk)"
measure fresh plain fk
# state 2: the catalogs analysed (what autovacuum does once it gets to them)
psql_b -d bench -q -c "ANALYZE pg_catalog.pg_class, pg_catalog.pg_index, pg_catalog.pg_constraint,
                         pg_catalog.pg_attribute, pg_catalog.pg_namespace, pg_catalog.pg_depend,
                         pg_catalog.pg_policy, pg_catalog.pg_inherits, pg_catalog.pg_proc,
                         pg_catalog.pg_type, pg_catalog.pg_rewrite, pg_catalog.pg_authid,
                         pg_catalog.pg_sequence, pg_catalog.pg_statistic"
echo "== analysed: $(catalog_stats) pg_statistic rows for the catalogs; plain query: $(plan_of_plain)"
echo "rows: rls_audit $(rows rls), audit $(rows audit)"
measure analysed plain fk rls audit

printf '%-28s %10s %10s\n' query "wall ms" "cpu ms"
for k in fresh/plain fresh/fk analysed/plain analysed/fk analysed/rls analysed/audit; do
  printf '%-28s %10s %10s\n' "$k" "${best[$k]}" "${bestcpu[$k]}"
done
for st in fresh analysed; do
  echo "fk_index_audit / plain ($st): wall $(ratio "${best[$st/fk]}" "${best[$st/plain]}")x, cpu $(ratio "${bestcpu[$st/fk]}" "${bestcpu[$st/plain]}")x  (target <= 1.5x and < 300 ms)"
done
echo "rls_audit: wall ${best[analysed/rls]} ms  (target < 1000 ms)"
echo "audit (every check, $TABLES tables): wall ${best[analysed/audit]} ms  (target < 1000 ms at 6000 tables)"
rm -rf "$W"
