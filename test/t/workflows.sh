#!/usr/bin/env bash
# TAP: set-up work runs under the guard with default settings, and nothing else gets
# through with it.
#  * pgbench -i -s 5 --foreign-keys, then pgbench -i over it (tables created, filled, then
#    given primary and foreign keys by one session);
#  * a fresh install shaped like MusicBrainz's: tables in one psql run; primary keys,
#    CHECK constraints, foreign keys and indexes in later runs; every table empty;
#  * what the guard blocked before on tables an earlier session created and filled is
#    still blocked, also for a session that calls itself pg_restore without being one,
#    and a setup pass is refused while another session holds a lock on the table;
#  * every setup pass is in the server log.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
# grep -q stops reading at the first match: under pipefail the writer's SIGPIPE would fail
# the pipeline when the log after the match is larger than a pipe buffer
set +o pipefail
BASE=$SG_TMP/schema_guard_workflows
PORT=$(sg_port 54374)
DIR=$BASE/main
W=$BASE/work
on_exit :   # stops the cluster at exit
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
mkdir -p "$W" && chown postgres "$W" && chmod 755 "$BASE" "$W"
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres
q() { "$PG_BIN/psql" -X -At -v VERBOSITY=terse "$@" 2>&1; }
log_size() { stat -c %s "$DIR/server.log"; }
log_since() { tail -c +$(( $1 + 1 )) "$DIR/server.log"; }
first_guard_message() { grep -m1 -o 'schema_guard: [a-z_]*' <<<"$1"; }
# hold LOCKMODE TABLE DB: another session holds the lock until unhold
hold() {
  "$PG_BIN/psql" -X -q -d "$3" -v ON_ERROR_STOP=1 \
    -c "SET application_name = 'holder'; BEGIN; LOCK TABLE $2 IN $1 MODE; SELECT pg_sleep(60);" >/dev/null 2>&1 7>&- &
  for _ in $(seq 100); do
    [ "$(q -d "$3" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'holder' AND l.relation = '$2'::regclass AND l.granted")" = 1 ] && return
    sleep 0.1
  done
}
unhold() { q -d "$1" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'" >/dev/null; wait 2>/dev/null; }

# ------------------------------------------------------------------ pgbench
q -d postgres -c "CREATE DATABASE bench" >/dev/null
q -d bench -c "CREATE EXTENSION schema_guard" >/dev/null
mark=$(log_size)
out=$("$PG_BIN/pgbench" -i -s 5 --foreign-keys -d bench 2>&1); rc=$?
ok "$rc|$(grep -c schema_guard <<<"$out")|$(q -d bench -c "SELECT count(*) FROM pgbench_accounts")|$(q -d bench -c "SELECT count(*) FROM pg_constraint WHERE contype IN ('p', 'f') AND conrelid::regclass::text LIKE 'pgbench_%'")" \
   "0|0|500000|8" "pgbench -i -s 5 --foreign-keys on a guarded database: exits 0, no message from the guard, keys added"
ok "$(log_since "$mark" | grep 'setup pass for table public.pgbench_accounts: created earlier by this session' >/dev/null && echo yes)" "yes" \
   "the server log has the setup pass for pgbench_accounts"
out=$("$PG_BIN/pgbench" -t 20 -c 2 -d bench 2>&1)
ok "$(grep -c '^number of failed transactions: 0\|^number of transactions actually processed: 40/40' <<<"$out")" "2" "pgbench runs on the initialised tables"
# pgbench -i again, over the tables the earlier run filled: its DROP TABLE of them is
# reported (drop_table warns by default); everything it then creates passes
out=$("$PG_BIN/pgbench" -i -d bench 2>&1); rc=$?
ok "$rc|$(grep -o 'schema_guard: [a-z_]*' <<<"$out" | sort -u | tr '\n' ' ')|$(q -d bench -c "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text LIKE 'pgbench_%'")" \
   "0|schema_guard: drop_table schema_guard: lock_timeout_missing |3" \
   "pgbench -i over the earlier tables: exits 0, primary keys added; only its DROP TABLE of filled tables is warned about"

# ------------------------------------------------------------------ fresh install
# Shaped like MusicBrainz's admin/InitDb.pl: each file in its own psql run and its own
# transaction, as it ships them; no lock_timeout (so the lock-wait rule still warns).
q -d postgres -c "CREATE DATABASE mb" >/dev/null
q -d mb -c "CREATE EXTENSION schema_guard" >/dev/null
N=60
{
  echo '\set ON_ERROR_STOP 1'; echo 'BEGIN;'; echo 'CREATE SCHEMA musicbrainz; SET search_path = musicbrainz, public;'
  for i in $(seq $N); do
    echo "CREATE TABLE t$i (id SERIAL, gid UUID NOT NULL, name VARCHAR NOT NULL, parent INTEGER, edits_pending INTEGER NOT NULL DEFAULT 0, last_updated TIMESTAMP WITH TIME ZONE DEFAULT NOW(), ended BOOLEAN NOT NULL DEFAULT FALSE);"
  done
  echo "CREATE MATERIALIZED VIEW t1_counts AS SELECT parent, count(*) FROM t1 GROUP BY parent WITH NO DATA;"
  echo 'COMMIT;'
} > "$W/CreateTables.sql"
{
  echo '\set ON_ERROR_STOP 1'; echo 'BEGIN;'; echo 'SET search_path = musicbrainz, public;'
  for i in $(seq $N); do echo "ALTER TABLE t$i ADD CONSTRAINT t${i}_pkey PRIMARY KEY (id);"; done
  echo 'COMMIT;'
} > "$W/CreatePrimaryKeys.sql"
{
  echo '\set ON_ERROR_STOP 1'; echo 'BEGIN;'; echo 'SET search_path = musicbrainz, public;'
  for i in $(seq $N); do
    echo "ALTER TABLE t$i ADD CONSTRAINT t${i}_edits_pending_check CHECK (edits_pending >= 0), ADD CONSTRAINT t${i}_name_check CHECK (name <> '');"
    echo "ALTER TABLE t$i ALTER COLUMN parent SET NOT NULL, ALTER COLUMN parent DROP NOT NULL;"
  done
  echo 'COMMIT;'
} > "$W/CreateConstraints.sql"
{
  echo '\set ON_ERROR_STOP 1'; echo 'BEGIN;'; echo 'SET search_path = musicbrainz, public;'
  for i in $(seq 2 $N); do
    echo "ALTER TABLE t$i ADD CONSTRAINT t${i}_fk_parent FOREIGN KEY (parent) REFERENCES t$(( i - 1 ))(id);"
  done
  echo 'COMMIT;'
} > "$W/CreateFKConstraints.sql"
{
  echo '\set ON_ERROR_STOP 1'; echo 'BEGIN;'; echo 'SET search_path = musicbrainz, public;'
  for i in $(seq $N); do
    echo "CREATE UNIQUE INDEX t${i}_idx_gid ON t$i (gid);"
    echo "CREATE INDEX t${i}_idx_name ON t$i (name);"
    echo "CREATE INDEX t${i}_idx_parent ON t$i (parent) WHERE parent IS NOT NULL;"
    echo "CREATE INDEX t${i}_idx_lower_name ON t$i (lower(name));"
  done
  echo "REFRESH MATERIALIZED VIEW t1_counts;"
  echo 'COMMIT;'
} > "$W/CreateIndexes.sql"
chmod a+r "$W"/*.sql
mark=$(log_size)
rc=0; : > "$W/mb.err"
for f in CreateTables CreatePrimaryKeys CreateConstraints CreateFKConstraints CreateIndexes; do
  "$PG_BIN/psql" -X -q -d mb -f "$W/$f.sql" >/dev/null 2>>"$W/mb.err" || { rc=1; echo "# $f failed"; }
done
ok "$rc|$(grep -c 'ERROR' "$W/mb.err")|$(grep -o 'schema_guard: [a-z_]*' "$W/mb.err" | sort -u | tr '\n' ' ')" \
   "0|0|schema_guard: lock_timeout_missing " \
   "MusicBrainz-shaped fresh install ($N empty tables, five psql runs): every run exits 0; only lock_timeout_missing warns"
ok "$(q -d mb -c "SELECT count(*) FROM pg_constraint WHERE connamespace = 'musicbrainz'::regnamespace AND contype IN ('p', 'f', 'c')")|$(q -d mb -c "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'musicbrainz'::regnamespace")" \
   "$(( N + (N - 1) + 2 * N ))|$(( 5 * N ))" "all primary keys, CHECKs, foreign keys and indexes exist"
ok "$(log_since "$mark" | grep -c 'schema_guard: blocked\|setup pass')" "0" "no block and no setup pass: the tables are empty, nothing needed a pass"
# the same install judged by check() beforehand (CI against an empty database): every
# table is judged as if it were large
ok "$(q -q -d mb -c "SET search_path = musicbrainz, public" -c "SELECT count(*) FROM schema_guard.check(\$sg\$$(grep -v '^\\' "$W/CreatePrimaryKeys.sql")\$sg\$) WHERE rule = 'add_constraint_index_build'")" "$N" \
   "check() still reports the primary keys' index builds (tables judged as if large)"

# ------------------------------------------------------------------ what stays blocked
q -d postgres -c "CREATE DATABASE app" >/dev/null
q -d app -q <<'SQL' >/dev/null
CREATE EXTENSION schema_guard;
CREATE TABLE accounts (id int, email text, plan text, n int);
INSERT INTO accounts SELECT g, 'a' || g, 'p', g FROM generate_series(1, 5000) g;
CREATE MATERIALIZED VIEW plans AS SELECT plan, count(*) FROM accounts GROUP BY plan;
SQL
# A later session (the next deploy), default settings, lock_timeout set as a migration should.
deploy() { q -d app -c "SET lock_timeout = '2s'" -c "$1"; }
for case in \
  "CREATE INDEX accounts_email_idx ON accounts (email)|create_index_blocking" \
  "ALTER TABLE accounts ADD PRIMARY KEY (id)|add_constraint_index_build" \
  "ALTER TABLE accounts ADD CONSTRAINT accounts_n_check CHECK (n > 0)|add_check_scan" \
  "ALTER TABLE accounts ALTER COLUMN n SET NOT NULL|set_not_null_scan" \
  "ALTER TABLE accounts ALTER COLUMN n TYPE bigint|alter_column_type_rewrite" \
  "ALTER TABLE accounts ADD COLUMN r float8 DEFAULT random()|add_column_rewrite" \
  "ALTER TABLE accounts DROP COLUMN plan|drop_column" \
  "ALTER TABLE accounts RENAME COLUMN email TO mail|rename_column" \
  "REFRESH MATERIALIZED VIEW plans|refresh_matview_blocking" \
  "VACUUM FULL accounts|vacuum_full"; do
  stmt=${case%|*}; rule=${case##*|}
  ok "$(first_guard_message "$(deploy "$stmt")")" "schema_guard: $rule" "a later session: $stmt is blocked ($rule)"
done
# a session that merely calls itself pg_restore (the settings pg_restore always sends are missing)
ok "$(first_guard_message "$(PGAPPNAME=pg_restore deploy "CREATE INDEX accounts_email_idx ON accounts (email)")")" \
   "schema_guard: create_index_blocking" "application_name pg_restore alone gets no pass"
# a real pg_restore session gets its pass, but not while an application holds a lock on the table
restore_like() { PGAPPNAME=pg_restore q -d app -c "SET row_security = off" -c "SET check_function_bodies = false" -c "SET lock_timeout = '2s'" -c "$1"; }
hold "ACCESS SHARE" accounts app
ok "$(first_guard_message "$(restore_like "CREATE INDEX accounts_email_idx ON accounts (email)")")" "schema_guard: create_index_blocking" \
   "a pg_restore session: no pass while an application session holds a lock on the table (ACCESS SHARE)"
unhold app
mark=$(log_size)
out=$(restore_like "CREATE INDEX accounts_email_idx ON accounts (email)")
ok "$(grep -c schema_guard <<<"$out")|$(log_since "$mark" | grep -c 'setup pass for table public.accounts: pg_restore session')" "0|1" \
   "a pg_restore session builds the index once nobody else holds a lock, and the pass is logged"
q -d app -c "SET schema_guard.mode = off" -c "DROP INDEX accounts_email_idx" >/dev/null

# The session that created and filled a table: passes, unless another session holds a lock
# on it, or schema_guard.exempt_setup is off; check() in that session judges as the deploy will.
out=$(q -d app -v ON_ERROR_STOP=1 <<'SQL'
SET lock_timeout = '2s';
CREATE TABLE sessions (id int, token text);
INSERT INTO sessions SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
SELECT 'check: ' || string_agg(rule, ',') FROM schema_guard.check('CREATE INDEX ON sessions (token)');
CREATE INDEX sessions_token_idx ON sessions (token);
ALTER TABLE sessions ADD PRIMARY KEY (id);
ALTER TABLE sessions RENAME COLUMN token TO secret;
SET schema_guard.exempt_setup = off;
CREATE INDEX sessions_secret_idx ON sessions (secret);
SQL
)
ok "$(grep -o 'check: .*\|schema_guard: [a-z_]*' <<<"$out" | tr '\n' ' ')" "check: create_index_blocking schema_guard: create_index_blocking " \
   "the creating session: index, primary key and rename pass; check() and exempt_setup = off judge as for a deploy"
q -d app -c "SET schema_guard.mode = off" -c "DROP TABLE sessions" >/dev/null
# (another session holds a lock: the creating session is judged as anyone is; the
# creating session reads its statements from a pipe, so the holder is in place first)
mkfifo "$W/creator.in"
"$PG_BIN/psql" -X -q -d app <"$W/creator.in" >"$W/shared.out" 2>&1 &
creator=$!
exec 7>"$W/creator.in"
echo "CREATE TABLE shared_t (id int); INSERT INTO shared_t SELECT generate_series(1, 1000);" >&7
for _ in $(seq 200); do [ -n "$(q -d app -c "SELECT to_regclass('shared_t')")" ] && [ "$(q -d app -c "SELECT count(*) FROM shared_t")" = 1000 ] && break; sleep 0.05; done
hold "ACCESS SHARE" shared_t app
echo "SET lock_timeout = '2s'; CREATE INDEX shared_t_id_idx ON shared_t (id);" >&7
exec 7>&-
wait $creator
unhold app
ok "$(first_guard_message "$(cat "$W/shared.out")")" "schema_guard: create_index_blocking" \
   "the creating session gets no pass while another session holds a lock on its table"

ok "$(grep -c 'terminated by signal\|TRAP:' "$DIR/server.log")" "0" "no crash"
echo "1..$n"
cleanup_dir "$BASE"
exit $failed
