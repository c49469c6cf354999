#!/usr/bin/env bash
# Hook overhead, measured side by side in one run: the same server build, one cluster
# with schema_guard preloaded (extension created, guard active) and one without.
#   (a) utility statements the guard does not judge: SET / SHOW / BEGIN / COMMIT
#   (b) a DDL-heavy loop: create / index / alter / drop of a table in one transaction
#   (c) DDL the guard fully analyses and allows on an existing table with rows
#       (VALIDATE, ADD COLUMN nullable, varchar -> text), rolled back
# Rounds alternate between the clusters; the ratio is guarded/unguarded throughput,
# best round of each (the best round is the one least disturbed by anything else
# running on the machine).  Not a test: it reports numbers.
source "$(dirname "$0")/../scripts/lib.sh"
install_deps
build_install
ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
BASE=/tmp/schema_guard_bench
G=$BASE/guarded; U=$BASE/unguarded
trap 'stop_cluster $G; stop_cluster $U' EXIT
start_cluster "$G" 54351 "shared_preload_libraries = 'schema_guard'"
start_cluster "$U" 54352
psql_as() { local dir=$1 port=$2; shift 2; (cd / && runuser -u postgres -- "$PG_BIN/$@" -h "$dir/sock" -p "$port" -U postgres); }
(cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$G/sock" -p 54351 -U postgres -c "CREATE EXTENSION schema_guard") 
W=$(mktemp -d); chmod 755 "$W"
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
for c in "$G 54351" "$U 54352"; do
  set -- $c
  (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$1/sock" -p "$2" -U postgres -c "
    CREATE TABLE bench_existing (id int CHECK (id > 0), v varchar(20));
    INSERT INTO bench_existing SELECT g, 'v' || g FROM generate_series(1, 10000) g;
    CREATE INDEX ON bench_existing (v);" postgres)
done
tps() { # dir port script
  (cd / && runuser -u postgres -- "$PG_BIN/pgbench" -n -h "$1/sock" -p "$2" -U postgres -c 1 -T "$SECONDS_PER_RUN" -f "$3" postgres 2>/dev/null) |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
best() { sort -g | tail -1; }
for workload in utility ddl ddl_existing; do
  : > "$W/$workload.g"; : > "$W/$workload.u"
  for r in $(seq "$ROUNDS"); do
    tps "$G" 54351 "$W/$workload.sql" >> "$W/$workload.g"
    tps "$U" 54352 "$W/$workload.sql" >> "$W/$workload.u"
  done
  g=$(best < "$W/$workload.g"); u=$(best < "$W/$workload.u")
  printf '%-12s guarded %10.1f tps   unguarded %10.1f tps   ratio %.3f   (best of %d rounds of %ds)\n' \
    "$workload" "$g" "$u" "$(awk -v g="$g" -v u="$u" 'BEGIN {print g / u}')" "$ROUNDS" "$SECONDS_PER_RUN"
done
