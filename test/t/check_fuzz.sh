#!/usr/bin/env bash
# TAP: a mutation fuzz of check() and explain() (issue 9).  The corpus is this
# repository's own migration-shaped SQL (the pg_regress inputs and the lint fixtures:
# psql meta-commands, dollar quotes, BEGIN ATOMIC, COPY data, multibyte text); each
# round cuts, repeats, truncates or splices a script and inserts tokens that move the
# lexer (quotes, dollar quotes, comment openers, backslashes, semicolons, multibyte
# characters, psql variables and meta-commands).  Bounded in count and time.  Asserts:
# no crash in the server log, no internal error (XX000), no "cache lookup failed", the
# session stays up, and check() leaves nothing behind (no table, no lock).
# Runs its own throwaway cluster.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
DIR=${FUZZ_DIR:-$(mktemp -d "$SG_TMP/sg_fuzz.XXXXXX")}
PORT=${FUZZ_PORT:-$(sg_port 54392)}
ROUNDS=${FUZZ_ROUNDS:-1500}
SECONDS_MAX=${FUZZ_SECONDS:-40}
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres PGDATABASE=sg_fuzz
q() { "$PG_BIN/psql" -X -At -v ON_ERROR_STOP=1 "$@" 2>&1; }
on_exit 'cleanup_dir "$DIR" "${FUZZ_DIR:-}"'

echo "1..6"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'" "log_min_messages = warning"
q -d postgres -c "CREATE DATABASE sg_fuzz" >/dev/null
q -q <<'SQL' >/dev/null
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
CREATE TABLE fuzz_corpus (name text, body text);
CREATE TABLE app_t (id int PRIMARY KEY, v text CHECK (v <> ''));
INSERT INTO app_t SELECT g, 'v' || g FROM generate_series(1, 2000) g;
CREATE TABLE fuzz_result (sqlstate text, message text);
SQL
# A migration that judges on every line (most pg_regress inputs wrap their DDL in
# function calls, which check() does not look into): it anchors half of the rounds.
cat >"$DIR/migration.sql" <<'MIGRATION'
\set ON_ERROR_STOP 1
\set tbl app_t
BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE :tbl ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE app_t ALTER COLUMN v TYPE varchar(40);
CREATE INDEX app_t_v_idx ON app_t (v);
ALTER TABLE app_t ADD CONSTRAINT app_t_v_check2 CHECK (length(v) < 100);
ALTER TABLE app_t ALTER COLUMN v SET NOT NULL;
CREATE TABLE app_child (id int PRIMARY KEY, t_id int REFERENCES app_t (id));
ALTER TABLE app_child ADD CONSTRAINT c_fk FOREIGN KEY (t_id) REFERENCES app_t (id) NOT VALID;
COMMIT;
CREATE INDEX CONCURRENTLY app_t_v2_idx ON app_t (lower(v));
DO $$ BEGIN EXECUTE 'ALTER TABLE app_t RENAME COLUMN v TO w'; END $$;
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
COPY app_t (id, v) FROM stdin;
9999	é日本語
\.
VACUUM FULL app_t;
ALTER TABLE app_t SET SCHEMA other;
DROP TABLE app_t CASCADE;
MIGRATION
printf "INSERT INTO fuzz_corpus VALUES ('migration', :'body');\n" | q -q -v body="$(cat "$DIR/migration.sql")" >/dev/null
loaded=0
for f in "$REPO_ROOT"/sql/guard_*.sql "$REPO_ROOT"/test/fixtures/lint/*.sql "$REPO_ROOT"/test/fixtures/lint/*/*.sql; do
  [ -f "$f" ] || continue
  # psql does not interpolate inside the dollar-quoted body of a variable's value
  printf "INSERT INTO fuzz_corpus VALUES (:'name', :'body');\n" |
    q -q -v name="$(basename "$f")" -v body="$(cat "$f")" >/dev/null && loaded=$((loaded + 1))
done
ok "$([ "$loaded" -ge 10 ] && echo yes)|$(q -c "SELECT count(*) > 5 FROM schema_guard.check((SELECT body FROM fuzz_corpus WHERE name = 'migration'))")" "yes|t" \
  "corpus loaded ($loaded scripts and a migration that check() judges on every line)"

