#!/usr/bin/env bash
# TAP: the guard with several live sessions.
#  * a statement blocked for lock_conflict fails at once, it never queues for the lock
#    (the same statement unguarded really waits for the lock);
#  * lock_conflict names the real long-running transaction (pid, state, age) and a
#    queued waiter (the lock queue), and only the sessions that really conflict;
#  * DROP TABLE of a referencing table is judged for the lock it takes on the
#    referenced table (a reader there blocks it);
#  * schema_guard.lock_timeout bounds the wait when the session has none, fails the
#    statement cleanly with 55P03, and is not left behind in the session;
#  * a guarded online migration (ADD COLUMN, CREATE INDEX CONCURRENTLY, NOT VALID +
#    VALIDATE) runs next to pgbench traffic on the same table: the traffic has no
#    error at all, the migration only its own retried lock timeouts.
# Runs its own throwaway cluster.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
# A directory of its own per run: two runs of the suite at once must not share a cluster
# (the socket lives in the directory, so the port number may be shared).
DIR=${CONCURRENCY_DIR:-$(mktemp -d "$SG_TMP/sg_concurrency.XXXXXX")}
PORT=${CONCURRENCY_PORT:-$(sg_port 54361)}
DB=sg_conc
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=$DB
q() { "$PG_BIN/psql" -X -At -v VERBOSITY=verbose "$@" 2>&1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Background sessions: a psql reading from a fifo, identified by application_name.
declare -A SESS_FD SESS_PID
open_session() {
  local name=$1
  rm -f "$DIR/$name.in"; mkfifo "$DIR/$name.in"
  # the new psql must not inherit the other sessions' fifo ends (they would never see EOF)
  ( for f in "${SESS_FD[@]}"; do eval "exec $f>&-"; done
    PGAPPNAME=$name exec "$PG_BIN/psql" -X -At -v VERBOSITY=verbose <"$DIR/$name.in" >"$DIR/$name.out" 2>&1 ) &
  SESS_PID[$name]=$!
  exec {fd}>"$DIR/$name.in"
  SESS_FD[$name]=$fd
}
send() { echo "$2" >&"${SESS_FD[$1]}"; }
close_session() { local fd=${SESS_FD[$1]}; [ -n "$fd" ] && eval "exec $fd>&-"; unset "SESS_FD[$1]"; }
backend_pid() { q -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }
# wait_for SQL: poll (up to 10 s) until the query returns t
wait_for() { for _ in $(seq 1 200); do [ "$(q -c "$1")" = t ] && return 0; sleep 0.05; done; return 1; }
cleanup() {
  for s in "${!SESS_FD[@]}"; do close_session "$s"; done
  stop_cluster "$DIR"
  for p in "${SESS_PID[@]}"; do kill "$p" 2>/dev/null; done
  cleanup_dir "$DIR" "${CONCURRENCY_DIR:-}"
}
on_exit cleanup

echo "1..35"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'" "max_connections = 40"
q -d postgres -c "CREATE DATABASE $DB" >/dev/null
q -q <<'SQL' >/dev/null
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, pad text);
INSERT INTO t SELECT g, 0, repeat('x', 50) FROM generate_series(1, 20000) g;
CREATE TABLE t_log (id bigserial PRIMARY KEY, t_id int, at timestamptz DEFAULT now());
CREATE TABLE t_child (id int, t_id int REFERENCES t);
VACUUM ANALYZE t;
SQL
ok "$(q -c "SELECT active FROM schema_guard.status()")" "t" "the guard is active in the test database"

# ---------------------------------------------------------------------------
# 1. A long-running transaction holds ACCESS SHARE on t (idle in transaction).
open_session holder
send holder "BEGIN; SELECT count(*) FROM t;"
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'holder' AND state = 'idle in transaction')"
HOLDER=$(backend_pid holder)
sleep 1.2   # let its transaction age, so the report can say how long it has run

# blocked at once: never queues behind the holder
t0=$(now_ms)
out=$(q -c "SET lock_timeout = 0" -c "ALTER TABLE t ADD COLUMN c1 text")
blocked_ms=$(( $(now_ms) - t0 ))
ok_match "$out" "ERROR:  SG001: schema_guard: lock_conflict: ALTER TABLE would wait for a lock on table public.t" \
  "ALTER TABLE behind a long-running reader is blocked with SG001 lock_conflict"
