#!/usr/bin/env bash
# TAP: schema_guard_lint end to end, as CI runs it: real-world-style migrations (psql
# scripts with meta-commands, includes and variables; a multi-file change; Django
# sqlmigrate output; COPY data), every output format, the exit codes, and hostile input
# (relation names that are shell code, NUL bytes, directories, stdin, bad options).
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${LINT_DIR:-$SG_TMP/schema_guard_lint_test}
PORT=${LINT_PORT:-$(sg_port 54332)}
FIX=$REPO_ROOT/test/fixtures/lint
echo "1..60"
W=$(mktemp -d)
chmod 755 "$W"  # the server reads a file of it with pg_read_file()
# (remove_dir also stops a --schema throwaway server a killed lint left in $W/tmp)
on_exit 'remove_dir "$W"'
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
CREATE TABLE accounts (id int PRIMARY KEY, email text);
INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 100) g;
CREATE SCHEMA musicbrainz;
CREATE TABLE musicbrainz.artist_credit (id int PRIMARY KEY, name text, edits_pending int);
INSERT INTO musicbrainz.artist_credit SELECT g, 'n' || g, 0 FROM generate_series(1, 100) g;
CREATE TABLE shop_order (id int PRIMARY KEY, total numeric(12,2));
INSERT INTO shop_order SELECT g, g FROM generate_series(1, 100) g;
CREATE TABLE plans (id int PRIMARY KEY, name text);
CREATE TABLE "evil
SG_LINT_BLOCKS -2 $(touch /tmp/sg_lint_pwned)" (a int);
SQL
LINT=$PG_BIN/schema_guard_lint
rm -f /tmp/sg_lint_pwned
cd "$W"

# --- basics ----------------------------------------------------------------------------
printf -- "-- safe migration\nSET lock_timeout = '2s';\nALTER TABLE accounts ADD COLUMN plan text;\n" > 0001_safe.sql
printf -- "SET lock_timeout = '2s';\n\n  CREATE INDEX accounts_email_idx ON accounts (email);\nDROP TABLE accounts;\n" > 0002_unsafe.sql
printf -- "ALTER TABLE accounts ADD COLUMN x int;\n" > 0003_warn_only.sql
out=$("$LINT" 0001_safe.sql); rc=$?
ok "$rc|$out" "0|" "a safe migration: exit 0, no output"
out=$("$LINT" 0002_unsafe.sql); rc=$?
ok "$rc" "1" "a blocking finding: exit 1"
ok "$(echo "$out" | head -1 | cut -d: -f1-4)" "0002_unsafe.sql:3:3: block[create_index_blocking]" "compiler-like file:line:column: action[rule]"
ok "$(echo "$out" | grep -c '^    hint: Use CREATE INDEX CONCURRENTLY')" "1" "the hint follows the finding"
ok "$(echo "$out" | grep -c 'warn\[drop_table\]')" "1" "warnings are listed too"
out=$("$LINT" 0003_warn_only.sql); rc=$?
ok "$rc|$(echo "$out" | grep -c 'warn\[lock_timeout_missing\]')" "0|1" "only warnings: exit 0"

# --- real-world-style migrations -----------------------------------------------------------
out=$("$LINT" "$FIX/musicbrainz/20240515-mbs-13547.sql" 2>&1); rc=$?
ok "$rc|$(echo "$out" | grep -c '')" "0|2" "psql script with \\ir, variables and \\if: judged, exit 0"
ok "$(echo "$out" | head -1 | sed 's|.*/||' | cut -d: -f1-4)" "20240515-mbs-13547.sql:21:84: warn[not_simulated]" "\\gexec is a note on its line and column"
sed 's/\\set reindex off/\\set reindex on/' "$FIX/musicbrainz/admin/session.sql" > session_reindex.sql
sed "s|\\\\ir admin/session.sql|\\\\i $W/session_reindex.sql|" "$FIX/musicbrainz/20240515-mbs-13547.sql" > mbs_reindex.sql
out=$("$LINT" mbs_reindex.sql 2>&1); rc=$?
ok "$rc|$(echo "$out" | grep -o '^mbs_reindex.sql:[0-9]*:[0-9]*: block\[create_index_blocking\].*musicbrainz.artist_credit' | cut -d: -f1-4)" \
   "1|mbs_reindex.sql:12:3: block[create_index_blocking]" "the \\if branch taken follows the included variable; :schema interpolated"
