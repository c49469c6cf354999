#!/usr/bin/env bash
# Set-up command 2: the whole test suite (pg_regress + pgTAP) on a throwaway cluster.
source "$(dirname "$0")/lib.sh"
install_deps
build_install
DIR=${TEST_DIR:-$SG_TMP/schema_guard_test}
PORT=${TEST_PORT:-$(sg_port 54330)}
trap 'stop_cluster "$DIR"' EXIT
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres

cd "$REPO_ROOT"
status=0
make -s schedulecheck || status=1
echo "== pg_regress"
if ! make -s installcheck PG_CONFIG="$PG_BIN/pg_config"; then
  [ -f regression.diffs ] && head -c 20000 regression.diffs
  status=1
fi
echo "== pgTAP"
(cd / && runuser -u postgres -- "$PG_BIN/createdb" -h "$PGHOST" -p "$PGPORT" schema_guard_tap)
export PGDATABASE=schema_guard_tap
psql -X -q -c 'CREATE EXTENSION pgtap; CREATE EXTENSION schema_guard;' >/dev/null
# The tests create their tables in the session that then probes them: judge those tables
# as if an earlier deploy had created them, and as if they were large (sql/guard_sizes.sql
# and test/t/workflows.sh test the size rules and the setup passes themselves).
psql -X -q -c 'ALTER DATABASE schema_guard_tap SET schema_guard.exempt_setup = off' \
          -c 'ALTER DATABASE schema_guard_tap SET schema_guard.table_sizes = assume_large' >/dev/null
pg_prove --pset tuples_only=1 test/*.sql || status=1
echo "== loading, logging and documentation (TAP)"
prove --exec bash test/t/*.sh || status=1

if grep -q "terminated by signal" "$DIR/server.log"; then
  echo "server crashed:"; grep -B2 -A2 "terminated by signal" "$DIR/server.log"; status=1
fi
exit $status
