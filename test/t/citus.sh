#!/usr/bin/env bash
# TAP: schema_guard on a Citus cluster (a coordinator and two workers on this machine,
# shared_preload_libraries = 'citus,schema_guard' everywhere).  Runs where Citus is
# installed in the PostgreSQL under test (scripts/citus.sh builds it) and is skipped
# plainly where it is not.
source "${SG_REPO:-$(dirname "$0")/../..}/scripts/lib.sh"
set +e
if [ ! -f "$("$PG_BIN/pg_config" --pkglibdir)/citus.so" ]; then
  echo "1..0 # SKIP citus not installed (bash scripts/citus.sh builds it from a Citus source tree)"
  exit 0
fi
BASE=${CITUS_TEST_DIR:-$SG_TMP/sg_citus}
DB=sg_citus
CPORT=$(sg_port 54380); W1PORT=$(sg_port 54381); W2PORT=$(sg_port 54382)
n=0; failed=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); echo "not ok $n - $1"; failed=1; }
ok() { if [ "$1" = "$2" ]; then pass "$3"; else fail "$3"; echo "#   got: '$1'"; echo "#   expected: '$2'"; fi; }
# (matched on the text with its lines joined, so that a pattern may span ERROR/DETAIL/HINT)
ok_match() { if printf '%s' "$1" | tr '\n' ' ' | grep -Eq -- "$2"; then pass "$3"; else fail "$3"; echo "#   got: '$(printf '%s' "$1" | head -c 3000)'"; echo "#   wanted match: '$2'"; fi; }
ok_nomatch() { if printf '%s' "$1" | tr '\n' ' ' | grep -Eq -- "$2"; then fail "$3"; echo "#   got: '$(printf '%s' "$1" | head -c 3000)'"; echo "#   must not match: '$2'"; else pass "$3"; fi; }

# q PORT [psql args]: messages included; val PORT [psql args]: values only
q() { local port=$1; shift; "$PG_BIN/psql" -X -At -v VERBOSITY=default -h 127.0.0.1 -p "$port" -U postgres -d $DB "$@" 2>&1; }
val() { local port=$1; shift; "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$port" -U postgres -d $DB "$@" 2>/dev/null; }
qc() { q "$CPORT" "$@"; }
log_size() { stat -c %s "$BASE/$1/server.log"; }
log_since() { tail -c +$(( $2 + 1 )) "$BASE/$1/server.log"; }
cleanup() {
  for node in coord w1 w2; do stop_cluster "$BASE/$node"; done
  [ -z "${CITUS_TEST_DIR:-}" ] && [ "$failed" = 0 ] && rm -rf "$BASE"
}
trap cleanup EXIT
started=$(date +%s)

mkdir -p "$BASE" && chmod 755 "$BASE"
for spec in "coord $CPORT" "w1 $W1PORT" "w2 $W2PORT"; do
  set -- $spec
  start_cluster "$BASE/$1" "$2" "listen_addresses = '127.0.0.1'" \
    "shared_preload_libraries = 'citus,schema_guard'" "max_prepared_transactions = 100" \
    "wal_level = logical" "log_min_messages = log" "citus.log_remote_commands = off" &
done
wait
for port in $CPORT $W1PORT $W2PORT; do
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB" || exit 1
  q "$port" -q -c "CREATE EXTENSION citus" >/dev/null
done
qc -q -c "SELECT citus_set_coordinator_host('127.0.0.1', $CPORT)" \
  -c "SELECT citus_add_node('127.0.0.1', $W1PORT)" -c "SELECT citus_add_node('127.0.0.1', $W2PORT)" >/dev/null
# schema_guard is created once, on the coordinator: Citus creates it on every worker
qc -q -c "CREATE EXTENSION schema_guard" >/dev/null
# a distributed table of 8 shards (about 4.5 MB), a reference table, a plain local table
qc -q <<'SQL' >/dev/null
CREATE TABLE t (id bigint PRIMARY KEY, v text, pad text);
SELECT create_distributed_table('t', 'id', shard_count := 8);
INSERT INTO t SELECT g, 'v' || g, repeat('x', 40) FROM generate_series(1, 50000) g;
CREATE TABLE r (id int PRIMARY KEY, name text);
SELECT create_reference_table('r');
INSERT INTO r SELECT g, 'n' || g FROM generate_series(1, 1000) g;
CREATE TABLE loc (id int PRIMARY KEY, v text);
INSERT INTO loc SELECT g, 'x' FROM generate_series(1, 1000) g;
CREATE ROLE app LOGIN;
GRANT ALL ON SCHEMA public TO app;
SQL
shard_on() {   # shard_on TABLE PORT: one shard of TABLE placed on the node at PORT
  val "$CPORT" -c "SELECT shard_name('$1'::regclass, shardid) FROM pg_dist_shard JOIN pg_dist_shard_placement USING (shardid)
                   WHERE logicalrelid = '$1'::regclass AND nodeport = $2 ORDER BY shardid LIMIT 1"
}
guard_lines() { grep -c "schema_guard: \(blocked\|warned\)" <<<"$(log_since "$1" "$2")"; }
marks() { echo "$(log_size coord) $(log_size w1) $(log_size w2)"; }
# no guard message on the workers since the marks
workers_quiet() { set -- $1; echo "$(( $(guard_lines w1 $2) + $(guard_lines w2 $3) ))"; }

echo "1..30"