ok "$(echo "$out" | grep -c lock_timeout_missing)" "0" "lock_timeout set in the included file counts"
out=$("$LINT" "$FIX/include/0001_mid_statement.sql" 2>&1); rc=$?
ok "$rc|$(echo "$out" | sed "s|^$FIX/include/||" | grep -o '^[a-z0-9_/]*\.sql:[0-9]*:[0-9]*: [a-z]*\[[a-z_]*\]' | tr '\n' ' ')" \
   "1|parts/retype.sql:1:1: block[alter_column_type_rewrite] 0001_mid_statement.sql:4:1: block[create_index_blocking] 0001_mid_statement.sql:10:1: block[statement_error] " \
   "\\ir in the middle of a statement runs the file on its own (psql's buffer per file); \\g with an empty buffer sends the previous query again"

out=$("$LINT" "$FIX/change" 2>&1); rc=$?
ok "$rc" "1" "a multi-file change (directory, sorted): exit 1"
ok "$(echo "$out" | grep -c relation_missing)" "0" "the second file alters the table the first creates: no relation_missing"
ok "$(echo "$out" | grep -o '0002_invoices_index.sql:[0-9]*:[0-9]*: block\[[a-z_]*\]' | tr '\n' ' ')" \
   "0002_invoices_index.sql:7:1: block[set_not_null_scan] " "only the existing table's scan blocks"
ok "$(echo "$out" | grep -c transaction_block_error)" "0" "a file marked no-transaction runs CONCURRENTLY outside a transaction"
out=$("$LINT" --transaction single "$FIX/change" 2>&1)
ok "$(echo "$out" | grep -c 'block\[transaction_block_error\]')" "1" "--transaction single: CONCURRENTLY inside the one transaction fails"
out=$("$LINT" "$FIX/change/0002_invoices_index.sql" 2>&1)
ok "$(echo "$out" | grep -c 'block\[relation_missing\]')|$(echo "$out" | grep -c 'warn\[not_simulated\]')" "1|1" \
   "the second file alone: its table is missing, and the file's transaction fails there (the rest is a note)"

out=$("$LINT" "$FIX/django/0007_order_status.sql" 2>&1); rc=$?
ok "$rc|$(echo "$out" | grep -o 'sql:[0-9]*:[0-9]*: [a-z]*\[[a-z_]*\]' | tr '\n' ' ')" \
   "1|sql:5:1: warn[lock_timeout_missing] sql:11:1: block[create_index_blocking] " \
   "Django sqlmigrate output: one lock wait (later statements hold the lock already), the blocking index"
out=$("$LINT" "$FIX/seed/0010_seed_plans.sql" 2>&1); rc=$?
ok "$rc|$(echo "$out" | grep -c drop_table)|$(echo "$out" | grep -c 'warn\[truncate\]')" "0|0|1" "COPY ... FROM stdin data lines are data, not statements"

# --- formats --------------------------------------------------------------------------------
# one change, one session: the first file's SET lock_timeout still holds in the third,
# and the table the second file drops is gone for the third
out=$("$LINT" --format json 0001_safe.sql 0002_unsafe.sql 0003_warn_only.sql); rc=$?
ok "$rc|$(echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sorted({x["rule"] for x in d}))')" \
   "1|3 ['create_index_blocking', 'drop_table', 'relation_missing']" "JSON over several files (one session: the first file's SET counts in the third, the second's DROP too)"
ok "$(echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); x=d[0]; print(x["file"], x["line"], x["column"], x["relation"], x["lock_mode"])')" \
   "0002_unsafe.sql 3 3 accounts ShareLock" "JSON rows carry file, line, column, relation and lock"
out=$("$LINT" --format=github 0002_unsafe.sql)
ok "$(echo "$out" | head -1 | grep -c '^::error file=0002_unsafe.sql,line=3,col=3,title=schema_guard create_index_blocking::schema_guard: create_index_blocking: ')" "1" "GitHub Actions annotations"
ok "$(echo "$out" | grep -c '^::warning ')" "1" "warnings are ::warning"
out=$("$LINT" -f gitlab 0002_unsafe.sql)
ok "$(echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), d[0]["severity"], d[0]["location"]["path"], d[0]["location"]["lines"]["begin"], len({x["fingerprint"] for x in d}))')" \
   "2 critical 0002_unsafe.sql 3 2" "GitLab code quality report"