start=$(date +%s)
q -q -v rounds="$ROUNDS" -v seconds="$SECONDS_MAX" <<'SQL' >"$DIR/fuzz.out"
SET schema_guard.mode = block;
SELECT setseed(0.4242), set_config('fuzz.rounds', :'rounds', false), set_config('fuzz.seconds', :'seconds', false);
DO $fuzz$
DECLARE
  tokens text[] := ARRAY['''', '"', '$$', '$a$', '$a', ';', '(', ')', '/*', '*/', '--', E'\\',
                         E'\n', E'\\\\', E'\n\\if :x\n', E'\n\\endif\n', E'\n\\set x 1\n', ':x', ':''x''',
                         ':"x"', 'BEGIN ATOMIC', 'END;', 'é', '日本語', '𝄞', E'\n\\i other.sql\n',
                         E'\nCOPY app_t FROM stdin;\n', E'\n\\.\n', 'E''', 'U&''', '[', ']', E'\t',
                         'DO $$ BEGIN EXECUTE ''ALTER TABLE app_t ADD COLUMN z int DEFAULT random()''; END $$;',
                         'ALTER TABLE app_t ALTER COLUMN v TYPE int USING length(v);',
                         'CREATE INDEX ON app_t (v);', 'SET LOCAL schema_guard.allow = ''drop_column'';'];
  corpus text[];
  anchor text := (SELECT body FROM fuzz_corpus WHERE name = 'migration');
  src text; m text; len int; a int; b int; k int; i int := 0;
  deadline timestamptz := clock_timestamp() + make_interval(secs => current_setting('fuzz.seconds')::int);
BEGIN
  SELECT array_agg(body ORDER BY name) INTO corpus FROM fuzz_corpus;
  WHILE i < current_setting('fuzz.rounds')::int AND clock_timestamp() < deadline LOOP
    i := i + 1;
    IF random() < 0.5 THEN
      src := anchor;
    ELSE
      src := corpus[1 + floor(random() * array_length(corpus, 1))::int];
    END IF;
    len := length(src);
    a := floor(random() * (len + 1))::int;
    b := a + floor(random() * 200)::int;
    k := floor(random() * 6)::int;
    m := CASE k
      WHEN 0 THEN overlay(src placing '' from a + 1 for b - a)                      -- cut a span
      WHEN 1 THEN left(src, a)                                                      -- truncate
      WHEN 2 THEN left(src, a) || tokens[1 + floor(random() * array_length(tokens, 1))::int] || substr(src, a + 1)
      WHEN 3 THEN left(src, a) || substr(src, a + 1, b - a) || substr(src, a + 1)   -- repeat a span
      WHEN 4 THEN substr(src, a + 1) || left(src, a)                                -- rotate
      ELSE left(src, a) || corpus[1 + floor(random() * array_length(corpus, 1))::int] -- splice two scripts
    END;
    BEGIN
      IF i % 5 = 0 THEN
        PERFORM count(*) FROM schema_guard.explain(m);
      ELSE
        PERFORM count(*) FROM schema_guard.check(m);
      END IF;
      INSERT INTO fuzz_result VALUES ('00000', NULL);
    EXCEPTION WHEN OTHERS THEN
      INSERT INTO fuzz_result VALUES (SQLSTATE, left(SQLERRM, 200));
    END;
  END LOOP;
END
$fuzz$;
SELECT count(*) FROM fuzz_result;
SQL
rc=$?
[ "$rc" != 0 ] && sed "s/^/#   /" "$DIR/fuzz.out" | head -20
elapsed=$(( $(date +%s) - start ))
runs=$(q -c "SELECT count(*) FROM fuzz_result")
echo "# $runs mutated scripts in ${elapsed}s; outcomes by SQLSTATE:"
q -c "SELECT sqlstate || ' ' || count(*) FROM fuzz_result GROUP BY sqlstate ORDER BY sqlstate" | sed 's/^/#   /'
ok "$rc|$([ "${runs:-0}" -ge 100 ] && echo many)" "0|many" "the fuzz loop ran to its end (at least 100 scripts, bounded by count and time)"
internal=$(q -c "SELECT count(*) FROM fuzz_result WHERE sqlstate = 'XX000' OR message ~ 'cache lookup failed|deleted while still in use'")
ok "$internal" 0 "no internal error (XX000, cache lookup failed)"
[ "$internal" != 0 ] && q -c "SELECT DISTINCT message FROM fuzz_result WHERE sqlstate = 'XX000' LIMIT 5" | sed 's/^/#   /'
ok "$(q -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname NOT IN ('fuzz_corpus', 'fuzz_result', 'app_t', 'app_t_pkey') AND relkind IN ('r', 'i', 'v', 'm', 'S', 'p')")|$(q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app_t'::regclass AND attnum > 0 AND NOT attisdropped")" \
  "0|2" "check() and explain() left nothing behind (no relation, no column)"
ok "$(q -c "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND pid <> pg_backend_pid()")|$(q -c 'SELECT 1')" "0|1" \
  "no lock left and the server still answers"
crashes=$(grep -c "terminated by signal\|PANIC\|TRAP:" "$DIR/server.log")
ok "$crashes" 0 "no crash in the server log"
[ "$crashes" != 0 ] && grep -m5 "terminated by signal\|PANIC\|TRAP:" "$DIR/server.log" | sed 's/^/#   /'
exit $failed