# --- topology -------------------------------------------------------------------------
ok "$(for p in $CPORT $W1PORT $W2PORT; do val $p -c "SELECT active FROM schema_guard.status()"; done | tr '\n' ' ')" \
   "t t t " "schema_guard is active on the coordinator and both workers (created once, on the coordinator)"

# --- sizes: the distributed table's real size, with its shards ----------------------------
real=$(val "$CPORT" -c "SELECT pg_size_pretty(sum(result::bigint)) FROM run_command_on_placements('t', \$\$SELECT pg_relation_size('%s')\$\$)")
out=$(qc -c "SELECT * FROM schema_guard.explain('ALTER TABLE t ADD COLUMN w float DEFAULT random()')")
ok_match "$out" "table public\.t \($real in 8 shards on 2 nodes\): ACCESS EXCLUSIVE lock" \
  "explain() on the coordinator gives the table's size as the sum of its shards ($real), with shard and node counts"
ok_match "$out" "Citus distributed table: the statement runs on each of its 8 shards on 2 nodes" \
  "explain() says the statement runs on every shard"
out=$(qc -c "SET lock_timeout = '2s'" -c "SET schema_guard.min_table_size = '1MB'" -c "ALTER TABLE t ADD COLUMN w float DEFAULT random()")
ok_match "$out" "ERROR:  schema_guard: add_column_rewrite: .*Table public\.t \($real in 8 shards on 2 nodes\) would be held" \
  "min_table_size = 1MB: the rewrite of all 8 shards is still blocked (the shell's 0 bytes do not count)"
out=$(qc -c "SELECT * FROM schema_guard.explain('ALTER TABLE r ADD COLUMN w float DEFAULT random()')")
ok_match "$out" "table public\.r \([0-9]+ kB, a reference table copied to 3 nodes\)" \
  "a reference table's size is one copy's, and the message says it is copied to every node"

# --- the coordinator's verdict covers the whole distributed statement ----------------------
m=$(marks)
out=$(qc -c "SET lock_timeout = '2s'" -c "BEGIN" -c "SET LOCAL schema_guard.allow = 'add_column_rewrite'" \
         -c "ALTER TABLE t ADD COLUMN w float DEFAULT random()" -c "COMMIT")
ok_match "$out" "^SET BEGIN SET ALTER TABLE COMMIT$" "SET LOCAL schema_guard.allow on the coordinator lets the whole statement run (no error from a worker)"
ok "$(val "$CPORT" -c "SELECT count(*) FROM run_command_on_shards('t', \$\$SELECT count(*) FROM pg_attribute WHERE attrelid = '%s'::regclass AND attname = 'w'\$\$) WHERE result = '1'")" \
   "8" "the column was added on all 8 shards"
out=$(qc -c "SET lock_timeout = '2s'" -c "SET schema_guard.mode = 'warn'" -c "ALTER TABLE t ALTER COLUMN v TYPE varchar(100)")
ok "$(grep -c '^WARNING:  schema_guard' <<<"$out")|$(grep -c '^ALTER TABLE' <<<"$out")" "1|1" \
   "mode = warn on the coordinator: one WARNING, and the statement runs on every shard"
ok "$(workers_quiet "$m")" "0" "the workers judged none of the DDL Citus sent them (no guard line in their logs)"
# a non-superuser allowed through GRANT SET ON PARAMETER on the coordinator only
qc -q -c "GRANT SET ON PARAMETER schema_guard.allow TO app" -c "CREATE TABLE ta (id int PRIMARY KEY, v int)" \
  -c "ALTER TABLE ta OWNER TO app" -c "SELECT create_distributed_table('ta', 'id', shard_count := 4)" \
  -c "INSERT INTO ta SELECT g, g FROM generate_series(1, 2000) g" >/dev/null
out=$("$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$CPORT" -U app -d $DB -c "SET lock_timeout = '2s'" -c "BEGIN" \
  -c "SET LOCAL schema_guard.allow = 'add_column_rewrite'" -c "ALTER TABLE ta ADD COLUMN w float DEFAULT random()" -c "COMMIT" 2>&1)
ok_match "$out" "^SET BEGIN SET ALTER TABLE COMMIT$" "a role granted SET on schema_guard.allow on the coordinator only: its allowed statement runs on every shard"

# --- a user on a worker is still judged ----------------------------------------------------
shard=$(shard_on t "$W1PORT")
out=$(q "$W1PORT" -c "SET lock_timeout = '2s'" -c "ALTER TABLE $shard ADD COLUMN z float DEFAULT random()")
ok_match "$out" "ERROR:  schema_guard: add_column_rewrite: adding column z rewrites table public\.$shard" \
  "DDL typed on a worker, on a shard, is judged there"
out=$(qc -c "SELECT result FROM run_command_on_workers(\$\$ALTER TABLE $shard ADD COLUMN z float DEFAULT random()\$\$)")
ok_match "$out" "schema_guard: add_column_rewrite" "DDL sent with run_command_on_workers() is judged on the worker"
out=$(q "$W1PORT" -c "SET application_name = 'citus_internal gpid=10000000123'" -c "SET lock_timeout = '2s'" \
        -c "ALTER TABLE $shard ADD COLUMN z float DEFAULT random()")
ok_match "$out" "ERROR:  schema_guard: add_column_rewrite" \
  "a session that renames itself like a Citus connection after connecting is still judged (Citus decides at connection time)"