out=$("$LINT" --format sarif 0002_unsafe.sql)
ok "$(echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["runs"][0]; print(d["version"], len(r["results"]), r["results"][0]["level"], r["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"], sorted(x["id"] for x in r["tool"]["driver"]["rules"]))')" \
   "2.1.0 2 error 3 ['create_index_blocking', 'drop_table']" "SARIF 2.1.0"

# an empty table: judged as if large by default, by its real size with --real-sizes
psql -X -q -c "CREATE TABLE audit_log (id int, at timestamptz)" 2>/dev/null
printf -- "SET lock_timeout = '2s';\nCREATE INDEX audit_log_at_idx ON audit_log (at);\n" > 0004_empty_table.sql
out=$("$LINT" 0004_empty_table.sql); rc=$?
ok "$rc|$(echo "$out" | grep -c 'block\[create_index_blocking\]')" "1|1" "an empty table is judged as if it were large"
out=$("$LINT" --real-sizes 0004_empty_table.sql); rc=$?
ok "$rc|$out" "0|" "--real-sizes: the index build on the empty table is no finding"

# --- config file --------------------------------------------------------------------------------
printf '# team policy\nrules = create_index_blocking:warn, drop_table:off\nexclude = legacy/*\n' > lint.conf
mkdir -p legacy && cp 0002_unsafe.sql legacy/
out=$("$LINT" --config lint.conf 0002_unsafe.sql legacy/0002_unsafe.sql); rc=$?
ok "$rc|$(echo "$out" | grep -c '')|$(echo "$out" | grep -c 'warn\[create_index_blocking\]')" "0|2|1" "config: rule actions applied, path excluded"
cp lint.conf .schema_guard_lint.conf
out=$("$LINT" 0002_unsafe.sql); rc=$?
ok "$rc" "0" ".schema_guard_lint.conf in the working directory is read"
rm .schema_guard_lint.conf
printf 'rules = create_index_blocking:maybe\n' > bad.conf
"$LINT" --config bad.conf 0001_safe.sql >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'bad.conf:1' err)" "2|1" "an invalid config file: exit 2, naming the line"
# a rule off on the server, block in the config: the server judges with the config's actions
printf "SET lock_timeout = '2s';\nTRUNCATE plans;\n" > 0005_truncate.sql
printf 'rules = truncate:block\n' > strict.conf
out=$(PGOPTIONS='-c schema_guard.rules=truncate:off' "$LINT" 0005_truncate.sql); rc=$?
ok "$rc|$out" "0|" "(truncate off on the server: no finding without the config)"
out=$(PGOPTIONS='-c schema_guard.rules=truncate:off' "$LINT" --config strict.conf 0005_truncate.sql); rc=$?
ok "$rc|$(echo "$out" | grep -o '^0005_truncate.sql:2:1: block\[truncate\]')" "1|0005_truncate.sql:2:1: block[truncate]" \
   "config: a rule off on the server but block in the config is reported (applied where the server judges)"
printf 'rules = no_such_rule:block\n' > unknown_rule.conf
"$LINT" --config unknown_rule.conf 0001_safe.sql >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'config rules: .*no_such_rule' err)" "2|1" "config: a rule the server does not know: exit 2, naming it"

# --- connections ----------------------------------------------------------------------------------
( unset PGHOST PGPORT PGDATABASE
  "$LINT" -d "host=$DIR/sock port=$PORT dbname=postgres" 0002_unsafe.sql >/dev/null; echo "conninfo:$?"
  "$LINT" -d "postgresql://postgres@/postgres?host=$DIR/sock&port=$PORT" 0002_unsafe.sql >/dev/null; echo "uri:$?"
  "$LINT" -h "$DIR/sock" -p "$PORT" -d postgres 0001_safe.sql >/dev/null; echo "flags:$?" ) > conn.out 2>&1
ok "$(tr '\n' ' ' < conn.out)" "conninfo:1 uri:1 flags:0 " "-d takes a conninfo string or a URI"
"$LINT" -p 1 0001_safe.sql >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'cannot connect' err)" "2|1" "no server: exit 2 with the reason"
psql -X -q -c "CREATE DATABASE no_extension" 2>/dev/null
"$LINT" -d no_extension 0001_safe.sql >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'not installed in database "no_extension"' err)" "2|1" "no extension: exit 2, saying so (not a raw psql error)"