ok_cmp "$blocked_ms" -lt 1000 "the blocked ALTER returns at once (${blocked_ms} ms), it does not queue for the lock"
ok_match "$out" "DETAIL:  ALTER TABLE needs ACCESS EXCLUSIVE on table public.t .*: pid $HOLDER holds AccessShareLock, transaction running for [1-9][0-9]* s, idle in transaction\." \
  "the DETAIL names the holder's pid $HOLDER, its lock, the age of its transaction and its state"
ok "$(q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c1'")" "0" "the blocked ALTER changed nothing"
ok "$(q -c "SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND NOT granted")" "0" "no lock request was left waiting on t"

# DROP TABLE of a table that references t locks t too (its foreign key's triggers on t
# are dropped): judged like a statement that names t
out=$(q -c "SET lock_timeout = 0" -c "DROP TABLE t_child")
ok_match "$out" "ERROR:  SG001: schema_guard: lock_conflict: DROP TABLE would wait for a lock on table public.t held" \
  "DROP TABLE of a referencing table is blocked for the lock it needs on the referenced table t"
ok_match "$out" "DETAIL:  DROP TABLE needs ACCESS EXCLUSIVE on table public.t .*: pid $HOLDER holds AccessShareLock" \
  "the DETAIL names the reader $HOLDER of the referenced table"
ok "$(q -c "SELECT count(*) FROM pg_class WHERE relname = 't_child'")" "1" "the blocked DROP TABLE changed nothing"

# the same statement with the guard off really does wait for the lock
t0=$(now_ms)
out=$(q -c "SET schema_guard.mode = off" -c "SET lock_timeout = '1500ms'" -c "ALTER TABLE t ADD COLUMN c1 text")
unguarded_ms=$(( $(now_ms) - t0 ))
ok_match "$out" "ERROR:  55P03: canceling statement due to lock timeout" "unguarded, the same ALTER queues behind the holder until lock_timeout"
ok_cmp "$unguarded_ms" -ge 1500 "unguarded it waited ${unguarded_ms} ms (the lock wait the guard avoids)"

# a statement whose lock does not conflict with ACCESS SHARE is not reported
out=$(q -c "SET lock_timeout = 0" -c "BEGIN" -c "SET LOCAL schema_guard.allow = 'create_index_blocking'" -c "CREATE INDEX t_v_idx ON t (v)" -c "COMMIT")
ok_nomatch "$out" "lock_conflict|ERROR" "CREATE INDEX (SHARE) next to an ACCESS SHARE holder: no lock_conflict, it runs"

# ---------------------------------------------------------------------------
# 2. The lock queue: a second session waits for ACCESS EXCLUSIVE behind the holder.
open_session waiter
send waiter "SET schema_guard.mode = off; SET lock_timeout = '30s'; BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;"
wait_for "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'waiter' AND NOT l.granted AND l.relation = 't'::regclass)"
WAITER=$(backend_pid waiter)
t0=$(now_ms)
out=$(q -c "SET lock_timeout = 0" -c "BEGIN" -c "SET LOCAL schema_guard.allow = 'create_index_blocking'" -c "CREATE INDEX t_v_idx2 ON t (v)" -c "ROLLBACK")
queue_ms=$(( $(now_ms) - t0 ))
ok_match "$out" "ERROR:  SG001: schema_guard: lock_conflict: CREATE INDEX would wait" \
  "CREATE INDEX behind a queued ACCESS EXCLUSIVE request is blocked (lock queue)"
ok_match "$out" "pid $WAITER waits for AccessExclusiveLock" "the DETAIL names the queued waiter $WAITER"
ok_nomatch "$out" "pid $HOLDER " "the holder, whose ACCESS SHARE does not conflict with SHARE, is not named"
ok_cmp "$queue_ms" -lt 1000 "blocked at once behind the queue (${queue_ms} ms)"
# ACCESS EXCLUSIVE conflicts with both: both are named
out=$(q -c "SET lock_timeout = 0" -c "ALTER TABLE t ADD COLUMN c1 text")
ok_match "$out" "pid $HOLDER holds AccessShareLock.*; pid $WAITER waits for AccessExclusiveLock|pid $WAITER waits for AccessExclusiveLock.*; pid $HOLDER holds AccessShareLock" \
  "ALTER TABLE names both the holder and the queued waiter"
