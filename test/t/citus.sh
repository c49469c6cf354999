#!/usr/bin/env bash
# TAP: schema_guard on a Citus cluster (a coordinator and two workers on this machine,
# shared_preload_libraries = 'citus,schema_guard' everywhere).  Runs where Citus is
# installed in the PostgreSQL under test (scripts/citus.sh builds it) and is skipped
# plainly where it is not.
source "${SG_REPO:-$(dirname "$0")/../..}/scripts/lib.sh"
source "${SG_REPO:-$(dirname "$0")/../..}/scripts/tap.sh"
set +e
if [ ! -f "$("$PG_BIN/pg_config" --pkglibdir)/citus.so" ]; then
  echo "1..0 # SKIP citus not installed (bash scripts/citus.sh builds it from a Citus source tree)"
  exit 0
fi
BASE=${CITUS_TEST_DIR:-$SG_TMP/sg_citus}
DB=sg_citus
CPORT=$(sg_port 54380); W1PORT=$(sg_port 54381); W2PORT=$(sg_port 54382)
# (matched on the text with its lines joined, so that a pattern may span ERROR/DETAIL/HINT)
ok_match() { if printf '%s' "$1" | tr '\n' ' ' | grep -Eq -- "$2"; then pass "$3"; else fail "$3"; echo "#   got: '$(printf '%s' "$1" | head -c 3000)'"; echo "#   wanted match: '$2'"; fi; }
ok_nomatch() { if printf '%s' "$1" | tr '\n' ' ' | grep -Eq -- "$2"; then fail "$3"; echo "#   got: '$(printf '%s' "$1" | head -c 3000)'"; echo "#   must not match: '$2'"; else pass "$3"; fi; }

# q PORT [psql args]: messages included; val PORT [psql args]: values only
q() { local port=$1; shift; "$PG_BIN/psql" -X -At -v VERBOSITY=default -h 127.0.0.1 -p "$port" -U postgres -d $DB "$@" 2>&1; }
val() { local port=$1; shift; "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$port" -U postgres -d $DB "$@" 2>/dev/null; }
qc() { q "$CPORT" "$@"; }
log_size() { stat -c %s "$BASE/$1/server.log"; }
log_since() { tail -c +$(( $2 + 1 )) "$BASE/$1/server.log"; }
on_exit 'cleanup_dir "$BASE" "${CITUS_TEST_DIR:-}"'
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
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB" ||
    { echo "Bail out! the node on port $port did not start (see $BASE/*/server.log)"; exit 1; }
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

echo "1..37"

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

# --- lock_timeout reaches the shards ---------------------------------------------------------
# a reader on one shard, on a worker: the coordinator cannot see its lock
hold_shard() {   # hold_shard PORT SHARD SECONDS: a transaction that reads the shard, then sleeps
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$1" -U postgres -d $DB \
    -c "BEGIN" -c "SELECT count(*) FROM $2" -c "SELECT pg_sleep($3)" -c "COMMIT" >/dev/null 2>&1 &
  for _ in $(seq 50); do
    [ "$(val "$1" -c "SELECT count(*) FROM pg_locks WHERE relation = '$2'::regclass AND granted AND pid <> pg_backend_pid()")" != 0 ] && return
    sleep 0.1
  done
}
hold_shard "$W1PORT" "$shard" 3
t0=$(date +%s%N)
out=$(qc -c "SET lock_timeout = '300ms'" -c "ALTER TABLE t ADD COLUMN q int")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok_match "$out" "ERROR:  canceling statement due to lock timeout.*CONTEXT:  while executing command on 127\.0\.0\.1:$W1PORT" \
  "the session's lock_timeout (300ms) reaches the shard a reader holds on a worker"
ok "$([ "$ms" -lt 3000 ] && echo fast || echo "$ms ms")" "fast" "the ALTER gave up after the timeout, not after the reader ($ms ms)"
t0=$(date +%s%N)
out=$(qc -c "SET schema_guard.lock_timeout = '300ms'" -c "ALTER TABLE t ADD COLUMN q int")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok_match "$out" "ERROR:  canceling statement due to lock timeout.*CONTEXT:  while executing command on 127\.0\.0\.1:$W1PORT" \
  "the lock_timeout the guard applies (schema_guard.lock_timeout) reaches the shards too ($ms ms)"
wait
# no lock_timeout at all: lock_conflict blocks by default, and the worker's guard sees the reader
hold_shard "$W1PORT" "$shard" 4
out=$(qc -c "SET schema_guard.rules = 'lock_timeout_missing:off'" -c "ALTER TABLE t ADD COLUMN q int")
ok_match "$out" "ERROR:  schema_guard: lock_conflict: ALTER TABLE would wait for a lock on table public\.$shard .*pid [0-9]+ holds AccessShareLock.*the coordinator cannot see these sessions.*CONTEXT:  while executing command on 127\.0\.0\.1:$W1PORT" \
  "without lock_timeout, a session holding a shard on a worker is reported on the coordinator as lock_conflict (the worker's guard saw it)"
