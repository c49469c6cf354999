#!/usr/bin/env bash
# PostgreSQL's own core regression suite (src/test/regress, parallel_schedule) under the
# guard.  Not part of CI (several minutes).  Four runs of the same suite, each on its own
# fresh cluster with the same settings:
#   unguarded  schema_guard not loaded
#   installed  CREATE EXTENSION schema_guard in the regression database, library not
#              preloaded (the extension's objects exist, no hook: the baseline for "off")
#   warn       schema_guard preloaded, CREATE EXTENSION schema_guard in the regression
#              database (pg_regress --load-extension), schema_guard.mode = warn
#   off        the same with schema_guard.mode = off
# and then schema_guard.check() over every file of the corpus.
# Reports: test files run, statements executed (log_statement = all), crashes
# ("terminated by signal"), ERRORs present in the warn run and not in the unguarded run
# (must be 0), differences between the off run and the installed run (must be 0; against
# the unguarded run only catalog listings that show the extension's objects differ), and the
# guard's verdicts on the corpus.  The runs are compared with each other, not with
# expected/: the sources are the release the main archive serves (15.18 on bookworm), the
# server may be a later minor release.
#
# The sources come from Debian's source package: a deb-src twin of the main bookworm entry
# is added to apt's sources if missing, then
#   apt-get source --download-only postgresql-15=<version listed by apt-cache showsrc>
# unpacked with dpkg-source into a temporary directory (nothing of PostgreSQL's is kept in
# the repository).  regress.so, autoinc.so and refint.so are built from that tree with PGXS.
# If the download is impossible, PGSRC (an unpacked postgresql-15 source tree) is used.
#
# Usage: bash bench/pg_regress_under_guard.sh      (PGREGRESS_SKIP_BUILD=1: installed build;
#        PGREGRESS_DROP_LINES=regex: leave matching lines out of the suite, see below)
source "$(dirname "$0")/../scripts/lib.sh"
set +e   # pg_regress and grep -c report through their exit status; handled below
if [ -z "${PGREGRESS_SKIP_BUILD:-}" ]; then install_deps; build_install; fi
WORK=${PGREGRESS_WORK:-$(mktemp -d "$SG_TMP/sg_pgregress.XXXXXX")}   # kept: the diffs it reports are in it
chmod 755 "$WORK"
PORT=${PGREGRESS_PORT:-$(sg_port 54370)}
runs="unguarded installed warn off"
cleanup() { for r in $runs; do stop_cluster "$WORK/$r"; done; }
trap cleanup EXIT
say() { echo "== $*"; }

# --- 1. sources ----------------------------------------------------------------------------
SRC_LIST=/etc/apt/sources.list.d/debian-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  say "adding $SRC_LIST (deb-src twin of the main bookworm entry)"
  cat >"$SRC_LIST" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