q -c "SELECT pg_cancel_backend($WAITER)" >/dev/null
wait_for "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't'::regclass AND NOT granted)"
send waiter "ROLLBACK;"
send waiter "ROLLBACK;"

# ---------------------------------------------------------------------------
# 3. schema_guard.lock_timeout: applied when the session has none.
t0=$(now_ms)
out=$(q -c "SET lock_timeout = 0" -c "SET schema_guard.lock_timeout = '400ms'" -c "ALTER TABLE t ADD COLUMN c1 text" -c "SHOW lock_timeout" -c "SELECT 'session alive'")
guard_to_ms=$(( $(now_ms) - t0 ))
ok_match "$out" "WARNING:  SG001: schema_guard: lock_conflict" "with a bounded wait, lock_conflict is a warning"
ok_match "$out" "ERROR:  55P03: canceling statement due to lock timeout" "the ALTER fails cleanly with 55P03 after the guard's lock_timeout"
ok_cmp "$guard_to_ms" -ge 400 "it waited at least schema_guard.lock_timeout (${guard_to_ms} ms >= 400 ms)"
ok_cmp "$guard_to_ms" -lt 2500 "and then stopped waiting (${guard_to_ms} ms < 2500 ms; the holder never lets go)"
ok_match "$out" $'\n0\nsession alive' "the session's lock_timeout is back to 0 afterwards and the session works"
# the guard does not see the conflict (rule off): its lock_timeout still bounds the wait
t0=$(now_ms)
out=$(q -c "SET lock_timeout = 0" -c "SET schema_guard.rules = 'lock_conflict:off'" -c "SET schema_guard.lock_timeout = '300ms'" -c "BEGIN" -c "ALTER TABLE t ADD COLUMN c1 text" -c "ROLLBACK" -c "SHOW lock_timeout")
off_ms=$(( $(now_ms) - t0 ))
ok_match "$out" "ERROR:  55P03: canceling statement due to lock timeout" "lock_conflict off: the guard's lock_timeout still ends the wait with 55P03 (${off_ms} ms)"
ok_cmp "$off_ms" -lt 2500 "in ${off_ms} ms (< 2500 ms; the holder never lets go)"
# the session's own lock_timeout wins over the guard's
t0=$(now_ms)
out=$(q -c "SET lock_timeout = '900ms'" -c "SET schema_guard.lock_timeout = '200ms'" -c "ALTER TABLE t ADD COLUMN c1 text")
own_ms=$(( $(now_ms) - t0 ))
ok_cmp "$own_ms" -ge 900 "a session lock_timeout (900ms) is kept, not replaced by schema_guard.lock_timeout (${own_ms} ms)"
ok "$(q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c1'")" "0" "no attempt changed the table"

send holder "COMMIT;"
wait_for "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'holder' AND state <> 'idle')"
out=$(q -c "SET lock_timeout = 0" -c "SET schema_guard.lock_timeout = '400ms'" -c "ALTER TABLE t ADD COLUMN c1 text" -c "ALTER TABLE t DROP COLUMN c1" -c "DROP INDEX CONCURRENTLY t_v_idx")
ok "$(printf '%s\n' "$out" | grep -c '^ALTER TABLE$')|$(printf '%s' "$out" | grep -c 'ERROR:  SG001: schema_guard: drop_column')|$(printf '%s' "$out" | grep -c 'lock_conflict')" "1|1|0" \
  "once the holder is gone the ADD COLUMN runs without lock_conflict (DROP COLUMN is still judged on its own rule)"

