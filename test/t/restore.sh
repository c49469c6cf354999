#!/usr/bin/env bash
# TAP: backups restore with the guard on, default settings, and lose nothing.
# A database with the extension (rows, primary key, unique, foreign key, CHECK, partial
# index, partitioned table, materialized view, RLS policy, comments) is dumped and restored
# every way a DBA does it:
#   plain SQL through psql -X -v ON_ERROR_STOP=1 -f; pg_restore of a custom archive; a
#   directory archive with pg_restore -j 4; --clean over an existing copy; section by
#   section (pre-data, data, post-data: three sessions); schema-only then data-only (two
#   psql runs); pg_dumpall into a fresh cluster;
# as the superuser and as the database owner.  Each restore must exit 0, print no
# schema_guard message, and give a database whose `pg_dump -s` and row counts equal the
# source's.  The guard's setup passes are logged.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
BASE=$SG_TMP/schema_guard_restore
PORT=$(sg_port 54372)
PORT2=$(sg_port 54373)
DIR=$BASE/main
DIR2=$BASE/fresh
W=$BASE/work
on_exit 'stop_cluster "$DIR2"'   # started by hand below, as another bootstrap superuser
stop_cluster "$DIR"; stop_cluster "$DIR2"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'" "max_connections = 40"
rm -rf "$W"  # a previous run (another major's pg_dump) may have left its archives
mkdir -p "$W" && chown postgres "$W"
export PGHOST=$DIR/sock PGPORT=$PORT
b() { "$PG_BIN/$@"; }
as_super() { PGUSER=postgres "$@"; }
as_owner() { PGUSER=app_owner "$@"; }
sql() { b psql -X -At -v ON_ERROR_STOP=1 "$@"; }
log_size() { stat -c %s "$1/server.log"; }
log_since() { tail -c +$(( $2 + 1 )) "$1/server.log"; }


as_super sql -q -d postgres <<'SQL'
CREATE ROLE app_owner LOGIN;
CREATE ROLE app_reader LOGIN;
CREATE DATABASE src OWNER app_owner;
\c src
CREATE EXTENSION schema_guard;
SQL
# The owner fills its database in one session; a second session adds rows later.
as_owner sql -q -d src <<'SQL'
CREATE TABLE authors (id int PRIMARY KEY, email text UNIQUE, name text NOT NULL CHECK (name <> ''));
COMMENT ON TABLE authors IS 'people who write';
CREATE TABLE books (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, author_id int NOT NULL REFERENCES authors,
                    title text, price numeric CHECK (price >= 0), deleted boolean DEFAULT false);