out=$(qc -c "SET schema_guard.rules = 'lock_timeout_missing:off'" -c "BEGIN" -c "SET LOCAL schema_guard.allow = 'lock_conflict'" \
         -c "SET LOCAL lock_timeout = '200ms'" -c "ALTER TABLE t ADD COLUMN q int" -c "ROLLBACK")
ok_match "$out" "ERROR:  canceling statement due to lock timeout" "lock_conflict allowed on the coordinator: the worker does not block, the wait is bounded by the timeout"
wait
ok "$(val "$CPORT" -c "SELECT count(*) FROM run_command_on_shards('t', \$\$SELECT count(*) FROM pg_attribute WHERE attrelid = '%s'::regclass AND attname = 'q'\$\$) WHERE result = '1'")" \
   "0" "the stopped ALTERs left no shard changed"
# the connections of one distributed statement do not count as conflicting with each other
qc -q -c "CREATE TABLE o2 (id bigint PRIMARY KEY, rid int)" -c "SELECT create_distributed_table('o2', 'id', shard_count := 8)" \
  -c "INSERT INTO o2 SELECT g, 1 + g % 1000 FROM generate_series(1, 5000) g" >/dev/null
out=$(qc -c "SET schema_guard.rules = 'lock_timeout_missing:off'" -c "BEGIN" -c "SET LOCAL schema_guard.allow = 'add_foreign_key_scan'" \
         -c "ALTER TABLE o2 ADD CONSTRAINT o2_r FOREIGN KEY (rid) REFERENCES r (id)" -c "ALTER TABLE o2 ADD COLUMN x int" -c "COMMIT")
ok "$(echo $out)" "SET BEGIN SET ALTER TABLE ALTER TABLE COMMIT" \
  "a foreign key to a reference table, then another ALTER, in one transaction: the shards' sibling connections are not conflicts"
out=$(qc -c "SET schema_guard.lock_timeout = '300ms'" -c "ALTER TABLE t ADD COLUMN q int" -c "SHOW lock_timeout")
ok_match "$out" "ALTER TABLE 0$" "without a reader it runs; the guard's timeout ended with the statement"

# --- Citus's own operations run clean under default settings ---------------------------------
m=$(marks)
out=$(qc -c "TRUNCATE t")
ok "$(grep -c '^WARNING:  schema_guard: truncate' <<<"$out")" "1" "TRUNCATE of a distributed table: one warning, for the table (none for Citus's own LOCK or its shards)"
out=$(qc -c "SET lock_timeout = '2s'" -c "ALTER TABLE t ADD COLUMN e float DEFAULT random()")
ok "$(echo $out)" "SET ALTER TABLE" "a distributed table whose shards are all empty is empty (its rewrite is not judged); the shell alone never is"
qc -q -c "INSERT INTO t SELECT g, 'v' || g, repeat('x', 40) FROM generate_series(1, 50000) g" >/dev/null
out=$(qc -c "TRUNCATE r")
ok "$(grep -c '^WARNING:  schema_guard: truncate' <<<"$out")" "1" "TRUNCATE of a reference table with a copy on the coordinator: one warning"
qc -q -c "INSERT INTO r SELECT g, 'n' || g FROM generate_series(1, 1000) g" >/dev/null
# a worker that blocks DROP TABLE for its own users (Citus's cleanup drops moved shards)
for p in $W1PORT $W2PORT; do
  q "$p" -q -c "ALTER SYSTEM SET schema_guard.rules = 'drop_table:block'" -c "SELECT pg_reload_conf()" >/dev/null
