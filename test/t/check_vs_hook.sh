#!/usr/bin/env bash
# TAP: how exact is check()?  Held-out migration cases (test/fixtures/heldout/cases: psql
# scripts with meta-commands and variables, ORM and migration-tool output, DO blocks,
# procedures, renames, search_path, SET LOCAL schema_guard.*, drop-and-recreate, partitions,
# multi-file changes) each run for real with psql, in warn mode, on a fresh copy of a
# database with rows (test/fixtures/heldout/schema.sql): the hook's warnings and the
# server's errors are what happened.  The same files are judged by schema_guard.check()
# (one file) or schema_guard_lint (a directory: its *.sql files in one session, as
# psql -f a -f b runs them), and the two sets of (file, statement, rule) must be equal.
# Findings check() cannot see by design, or that another issue is fixing, are annotated in
# the fixture with the reason and counted apart (test/t/check_vs_hook.py).
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${HELDOUT_DIR:-$SG_TMP/schema_guard_heldout_test}
PORT=${HELDOUT_PORT:-$(sg_port 54334)}
FIX=$REPO_ROOT/test/fixtures/heldout
COMPARE=$REPO_ROOT/test/t/check_vs_hook.py
LINT=$PG_BIN/schema_guard_lint
mkdir -p "$SG_TMP"
W=$(mktemp -d "$SG_TMP/heldout.XXXXXX")
# the outputs ($W) and the cluster are kept when a test failed, or when named
on_exit 'cleanup_dir "$W" "${HELDOUT_KEEP:-}"'
on_exit 'cleanup_dir "$DIR" "${HELDOUT_DIR:-}"'
on_exit '[ "$failed" = 0 ] || echo "# outputs kept in $W"'
# Both sides judge tables by their real size: the hook always does, check() and the lint
# do with schema_guard.table_sizes = real / --real-sizes.
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'" \
  "schema_guard.mode = warn" "schema_guard.table_sizes = real" \
  "wal_level = minimal" "max_wal_senders = 0" "synchronous_commit = off"  # 86 CREATE DATABASE
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
psql -X -q -c "CREATE DATABASE heldout_fixture" >/dev/null
PGOPTIONS='-c schema_guard.mode=off' psql -X -q -v ON_ERROR_STOP=1 -d heldout_fixture \
  -c 'CREATE EXTENSION schema_guard' -f "$FIX/schema.sql" >"$W/fixture.log" 2>&1 || cat "$W/fixture.log"
psql -X -At -d heldout_fixture -c "SELECT rule_id FROM schema_guard.rules() WHERE default_action = 'block'" \
  > "$W/blocking_rules" 2>/dev/null

# One case: its own copy of the fixture, judged first (check() and the lint execute
# nothing and leave no trace), then run; the comparison goes to $W/$i.summary.
run_case() {
  local i=$1 c=$2 db=heldout_$1 root files f
  psql -X -q -c "CREATE DATABASE $db TEMPLATE heldout_fixture" >/dev/null
  if [ -d "$FIX/cases/$c" ]; then
    files=$(cd "$FIX/cases/$c" && ls *.sql)
    root=$FIX/cases/$c
    # shellcheck disable=SC2086
    (cd "$root" && timeout 60 "$LINT" -d "$db" --real-sizes --transaction none --format json $files) \
      >"$W/$i.check" 2>"$W/$i.check_err"
  else
    files=$c
    root=$FIX/cases
    timeout 60 psql -X -At -d "$db" -v name="$c" -v script="$(cat "$root/$c")" >"$W/$i.check" 2>"$W/$i.check_err" <<'SQL'
SELECT coalesce(json_agg(json_build_object('file', :'name', 'line', line, 'rule', rule) ORDER BY statement), '[]')
  FROM schema_guard.check(:'script');
SQL
  fi
  # what happened: psql runs the files in one session; its messages name file and line
  local args=()
  for f in $files; do args+=(-f "$f"); done
  (cd "$root" && timeout 60 psql -X -d "$db" -o /dev/null "${args[@]}" >/dev/null 2>"$W/$i.hook")
  psql -X -q -c "DROP DATABASE $db" >/dev/null
  /usr/bin/python3 "$COMPARE" "$root" "$W/$i.hook" "$W/$i.check" "$W/$i.json" >"$W/$i.summary" 2>&1
}

cases=$(cd "$FIX/cases" && ls -d *)
echo "1..$(( $(echo "$cases" | wc -l) + 2 ))"
i=0
for c in $cases; do  # two at a time: each case waits on its own round trips
  i=$((i + 1))
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  run_case "$i" "$c" &
done
wait
i=0
for c in $cases; do
  i=$((i + 1))
  ok "$(head -1 "$W/$i.summary")$(cat "$W/$i.check_err")" "agree" "$c: $(sed -n 2p "$W/$i.summary")"
  tail -n +3 "$W/$i.summary"
done

# The totals, side by side: every hook finding (a warning, or a server error), and those
# the hook stops in block mode (rules whose default action is block) or the server refuses.
/usr/bin/python3 - "$W" "$i" "$W/blocking_rules" > "$W/totals" <<'PY'
import json, sys
w, count, blocking = sys.argv[1], int(sys.argv[2]), set(open(sys.argv[3]).read().split()) | {"error"}
t = {}
def add(k, v):
    t[k] = t.get(k, 0) + v
for i in range(1, count + 1):
    r = json.load(open("%s/%d.json" % (w, i)))
    for k in ("hook", "check", "matched", "missed", "extra", "design_missed", "later_missed", "known_missed"):
        add(k, r[k])
    add("marked_extra", r["design"] + r["later"] + r["known"] - r["design_missed"] - r["later_missed"] - r["known_missed"])
    add("b_hook", sum(1 for x in r["hook_rules"] if x in blocking))
    add("b_matched", sum(1 for x in r["matched_rules"] if x in blocking))
    for k in ("design", "later", "known"):
        add("b_" + k, sum(1 for x in r[k + "_rules"] if x in blocking))
print(" ".join(str(t[k]) for k in ("hook", "check", "matched", "missed", "extra", "design_missed", "later_missed",
      "known_missed", "marked_extra", "b_hook", "b_matched", "b_design", "b_later", "b_known")))
PY
read -r hook check matched missed extra design later known marked_extra bhook bmatched bdesign blater bknown < "$W/totals"
echo "# held-out cases: $i; findings per statement and rule: hook $hook, check() $check"
echo "#   check() flags $matched of the hook's $hook; not flagged: $design by design (data or control flow"
echo "#   at deploy), $later left to issue 12a, $known known gaps, $missed unexpected"
echo "#   check() flags $((check - matched)) the hook did not: $marked_extra marked (12a, known), $extra unexpected"
echo "#   of the $bhook the hook stops in block mode (or the server refuses): check() flags $bmatched;"
echo "#   not flagged: $bdesign by design, $blater left to 12a, $bknown known gaps"
ok "$missed|$extra" "0|0" "check() flags exactly what the hook reports, apart from the marked findings"
ok "$([ "$i" -ge 60 ] && [ "$hook" -ge 100 ] && echo enough)" "enough" "at least 60 held-out cases and 100 hook findings"
exit $failed
