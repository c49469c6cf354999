#!/usr/bin/env bash
# TAP: schema_guard_lint end to end: formats, line numbers, exit codes.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${LINT_DIR:-$SG_TMP/schema_guard_lint_test}
PORT=${LINT_PORT:-$(sg_port 54332)}
echo "1..12"
W=$(mktemp -d)
trap 'stop_cluster "$DIR"; rm -rf "$W"' EXIT
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
psql -X -q -c "CREATE EXTENSION schema_guard; CREATE TABLE accounts (id int PRIMARY KEY, email text);
               INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 100) g;" 2>/dev/null
LINT=$(dirname "$PG_BIN")/bin/schema_guard_lint
[ -x "$LINT" ] || LINT="$REPO_ROOT/scripts/schema_guard_lint"

printf -- "-- safe migration\nSET lock_timeout = '2s';\nALTER TABLE accounts ADD COLUMN plan text;\nCREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n" > "$W/0001_safe.sql"
printf -- "SET lock_timeout = '2s';\n\nCREATE INDEX accounts_email_idx ON accounts (email);\nDROP TABLE accounts;\n" > "$W/0002_unsafe.sql"
printf -- "ALTER TABLE accounts ADD COLUMN x int;\n" > "$W/0003_warn_only.sql"

out=$("$LINT" "$W/0001_safe.sql"); rc=$?
ok "$rc|$out" "0|" "a safe migration: exit 0, no output"
out=$("$LINT" "$W/0002_unsafe.sql"); rc=$?
ok "$rc" "1" "a blocking finding: exit 1"
ok "$(echo "$out" | head -1 | cut -d: -f1-3)" "$W/0002_unsafe.sql:3: block[create_index_blocking]" "compiler-like file:line: action[rule]"
ok "$(echo "$out" | grep -c '^    hint: Use CREATE INDEX CONCURRENTLY')" "1" "the hint follows the finding"
ok "$(echo "$out" | grep -c 'warn\[drop_table\]')" "1" "warnings are listed too"
out=$("$LINT" "$W/0003_warn_only.sql"); rc=$?
ok "$rc|$(echo "$out" | grep -c 'warn\[lock_timeout_missing\]')" "0|1" "only warnings: exit 0"
out=$("$LINT" --format json "$W/0001_safe.sql" "$W/0002_unsafe.sql" "$W/0003_warn_only.sql"); rc=$?
ok "$rc|$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sorted({x["rule"] for x in d}))')" \
   "1|3 ['create_index_blocking', 'drop_table', 'lock_timeout_missing']" "JSON over several files"
ok "$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); x=d[0]; print(x["file"].endswith("0002_unsafe.sql"), x["line"], x["relation"], x["lock_mode"])')" \
   "True 3 accounts ShareLock" "JSON rows carry file, line, relation and lock"
# an empty table: judged as if large by default, by its real size with --real-sizes
psql -X -q -c "CREATE TABLE audit_log (id int, at timestamptz)" 2>/dev/null
printf -- "SET lock_timeout = '2s';\nCREATE INDEX audit_log_at_idx ON audit_log (at);\n" > "$W/0004_empty_table.sql"
out=$("$LINT" "$W/0004_empty_table.sql"); rc=$?
ok "$rc|$(echo "$out" | grep -c 'block\[create_index_blocking\]')" "1|1" "an empty table is judged as if it were large"
out=$("$LINT" --real-sizes "$W/0004_empty_table.sql"); rc=$?
ok "$rc|$out" "0|" "--real-sizes: the index build on the empty table is no finding"
"$LINT" -p 1 "$W/0001_safe.sql" >/dev/null 2>&1; rc=$?
ok "$rc" "2" "no server: exit 2"
"$LINT" --format xml "$W/0001_safe.sql" >/dev/null 2>&1; rc=$?
ok "$rc" "2" "bad usage: exit 2"
exit $failed
