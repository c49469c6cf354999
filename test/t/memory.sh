#!/usr/bin/env bash
# TAP: the guard under the extended query protocol, and its memory over many statements.
#  * DDL sent as prepared statements (pgbench -M prepared) and as unnamed extended-protocol
#    statements (-M extended) gets the same verdicts as in psql; a prepared utility
#    statement is judged again at every execution;
#  * bench/memory.sh with 20,000 statements per phase (the benchmark runs 200,000): one
#    backend's memory contexts and private RSS stay flat (simple protocol with top-level
#    blocks, prepared statements, one long transaction compared with the guard off);
#  * check() of 4,000 transactions that each add a constraint: the backend's peak memory
#    grows linearly with the script (it grew quadratically: 173 MB).
# Runs its own throwaway clusters.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${MEMORY_TEST_DIR:-$(mktemp -d "$SG_TMP/sg_memtest.XXXXXX")}
chmod 755 "$DIR"
PORT=${MEMORY_TEST_PORT:-$(sg_port 54366)}
on_exit 'cleanup_dir "$DIR" "${MEMORY_TEST_DIR:-}"'
export PGHOST=$DIR/c/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
q() { "$PG_BIN/psql" -X -At "$@" 2>&1; }
# bench MODE SCRIPT-TEXT [pgbench options]: run the script once through pgbench
bench() {
  local mode=$1 script=$2; shift 2
  printf '%s\n' "$script" >"$DIR/script.sql"
  "$PG_BIN/pgbench" -n -M "$mode" -c 1 "$@" -f "$DIR/script.sql" 2>&1
}

echo "1..15"
start_cluster "$DIR/c" "$PORT" "shared_preload_libraries = 'schema_guard'"
q -q -c "CREATE EXTENSION schema_guard" -c "SET schema_guard.mode = off" \
  -c "CREATE TABLE t (id int PRIMARY KEY, a int, v text)" \
  -c "INSERT INTO t SELECT g, g, 'v' || g FROM generate_series(1, 5000) g" \
  -c "ALTER DATABASE postgres SET lock_timeout = '5s'" >/dev/null

# --- extended protocol ---------------------------------------------------------------------
out=$(bench prepared "CREATE INDEX t_v_idx ON t (v);" -t 1)
ok_match "$out" "aborted in command 0 .*ERROR:  schema_guard: create_index_blocking: CREATE INDEX t_v_idx" "-M prepared: CREATE INDEX is blocked"
ok "$(q -c "SELECT count(*) FROM pg_class WHERE relname = 't_v_idx'")" "0" "-M prepared: the blocked index was not built"
out=$(bench extended "ALTER TABLE t RENAME COLUMN v TO v2;" -t 1)
ok_match "$out" "ERROR:  schema_guard: rename_column: renaming column v of table public.t" "-M extended: RENAME COLUMN is blocked"
out=$(bench prepared "ALTER TABLE t ADD COLUMN IF NOT EXISTS c1 int;" -t 3)
ok "$(printf '%s' "$out" | grep -c 'ERROR')|$(q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c1'")" "0|1" "-M prepared: an allowed ADD COLUMN runs (three executions)"
out=$(PGOPTIONS="-c schema_guard.mode=warn" bench prepared "CREATE INDEX t_a_idx ON t (a);" -t 1)
ok_match "$out" "WARNING:  schema_guard: create_index_blocking" "-M prepared, warn mode: a WARNING ..."
ok "$(q -c "SELECT count(*) FROM pg_class WHERE relname = 't_a_idx'")" "1" "... and the index is built"
# the same prepared statement, judged at each execution: allowed in the first transaction
# (SET LOCAL through set_config(..., true)), blocked in the second, which allows nothing
out=$(PGOPTIONS="-c sg.next_allow=rename_column" bench prepared "BEGIN;
SELECT set_config('schema_guard.allow', current_setting('sg.next_allow'), true);
ALTER TABLE t RENAME COLUMN a TO b;
ALTER TABLE t RENAME COLUMN b TO a;
COMMIT;
SELECT set_config('sg.next_allow', '', false);" -t 2)
ok_match "$out" "aborted in command 2 .*ERROR:  schema_guard: rename_column: renaming column a" "a prepared RENAME allowed in the first run is blocked at its second execution"
ok "$(printf '%s' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\/[0-9]*\).*/\1/p')|$(q -c "SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum = 2")" "1/2|a" "one transaction ran, the second stopped at the guard; column a keeps its name"
# an allow list for the whole connection (PGOPTIONS) would outlive every transaction: refused
out=$(PGOPTIONS="-c schema_guard.allow=rename_column" q -c "SELECT 'connected'")
ok_match "$out" "FATAL:  schema_guard.allow cannot be set in the connection options \(PGOPTIONS\)" "PGOPTIONS=-c schema_guard.allow=... is refused at connection"
# parameters are refused in utility statements by the server, not mangled by the guard
out=$(bench prepared "\\set name 7
ALTER TABLE t ADD COLUMN IF NOT EXISTS c2 int DEFAULT :name;" -t 1)
ok_match "$out" "aborted in command 1 .*ERROR:  bind message supplies 1 parameters, but prepared statement \"P_0\" requires 0" "a parameter in a prepared utility statement: the server's clear error"
ok "$(grep -c 'terminated by signal' "$DIR/c/server.log")" "0" "no crash"

# --- memory --------------------------------------------------------------------------------
res=$(MEMORY_SKIP_BUILD=1 MEMORY_PORT=$((PORT + 1)) MEMORY_MAX_CTX_GROWTH=262144 MEMORY_MAX_ANON_GROWTH=1024 \
      bash "$REPO_ROOT/bench/memory.sh" "${MEMORY_TEST_STATEMENTS:-20000}" 2>&1)
printf '%s\n' "$res" | grep -E '^(# |RESULT )' | sed 's/^RESULT /# RESULT /'
for phase in psql extended do_loop; do
  line=$(printf '%s\n' "$res" | grep "^FLAT $phase ")
  ok "$(echo "$line" | cut -d' ' -f3)" "yes" "memory flat: $phase (guard's growth warm -> end: $(echo "$line" | cut -d' ' -f4) bytes of contexts, $(echo "$line" | cut -d' ' -f5) kB RssAnon)"
done

# --- check(): memory linear in the script ----------------------------------------------------
# Each transaction's rollback snapshot is freed at its end.  Measured on PostgreSQL 15,
# growth of VmHWM for 1,000 / 4,000 / 6,000 transactions: before 15 / 158 / 333 MB,
# now 5 / 9 / 12 MB.
out=$(q <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\setenv SG_PID :pid
\! grep VmHWM /proc/$SG_PID/status
SELECT count(*) >= 0 FROM schema_guard.check((SELECT string_agg(format('BEGIN; ALTER TABLE t ADD CONSTRAINT c%s CHECK (a IS NOT NULL) NOT VALID; COMMIT;', g), E'\n') FROM generate_series(1, 4000) g));
\! grep VmHWM /proc/$SG_PID/status
SQL
)
hwm=($(printf '%s\n' "$out" | sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p'))
growth=$(( ${hwm[1]:-999999} - ${hwm[0]:-0} ))
ok "$(printf '%s\n' "$out" | grep -cx 't')|$(( growth < 49152 ))" "1|1" "check() of 4,000 transactions adding a constraint: peak memory grew $growth kB (limit 48 MB; quadratic: 158 MB)"
exit $failed
