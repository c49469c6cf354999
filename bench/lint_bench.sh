#!/usr/bin/env bash
# schema_guard_lint side by side with squawk (npm: squawk-cli) on the same 180 migration
# files: wall-clock time of one run over all files, best of ROUNDS alternating rounds,
# and the ratio.  The lint judges against a local server with the extension (one
# connection, one call); squawk parses the files offline.  Not a test: it reports numbers.
source "$(dirname "$0")/../scripts/lib.sh"
set +e
install_deps
build_install
FILES=${FILES:-180}
ROUNDS=${ROUNDS:-7}
DIR=$SG_TMP/schema_guard_lint_bench
W=$SG_TMP/schema_guard_lint_bench_files
NPM_PREFIX=${NPM_PREFIX:-$SG_TMP/schema_guard_bench_npm}
trap 'stop_cluster $DIR' EXIT

SQUAWK=$NPM_PREFIX/node_modules/.bin/squawk
if [ ! -x "$SQUAWK" ]; then
  command -v npm >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq npm >/dev/null; }
  mkdir -p "$NPM_PREFIX" && npm install --silent --prefix "$NPM_PREFIX" squawk-cli >/dev/null
fi

start_cluster "$DIR" "$(sg_port 54354)" "shared_preload_libraries = 'schema_guard'"
export PGHOST=$DIR/sock PGPORT=$(sg_port 54354) PGUSER=postgres PGDATABASE=postgres
psql -X -q <<'SQL'
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
DO $$ BEGIN
  FOR i IN 1..60 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v varchar(20), n numeric(8,2), c text)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, ''v'', g, ''c'' FROM generate_series(1, 100) g', i);
  END LOOP;
END $$;
SQL

# 180 files as a team writes them: a lock_timeout, a transaction, a mix of safe and
# unsafe DDL on existing tables, new tables with their indexes.
rm -rf "$W" && mkdir -p "$W"
for i in $(seq 1 "$FILES"); do
  t=$(( i % 60 + 1 ))
  printf -- "-- migration %04d\nSET lock_timeout = '2s';\nBEGIN;\nALTER TABLE t%s ADD COLUMN c%s text;\nCREATE INDEX t%s_c%s_idx ON t%s (c);\nALTER TABLE t%s ALTER COLUMN v TYPE varchar(40);\nCREATE TABLE new%s (id bigint PRIMARY KEY, t_id int REFERENCES t%s (id), note text);\nCREATE INDEX new%s_t_idx ON new%s (t_id);\nCOMMIT;\n" \
    "$i" "$t" "$i" "$t" "$i" "$t" "$t" "$i" "$t" "$i" "$i" > "$W/$(printf '%04d' "$i")_migration.sql"
done
LINT=$PG_BIN/schema_guard_lint
"$LINT" "$W" >/dev/null; lint_rc=$?
"$SQUAWK" "$W"/*.sql >/dev/null 2>&1; squawk_rc=$?

now() { date +%s.%N; }
best_lint=999; best_squawk=999
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now); "$LINT" "$W" >/dev/null; t1=$(now)
  "$SQUAWK" "$W"/*.sql >/dev/null 2>&1; t2=$(now)
  best_lint=$(echo "l=$t1-$t0; if (l < $best_lint) l else $best_lint" | bc -l)
  best_squawk=$(echo "s=$t2-$t1; if (s < $best_squawk) s else $best_squawk" | bc -l)
done
findings=$("$LINT" --format json "$W" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
printf 'files: %s (%s statements each), best of %s rounds\n' "$FILES" 8 "$ROUNDS"
printf 'schema_guard_lint: %.3f s (exit %s, %s findings, one connection)\n' "$best_lint" "$lint_rc" "$findings"
printf 'squawk %s: %.3f s (exit %s)\n' "$("$SQUAWK" --version | awk '{print $2}')" "$best_squawk" "$squawk_rc"
printf 'ratio lint/squawk: %.2f\n' "$(echo "$best_lint / $best_squawk" | bc -l)"
