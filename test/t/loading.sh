#!/usr/bin/env bash
# TAP: how the library is loaded decides whether the guard is active; the server
# log records every verdict; README documents every rule of the catalog.
# Runs its own throwaway cluster (not preloaded) next to the main test cluster.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${LOADING_DIR:-$SG_TMP/schema_guard_loading}
PORT=${LOADING_PORT:-$(sg_port 54331)}
q() { (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -At -h "$DIR/sock" -p "$PORT" -U postgres "$@" 2>&1); }
echo "1..14"
trap 'stop_cluster "$DIR"' EXIT
start_cluster "$DIR" "$PORT" "log_min_messages = log"

# not preloaded: CREATE EXTENSION says so, status() says so, DDL is not judged
out=$(q -d postgres -c "CREATE EXTENSION schema_guard")
ok "$(echo "$out" | grep -c 'schema_guard is installed but inactive')" "1" "CREATE EXTENSION warns when the library is not preloaded"
ok "$(q -d postgres -c "SELECT active, hook_installed, load_method FROM schema_guard.status()")" "f|f|not preloaded" "status() reports the guard inactive"
ok "$(q -d postgres -c "SELECT message FROM schema_guard.status()" | grep -c 'shared_preload_libraries')" "1" "status() says how to activate it"
ok "$(q -d postgres -c "CREATE TABLE t AS SELECT 1 AS id; CREATE INDEX t_idx ON t (id); SELECT count(*) FROM pg_class WHERE relname = 't_idx'" | tail -1)" "1" "DDL runs unjudged when not preloaded"
ok "$(q -d postgres -c "SELECT count(*) > 0 FROM schema_guard.rules()")" "t" "rules() works without preloading"
ok "$(q -d postgres -c "SELECT count(*) FROM schema_guard.audit() WHERE \"check\" = 'table_without_primary_key' AND relation = 't'::regclass")" "1" "audit() works without preloading"

# session_preload_libraries, set per database
q -d postgres -c "ALTER DATABASE postgres SET session_preload_libraries = 'schema_guard'" >/dev/null
ok "$(q -d postgres -c "SELECT active, load_method FROM schema_guard.status()")" "t|session_preload_libraries" "session_preload_libraries activates the guard"
out=$(q -d postgres -c "SET lock_timeout = '1s'; CREATE INDEX t_idx2 ON t (id)")
ok "$(echo "$out" | grep -o 'schema_guard: create_index_blocking' | head -1)" "schema_guard: create_index_blocking" "the guard blocks under session preload"
ok "$(q -d template1 -c "SELECT 1")" "1" "other databases are unaffected"

# the server log records the verdict with rule, relation, role and statement
sleep 0.5
ok "$(grep -c 'schema_guard: blocked create_index_blocking on table public.t by role postgres' "$DIR/server.log")" "1" "the server log records the blocked statement"
ok "$(grep -A1 'schema_guard: blocked create_index_blocking' "$DIR/server.log" | grep -c 'statement: CREATE INDEX t_idx2 ON t (id)')" "1" "the log line carries the statement"

# a rewrite the analysis does not predict is stopped by the backstop and logged as a miss
# (an event trigger moves TimeZone after the guard judged timestamp -> timestamptz as no rewrite)
q -d postgres -c "CREATE TABLE stamps (at timestamp); INSERT INTO stamps VALUES (now());
  CREATE FUNCTION move_tz() RETURNS event_trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM set_config('TimeZone', 'America/New_York', true); END \$\$;
  CREATE EVENT TRIGGER move_tz ON ddl_command_start WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION move_tz()" >/dev/null
q -d postgres -c "SET TimeZone = 'UTC'; SET lock_timeout = '1s'; ALTER TABLE stamps ALTER at TYPE timestamptz" >/dev/null
sleep 0.5
ok "$(grep -c 'schema_guard: prediction miss: ALTER TABLE rewrites table public.stamps' "$DIR/server.log")" "1" "the server log names a prediction miss"

# README's rule reference is exactly what the catalog generates
generated=$(PGHOST="$DIR/sock" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres bash "$REPO_ROOT/scripts/rule-reference.sh")
documented=$(sed -n '/<!-- rules:begin -->/,/<!-- rules:end -->/p' "$REPO_ROOT/README.md" | sed '1d;$d')
ok "$(diff <(echo "$generated") <(echo "$documented") >/dev/null && echo same || echo differs)" "same" "README's rule reference matches schema_guard.rules()"

# README's audit check reference is exactly what audit_checks() generates
generated=$(PGHOST="$DIR/sock" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres bash "$REPO_ROOT/scripts/audit-check-reference.sh")
documented=$(sed -n '/<!-- audit-checks:begin -->/,/<!-- audit-checks:end -->/p' "$REPO_ROOT/README.md" | sed '1d;$d')
ok "$(diff <(echo "$generated") <(echo "$documented") >/dev/null && echo same || echo differs)" "same" "README's audit check reference matches schema_guard.audit_checks()"
exit $failed
