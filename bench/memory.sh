#!/usr/bin/env bash
# Memory of one backend that runs many guarded DDL statements: it must stay flat.
#
# Three phases, each N statements (default 200,000) in ONE backend, half of them judged and
# allowed, half blocked by the guard:
#   psql      simple query protocol, every statement its own transaction; the blocked
#             ones fail at top level (SG001 -> transaction abort)
#   extended  pgbench -M prepared (extended query protocol, prepared statements) on one
#             connection; the blocked ones inside DO blocks that catch SG001
#   do_loop   one DO block, one transaction: N statements, the blocked ones caught in a
#             subtransaction each; and do_loop_off, the same with the guard off (see below)
# The backend samples itself into a table as it goes: the total of its memory contexts
# (pg_backend_memory_contexts) and its private resident memory (RssAnon from
# /proc/self/status; plain RSS also counts the shared buffers it touches).
# "start" is before the first statement, "warm" after 10 %, "end" after the last.
#
# Usage: bash bench/memory.sh [N]     (MEMORY_SKIP_BUILD=1: use the installed build)
# Prints one line per phase:  RESULT phase n start_ctx warm_ctx end_ctx start_anon_kb warm_anon_kb end_anon_kb
# then FLAT yes|no per phase: growth from "warm" to "end" under MEMORY_MAX_CTX_GROWTH bytes of
# contexts (default 1 MB) and MEMORY_MAX_ANON_GROWTH kB of RssAnon (default 2048), for do_loop
# beyond what the same loop grows with the guard off.
source "$(dirname "$0")/../scripts/lib.sh"
N=${1:-${MEMORY_STATEMENTS:-200000}}
if [ -z "${MEMORY_SKIP_BUILD:-}" ]; then install_deps; build_install; fi
DIR=${MEMORY_DIR:-$(mktemp -d "$SG_TMP/sg_memory.XXXXXX")}
chmod 755 "$DIR"
PORT=${MEMORY_PORT:-$(sg_port 54364)}
# (the cluster lives in $DIR/c: remove_dir stops it before the directory goes)
on_exit '[ -n "${MEMORY_DIR:-}" ] || remove_dir "$DIR"'
# log_min_messages = fatal: the guard's LOG line per verdict is not written 100,000 times
start_cluster "$DIR/c" "$PORT" "shared_preload_libraries = 'schema_guard'" "log_min_messages = fatal"
export PGHOST=$DIR/c/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
psql() { "$PG_BIN/psql" -X -q "$@"; }
psql -c "CREATE EXTENSION schema_guard" >/dev/null
psql >/dev/null <<'SQL'
SET schema_guard.mode = off;
CREATE TABLE t (id int PRIMARY KEY, v text, c1 int);
INSERT INTO t SELECT g, 'v' || g, g FROM generate_series(1, 10000) g;
CREATE TABLE mem_samples (phase text, n int, ctx_bytes bigint, anon_kb bigint);
CREATE FUNCTION sample(p_phase text, p_n int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO mem_samples
  SELECT p_phase, p_n, (SELECT sum(total_bytes) FROM pg_backend_memory_contexts),
         (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::bigint $$;
-- every session: a lock_timeout (no lock_timeout_missing warnings), quiet notices
ALTER DATABASE postgres SET lock_timeout = '5s';
ALTER DATABASE postgres SET client_min_messages = error;
SQL

# The statements, four per round: two judged and allowed, two blocked.
ALLOWED1="ALTER TABLE t ADD COLUMN IF NOT EXISTS c1 int"
ALLOWED2="ALTER TABLE t ALTER COLUMN c1 TYPE int"
BLOCKED1="ALTER TABLE t RENAME COLUMN v TO v2"
BLOCKED2="CREATE INDEX t_v_idx ON t (v)"
ROUNDS=$(( N / 4 ))
WARM=$(( ROUNDS / 10 ))

# --- psql, simple protocol ------------------------------------------------------------
{
  echo "SELECT sample('psql', 0);"
  for ((r = 1; r <= ROUNDS; r++)); do
    echo "$ALLOWED1;"; echo "$ALLOWED2;"; echo "$BLOCKED1;"; echo "$BLOCKED2;"
    if [ $r = $WARM ]; then echo "SELECT sample('psql', $((r * 4)));"; fi
  done
  echo "SELECT sample('psql', $((ROUNDS * 4)));"
} >"$DIR/psql.sql"
t0=$(date +%s)
psql -f "$DIR/psql.sql" >/dev/null 2>"$DIR/psql.err"
echo "# psql: $((ROUNDS * 4)) statements in $(( $(date +%s) - t0 )) s, $(grep -c 'ERROR:  schema_guard' "$DIR/psql.err") blocked (SG001)"

# --- pgbench -M prepared, extended protocol ---------------------------------------------
cat >"$DIR/extended.sql" <<SQL
\\set r :r + 1
\\if :r = 1
SELECT sample('extended', 0);
\\endif
$ALLOWED1;
$ALLOWED2;
DO \$\$ BEGIN EXECUTE '$BLOCKED1'; EXCEPTION WHEN SQLSTATE 'SG001' THEN NULL; END \$\$;
DO \$\$ BEGIN EXECUTE '$BLOCKED2'; EXCEPTION WHEN SQLSTATE 'SG001' THEN NULL; END \$\$;
\\if :r = $WARM
SELECT sample('extended', :r * 4);
\\endif
\\if :r = $ROUNDS
SELECT sample('extended', :r * 4);
\\endif
SQL
t0=$(date +%s)
"$PG_BIN/pgbench" -n -M prepared -c 1 -t "$ROUNDS" -D r=0 -f "$DIR/extended.sql" >"$DIR/pgbench.out" 2>&1
rc=$?
echo "# extended: $((ROUNDS * 4)) statements in $(( $(date +%s) - t0 )) s, pgbench exit $rc, $(grep -E '^number of failed' "$DIR/pgbench.out")"

# --- one DO block, one transaction ------------------------------------------------------
# Inside one transaction PostgreSQL itself keeps memory per ALTER TABLE until the end of the
# transaction (relcache, invalidation messages, combo CIDs), with or without the guard.  So
# the loop runs twice: guarded, and with the guard off where the blocked statements are
# replaced by statements the server itself rejects (an unknown column); the guard's own
# share is the difference between the two.
do_loop() {  # do_loop PHASE MODE BLOCKED1 BLOCKED2 SQLSTATE-CAUGHT
  psql >/dev/null 2>>"$DIR/do.err" <<SQL
SET schema_guard.mode = $2;
DO \$\$
DECLARE caught int := 0;
BEGIN
  PERFORM sample('$1', 0);
  FOR r IN 1..$ROUNDS LOOP
    EXECUTE '$ALLOWED1';
    EXECUTE '$ALLOWED2';
    BEGIN EXECUTE '$3'; EXCEPTION WHEN $5 THEN caught := caught + 1; END;
    BEGIN EXECUTE '$4'; EXCEPTION WHEN $5 THEN caught := caught + 1; END;
    IF r = $WARM OR r = $ROUNDS THEN PERFORM sample('$1', r * 4); END IF;
  END LOOP;
  PERFORM sample('$1_caught', caught);
END \$\$;
SQL
}
t0=$(date +%s)
do_loop do_loop block "$BLOCKED1" "$BLOCKED2" "SQLSTATE 'SG001'"
echo "# do_loop: $((ROUNDS * 4)) statements in $(( $(date +%s) - t0 )) s, $(psql -At -c "SELECT n FROM mem_samples WHERE phase = 'do_loop_caught'") blocked (SG001) and caught"
t0=$(date +%s)
do_loop do_loop_off off "ALTER TABLE t RENAME COLUMN no_such_column TO v2" "CREATE INDEX t_v_idx ON t (no_such_column)" "undefined_column"
echo "# do_loop_off (guard off, server errors instead of blocks): $((ROUNDS * 4)) statements in $(( $(date +%s) - t0 )) s, $(psql -At -c "SELECT n FROM mem_samples WHERE phase = 'do_loop_off_caught'") caught"
head -5 "$DIR/do.err"

# nothing the guard blocked happened
echo "# table t afterwards: columns $(psql -At -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped"), indexes $(psql -At -c "SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass")"
grep -q "terminated by signal" "$DIR/c/server.log" && echo "# CRASH: $(grep 'terminated by signal' "$DIR/c/server.log" | head -1)"
psql -At -F ' ' <<'SQL' | sed 's/^/RESULT /'
SELECT phase, max(n),
       max(ctx_bytes) FILTER (WHERE n = 0), max(ctx_bytes) FILTER (WHERE n > 0 AND n < max_n), max(ctx_bytes) FILTER (WHERE n = max_n),
       max(anon_kb) FILTER (WHERE n = 0), max(anon_kb) FILTER (WHERE n > 0 AND n < max_n), max(anon_kb) FILTER (WHERE n = max_n)
FROM (SELECT *, max(n) OVER (PARTITION BY phase) AS max_n FROM mem_samples WHERE phase IN ('psql', 'extended', 'do_loop', 'do_loop_off')) s
GROUP BY phase ORDER BY array_position(ARRAY['psql', 'extended', 'do_loop', 'do_loop_off'], phase);
SQL
psql -At -F ' ' -v max_ctx="${MEMORY_MAX_CTX_GROWTH:-1048576}" -v max_anon="${MEMORY_MAX_ANON_GROWTH:-2048}" <<'SQL' | sed 's/^/FLAT /'
WITH r AS (
  SELECT phase, max(ctx_bytes) FILTER (WHERE n = max_n) - max(ctx_bytes) FILTER (WHERE n > 0 AND n < max_n) AS ctx_growth,
         max(anon_kb) FILTER (WHERE n = max_n) - max(anon_kb) FILTER (WHERE n > 0 AND n < max_n) AS anon_growth
  FROM (SELECT *, max(n) OVER (PARTITION BY phase) AS max_n FROM mem_samples) s GROUP BY phase)
SELECT g.phase, CASE WHEN g.ctx_growth - coalesce(b.ctx_growth, 0) < :max_ctx
                      AND g.anon_growth - coalesce(b.anon_growth, 0) < :max_anon THEN 'yes' ELSE 'no' END,
       g.ctx_growth - coalesce(b.ctx_growth, 0) AS guard_ctx_growth_bytes,
       g.anon_growth - coalesce(b.anon_growth, 0) AS guard_anon_growth_kb
FROM r g LEFT JOIN r b ON g.phase = 'do_loop' AND b.phase = 'do_loop_off'
WHERE g.phase IN ('psql', 'extended', 'do_loop')
ORDER BY array_position(ARRAY['psql', 'extended', 'do_loop'], g.phase);
SQL