command -v dpkg-source >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq dpkg-dev >/dev/null; }
VERSION=$(apt-cache showsrc "postgresql-$PG_MAJOR" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
if [ -z "$VERSION" ]; then
  apt-get update -qq >/dev/null 2>&1
  VERSION=$(apt-cache showsrc "postgresql-$PG_MAJOR" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
fi
SRC=""
mkdir -p "$WORK/dl"
if [ -n "$VERSION" ] && (cd "$WORK/dl" && apt-get source --download-only "postgresql-$PG_MAJOR=$VERSION" >"$WORK/dl/apt.log" 2>&1); then
  say "downloaded postgresql-$PG_MAJOR $VERSION source package"
  (cd "$WORK/dl" && dpkg-source -x --skip-debianization ./*.dsc "$WORK/postgresql-src" >/dev/null 2>&1 ||
                    dpkg-source -x ./*.dsc "$WORK/postgresql-src" >/dev/null)
  SRC=$WORK/postgresql-src
else
  SRC=${PGSRC:-$(ls -d /work/pgsrc/postgresql-$PG_MAJOR.* 2>/dev/null | tail -1)}
  say "download failed ($(tail -1 "$WORK/dl/apt.log" 2>/dev/null)); using the source tree $SRC"
fi
REG=$SRC/src/test/regress
[ -f "$REG/parallel_schedule" ] || { echo "no regression suite in '$SRC'"; exit 2; }
# PGREGRESS_DROP_LINES (an extended regex): lines of the suite's sql files to leave out of all
# three runs alike, e.g. a statement known to crash the guard, to measure the rest.
if [ -n "${PGREGRESS_DROP_LINES:-}" ]; then
  for f in "$REG"/sql/*.sql; do
    if grep -Eq -- "$PGREGRESS_DROP_LINES" "$f"; then
      say "left out of $(basename "$f"): $(grep -Ec -- "$PGREGRESS_DROP_LINES" "$f") line(s): $(grep -E -- "$PGREGRESS_DROP_LINES" "$f" | head -3 | tr '\n' ' ')"
      grep -Ev -- "$PGREGRESS_DROP_LINES" "$f" >"$f.tmp" && mv "$f.tmp" "$f"
    fi
  done
fi
SRC_VERSION=$(sed -n "s/^PACKAGE_VERSION='\(.*\)'/\1/p" "$SRC/configure" | head -1)
say "regression suite of PostgreSQL $SRC_VERSION; server $("$PG_BIN/postgres" --version | awk '{print $3}')"

# --- 2. test modules, built with PGXS --------------------------------------------------------
mkdir -p "$WORK/mods"
cp "$REG/regress.c" "$SRC/contrib/spi/autoinc.c" "$SRC/contrib/spi/refint.c" "$WORK/mods/"
cat >"$WORK/mods/Makefile" <<EOF
MODULES = regress autoinc refint
PG_CONFIG = $PG_BIN/pg_config
PGXS := \$(shell \$(PG_CONFIG) --pgxs)
include \$(PGXS)
EOF
make -s -C "$WORK/mods" >"$WORK/mods/build.log" 2>&1 || { cat "$WORK/mods/build.log"; exit 2; }
chown -R postgres:postgres "$WORK"

# --- 3. the three runs -------------------------------------------------------------------------
PG_REGRESS=$("$PG_BIN/pg_config" --pgxs | sed 's|/src/makefiles/pgxs.mk||')/src/test/regress/pg_regress
COMMON_CONF=("log_statement = 'all'" "log_min_messages = warning" "max_connections = 60"
             "log_line_prefix = '%m [%p] '" "lc_messages = 'C'")
run_suite() {  # run_suite NAME [extra pg_regress args] -- [extra conf lines]
  local name=$1; shift
  local args=() conf=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  conf=("$@")
  start_cluster "$WORK/$name" "$PORT" "${COMMON_CONF[@]}" "${conf[@]}"
  mkdir -p "$WORK/out_$name" && chown postgres:postgres "$WORK/out_$name"
  local t0=$(date +%s)
  (cd / && runuser -u postgres -- "$PG_REGRESS" --host="$WORK/$name/sock" --port="$PORT" \
      --user=postgres --inputdir="$REG" --outputdir="$WORK/out_$name" --dlpath="$WORK/mods" \
      --bindir="$PG_BIN" --schedule="$REG/parallel_schedule" "${args[@]}" >"$WORK/$name.pg_regress.log" 2>&1)
  echo "$(( $(date +%s) - t0 ))" >"$WORK/$name.seconds"
  stop_cluster "$WORK/$name"
  say "$name: $(grep -E 'tests (passed|failed)|failed \(|All [0-9]+ tests' "$WORK/$name.pg_regress.log" | tr -s ' ' | tr '\n' ' ') in $(cat "$WORK/$name.seconds") s"
}
run_suite unguarded
run_suite installed --load-extension=schema_guard
run_suite warn --load-extension=schema_guard -- "shared_preload_libraries = 'schema_guard'" "schema_guard.mode = warn"
run_suite off --load-extension=schema_guard -- "shared_preload_libraries = 'schema_guard'" "schema_guard.mode = off"

# --- 4. schema_guard.check() over the corpus, in the warn run's regression database ------------
# psql meta-commands and COPY ... FROM stdin data are removed; check() must give findings or
# a clear error for every file, never crash.
(cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/warn/data" -l "$WORK/warn_check.log" -w start >/dev/null)
mkdir -p "$WORK/check_corpus"
for f in "$REG"/sql/*.sql; do
  awk 'BEGIN { copy = 0 }
       copy && /^\\\./ { copy = 0; next }
       copy { next }
       /^[ \t]*\\/ { next }
       { print }
       toupper($0) ~ /^COPY .* FROM STDIN/ { copy = 1 }' "$f" >"$WORK/check_corpus/$(basename "$f")"
done
chown -R postgres:postgres "$WORK/check_corpus"
PSQL=("$PG_BIN/psql" -X -q -At -h "$WORK/warn/sock" -p "$PORT" -U postgres -d regression)
"${PSQL[@]}" -c "CREATE TABLE IF NOT EXISTS sg_check_corpus (file text, statements int, findings int, rules text, error text)" >/dev/null
# one file at a time; after a crash the server restarts, so wait for it before the next file
check_file() {
  local f=$1
  for _ in $(seq 1 60); do "$PG_BIN/pg_isready" -q -h "$WORK/warn/sock" -p "$PORT" && break; sleep 0.5; done
  "${PSQL[@]}" >/dev/null 2>>"$WORK/check_corpus.err" <<SQL
DO \$\$
DECLARE v_findings int; v_statements int; v_rules text; v_err text;
BEGIN
  SELECT count(*), max(statement), string_agg(DISTINCT rule, ',')
    INTO v_findings, v_statements, v_rules
    FROM schema_guard.check(pg_read_file('$f'));
  INSERT INTO sg_check_corpus VALUES ('$(basename "$f")', v_statements, v_findings, v_rules, NULL);
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT;
  INSERT INTO sg_check_corpus VALUES ('$(basename "$f")', NULL, NULL, NULL, SQLSTATE || ' ' || left(v_err, 120));
END \$\$;
SQL
}
for f in "$WORK"/check_corpus/*.sql; do
  crashes_before=$(grep -c 'terminated by signal' "$WORK/warn_check.log")
  check_file "$f"
  # no result and no new crash: the connection failed, try once more
  if [ "$(grep -c 'terminated by signal' "$WORK/warn_check.log")" = "$crashes_before" ] &&
     ! "${PSQL[@]}" -c "SELECT file FROM sg_check_corpus" 2>/dev/null | grep -qx "$(basename "$f")"; then
    check_file "$f"
  fi
done
check_files=$(ls "$WORK"/check_corpus/*.sql | wc -l)
check_missing=$(comm -23 <(cd "$WORK/check_corpus" && ls ./*.sql | sed 's|^\./||' | sort) \
                        <("${PSQL[@]}" -c "SELECT file FROM sg_check_corpus" | sort) | tr '\n' ' ')
check_ok=$("${PSQL[@]}" -c "SELECT count(*) FROM sg_check_corpus WHERE error IS NULL")
check_findings=$("${PSQL[@]}" -c "SELECT coalesce(sum(findings), 0) FROM sg_check_corpus")
check_errors=$("${PSQL[@]}" -c "SELECT coalesce(string_agg(DISTINCT split_part(error, ' ', 1), ','), '-') FROM sg_check_corpus WHERE error IS NOT NULL")
"${PSQL[@]}" -c "SELECT file || ': ' || error FROM sg_check_corpus WHERE error IS NOT NULL ORDER BY 1" >"$WORK/check_corpus.errors"
(cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/warn/data" -m fast -w stop >/dev/null)
check_crash=$(grep -c 'terminated by signal' "$WORK/warn_check.log")

# --- 5. the numbers ------------------------------------------------------------------------------
strip_guard() {  # a results file without the guard's WARNING and its DETAIL/HINT lines
  awk '/^WARNING:  schema_guard: / { skip = 1; next }
       skip && /^(DETAIL|HINT):  / { next }
       { skip = 0; print }' "$1"
}
files_run=$(ls "$WORK/out_unguarded/results/"*.out 2>/dev/null | wc -l)
sched_tests=$(grep '^test:' "$REG/parallel_schedule" | sed 's/^test://' | wc -w)
say "test files: $sched_tests in parallel_schedule; results: unguarded $files_run, warn $(ls "$WORK/out_warn/results/"*.out | wc -l), off $(ls "$WORK/out_off/results/"*.out | wc -l)"
for r in $runs; do
  stmts=$(grep -c 'LOG:  statement: ' "$WORK/$r/server.log")
  crashes=$(grep -c 'terminated by signal' "$WORK/$r/server.log")
  errs=$(cat "$WORK/out_$r/results/"*.out | grep -c '^ERROR:')
  say "$r: $stmts statements executed (log_statement), $crashes crashes, $errs ERRORs in the outputs, pg_regress: $(grep -Eo '[0-9]+ of [0-9]+ tests failed|All [0-9]+ tests passed' "$WORK/$r.pg_regress.log" | head -1)"
done
grep -h 'terminated by signal' "$WORK"/*/server.log | head -5

# ERRORs in the warn run that the unguarded run did not raise (per file, as multisets)
new_errors=0; : >"$WORK/new_errors.txt"
for f in "$WORK/out_unguarded/results/"*.out; do
  b=$(basename "$f")
  extra=$(comm -13 <(grep '^ERROR:' "$f" | sort) <(grep '^ERROR:' "$WORK/out_warn/results/$b" 2>/dev/null | sort))
  if [ -n "$extra" ]; then
    new_errors=$((new_errors + $(printf '%s\n' "$extra" | wc -l)))
    printf '%s: %s\n' "$b" "$extra" >>"$WORK/new_errors.txt"
  fi
done
say "ERRORs in the warn run and not in the unguarded run: $new_errors"
head -20 "$WORK/new_errors.txt"

# other differences warn vs unguarded, once the guard's warnings are removed
warn_diff_files=0; : >"$WORK/warn_vs_unguarded.diff"
for f in "$WORK/out_unguarded/results/"*.out; do
  b=$(basename "$f")
  if ! diff -u "$f" <(strip_guard "$WORK/out_warn/results/$b") >>"$WORK/warn_vs_unguarded.diff"; then warn_diff_files=$((warn_diff_files + 1)); fi
done
warned=$(cat "$WORK/out_warn/results/"*.out | grep -c '^WARNING:  schema_guard: ')
say "warn run: $warned guard WARNINGs in the outputs; files that differ from unguarded once they are removed: $warn_diff_files ($WORK/warn_vs_unguarded.diff)"
say "warn run, verdicts by rule (server log): $(grep -o 'schema_guard: warned [a-z_]*' "$WORK/warn/server.log" | awk '{print $3}' | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $2, $1}')"
say "warn run, backstop: $(grep -c 'schema_guard: prediction miss' "$WORK/warn/server.log") prediction misses"
grep -A2 'schema_guard: prediction miss' "$WORK/warn/server.log" | head -12

# off vs unguarded: identical outputs
# files_differing BASE OTHER: how many result files of run OTHER differ from run BASE
# (the diff goes to $WORK/OTHER_vs_BASE.diff)
files_differing() {
  local n=0 f; : >"$WORK/$2_vs_$1.diff"
  for f in "$WORK/out_$1/results/"*.out; do
    diff -u "$f" "$WORK/out_$2/results/$(basename "$f")" >>"$WORK/$2_vs_$1.diff" || n=$((n + 1))
  done
  echo $n
}
off_diff_files=$(files_differing unguarded off)
say "off run: files whose output differs from the unguarded run: $off_diff_files ($WORK/off_vs_unguarded.diff)"
grep '^+++ \|^--- ' "$WORK/off_vs_unguarded.diff" | grep '^+++' | head -10
# off vs installed: the same database contents, with and without the hook (mode = off)
off_inst_diff_files=$(files_differing installed off)
say "off run: files whose output differs from the installed run (must be 0): $off_inst_diff_files ($WORK/off_vs_installed.diff)"
grep '^+++' "$WORK/off_vs_installed.diff" | head -10

say "check() over the corpus: $check_files files, $check_ok analysed, $check_findings findings, errors: $check_errors, crashes: $check_crash${check_missing:+ (no result for: $check_missing)} ($WORK/check_corpus.errors)"
say "work directory: $WORK"
