#!/usr/bin/env bash
# Hook cost in instructions, side by side in one run: the same workloads in a
# single-user backend (postgres --single) under callgrind, with
#   none     no schema_guard at all (no library, no extension);
#   0.2.0    the 0.2.0 release (its library preloaded, its extension created);
#   current  this checkout (library preloaded, extension created).
# Instructions do not depend on what else the machine runs, unlike tps or CPU time
# (bench/hook_overhead.sh): differences of a few percent are real here.
# Workloads (ITERATIONS runs of each, instructions per run printed):
#   utility        SET / SHOW / BEGIN / SET LOCAL / COMMIT / PREPARE / EXECUTE / DEALLOCATE
#   queries        SELECT and UPDATE of one row by its index (never reach the hook)
#   ddl_existing   VALIDATE, ADD COLUMN, varchar -> text on a 10000-row table, rolled back
#   ddl_loop       create / index / alter / drop of a table in one transaction
#   restore        what pg_restore sends (its application_name and settings): a table,
#                  its rows, primary key, index and foreign key, one statement at a time
# Each workload is delimited by a SELECT pg_sleep(0) marker; callgrind dumps its counts
# when pg_sleep is entered, so each dump holds exactly one workload's instructions.
# VARIANTS="current" measures only those (the others' counts come from the last run with
# the same ITERATIONS, as when trying a change).
# KEEP=1 keeps the callgrind files (for callgrind_annotate) and prints where they are.
# Not a test: it reports numbers.
source "$(dirname "$0")/../scripts/lib.sh"
install_deps
if ! command -v valgrind >/dev/null; then
  echo "== installing: valgrind"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
fi
build_install
ITERATIONS=${ITERATIONS:-100}
VARIANTS=${VARIANTS:-none baseline current}
W=$SG_TMP/schema_guard_hook_instructions
mkdir -p "$W"; chmod 755 "$W"

# The 0.2.0 release: the last commit before the one that opened 0.3.0 (BASELINE=<commit>
# measures another).  It gets its own copy of the PostgreSQL installation, so that its
# library and SQL files never meet this checkout's.
BASELINE=${BASELINE:-}
if [ -z "$BASELINE" ]; then
  opened=$(git -C "$REPO_ROOT" log --format=%H --reverse -S"default_version = '0.3.0'" -- schema_guard.control | head -1)
  [ -n "$opened" ] && BASELINE=$(git -C "$REPO_ROOT" rev-parse "$opened^")
fi
BASE_ROOT=$W/pg-baseline
if [ -n "$BASELINE" ]; then
  BASE_CONFIG=$(find "$BASE_ROOT" -name pg_config -path '*/bin/*' 2>/dev/null | head -1 || true)
  if [ "$(cat "$BASE_ROOT/.commit" 2>/dev/null)" != "$BASELINE $(stat -c %Y "$PG_BIN/postgres")" ] || [ -z "$BASE_CONFIG" ]; then
    echo "== building the baseline ${BASELINE:0:10} in its own installation"
    rm -rf "$BASE_ROOT" "$W/src-baseline"
    mkdir -p "$BASE_ROOT" "$W/src-baseline"
    if [ -n "${PG_ROOT:-}" ]; then
      cp -a "$PG_ROOT/." "$BASE_ROOT/"
    else
      mkdir -p "$BASE_ROOT/usr/lib/postgresql" "$BASE_ROOT/usr/share/postgresql" "$BASE_ROOT/usr/include"
      cp -a "$PG_ORIG_BIN/.." "$BASE_ROOT/usr/lib/postgresql/$PG_MAJOR"
      cp -a "/usr/share/postgresql/$PG_MAJOR" "$BASE_ROOT/usr/share/postgresql/"
      cp -a /usr/include/postgresql "$BASE_ROOT/usr/include/"
    fi
    chmod 755 "$BASE_ROOT"
    BASE_CONFIG=$(find "$BASE_ROOT" -name pg_config -path '*/bin/*' | head -1)
    git -C "$REPO_ROOT" archive "$BASELINE" | tar -x -C "$W/src-baseline"
    nice make -C "$W/src-baseline" -s -j2 PG_CONFIG="$BASE_CONFIG" >/dev/null 2>&1
    make -C "$W/src-baseline" -s install PG_CONFIG="$BASE_CONFIG" >/dev/null
    echo "$BASELINE $(stat -c %Y "$PG_BIN/postgres")" >"$BASE_ROOT/.commit"
  fi
  BASE_BIN=$(dirname "$BASE_CONFIG")
  BASE_VERSION=$(git -C "$REPO_ROOT" show "$BASELINE:schema_guard.control" | sed -n "s/^default_version *= *'\(.*\)'/\1/p")
