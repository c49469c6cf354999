#!/usr/bin/env bash
# TAP: how the library is loaded decides whether the guard is active; the server
# log records every verdict; the generated documents in docs/ match the catalogs.
# Runs its own throwaway cluster (not preloaded) next to the main test cluster.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${LOADING_DIR:-$SG_TMP/schema_guard_loading}
PORT=${LOADING_PORT:-$(sg_port 54331)}
q() { (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -At -h "$DIR/sock" -p "$PORT" -U postgres "$@" 2>&1); }
echo "1..16"
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

# The generated reference documents are exactly what their scripts print from the catalogs
gen() { PGHOST="$DIR/sock" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres bash "$REPO_ROOT/scripts/$1"; }
for pair in rule-reference.sh:rules.md audit-check-reference.sh:audit-checks.md function-reference.sh:functions.md; do
  script=${pair%%:*} doc=docs/${pair#*:}
  ok "$(diff <(gen "$script") "$REPO_ROOT/$doc" >/dev/null && echo same || echo differs)" "same" "$doc is what scripts/$script prints (regenerate: bash scripts/$script > $doc)"
done

# docs/settings.md lists every schema_guard.* setting with its default and who may set it
# (hand-written meanings; the facts checked against the server). A hidden setting
# (GUC_NO_SHOW_ALL) is not in pg_settings: its default is read with current_setting().
documented=$(grep -E '^\| `schema_guard\.' "$REPO_ROOT/docs/settings.md" |
  awk -F' \\| ' '{ gsub(/^\| |`/, "", $1); gsub(/`/, "", $2); print $1 "|" $2 "|" $3 }' | sort)
actual=$(q -d postgres -c "SELECT name || '|' || CASE WHEN boot_val = '' THEN '''''' ELSE boot_val END || '|' ||
    CASE context WHEN 'superuser' THEN 'superuser' WHEN 'user' THEN 'any role' ELSE context END
  FROM pg_settings WHERE name LIKE 'schema_guard.%'
  UNION ALL SELECT 'schema_guard.citus_lock_conflict|' || current_setting('schema_guard.citus_lock_conflict') || '|any role'
  ORDER BY 1" | sort)
ok "$(diff <(echo "$actual") <(echo "$documented") && echo same)" "same" "docs/settings.md lists every setting with its default and who may set it"
exit $failed
