#!/usr/bin/env bash
# TAP: schema_guard next to Debian's packaged extensions that also hook ProcessUtility
# or run DDL of their own.
#  * pgaudit, preloaded before and after schema_guard: the guard blocks and warns, pgaudit
#    still writes its AUDIT lines (also after a blocked statement rolled back to a savepoint);
#  * pg_partman: create_parent, run_maintenance() and run_maintenance_proc() create
#    partitions with their indexes, and retention drops old ones, without being blocked;
#    the one verdict it does meet (ATTACH PARTITION scanning a default partition) is
#    checked for what it is;
#  * pg_repack: the hints of vacuum_full / cluster point to it; --only-indexes works as is;
#    a full repack (and --order-by) works: its work tables live in schema repack, which
#    schema_guard.exempt_schemas exempts by default; without that exemption the guard blocks
#    its index build and the repack fails cleanly.
# Runs its own throwaway clusters.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
BASE=${NEIGHBOURS_DIR:-$(mktemp -d "$SG_TMP/sg_neighbours.XXXXXX")}
chmod 755 "$BASE"
PORT=${NEIGHBOURS_PORT:-$(sg_port 54362)}
DB=sg_neigh
# (matched on the text with its lines joined, so that a pattern may span ERROR/DETAIL/HINT)
ok_match() { if printf '%s' "$1" | tr '\n' ' ' | grep -Eq -- "$2"; then pass "$3"; else fail "$3"; echo "#   got: '$(printf '%s' "$1" | head -c 2000)'"; echo "#   wanted match: '$2'"; fi; }
ok_nomatch() { if printf '%s' "$1" | grep -Eq -- "$2"; then fail "$3"; echo "#   got: '$(printf '%s' "$1" | grep -E -- "$2" | head -c 2000)'"; echo "#   must not match: '$2'"; else pass "$3"; fi; }

# The packages: installed from Debian's archive when missing.  They are built for
# Debian's own installation of the major, so a server in another layout (PG_ROOT, see
# scripts/lib.sh) cannot load them.
if [ -n "${PG_ROOT:-}" ]; then
  echo "1..0 # SKIP Debian's pgaudit, pg_partman and pg_repack packages need Debian's PostgreSQL $PG_MAJOR (PG_ROOT=$PG_ROOT)"
  exit 0
fi
pkgs="postgresql-$PG_MAJOR-pgaudit postgresql-$PG_MAJOR-partman postgresql-$PG_MAJOR-repack"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq $missing; } >/dev/null 2>&1
  for p in $missing; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || { echo "1..0 # SKIP cannot install $p"; exit 0; }
  done
fi

DIR=""
q() { "$PG_BIN/psql" -X -At -v VERBOSITY=default -h "$DIR/sock" -p "$PORT" -U postgres -d $DB "$@" 2>&1; }
# values only (messages dropped)
val() { "$PG_BIN/psql" -X -At -h "$DIR/sock" -p "$PORT" -U postgres -d $DB "$@" 2>/dev/null; }
log_since() { tail -c +$(( $1 + 1 )) "$DIR/server.log"; }   # server log after byte offset
log_size() { stat -c %s "$DIR/server.log"; }
on_exit 'cleanup_dir "$BASE" "${NEIGHBOURS_DIR:-}"'
new_cluster() {   # new_cluster NAME shared_preload_libraries [conf...]
  DIR=$BASE/$1; local libs=$2; shift 2
  start_cluster "$DIR" "$PORT" "shared_preload_libraries = '$libs'" "log_min_messages = log" \
    "pgaudit.log = 'ddl'" "$@"
  "$PG_BIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE $DB"
}

echo "1..41"