else
  echo "(no baseline: this clone does not hold the commit that opened 0.3.0; set BASELINE=<commit>)"
fi

# --- the workloads: one statement per line (single-user mode reads a line as a query)
{
  echo "SELECT pg_sleep(0);"
  for i in $(seq "$ITERATIONS"); do
    echo "SET application_name = 'bench';"
    echo "SHOW application_name;"
    echo "BEGIN;"
    echo "SET LOCAL work_mem = '8MB';"
    echo "COMMIT;"
    echo "PREPARE bench_q AS SELECT 1;"
    echo "EXECUTE bench_q;"
    echo "DEALLOCATE bench_q;"
  done
  echo "SELECT pg_sleep(0);"
  for i in $(seq "$ITERATIONS"); do
    echo "SELECT v FROM bench_existing WHERE id = $i;"
    echo "UPDATE bench_existing SET v = v WHERE id = $i;"
  done
  echo "SELECT pg_sleep(0);"
  for i in $(seq "$ITERATIONS"); do
    echo "BEGIN;"
    echo "SET LOCAL lock_timeout = '1s';"
    echo "ALTER TABLE bench_existing VALIDATE CONSTRAINT bench_existing_id_check;"
    echo "ALTER TABLE bench_existing ADD COLUMN extra int;"
    echo "ALTER TABLE bench_existing ALTER COLUMN v TYPE text;"
    echo "ROLLBACK;"
  done
  echo "SELECT pg_sleep(0);"
  for i in $(seq "$ITERATIONS"); do
    echo "BEGIN;"
    echo "CREATE TABLE bench_t (id int, v text);"
    echo "CREATE INDEX bench_t_v_idx ON bench_t (v);"
    echo "ALTER TABLE bench_t ADD COLUMN w int DEFAULT 0;"
    echo "ALTER TABLE bench_t ALTER COLUMN id TYPE bigint;"
    echo "ALTER TABLE bench_t RENAME COLUMN w TO w2;"
    echo "DROP INDEX bench_t_v_idx;"
    echo "DROP TABLE bench_t;"
    echo "COMMIT;"
  done
  echo "SET application_name = 'pg_restore';"
  echo "SET row_security = off;"
  echo "SET check_function_bodies = false;"
  echo "SELECT pg_sleep(0);"
  for i in $(seq "$ITERATIONS"); do
    echo "CREATE TABLE public.restored_$i (id integer NOT NULL, ref integer, v text);"
    echo "INSERT INTO public.restored_$i SELECT g, g, 'v' FROM generate_series(1, 100) g;"
    echo "ALTER TABLE ONLY public.restored_$i ADD CONSTRAINT restored_${i}_pkey PRIMARY KEY (id);"
    echo "CREATE INDEX restored_${i}_v_idx ON public.restored_$i USING btree (v);"
    echo "ALTER TABLE ONLY public.restored_$i ADD CONSTRAINT restored_${i}_ref_fkey FOREIGN KEY (ref) REFERENCES public.restored_$i(id);"
  done
  echo "SELECT pg_sleep(0);"
} >"$W/workload.sql"
WORKLOADS="utility queries ddl_existing ddl_loop restore"
declare -A per_iteration=([utility]=8 [queries]=2 [ddl_existing]=6 [ddl_loop]=9 [restore]=5)
chmod 644 "$W/workload.sql"

