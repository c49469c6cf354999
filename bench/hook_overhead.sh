#!/usr/bin/env bash
# Hook overhead, measured side by side in one run: the same server build, one cluster
# with schema_guard preloaded (extension created, guard active) and one without.
#   (a) utility statements the guard does not judge: SET / SHOW / BEGIN / COMMIT
#   (b) a DDL-heavy loop: create / index / alter / drop of a table in one transaction
#   (c) DDL the guard fully analyses and allows on an existing table with rows
#       (VALIDATE, ADD COLUMN nullable, varchar -> text), rolled back
# Each run executes a fixed number of transactions on one connection.  Two ratios,
# guarded/unguarded, best round of each (rounds alternate between the clusters):
#   tps: wall-clock throughput as pgbench reports it;
#   cpu: server CPU per transaction, from the postmaster's cutime+cstime (the CPU of
#        the backend, reaped when the pgbench connection ends), which other load on
#        the machine disturbs far less than wall-clock time.
# Not a test: it reports numbers.
source "$(dirname "$0")/../scripts/lib.sh"
install_deps
build_install
ROUNDS=${ROUNDS:-5}
GP=$(sg_port 54351); UP=$(sg_port 54352)
BASE=$SG_TMP/schema_guard_bench
G=$BASE/guarded; U=$BASE/unguarded
on_exit :   # stops the clusters started below at exit
start_cluster "$G" $GP "shared_preload_libraries = 'schema_guard'"
start_cluster "$U" $UP
psql_as() { local dir=$1 port=$2; shift 2; (cd / && runuser -u postgres -- "$PG_BIN/$@" -h "$dir/sock" -p "$port" -U postgres); }
(cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$G/sock" -p $GP -U postgres -c "CREATE EXTENSION schema_guard")
# BACKSTOP=off: measure the hook alone, without the extension's table_rewrite event trigger
# (any event trigger of that kind makes PostgreSQL track every DDL command it runs).
if [ -n "${GUARDED_SETTINGS:-}" ]; then  # e.g. "schema_guard.rules = 'lock_conflict:off'"
  (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$G/sock" -p $GP -U postgres -c "ALTER DATABASE postgres SET $GUARDED_SETTINGS")
fi
if [ "${BACKSTOP:-on}" = off ]; then
  (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$G/sock" -p $GP -U postgres \
     -c "SET schema_guard.mode = off; ALTER EVENT TRIGGER schema_guard_table_rewrite DISABLE")
fi
W=$(mktemp -d "$SG_TMP/sg_hook_overhead.XXXXXX"); chmod 755 "$W"
on_exit 'remove_dir "$W"'
cat > "$W/utility.sql" <<'SQL'
SET application_name = 'bench';
SHOW application_name;
BEGIN;
SET LOCAL work_mem = '8MB';
COMMIT;
SQL
cat > "$W/ddl.sql" <<'SQL'
BEGIN;
CREATE TABLE bench_t (id int, v text);
CREATE INDEX bench_t_v_idx ON bench_t (v);
ALTER TABLE bench_t ADD COLUMN w int DEFAULT 0;
ALTER TABLE bench_t ALTER COLUMN id TYPE bigint;
ALTER TABLE bench_t RENAME COLUMN w TO w2;
DROP INDEX bench_t_v_idx;
DROP TABLE bench_t;
COMMIT;
SQL
cat > "$W/ddl_existing.sql" <<'SQL'
BEGIN;
SET LOCAL lock_timeout = '1s';
ALTER TABLE bench_existing VALIDATE CONSTRAINT bench_existing_id_check;
ALTER TABLE bench_existing ADD COLUMN extra int;
ALTER TABLE bench_existing ALTER COLUMN v TYPE text;
ROLLBACK;
SQL
chmod 644 "$W"/*.sql
for c in "$G $GP" "$U $UP"; do
  set -- $c
  (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$1/sock" -p "$2" -U postgres -c "
    CREATE TABLE bench_existing (id int CHECK (id > 0), v varchar(20));
    INSERT INTO bench_existing SELECT g, 'v' || g FROM generate_series(1, 10000) g;
    CREATE INDEX ON bench_existing (v);" postgres)
done
TRANSACTIONS=${TRANSACTIONS:-20000}
declare -A per_workload=([utility]=$TRANSACTIONS [ddl]=$((TRANSACTIONS / 20)) [ddl_existing]=$((TRANSACTIONS / 10)))
children_cpu() { # dir: CPU seconds of the postmaster's reaped children
  awk -v hz="$(getconf CLK_TCK)" '{print ($16 + $17) / hz}' "/proc/$(head -1 "$1/data/postmaster.pid")/stat"
}
run() { # dir port script transactions -> "tps cpu_seconds_per_1000_transactions"
  local before after tps
  # The DDL loops bloat the catalogs; start every run from vacuumed catalogs so that
  # neither cluster pays for the other's history.
  (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$1/sock" -p "$2" -U postgres -c \
    "VACUUM pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_type, pg_catalog.pg_depend,
            pg_catalog.pg_index, pg_catalog.pg_constraint, pg_catalog.pg_attrdef, pg_catalog.pg_shdepend" postgres)
  before=$(children_cpu "$1")
  tps=$( (cd / && runuser -u postgres -- "$PG_BIN/pgbench" -n -h "$1/sock" -p "$2" -U postgres -c 1 -t "$4" -f "$3" postgres 2>/dev/null) |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  sleep 0.2  # let the postmaster reap the backend
  after=$(children_cpu "$1")
  awk -v t="$tps" -v b="$before" -v a="$after" -v n="$4" 'BEGIN {printf "%s %.6f\n", t, (a - b) * 1000 / n}'
}
for workload in utility ddl ddl_existing; do
  : > "$W/$workload.g"; : > "$W/$workload.u"
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then  # alternate which cluster goes first
      run "$G" $GP "$W/$workload.sql" "${per_workload[$workload]}" >> "$W/$workload.g"
      run "$U" $UP "$W/$workload.sql" "${per_workload[$workload]}" >> "$W/$workload.u"
    else
      run "$U" $UP "$W/$workload.sql" "${per_workload[$workload]}" >> "$W/$workload.u"
      run "$G" $GP "$W/$workload.sql" "${per_workload[$workload]}" >> "$W/$workload.g"
    fi
  done
  gt=$(cut -d' ' -f1 "$W/$workload.g" | sort -g | tail -1); ut=$(cut -d' ' -f1 "$W/$workload.u" | sort -g | tail -1)
  gc=$(cut -d' ' -f2 "$W/$workload.g" | sort -g | head -1); uc=$(cut -d' ' -f2 "$W/$workload.u" | sort -g | head -1)
  awk -v w="$workload" -v gt="$gt" -v ut="$ut" -v gc="$gc" -v uc="$uc" -v r="$ROUNDS" -v n="${per_workload[$workload]}" 'BEGIN {
    printf "%-12s tps guarded %8.1f unguarded %8.1f ratio %.3f | cpu/1000 tx guarded %.3fs unguarded %.3fs ratio %.3f  (best of %d rounds of %d tx)\n",
      w, gt, ut, gt / ut, gc, uc, (gc > 0 ? uc / gc : 0), r, n }'
done