CREATE INDEX books_title_live_idx ON books (title) WHERE NOT deleted;
CREATE INDEX books_author_idx ON books (author_id);
CREATE TABLE events (id bigint, at date NOT NULL, payload jsonb, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX events_payload_idx ON events USING gin (payload);
CREATE TABLE tenant_notes (id serial PRIMARY KEY, tenant_id int NOT NULL, note text);
ALTER TABLE tenant_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_notes USING (tenant_id = NULLIF(current_setting('app.tenant', true), '')::int);
GRANT SELECT ON tenant_notes TO app_reader;
SQL
as_owner sql -q -d src <<'SQL'
INSERT INTO authors SELECT g, 'a' || g || '@x', 'author ' || g FROM generate_series(1, 2000) g;
INSERT INTO books (author_id, title, price, deleted)
  SELECT 1 + g % 2000, 'title ' || g, g % 50, g % 10 = 0 FROM generate_series(1, 20000) g;
INSERT INTO events SELECT g, date '2024-01-01' + (g % 700), jsonb_build_object('k', g) FROM generate_series(1, 10000) g;
INSERT INTO tenant_notes (tenant_id, note) SELECT g % 7, 'n' || g FROM generate_series(1, 3000) g;
CREATE MATERIALIZED VIEW author_counts AS SELECT author_id, count(*) AS n FROM books GROUP BY author_id;
CREATE UNIQUE INDEX author_counts_key ON author_counts (author_id);
SQL

# What must survive: the schema as pg_dump prints it (minus the per-run \restrict key) and
# the rows of every table and materialized view.
schema() { as_super b pg_dump -s -h "${2:-$DIR}/sock" -p "${3:-$PORT}" -d "$1" | grep -v '^\\\(un\)\?restrict '; }
counts() {
  as_super sql -h "${2:-$DIR}/sock" -p "${3:-$PORT}" -d "$1" -c "
    SELECT string_agg(c.relname || '=' || (xpath('/row/n/text()',
             query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text, ' '
           ORDER BY c.relname)
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'm')"
}
schema src > "$W/src.schema"
src_counts=$(counts src)
ok "$(grep -c 'ADD CONSTRAINT\|CREATE.*INDEX\|CREATE POLICY\|ATTACH PARTITION' "$W/src.schema")|$src_counts" \
   "21|author_counts=2000 authors=2000 books=20000 events_2024=5324 events_2025=4676 tenant_notes=3000" \
   "the source database has its constraints, indexes, policy, partitions and rows"

as_super b pg_dump -d src -f "$W/plain.sql"
as_super b pg_dump -d src -Fc -f "$W/custom.dump"
as_super b pg_dump -d src -Fd -j 2 -f "$W/dir.dump"
as_super b pg_dump -d src -s -f "$W/schema.sql"
as_super b pg_dump -d src -a -f "$W/data.sql"
chmod -R a+rX "$W"

# check NAME DB STDERR_FILE EXIT: exit 0, no schema_guard message, same schema and rows
check() {
  local name=$1 db=$2 err=$3 rc=$4
  local msgs; msgs=$(grep -c 'schema_guard' "$err")
  ok "$rc|$msgs" "0|0" "$name: exits 0, no schema_guard message$( [ "$rc|$msgs" != "0|0" ] && echo " ($(grep -m3 -E 'ERROR|WARNING|error' "$err" | tr '\n' ' ' | head -c 600))")"
  schema "$db" > "$W/$db.schema"
  ok "$(diff "$W/src.schema" "$W/$db.schema" | head -20)|$(counts "$db")" "|$src_counts" "$name: pg_dump -s identical, row counts equal"
}
newdb() { as_super sql -q -d postgres -c "CREATE DATABASE $1 OWNER app_owner"; }

mark=$(log_size "$DIR")
newdb r_plain
as_super b psql -X -q -v ON_ERROR_STOP=1 -d r_plain -f "$W/plain.sql" >/dev/null 2>"$W/err"; check "plain, psql -f (superuser)" r_plain "$W/err" $?
newdb r_custom
as_super b pg_restore -e -d r_custom "$W/custom.dump" 2>"$W/err"; check "custom, pg_restore (superuser)" r_custom "$W/err" $?
newdb r_dir
as_super b pg_restore -e -j 4 -d r_dir "$W/dir.dump" 2>"$W/err"; check "directory, pg_restore -j 4 (superuser)" r_dir "$W/err" $?
# --clean: PostgreSQL 15's pg_restore itself fails to drop a partition's inherited primary
# key (guard or not); it carries on and the result is whole.  Its errors must be exactly
# those of the same restore with the guard off.
clean() {  # clean DB USER [pg_restore options]: errors of pg_restore --clean over the copy
  local db=$1 user=$2; shift 2
  PGUSER=$user b pg_restore --clean --if-exists "$@" -d "$db" "$W/custom.dump" 2>&1 | grep -v '^pg_restore: warning: errors ignored'
}
newdb r_clean_off
as_super b pg_restore -d r_clean_off "$W/custom.dump" 2>/dev/null
PGOPTIONS="-c schema_guard.mode=off" clean r_clean_off postgres | sed 's/r_clean_off/DB/g' > "$W/err.clean_off"
clean r_custom postgres | sed 's/r_custom/DB/g' > "$W/err.clean"
ok "$(diff "$W/err.clean_off" "$W/err.clean")|$(grep -c schema_guard "$W/err.clean")|$(grep -c 'cannot drop inherited constraint' "$W/err.clean")" "|0|2" \
   "custom, pg_restore --clean over the restored copy (superuser): the errors are PostgreSQL's own, as with the guard off"
check "custom, pg_restore --clean over the restored copy (superuser)" r_custom /dev/null 0
newdb r_sections
rc=0; : > "$W/err.sections"
for section in pre-data data post-data; do
  as_super b pg_restore -e --section=$section -d r_sections "$W/custom.dump" 2>>"$W/err.sections" || rc=1
done
check "custom, pg_restore section by section, three sessions (superuser)" r_sections "$W/err.sections" $rc
newdb r_split
# (a data-only dump leaves materialized views unpopulated: their REFRESH is post-data;
# the DBA refreshes them afterwards, in a third session)
{ as_super b psql -X -q -v ON_ERROR_STOP=1 -d r_split -f "$W/schema.sql" >/dev/null &&
  as_super b psql -X -q -v ON_ERROR_STOP=1 -d r_split -f "$W/data.sql" >/dev/null &&
  as_super b psql -X -q -v ON_ERROR_STOP=1 -d r_split -c "SET lock_timeout = '10s'" -c 'REFRESH MATERIALIZED VIEW author_counts'; } 2>"$W/err"
check "schema-only then data-only, two psql runs, then REFRESH (superuser)" r_split "$W/err" $?
log=$(log_since "$DIR" "$mark")
ok "$(printf '%s\n' "$log" | grep -c 'schema_guard: blocked')|$(grep -q 'schema_guard: setup pass for .*: created earlier by this session' <<<"$log" && echo yes)|$(grep -q 'schema_guard: setup pass for .*: pg_restore session' <<<"$log" && echo yes)" \
   "0|yes|yes" \
   "the server log has no block, and LOG lines for both kinds of setup pass"

# As the database owner: CREATE EXTENSION needs a superuser, so one creates the extension in
# the new database first; the dump's own CREATE EXTENSION IF NOT EXISTS is then a no-op.
# The dump's COMMENT ON EXTENSION needs the extension's owner (as for every superuser-only
# extension, schema_guard or not): the owner restores without the extension's own entries.
owner_db() { newdb "$1"; as_super sql -q -d "$1" -c "CREATE EXTENSION schema_guard"; }
as_super b pg_restore -l "$W/custom.dump" |
  grep -v ' SCHEMA - schema_guard \| EXTENSION - schema_guard \| COMMENT - EXTENSION schema_guard ' > "$W/owner.list"
grep -v '^\(CREATE SCHEMA schema_guard;\|ALTER SCHEMA schema_guard OWNER TO\|CREATE EXTENSION IF NOT EXISTS schema_guard\|COMMENT ON EXTENSION schema_guard\)' \
  "$W/plain.sql" > "$W/owner_plain.sql"
chmod a+r "$W"/owner*
ok "$(( $(wc -l < "$W/plain.sql") - $(wc -l < "$W/owner_plain.sql") ))|$(( $(as_super b pg_restore -l "$W/custom.dump" | wc -l) - $(wc -l < "$W/owner.list") ))" "4|3" \
   "the owner's copies leave out exactly the extension's statements (its schema, owner, extension, comment)"
owner_db o_plain
as_owner b psql -X -q -v ON_ERROR_STOP=1 -d o_plain -f "$W/owner_plain.sql" >/dev/null 2>"$W/err"; check "plain, psql -f (owner)" o_plain "$W/err" $?
owner_db o_custom
as_owner b pg_restore -e -L "$W/owner.list" -d o_custom "$W/custom.dump" 2>"$W/err"; check "custom, pg_restore (owner)" o_custom "$W/err" $?
owner_db o_dir
as_owner b pg_restore -e -j 4 -L "$W/owner.list" -d o_dir "$W/dir.dump" 2>"$W/err"; check "directory, pg_restore -j 4 (owner)" o_dir "$W/err" $?
clean o_custom app_owner -L "$W/owner.list" | sed 's/o_custom/DB/g' > "$W/err.clean"
ok "$(diff "$W/err.clean_off" "$W/err.clean")|$(grep -c schema_guard "$W/err.clean")" "|0" \
   "custom, pg_restore --clean (owner): the errors are PostgreSQL's own, as with the guard off"
check "custom, pg_restore --clean (owner)" o_custom /dev/null 0
owner_db o_sections
rc=0; : > "$W/err.sections"
for section in pre-data data post-data; do
  as_owner b pg_restore -e -L "$W/owner.list" --section=$section -d o_sections "$W/custom.dump" 2>>"$W/err.sections" || rc=1
done
check "custom, section by section (owner)" o_sections "$W/err.sections" $rc

# pg_dumpall into a fresh cluster.  Its script creates every role of the old cluster, the
# restoring one included, which fails when that role exists: the fresh cluster's bootstrap
# superuser has another name (pg_dumpall's own behaviour, nothing to do with the guard).
as_super b pg_dumpall -f "$W/all.sql"
chmod a+r "$W/all.sql"
rm -rf "$DIR2"; mkdir -p "$DIR2/sock"; chown -R postgres "$DIR2"
(cd / && runuser -u postgres -- "$PG_BIN/initdb" -D "$DIR2/data" -U restorer -A trust --no-sync >/dev/null)
cat >>"$DIR2/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$DIR2/sock'
port = $PORT2
fsync = off
shared_preload_libraries = 'schema_guard'
EOF
(cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DIR2/data" -l "$DIR2/server.log" -w start >/dev/null)
PGUSER=restorer b psql -X -q -v ON_ERROR_STOP=1 -h "$DIR2/sock" -p "$PORT2" -d postgres -f "$W/all.sql" >/dev/null 2>"$W/err"
rc=$?
ok "$rc|$(grep -c schema_guard "$W/err")" "0|0" "pg_dumpall into a fresh cluster: exits 0, no schema_guard message$( [ $rc != 0 ] && echo " ($(grep -m3 ERROR "$W/err" | tr '\n' ' '))")"
schema src "$DIR2" "$PORT2" > "$W/all.schema"
ok "$(diff "$W/src.schema" "$W/all.schema" | head -20)|$(counts src "$DIR2" "$PORT2")" "|$src_counts" "pg_dumpall: pg_dump -s identical, row counts equal"
ok "$(PGUSER=restorer b psql -X -At -h "$DIR2/sock" -p "$PORT2" -d src -c "SELECT active FROM schema_guard.status()")" "t" "the guard is active in the restored database"

# --single-transaction (the old workaround) still works, and a restore the guard had to
# judge as an application does is still blocked: a pg_restore session under another
# application name, restoring indexes onto tables an earlier session created and filled.
newdb r_single
as_super b pg_restore -e --single-transaction -d r_single "$W/custom.dump" 2>"$W/err"; check "custom, pg_restore --single-transaction (superuser)" r_single "$W/err" $?
newdb r_app
as_super b pg_restore -e --section=pre-data --section=data -d r_app "$W/custom.dump" 2>/dev/null
PGAPPNAME=deploy as_super b pg_restore -e --section=post-data -d r_app "$W/custom.dump" 2>"$W/err"
rc=$?
ok "$rc|$(grep -m1 -o 'schema_guard: [a-z_]*' "$W/err")" "1|schema_guard: add_constraint_index_build" \
   "post-data under application_name deploy, onto tables filled by an earlier session: blocked"

ok "$(grep -c 'terminated by signal\|TRAP:' "$DIR/server.log" "$DIR2/server.log" | awk -F: '{s+=$2} END {print s}')" "0" "no crash"
echo "1..$n"
cleanup_dir "$BASE"
exit $failed