# measure NAME BIN_DIR PRELOAD EXTENSION_VERSION -> "$W/NAME.counts": one line per workload
measure() {
  local name=$1 bin=$2 preload=$3 version=$4 dir=$W/$1 port
  port=$(sg_port 54353)
  # a cluster with the fixture, prepared by a normal server, then stopped
  local saved_bin=$PG_BIN
  PG_BIN=$bin
  if [ -n "$preload" ]; then
    start_cluster "$dir" "$port" "shared_preload_libraries = '$preload'"
  else
    start_cluster "$dir" "$port"
  fi
  (cd / && runuser -u postgres -- "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres postgres) <<SQL
CREATE TABLE bench_existing (id int CHECK (id > 0), v varchar(20));
INSERT INTO bench_existing SELECT g, 'v' || g FROM generate_series(1, 10000) g;
CREATE INDEX ON bench_existing (v);
CREATE UNIQUE INDEX ON bench_existing (id);
${version:+CREATE EXTENSION schema_guard VERSION '$version';}
VACUUM ANALYZE;
CHECKPOINT;
SQL
  stop_cluster "$dir"
  PG_BIN=$saved_bin
  rm -f "$dir"/callgrind.out*
  (cd / && runuser -u postgres -- valgrind --tool=callgrind --dump-before=pg_sleep --dump-instr=no \
     --callgrind-out-file="$dir/callgrind.out" \
     "$bin/postgres" --single -D "$dir/data" -c shared_preload_libraries="$preload" -c log_min_messages=error \
     postgres <"$W/workload.sql" >"$dir/single.log" 2>&1) ||
    { echo "single-user run failed for $name:"; tail -20 "$dir/single.log"; exit 1; }
  # Only a guard that blocks a restore (0.2.0 does) may raise errors, in the restore
  # workload; they are counted and reported.
  grep "ERROR:" "$dir/single.log" >"$dir/errors" || true
  if grep -v -q "restored_" "$dir/errors"; then
    echo "an error in the $name run:"; grep -v -m5 "restored_" "$dir/errors"; exit 1
  fi
  # dump k+1 holds workload k: its "totals:" line is the instruction count
  local k=1
  : >"$W/$name.$ITERATIONS.counts"
  for w in $WORKLOADS; do
    k=$((k + 1))
    echo "$w $(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$dir/callgrind.out.$k")" >>"$W/$name.$ITERATIONS.counts"
  done
}

case " $VARIANTS " in *" none "*)
  echo "== callgrind: none"
  measure none "$PG_BIN" "" "";;
esac
case " $VARIANTS " in *" baseline "*)
  if [ -n "$BASELINE" ]; then
    echo "== callgrind: $BASE_VERSION (${BASELINE:0:10})"
    measure baseline "$BASE_BIN" schema_guard "$BASE_VERSION"
  fi;;
esac
case " $VARIANTS " in *" current "*)
  echo "== callgrind: current"
  measure current "$PG_BIN" schema_guard "$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$REPO_ROOT/schema_guard.control")";;
esac

echo
printf "instructions per iteration (%d iterations; the hook's extra instructions per statement in brackets)\n" "$ITERATIONS"
printf "%-13s %12s %22s %22s %9s %9s %9s\n" workload none "${BASE_VERSION:-baseline}" current \
  "$(echo "${BASE_VERSION:-base}/none")" current/none "current/${BASE_VERSION:-base}"
for w in $WORKLOADS; do
  n=$(awk -v w="$w" '$1 == w {print $2}' "$W/none.$ITERATIONS.counts")
  b=$(awk -v w="$w" '$1 == w {print $2}' "$W/baseline.$ITERATIONS.counts" 2>/dev/null || true)
  c=$(awk -v w="$w" '$1 == w {print $2}' "$W/current.$ITERATIONS.counts")
  awk -v w="$w" -v n="$n" -v b="${b:-0}" -v c="$c" -v it="$ITERATIONS" -v s="${per_iteration[$w]}" 'BEGIN {
    n /= it; b /= it; c /= it
    printf "%-13s %12.0f %12.0f [%+7.0f] %12.0f [%+7.0f] %9s %9.3f %9s\n", w, n,
      b, (b - n) / s, c, (c - n) / s,
      (b > 0 ? sprintf("%.3f", b / n) : "-"), c / n, (b > 0 ? sprintf("%.3f", c / b) : "-") }'
done
for name in baseline current; do
  [ -s "$W/$name/errors" ] || continue
  label=$([ $name = baseline ] && echo "${BASE_VERSION:-baseline}" || echo current)
  echo "$label blocked $(wc -l <"$W/$name/errors") of the restore's $((ITERATIONS * 3)) ALTER TABLE / CREATE INDEX statements: its restore count is of statements that failed, not comparable"
done
if [ "${KEEP:-0}" = 1 ]; then
  echo "callgrind files: $W/{none,baseline,current}/callgrind.out.N (N-1 = the workload's position in: $WORKLOADS)"
else
  rm -f "$W"/{none,baseline,current}/callgrind.out*
fi
