#!/usr/bin/env bash
# TAP: the guard never swallows a cancel (issue 9).  While the guard judges
# ALTER TABLE ... ADD COLUMN ... DEFAULT slow() it folds the IMMUTABLE slow(), which
# sleeps; pg_cancel_backend(), statement_timeout and pg_terminate_backend() arriving
# then must end the statement as they would without the guard: 57014 (or the end of
# the session), at once, with nothing committed.  The same for check() and explain().
# Runs its own throwaway cluster.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${CANCEL_DIR:-$(mktemp -d "$SG_TMP/sg_cancel.XXXXXX")}
PORT=${CANCEL_PORT:-$(sg_port 54388)}
DB=sg_cancel
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=$DB
q() { "$PG_BIN/psql" -X -At -v VERBOSITY=verbose "$@" 2>&1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
on_exit 'jobs -p | xargs -r kill 2>/dev/null'
on_exit 'cleanup_dir "$DIR" "${CANCEL_DIR:-}"'

echo "1..18"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
q -d postgres -c "CREATE DATABASE $DB" >/dev/null
q -q <<'SQL' >/dev/null
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
CREATE TABLE t (id int);
INSERT INTO t SELECT generate_series(1, 1000);
-- sleeps 20 s per call, so a run that was not interrupted is obvious
CREATE FUNCTION slow() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(20)';
CREATE TABLE calls (at timestamptz);
SQL

# run SQL in the background as application_name NAME; interrupt it with FN once it is
# inside slow() (pg_sleep); print "elapsed_ms|output"
interrupted() {
  local name=$1 fn=$2 sql=$3 t0 pid
  t0=$(now_ms)
  PGAPPNAME=$name q -c "SET lock_timeout = '5s'" -c "$sql" >"$DIR/$name.out" &
  pid=$!
  for _ in $(seq 1 200); do
    [ "$(q -c "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '$name' AND wait_event = 'PgSleep')")" = t ] && break
    sleep 0.05
  done
  q -c "SELECT $fn(pid) FROM pg_stat_activity WHERE application_name = '$name'" >/dev/null
  wait $pid
  echo "$(( $(now_ms) - t0 ))|$(cat "$DIR/$name.out")"
}
column_s() { q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 's'"; }

for how in hook check explain; do
  case $how in
    hook) sql="ALTER TABLE t ADD COLUMN s int DEFAULT slow()" ;;
    check) sql="SELECT * FROM schema_guard.check('ALTER TABLE t ADD COLUMN s int DEFAULT slow()')" ;;
    explain) sql="SELECT * FROM schema_guard.explain('ALTER TABLE t ADD COLUMN s int DEFAULT slow()')" ;;
  esac
  r=$(interrupted "cancel_$how" pg_cancel_backend "$sql")
  ok_match "${r#*|}" "ERROR:  57014: canceling statement due to user request" "$how: pg_cancel_backend() during the guard's evaluation of the DEFAULT ends the statement with 57014"
  ok_cmp "${r%%|*}" -lt 10000 "$how: at once (${r%%|*} ms, the function sleeps 20 s)"
done
ok "$(column_s)" "0" "nothing was committed"

for how in hook check; do
  case $how in
    hook) sql="ALTER TABLE t ADD COLUMN s int DEFAULT slow()" ;;
    check) sql="SELECT * FROM schema_guard.check('ALTER TABLE t ADD COLUMN s int DEFAULT slow()')" ;;
  esac
  t0=$(now_ms)
  out=$(q -c "SET statement_timeout = '500ms'" -c "$sql")
  ms=$(( $(now_ms) - t0 ))
  ok_match "$out" "ERROR:  57014: canceling statement due to statement timeout" "$how: statement_timeout during the guard's evaluation: 57014"
  ok_cmp "$ms" -lt 10000 "$how: after the timeout (${ms} ms)"
done
ok "$(column_s)" "0" "nothing was committed"

# inside a transaction block that goes on: the cancel aborts it, nothing commits
t0=$(now_ms)
PGAPPNAME=cancel_tx q -c "BEGIN; INSERT INTO calls VALUES (now()); ALTER TABLE t ADD COLUMN s int DEFAULT slow(); COMMIT;" >"$DIR/tx.out" &
pid=$!
for _ in $(seq 1 200); do
  [ "$(q -c "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'cancel_tx' AND wait_event = 'PgSleep')")" = t ] && break
  sleep 0.05
done
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'cancel_tx'" >/dev/null
wait $pid
ok_match "$(cat "$DIR/tx.out")" "57014" "a cancel inside a transaction block aborts it ..."
ok "$(q -c "SELECT count(*) FROM calls")|$(column_s)" "0|0" "... and neither the INSERT before it nor the column commits"

r=$(interrupted terminate pg_terminate_backend "ALTER TABLE t ADD COLUMN s int DEFAULT slow()")
ok_match "${r#*|}" "terminating connection due to administrator command|server closed the connection" "pg_terminate_backend() during the guard's evaluation ends the session"
ok_cmp "${r%%|*}" -lt 10000 "at once (${r%%|*} ms)"
ok "$(column_s)|$(q -c "SELECT 'server up'")" "0|server up" "nothing was committed and the server is up"
ok "$(grep -c 'terminated by signal' "$DIR/server.log")" "0" "no crash"
exit $failed