# ---------------------------------------------------------------------------
# pgaudit, in both orders.  The last library in the list installs its hook last and runs
# first; either way both must act on every statement.
for libs in "pgaudit,schema_guard" "schema_guard,pgaudit"; do
  new_cluster "audit_${libs%%,*}_first" "$libs"
  q -q -c "CREATE EXTENSION schema_guard" -c "CREATE EXTENSION pgaudit" \
    -c "CREATE TABLE a (id int PRIMARY KEY, v text)" \
    -c "INSERT INTO a SELECT g, 'x' || g FROM generate_series(1, 2000) g" >/dev/null
  ok "$(q -c "SELECT active, hook_installed FROM schema_guard.status()")" "t|t" "[$libs] the guard is active"
  mark=$(log_size)
  out=$(q -c "SET lock_timeout = '1s'" -c "CREATE INDEX a_v_idx ON a (v)")
  ok_match "$out" "ERROR:  schema_guard: create_index_blocking: CREATE INDEX a_v_idx" "[$libs] the guard blocks CREATE INDEX"
  out=$(q -c "SET lock_timeout = '1s'" -c "ALTER TABLE a ADD COLUMN w int")
  sleep 0.3
  ok_match "$(log_since "$mark")" "AUDIT: SESSION,[0-9]+,[0-9]+,DDL,ALTER TABLE,TABLE,public.a,ALTER TABLE a ADD COLUMN w int" \
    "[$libs] pgaudit logs the DDL the guard lets through"
  ok_match "$(log_since "$mark")" "schema_guard: blocked create_index_blocking on table public.a" "[$libs] the guard logs its block"
  mark=$(log_size)
  out=$(q -c "SET lock_timeout = '1s'" -c "SET schema_guard.mode = warn" -c "CREATE INDEX a_v_idx ON a (v)")
  sleep 0.3
  ok_match "$out" "WARNING:  schema_guard: create_index_blocking" "[$libs] warn mode: a WARNING and the statement runs"
  ok_match "$(log_since "$mark")" "AUDIT: SESSION,[0-9]+,[0-9]+,DDL,CREATE INDEX,INDEX,public.a_v_idx,CREATE INDEX a_v_idx ON a \(v\)" \
    "[$libs] pgaudit logs the warned statement with its object"
  # a block inside a subtransaction, rolled back: pgaudit's and the guard's state stay sound
  mark=$(log_size)
  out=$(q <<'SQL'
SET lock_timeout = '1s';
BEGIN;
SAVEPOINT s1;
DO $$ BEGIN EXECUTE 'ALTER TABLE a RENAME COLUMN v TO v2'; END $$;
ROLLBACK TO SAVEPOINT s1;
ALTER TABLE a ADD COLUMN w2 int;
COMMIT;
SQL
)
  sleep 0.3
  ok_match "$out" "ERROR:  schema_guard: rename_column" "[$libs] the guard blocks a rename nested in a DO block"
  ok_match "$(log_since "$mark")" "AUDIT: SESSION,[0-9]+,[0-9]+,DDL,ALTER TABLE,TABLE,public.a,ALTER TABLE a ADD COLUMN w2 int" \
    "[$libs] after ROLLBACK TO SAVEPOINT, the next DDL is audited"
  ok "$(q -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'a'::regclass AND attnum > 0 AND NOT attisdropped")" \
    "id,v,w,w2" "[$libs] the columns are exactly what was allowed"
  ok "$(grep -Ec 'terminated by signal|stack is not empty|pgaudit stack|TRAP' "$DIR/server.log")" "0" "[$libs] no crash and no pgaudit stack error in the server log"
  stop_cluster "$DIR"
done

# ---------------------------------------------------------------------------
# pg_partman and pg_repack, both with pgaudit and schema_guard loaded.
new_cluster partman_repack "pgaudit,schema_guard"
q -q -c "CREATE EXTENSION schema_guard" -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman" \
  -c "CREATE EXTENSION pg_repack" >/dev/null
