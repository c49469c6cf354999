#!/usr/bin/env bash
# TAP: what changed in ALTER TABLE between PostgreSQL majors, judged on the server that
# has it.  Each probe runs only where the feature exists (a SKIP line elsewhere) and, like
# every probe of the pg_regress suite (sg_test.probe() from sql/guard_setup.sql), runs the
# statement twice on tables with rows: once under the guard in block mode for its verdict,
# once unguarded and rolled back while pg_locks, pg_class.relfilenode and
# pg_stat_get_xact_numscans() show what the server did; the two must agree (rewrite,
# scan, index build, lock).
#   17: ALTER COLUMN ... SET EXPRESSION (a stored column is recomputed: a rewrite)
#   18: VIRTUAL generated columns (no rewrite, to add or to change); NOT NULL as a
#       named constraint, NOT VALID too; CHECK and FOREIGN KEY ... NOT ENFORCED (no
#       scan); ALTER CONSTRAINT ... ENFORCED (validates: a scan)
# Uses the main test cluster (PGHOST/PGPORT from scripts/test.sh), database sg_versions.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DB=sg_versions
q() { (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -At -v ON_ERROR_STOP=1 -d "$DB" "$@" 2>&1); }
(cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB") >/dev/null
q -q -c "CREATE EXTENSION schema_guard" -f "$REPO_ROOT/sql/guard_setup.sql" >/dev/null
ok "$(q -c "SELECT count(*) FROM items")" "2000" "the probe fixture (sql/guard_setup.sql) is loaded"
server=$(q -c "SHOW server_version_num")

q -q >/dev/null <<'SQL'
SET schema_guard.mode = off;
CREATE TABLE v_parent (id int PRIMARY KEY);
INSERT INTO v_parent SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE v_items (id int PRIMARY KEY, a int NOT NULL, b int);
INSERT INTO v_items SELECT g, g, g FROM generate_series(1, 2000) g;
ANALYZE v_parent, v_items;
SQL

# probe MIN_VERSION LABEL STATEMENT [SETUP]: the guard's verdict agrees with the server
probe() {
  local min=$1 label=$2 stmt=$3 setup=${4:-}
  if [ "$server" -lt "$min" ]; then
    n=$((n + 1)); echo "ok $n # SKIP $label: needs PostgreSQL $((min / 10000)) (server $server)"; return
  fi
  if [ -n "$setup" ]; then q -q -c "SET schema_guard.mode = off" -c "$setup" >/dev/null; fi
  local row
  row=$(q -F '|' -c "SELECT rules, observed_lock, rewritten, scanned, agrees FROM sg_test.probe(\$l\$$label\$l\$, \$s\$$stmt\$s\$, 'v_items')")
  ok "${row##*|}" "t" "$label: the guard's verdict agrees with the server [rules|lock|rewritten|scanned: ${row%|*}]"
  PROBE_ROW=$row
}
# expect TEXT REGEX DESCRIPTION: the verdict itself (a probe that agrees could still be
# the wrong kind of agreement, e.g. both silent)
expect() {
  n=$((n + 1))
  if [ "$server" -lt "$1" ]; then echo "ok $n # SKIP needs PostgreSQL $(($1 / 10000))"; return; fi
  if printf '%s' "$PROBE_ROW" | grep -Eq -- "$2"; then echo "ok $n - $3"
  else echo "not ok $n - $3"; echo "#   got: '$PROBE_ROW'"; echo "#   wanted match: '$2'"; failed=1; fi
}

# --- generated columns: STORED (every major) and VIRTUAL (18) -------------------------------
probe 120000 "add stored generated column" "ALTER TABLE v_items ADD COLUMN s int GENERATED ALWAYS AS (a * 2) STORED"
expect 120000 '^add_column_rewrite\|ACCESS EXCLUSIVE\|t\|' "a stored generated column rewrites the table (add_column_rewrite)"
probe 180000 "add virtual generated column" "ALTER TABLE v_items ADD COLUMN v int GENERATED ALWAYS AS (a * 2) VIRTUAL"
expect 180000 '^\|ACCESS EXCLUSIVE\|f\|f\|t$' "a virtual generated column rewrites and scans nothing: no verdict"
probe 180000 "add NOT NULL virtual generated column" "ALTER TABLE v_items ADD COLUMN v int GENERATED ALWAYS AS (a * 2) VIRTUAL NOT NULL"
expect 180000 '^set_not_null_scan\|ACCESS EXCLUSIVE\|f\|t\|t$' "a NOT NULL virtual generated column is checked against every row (set_not_null_scan)"

# --- SET EXPRESSION (17), on a stored and on a virtual (18) column --------------------------
probe 170000 "set expression of a stored generated column" "ALTER TABLE v_items ALTER COLUMN s SET EXPRESSION AS (a * 3)" \
  "ALTER TABLE v_items ADD COLUMN IF NOT EXISTS s int GENERATED ALWAYS AS (a * 2) STORED"
expect 170000 '^set_expression_rewrite\|ACCESS EXCLUSIVE\|t\|' "a stored column's new expression rewrites the table (set_expression_rewrite)"
probe 180000 "set expression of a virtual generated column" "ALTER TABLE v_items ALTER COLUMN v SET EXPRESSION AS (a * 3)" \
  "ALTER TABLE v_items ADD COLUMN IF NOT EXISTS v int GENERATED ALWAYS AS (a * 2) VIRTUAL"
expect 180000 '^\|ACCESS EXCLUSIVE\|f\|f\|t$' "a virtual column's new expression rewrites and scans nothing: no verdict"

# --- NOT NULL as a named constraint (18) -------------------------------------------------------
probe 180000 "add constraint not null" "ALTER TABLE v_items ADD CONSTRAINT v_items_b_nn NOT NULL b"
expect 180000 '^set_not_null_scan\|.*\|f\|t\|t$' "ADD CONSTRAINT ... NOT NULL scans the table (set_not_null_scan)"
probe 180000 "add constraint not null not valid" "ALTER TABLE v_items ADD CONSTRAINT v_items_b_nn NOT NULL b NOT VALID"
expect 180000 '^\|.*\|f\|f\|t$' "... NOT VALID scans nothing: no verdict"

# --- NOT ENFORCED (18) and ALTER CONSTRAINT ... ENFORCED ---------------------------------------
probe 180000 "add check not enforced" "ALTER TABLE v_items ADD CONSTRAINT v_items_b_pos CHECK (b > 0) NOT ENFORCED"
expect 180000 '^\|.*\|f\|f\|t$' "a NOT ENFORCED CHECK scans nothing: no verdict"
probe 180000 "add foreign key not enforced" "ALTER TABLE v_items ADD CONSTRAINT v_items_b_fk FOREIGN KEY (b) REFERENCES v_parent NOT ENFORCED"
expect 180000 '^\|.*\|f\|f\|t$' "a NOT ENFORCED FOREIGN KEY scans nothing: no verdict"
probe 180000 "alter constraint enforced" "ALTER TABLE v_items ALTER CONSTRAINT v_items_ne_fk ENFORCED" \
  "ALTER TABLE v_items ADD CONSTRAINT v_items_ne_fk FOREIGN KEY (b) REFERENCES v_parent NOT ENFORCED"
expect 180000 '^add_foreign_key_scan\|.*\|f\|t\|t$' "ALTER CONSTRAINT ... ENFORCED validates every row (add_foreign_key_scan)"

ok "$(q -c "SELECT count(*) FROM sg_test.results WHERE agrees IS NOT TRUE")" "0" "no probe disagrees"
(cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB") >/dev/null 2>&1
echo "1..$n"
exit $failed