# ---------------------------------------------------------------------------
# 4. A guarded migration next to pgbench traffic on the same table: four clients of short
# read/write transactions, and one client of "reports" that read t for 300 ms in a
# transaction (the kind of reader an ACCESS EXCLUSIVE request has to wait for).  The
# migration uses schema_guard.lock_timeout = 200ms and retries on lock timeout.
cat >"$DIR/traffic.sql" <<'SQL'
\set id random(1, 20000)
BEGIN;
SELECT v FROM t WHERE id = :id;
UPDATE t SET v = v + 1 WHERE id = :id;
INSERT INTO t_log (t_id) VALUES (:id);
END;
SQL
cat >"$DIR/report.sql" <<'SQL'
BEGIN;
SELECT count(*) FROM t WHERE v >= 0;
SELECT pg_sleep(0.3);
END;
\sleep 250 ms
SQL
# bg OUTFILE COMMAND...: in the background, without the sessions' fifo ends
bg() { local out=$1; shift; ( for f in "${SESS_FD[@]}"; do eval "exec $f>&-"; done; exec "$@" >"$out" 2>&1 ) & }
bg "$DIR/pgbench.out" "$PG_BIN/pgbench" -n -c 4 -j 2 -T 7 -f "$DIR/traffic.sql"
PGBENCH=$!
bg "$DIR/reports.out" "$PG_BIN/pgbench" -n -c 1 -T 7 -f "$DIR/report.sql"
REPORTS=$!
sleep 1
migrate() {
  local stmt=$1 tries=0 out
  while [ $tries -lt 40 ]; do
    tries=$((tries+1))
    out=$(q -c "SET lock_timeout = 0" -c "SET schema_guard.lock_timeout = '200ms'" -c "$stmt")
    printf '%s\n' "$out" >>"$DIR/migration.out"
    if printf '%s' "$out" | grep -q "ERROR:  55P03"; then timeouts=$((timeouts+1)); continue; fi
    if printf '%s' "$out" | grep -q "ERROR:  SG001: schema_guard: lock_conflict"; then conflicts=$((conflicts+1)); sleep 0.05; continue; fi
    printf '%s' "$out" | grep -q "ERROR" && return 1
    return 0
  done
  return 1
}
timeouts=0; conflicts=0; mig_ok=0
# the traffic is running when the migration starts (on a loaded machine the
# migration may outlast it; they still overlapped)
kill -0 $PGBENCH 2>/dev/null && during=yes || during=no
t0=$(now_ms)
migrate "ALTER TABLE t ADD COLUMN note text" &&
migrate "CREATE INDEX CONCURRENTLY t_note_idx ON t (note)" &&
migrate "ALTER TABLE t ADD CONSTRAINT t_v_nonneg CHECK (v >= 0) NOT VALID" &&
migrate "ALTER TABLE t VALIDATE CONSTRAINT t_v_nonneg" &&
migrate "ALTER TABLE t ALTER COLUMN note SET DEFAULT 'n/a'" && mig_ok=1
mig_ms=$(( $(now_ms) - t0 ))
# an unsafe step in the middle of the traffic is refused, not queued
unsafe=$(q -c "SET lock_timeout = '200ms'" -c "CREATE INDEX t_note_bad ON t (note)")
wait $PGBENCH; pgbench_rc=$?
wait $REPORTS; reports_rc=$?
echo "# migration: ${mig_ms} ms, ${timeouts} lock timeouts (55P03) retried, ${conflicts} lock_conflict blocks retried"
ok "$mig_ok|$during" "1|yes" "the migration completed while the traffic was running (${mig_ms} ms)"
ok "$(q -c "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_note_idx'::regclass")|$(q -c "SELECT convalidated FROM pg_constraint WHERE conname = 't_v_nonneg'")" "t|t" "the concurrent index is valid and the constraint validated"
ok "$(grep '^ERROR' "$DIR/migration.out" | grep -v 'ERROR:  55P03: canceling statement due to lock timeout' | wc -l)" "0" "the migration's only errors were its lock timeouts"
ok_match "$unsafe" "ERROR:  SG001: schema_guard: create_index_blocking" "a blocking CREATE INDEX during the traffic is refused"
ok "$pgbench_rc|$reports_rc" "0|0" "both pgbench runs exit 0 (no client aborted on an error)"
ok "$(cat "$DIR/pgbench.out" "$DIR/reports.out" | grep -c '^number of failed transactions: 0 (0.000%)')" "2" "pgbench reports no failed transaction in either run"
ok "$(cat "$DIR/pgbench.out" "$DIR/reports.out" | grep -Eic 'error|abort')" "0" "no error in the traffic's output"
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$DIR/pgbench.out")
echo "# traffic: $processed transactions, $(grep -E '^latency average' "$DIR/pgbench.out")"
ok_cmp "${processed:-0}" -gt 100 "the traffic really ran during the migration"
exit $failed