# --- hostile input ----------------------------------------------------------------------------------
printf 'CREATE INDEX ON "evil\nSG_LINT_BLOCKS -2 $(touch /tmp/sg_lint_pwned)" (a);\n' > evil.sql
out=$("$LINT" evil.sql); rc=$?
ok "$rc|$([ -e /tmp/sg_lint_pwned ] && echo pwned || echo safe)" "1|safe" "a relation name with a newline and \$(...) runs nothing, hides nothing"
out=$("$LINT" --format json evil.sql)
ok "$(echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["rule"], "SG_LINT_BLOCKS -2" in d[0]["relation"])')" "create_index_blocking True" "... and stays valid JSON"
printf 'SET lock_timeout = 0;\n\0DROP TABLE accounts;\n' > nul.sql
out=$("$LINT" nul.sql 0002_unsafe.sql 2>err); rc=$?
ok "$rc|$(grep -c 'nul.sql: binary file (NUL byte at offset 22)' err)|$(echo "$out" | grep -c 0002_unsafe.sql)" "2|1|2" "a NUL byte: exit 2 naming the file; the other files are still judged"
printf 'SELECT 1;\n\xff\xfe;\n' > latin.sql
"$LINT" latin.sql >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'latin.sql: not UTF-8' err)" "2|1" "invalid UTF-8: exit 2 naming the file"
"$LINT" missing.sql 0001_safe.sql >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'missing.sql: No such file' err)" "2|1" "an unreadable file: exit 2 naming it, not an abort of the run"
# unreadable, not missing: the suite runs as root, who reads anything; run as nobody
printf 'DROP TABLE accounts;\n' > secret.sql
chmod 000 secret.sql
out=$(runuser -u nobody -- "$LINT" secret.sql 0002_unsafe.sql 2>err); rc=$?
ok "$rc|$(grep -c 'secret.sql: Permission denied' err)|$(echo "$out" | grep -c '^0002_unsafe.sql:')|$(echo "$out" | grep -c secret.sql)" "2|1|2|0" \
   "a file without read permission: exit 2 naming it; the other files are still judged"
mkdir -p empty_dir
out=$("$LINT" empty_dir 2>err); rc=$?
ok "$rc|$out|$(cat err)" "0||schema_guard_lint: no migration files to check" "an empty directory: exit 0 with a note"
out=$("$LINT" 2>err); rc=$?
ok "$rc|$(cat err)" "0|schema_guard_lint: no migration files to check" "no file at all (git diff found none): exit 0 with a note"
out=$("$LINT" --format json 2>/dev/null); rc=$?
ok "$rc|$out" "0|[]" "... and valid JSON when JSON is asked for"
out=$("$LINT" --stdin-filename db/0042.sql - < 0002_unsafe.sql); rc=$?
ok "$rc|$(echo "$out" | head -1 | cut -d: -f1-3)" "1|db/0042.sql:3:3" "- reads standard input, named by --stdin-filename"
out=$("$LINT" /dev/stdin < 0002_unsafe.sql); rc=$?
ok "$rc|$(echo "$out" | head -1 | cut -d: -f1-3)" "1|/dev/stdin:3:3" "/dev/stdin is read like a file"
timeout 10 "$LINT" 0001_safe.sql --format >/dev/null 2>err; rc=$?
ok "$rc|$(grep -c 'needs a value' err)" "2|1" "--format as the last argument: exit 2 at once"
"$LINT" 0001_safe.sql -d >/dev/null 2>&1; rc=$?
ok "$rc" "2" "-d without a value: exit 2"
"$LINT" --format xml 0001_safe.sql >/dev/null 2>&1; rc=$?
ok "$rc" "2" "an unknown format: exit 2"
"$LINT" --no-such-option 0001_safe.sql >/dev/null 2>&1; rc=$?
ok "$rc" "2" "an unknown option: exit 2"