done
sleep 0.3
out=$(q "$W1PORT" -c "SET lock_timeout = '1s'" -c "DROP TABLE $shard")
ok_match "$out" "ERROR:  schema_guard: drop_table" "on the workers drop_table is set to block (a shard dropped by hand is blocked)"
m=$(marks)
s1=$(shard_on t "$W1PORT"); s1=${s1##*_}
s2=$(shard_on t "$W2PORT"); s2=${s2##*_}
t0=$(date +%s)
out=$(qc -c "SELECT citus_move_shard_placement($s1, '127.0.0.1', $W1PORT, '127.0.0.1', $W2PORT, shard_transfer_mode := 'block_writes')")
ok "$out" "" "shard move, block_writes: succeeds"
out=$(qc -c "SELECT citus_move_shard_placement($s2, '127.0.0.1', $W2PORT, '127.0.0.1', $W1PORT, shard_transfer_mode := 'force_logical')")
ok "$out" "" "shard move, force_logical (logical replication): succeeds"
split=$(val "$CPORT" -c "SELECT shardid || ' ' || ((shardminvalue::bigint + shardmaxvalue::bigint) / 2) FROM pg_dist_shard WHERE logicalrelid = 't'::regclass ORDER BY shardid DESC LIMIT 1")
nodes=$(val "$CPORT" -c "SELECT nodeid FROM pg_dist_node WHERE nodeport = $W1PORT")
out=$(qc -c "SELECT citus_split_shard_by_split_points(${split% *}, ARRAY['${split#* }'], ARRAY[$nodes, $nodes], 'block_writes')")
ok "$out" "" "shard split: succeeds"
out=$(qc -c "CALL citus_cleanup_orphaned_resources()" -c "SELECT count(*) FROM pg_dist_cleanup")
ok_match "$out" "CALL 0$" "cleanup of the moved and split shards (DROP TABLE on the workers): nothing left behind"
out=$(qc -c "SELECT citus_drain_node('127.0.0.1', $W2PORT, shard_transfer_mode := 'block_writes')" \
         -c "CALL citus_cleanup_orphaned_resources()" \
         -c "SELECT citus_remove_node('127.0.0.1', $W2PORT)" -c "SELECT citus_add_node('127.0.0.1', $W2PORT) > 0" \
         -c "SELECT rebalance_table_shards(shard_transfer_mode := 'block_writes')" \
         -c "CALL citus_cleanup_orphaned_resources()" 2>&1 | grep -v '^NOTICE\|^$\|^CALL$')
ok "$out" "t" "drain, remove and re-add a worker (metadata sync), then rebalance: all succeed"
# the background rebalancer (a job run by Citus's background workers)
s3=$(shard_on t "$W2PORT"); s3=${s3##*_}
out=$(qc -c "SELECT citus_move_shard_placement($s3, '127.0.0.1', $W2PORT, '127.0.0.1', $W1PORT, shard_transfer_mode := 'block_writes')" \
         -c "SELECT citus_rebalance_start(shard_transfer_mode := 'block_writes') > 0" -c "SELECT citus_rebalance_wait()" \
         -c "SELECT state FROM citus_rebalance_status()" -c "CALL citus_cleanup_orphaned_resources()" 2>&1 | grep -v '^NOTICE\|^DETAIL\|^HINT\|^$\|^CALL$')
ok "$(echo $out)" "t finished" "the background rebalancer (citus_rebalance_start) finishes its job"
ms=$(( $(date +%s) - t0 ))
ok "$(val "$CPORT" -c "SELECT count(*) FROM t")|$(val "$CPORT" -c "SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 't'::regclass")|$(val "$CPORT" -c "SELECT count(*) FROM pg_dist_shard_placement JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 'r'::regclass")" \
   "50000|2|3" "after the operations ($ms s) the table has all its rows on both workers, and the reference table was copied to the re-added worker"
ok "$(workers_quiet "$m")|$(guard_lines coord "${m%% *}")" "0|0" "no guard message on any node during Citus's operations"

# --- audits -----------------------------------------------------------------------------------
qc -q -c "SET lock_timeout = '2s'" -c "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES r (id))" \
  -c "SELECT create_distributed_table('orders', 'id', shard_count := 4)" \
  -c "INSERT INTO orders SELECT g, 1 + g % 1000 FROM generate_series(1, 20000) g" >/dev/null 2>&1
osize=$(val "$CPORT" -c "SELECT sum(result::bigint) FROM run_command_on_placements('orders', \$\$SELECT pg_relation_size('%s')\$\$)")
out=$(val "$CPORT" -c "SELECT relation || '|' || table_bytes || '|' || fix FROM schema_guard.fk_index_audit() WHERE relation = 'orders'::regclass")
ok "$out" "orders|$osize|CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON public.orders (customer_id);" \
  "fk_index_audit() on the coordinator: the distributed table with its real size, and a fix on the distributed table"
ok "$(val "$W1PORT" -c "SELECT count(*) FROM schema_guard.fk_index_audit()")|$(val "$W2PORT" -c "SELECT count(*) FROM schema_guard.fk_index_audit()")" \
   "0|0" "fk_index_audit() on the workers reports no shard (and no shell: the coordinator's audit covers them)"
out=$(qc -c "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON public.orders (customer_id)" \
         -c "SELECT count(*) FROM schema_guard.fk_index_audit() WHERE relation = 'orders'::regclass")
ok "$(echo $out)|$(val "$CPORT" -c "SELECT count(*) FROM run_command_on_shards('orders', \$\$SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = '%s'::regclass AND c.relname LIKE 'orders_customer_id_idx%%'\$\$) WHERE result = '1'")" \
   "CREATE INDEX 0|4" "the fix, run on the coordinator, indexes every shard and clears the finding"

ok "$(cat "$BASE"/*/server.log | grep -Ec 'terminated by signal|TRAP|internal error')" "0" "no crash and no internal error on any node"
echo "# citus test: $(( $(date +%s) - started )) s"