# the parent and its index are created in one transaction (an index on an existing
# partitioned table is itself judged)
q -q <<'SQL' >/dev/null
BEGIN;
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at);
CREATE INDEX events_at_id ON events (at, id);
CREATE TABLE events_d (LIKE events) PARTITION BY RANGE (at);
CREATE INDEX events_d_at_id ON events_d (at, id);
COMMIT;
SQL
parts() { val -c "SELECT count(*) FROM pg_inherits WHERE inhparent = '$1'::regclass AND inhrelid::regclass::text NOT LIKE '%_default'"; }
# partitions (default excepted) lacking the parent's index
unindexed() { val -c "SELECT count(*) FROM pg_inherits i WHERE inhparent = '$1'::regclass AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = i.inhrelid AND x.indisvalid)"; }
out=$(val -c "SELECT partman.create_parent('public.events', 'at', 'native', 'daily', p_premake := 2, p_start_partition := (now() - interval '10 days')::text)")
# partman places new partitions relative to the newest data
q -q -c "INSERT INTO events SELECT g, now() - (g % 240) * interval '1 hour', 'x' FROM generate_series(1, 2000) g" >/dev/null
ok "$out" "t" "create_parent creates the partition set"
# partman always creates a default partition; this set is run without one
q -q -c "SET lock_timeout = '1s'" -c "DROP TABLE events_default" >/dev/null
before=$(parts events)
mark=$(log_size)
q -q -c "UPDATE partman.part_config SET premake = 5 WHERE parent_table = 'public.events'" >/dev/null
out=$(q -c "SELECT partman.run_maintenance('public.events')")
after=$(parts events)
ok "$(( after - before ))|$(unindexed events)" "3|0" "run_maintenance() adds the premade partitions ($before -> $after), each with the index"
q -q -c "UPDATE partman.part_config SET premake = 7 WHERE parent_table = 'public.events'" >/dev/null
out=$(q -c "CALL partman.run_maintenance_proc()")
ok "$(( $(parts events) - after ))|$(unindexed events)|$out" "2|0|CALL" "run_maintenance_proc() (a procedure that commits) adds more, indexed"
# retention: old partitions dropped (drop_table is a warning by default)
q -q -c "UPDATE partman.part_config SET retention = '3 days', retention_keep_table = false WHERE parent_table = 'public.events'" >/dev/null
before=$(parts events)
out=$(q -c "SELECT partman.run_maintenance('public.events')")
ok_match "$(( before - $(parts events) ))" "^[1-9][0-9]*$" "retention drops the old partitions ($before -> $(parts events))"
ok_nomatch "$(log_since "$mark")" "schema_guard: blocked" "partman maintenance met no block"
ok_match "$(log_since "$mark")" "AUDIT: SESSION,[0-9]+,[0-9]+,DDL,CREATE TABLE,[^,]*,[^,]*,CREATE TABLE public.events_p" "pgaudit audits partman's DDL"

# with a default partition: each new partition's bound is checked against the default
# partition, which PostgreSQL scans under ACCESS EXCLUSIVE (attach_partition_scan).
out=$(val -c "SELECT partman.create_parent('public.events_d', 'at', 'native', 'daily', p_premake := 2)")
q -q -c "UPDATE partman.part_config SET premake = 4 WHERE parent_table = 'public.events_d'" >/dev/null
# an old row in the default partition: the scan is real
q -q -c "INSERT INTO events_d SELECT g, now() - (g % 24) * interval '1 hour', 'x' FROM generate_series(1, 500) g" \
  -c "INSERT INTO events_d VALUES (0, '2000-01-01', 'stray')" >/dev/null
before=$(parts events_d)
out=$(q -v VERBOSITY=verbose -c "SELECT partman.run_maintenance('public.events_d')")
ok_match "$out" "schema_guard: attach_partition_scan: ATTACH PARTITION events_d_p[0-9_]+ scans table public.events_d_default" \
  "a default partition holding rows: run_maintenance is blocked by attach_partition_scan on it"
ok "$(parts events_d)" "$before" "and nothing was attached"
echo "# partman re-raises the guard's error as: $(printf '%s\n' "$out" | grep -Eo '^ERROR:  [A-Z0-9]{5}' | head -1)"
# the same with the default partition empty; schema_guard.min_table_size (0: judge
# everything, empty tables included) decides
q -q -c "SET schema_guard.mode = off" -c "DELETE FROM events_d_default" -c "VACUUM events_d_default" >/dev/null
out=$(q -c "SELECT partman.run_maintenance('public.events_d')")
echo "# empty default partition, min_table_size = 0: $(printf '%s\n' "$out" | grep -E '^ERROR' | head -1) (partitions $before -> $(parts events_d))"
out=$(q -c "SET schema_guard.min_table_size = '8kB'" -c "SELECT partman.run_maintenance('public.events_d')")
ok "$(parts events_d)|$(unindexed events_d)" "$((before + 2))|0" "an empty default partition under min_table_size: run_maintenance attaches the premade partitions ($before -> $(parts events_d))"