# --- what the server accepts ------------------------------------------------------------------------
printf "BEGIN;\nSET LOCAL lock_timeout = '2s';\nSET LOCAL schema_guard.allow = 'create_index_blocking';\nCREATE INDEX ON accounts (email);\nCOMMIT;\n" > allowed.sql
out=$("$LINT" allowed.sql); rc=$?
ok "$rc|$out" "0|" "SET LOCAL schema_guard.allow in the file is honoured for a role that may set it"
psql -X -q -c "CREATE ROLE ci LOGIN; GRANT USAGE ON SCHEMA schema_guard TO ci" 2>/dev/null
out=$(PGUSER=ci "$LINT" allowed.sql); rc=$?
ok "$rc|$(echo "$out" | grep -c 'block\[statement_error\].*permission denied to set parameter')|$(echo "$out" | grep -c 'create_index_blocking')" "1|1|0" \
   "... and not for a role that may not: the server refuses the SET, the transaction fails there"
psql -X -q -c "ALTER ROLE ci SET schema_guard.rules = 'truncate:off'" 2>/dev/null
out=$(PGUSER=ci "$LINT" --config strict.conf 0005_truncate.sql 2>err); rc=$?
ok "$rc|$out|$(grep -c "note: the config's rule actions apply to the reported findings only (permission denied" err)" "0||1" \
   "config: a role that may not set schema_guard.rules cannot turn a rule on (a note says so)"
psql -X -q -c "ALTER ROLE ci RESET schema_guard.rules" 2>/dev/null

# --- no database: --schema starts a throwaway server from the installed binaries -------------------
# in a private TMPDIR, so the check that it is removed sees only this test's servers (suites
# running in parallel create their own /tmp/schema_guard_lint.* directories)
export TMPDIR=$W/tmp
mkdir -p "$TMPDIR"
"$PG_BIN/pg_dump" -s -O -x postgres > schema.sql
psql -X -At -c "COPY (SELECT * FROM schema_guard.export_table_sizes()) TO STDOUT CSV" > sizes.csv
sed 's/^public\.accounts,.*/public.accounts,10737418240/' sizes.csv > sizes_10g.csv
printf "SET schema_guard.min_table_size = '1MB';\nSET lock_timeout = '1s';\nCREATE INDEX ON accounts (email);\nALTER TABLE missing_table ADD COLUMN x int;\n" > sized.sql
out=$(unset PGHOST PGPORT; "$LINT" --schema schema.sql sized.sql 2>err); rc=$?; cat err >&2
ok "$rc|$(echo "$out" | grep -o '[a-z]*\[[a-z_]*\]' | tr '\n' ' ')|$(grep -c . err)" "1|block[create_index_blocking] block[relation_missing] |0" \
   "--schema: judged against the dumped schema, no database needed (tables judged as if large)"
out=$(unset PGHOST PGPORT; "$LINT" --schema schema.sql --table-sizes sizes.csv sized.sql 2>err); rc=$?; cat err >&2
ok "$rc|$(echo "$out" | grep -o '[a-z]*\[[a-z_]*\]' | tr '\n' ' ')" "1|block[relation_missing] " \
   "--table-sizes: production's 8 kB accounts is below the script's min_table_size"
out=$(unset PGHOST PGPORT; "$LINT" --schema schema.sql --table-sizes sizes_10g.csv sized.sql 2>err); rc=$?; cat err >&2
ok "$rc|$(echo "$out" | grep -o '[a-z]*\[[a-z_]*\]' | tr '\n' ' ')" "1|block[create_index_blocking] block[relation_missing] " \
   "--table-sizes: a 10 GB accounts is judged"
ok "$(ls -A "$TMPDIR" | wc -l)" "0" "the throwaway server is removed"
unset TMPDIR

# check() and the lint agree (one engine)
n_check=$(psql -X -At -c "SELECT count(*) FROM schema_guard.check(pg_read_file('$W/0002_unsafe.sql'))")
n_lint=$("$LINT" --format json 0002_unsafe.sql | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
ok "$n_check" "$n_lint" "check() and the lint report the same findings"

# docs/lint.md shows exactly what --help prints
documented=$(sed -n '/<!-- lint-help:begin -->/,/<!-- lint-help:end -->/p' "$REPO_ROOT/docs/lint.md" | sed '1,2d;$d' | sed '$d')
ok "$(diff <("$LINT" --help) <(echo "$documented") >/dev/null && echo same || echo differs)" "same" "docs/lint.md shows what schema_guard_lint --help prints"
exit $failed