# ---------------------------------------------------------------------------
# pg_repack
out=$(q -c "SELECT rule_id || ': ' || recipe FROM schema_guard.rules() WHERE rule_id IN ('vacuum_full', 'cluster') AND recipe LIKE '%pg_repack%' ORDER BY 1")
ok "$(printf '%s\n' "$out" | cut -d: -f1 | paste -sd,)" "cluster,vacuum_full" "rules(): the recipes of vacuum_full and cluster point to pg_repack"
q -q <<'SQL' >/dev/null
SET schema_guard.mode = off;
CREATE TABLE r (id int PRIMARY KEY, v text, w int);
CREATE INDEX r_w ON r (w);
INSERT INTO r SELECT g, md5(g::text), g % 100 FROM generate_series(1, 40000) g;
DELETE FROM r WHERE id % 2 = 0;
VACUUM r;
SQL
state() { val -c "SELECT pg_relation_filenode('r'), count(*), sum(hashtext(v)) FROM r"; }
s0=$(state); size0=$(q -c "SELECT pg_relation_size('r')")
out=$(q -c "SET lock_timeout = '1s'" -c "VACUUM FULL r")
ok_match "$out" "ERROR:  schema_guard: vacuum_full: .*HINT:  Use pg_repack" "VACUUM FULL is blocked, and the HINT says pg_repack"
out=$(q -c "SET lock_timeout = '1s'" -c "CLUSTER r USING r_pkey")
ok_match "$out" "ERROR:  schema_guard: cluster: .*HINT:  Use pg_repack --order-by" "CLUSTER is blocked, and the HINT says pg_repack --order-by"
repack() { "$PG_BIN/pg_repack" -h "$DIR/sock" -p "$PORT" -U postgres -d $DB "$@" 2>&1; }
# --only-indexes: CREATE INDEX CONCURRENTLY + swap, nothing to block
out=$(repack -t r --only-indexes)
ok "$(printf '%s' "$out" | grep -c 'ERROR')|$(q -c "SELECT count(*) FROM pg_index WHERE indrelid = 'r'::regclass AND indisvalid")" "0|2" "pg_repack --only-indexes works with the guard on"
# full repack, as installed: pg_repack builds its work table's indexes without CONCURRENTLY
# in schema repack, which schema_guard.exempt_schemas (default 'repack') treats as new tables
mark=$(log_size)
out=$(repack -t r)
sleep 0.3
s1=$(state)
ok "$(printf '%s' "$out" | grep -c 'ERROR')|$(log_since "$mark" | grep -c 'schema_guard: blocked')" "0|0" "pg_repack -t r works with the guard on (nothing blocked)"
ok "$( [ "${s1%%|*}" != "${s0%%|*}" ] && echo new)|${s1#*|}" "new|${s0#*|}" "the table was rewritten (new filenode) with the same rows"
ok "$(val -c "SELECT pg_relation_size('r') < $size0")|$(val -c "SELECT count(*) FROM pg_index WHERE indrelid = 'r'::regclass AND indisvalid")" "t|2" "it is smaller, and its indexes are back and valid"
sorted() { val -c "SELECT bool_and(ok) FROM (SELECT w >= lag(w) OVER (ORDER BY ctid) AS ok FROM r) s"; }
unsorted=$(sorted)
out=$(repack -t r --order-by w)
ok "$(printf '%s' "$out" | grep -c 'ERROR')|$unsorted|$(sorted)" "0|f|t" "pg_repack --order-by (the CLUSTER replacement) reorders the table by w"
# without the exemptions the guard blocks pg_repack's index build; the repack fails cleanly
q -q -c "SET schema_guard.mode = off" -c "DELETE FROM r WHERE id % 3 = 0" >/dev/null
s0=$(state)
mark=$(log_size)
# (and without the setup pass: pg_repack's session created its work table itself)
out=$(PGOPTIONS="-c schema_guard.exempt_schemas= -c schema_guard.exempt_setup=off" repack -t r)
sleep 0.3
blocked=$(log_since "$mark" | grep -A1 "schema_guard: blocked" | head -2)
echo "# pg_repack with exempt_schemas = '': $(printf '%s' "$blocked" | sed 's/^.*UTC \[[0-9]*\] //' | tr '\n' ' ')"
ok_match "$(printf '%s' "$out" | grep -c ERROR)|$blocked" "^1\|.*schema_guard: blocked create_index_blocking on table repack.table_[0-9]+ .*statement: CREATE UNIQUE INDEX index_[0-9]+ ON repack.table_[0-9]+ USING btree \(id\)" \
  "exempt_schemas = '': pg_repack fails on create_index_blocking for its work table's index"
ok "$(state)" "$s0" "the failed repack left the table as it was"
ok "$(val -c "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'r'::regclass) + (SELECT count(*) FROM pg_class WHERE relnamespace = 'repack'::regnamespace AND relname ~ '^(table|log)_')")" "0" "pg_repack cleaned up (no trigger on r, no work tables)"
ok "$(grep -c 'terminated by signal' "$DIR/server.log")" "0" "no crash"
exit $failed
