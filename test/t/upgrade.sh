#!/usr/bin/env bash
# TAP: the upgrade paths from the released 0.1.0 and 0.2.0 give exactly a fresh install.
#  * databases sg_from_0_1_0 and sg_from_0_2_0: CREATE EXTENSION schema_guard VERSION
#    '<old>', then ALTER EXTENSION schema_guard UPDATE; database sg_fresh: CREATE
#    EXTENSION schema_guard;
#  * every extension member of each is described canonically (pg_describe_object, and
#    per kind: pg_get_functiondef, proconfig, volatility, parallel safety, strictness,
#    security, ACL, owner, comment; composite attributes; relations and view definitions;
#    event triggers; init privileges; what each member depends on and what depends on
#    it), with the extension's own record (version, schema), and each updated
#    description must be identical to the fresh one (the diff is printed otherwise);
#  * the audits return the same rows on the same fixture in every database;
#  * the schema: the extension lives in schema schema_guard (created by CREATE EXTENSION,
#    or an existing one a superuser owns; one owned by another role is refused), and
#    pg_dump | psql restores a fresh and an updated database;
#  * DROP EXTENSION in each updated database leaves nothing behind but the empty schema
#    schema_guard (PostgreSQL does not let an extension own its own schema) and DDL the
#    guard blocked before runs afterwards.
# Runs its own throwaway cluster (schema_guard preloaded).
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
# A directory of its own per run (the socket lives in it, so the port may be shared).
DIR=${UPGRADE_DIR:-$(mktemp -d "$SG_TMP/sg_upgrade.XXXXXX")}
PORT=${UPGRADE_PORT:-$(sg_port 54368)}
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres
q() { local db=$1; shift; "$PG_BIN/psql" -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$db" "$@" 2>&1; }
on_exit 'cleanup_dir "$DIR" "${UPGRADE_DIR:-}"'

sources="0.1.0 0.2.0"
dbname() { echo "sg_from_${1//./_}"; }
# (no autovacuum: its ANALYZE of the fresh fixture tables must not meet the audits)
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'" "autovacuum = off"
q postgres -q -c "CREATE DATABASE sg_from_0_1_0" -c "CREATE DATABASE sg_from_0_2_0" -c "CREATE DATABASE sg_fresh" >/dev/null

# ---------------------------------------------------------------------------
# 1. Install each released version and update; install the current version fresh.
target=$(q postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'schema_guard'")
for from in $sources; do
  db=$(dbname $from)
  ok_match "$(q postgres -c "SELECT path FROM pg_extension_update_paths('schema_guard') WHERE source = '$from' AND target = '$target'")" \
    "^${from//./\\.}--(.*--)?$target\$" "an update path $from -> $target exists"
  ok "$(q $db -c "CREATE EXTENSION schema_guard VERSION '$from'" -c "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'")" \
    $'CREATE EXTENSION\n'"$from" "CREATE EXTENSION schema_guard VERSION '$from'"
  ok "$(q $db -c "ALTER EXTENSION schema_guard UPDATE")" "ALTER EXTENSION" \
    "ALTER EXTENSION schema_guard UPDATE from $from runs without error, warning or notice"
done
ok "$(q sg_fresh -c "CREATE EXTENSION schema_guard")" "CREATE EXTENSION" "CREATE EXTENSION schema_guard (fresh $target)"
ok "$(for db in $(for f in $sources; do dbname $f; done) sg_fresh; do
        q $db -c "SELECT extversion || ' in ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'schema_guard'"; done | sort -u)" \
  "$target in schema_guard" "extversion is $target (the control file's default_version) and the schema is schema_guard in every database"
ok "$(for db in $(for f in $sources; do dbname $f; done) sg_fresh; do
        q $db -c "SELECT library_version || '|' || extension_version FROM schema_guard.status()"; done | sort -u)" \
  "$target|$target" "status() reports library and extension version $target in every database"

# ---------------------------------------------------------------------------
# 2. Canonical description of the extension and every member: one line per fact,
# "object | fact: value", multi-line values split into lines.
cat >"$DIR/describe.sql" <<'SQL'
WITH ext AS (
  SELECT e.* FROM pg_extension e WHERE e.extname = 'schema_guard'
), member AS (
  SELECT d.classid, d.objid, d.objsubid, d.deptype,
         pg_describe_object(d.classid, d.objid, d.objsubid) AS obj
  FROM pg_depend d JOIN ext ON d.refobjid = ext.oid
  WHERE d.refclassid = 'pg_extension'::regclass
), acols AS (      -- the attributes of a relation or composite type, dropped ones included
  SELECT a.attrelid,
         string_agg(format('%s %s %s%s%s%s', a.attnum, quote_ident(a.attname),
                           format_type(a.atttypid, a.atttypmod),
                           CASE WHEN a.attcollation <> 0 THEN ' COLLATE ' || a.attcollation::regcollation END,
                           CASE WHEN a.attnotnull THEN ' NOT NULL' END,
                           CASE WHEN a.attisdropped THEN ' (dropped)' END),
                    E'\n' ORDER BY a.attnum) AS cols
  FROM pg_attribute a WHERE a.attnum > 0 GROUP BY a.attrelid
), facts(obj, key, val) AS (
  SELECT 'extension schema_guard', 'row',
         format('version=%s relocatable=%s schema=%s owner=%s config=%s condition=%s',
                extversion, extrelocatable, extnamespace::regnamespace, extowner::regrole,
                extconfig::regclass[], extcondition)
  FROM ext
  UNION ALL
  SELECT m.obj, 'dependency on the extension', m.deptype::text FROM member m
  UNION ALL
  SELECT m.obj, 'comment', coalesce(
           (SELECT ds.description FROM pg_description ds
            WHERE ds.classoid = m.classid AND ds.objoid = m.objid AND ds.objsubid = m.objsubid), '(none)')
  FROM member m
  UNION ALL
  SELECT m.obj, 'init privileges', format('sub %s %s %s', ip.objsubid, ip.privtype, ip.initprivs)
  FROM member m JOIN pg_init_privs ip ON ip.classoid = m.classid AND ip.objoid = m.objid
  UNION ALL
  SELECT m.obj, 'depends on', pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) || ' (' || d.deptype::text || ')'
  FROM member m JOIN pg_depend d ON d.classid = m.classid AND d.objid = m.objid AND d.objsubid = m.objsubid
  WHERE d.refclassid <> 'pg_extension'::regclass
  UNION ALL
  SELECT m.obj, 'depended on by', pg_describe_object(d.classid, d.objid, d.objsubid) || ' (' || d.deptype::text || ')'
  FROM member m JOIN pg_depend d ON d.refclassid = m.classid AND d.refobjid = m.objid
  UNION ALL
  -- functions
  SELECT m.obj, 'definition', pg_get_functiondef(p.oid)
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT m.obj, 'attributes',
         format('kind=%s language=%s volatile=%s parallel=%s strict=%s secdef=%s leakproof=%s cost=%s rows=%s support=%s owner=%s',
                p.prokind, l.lanname, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef,
                p.proleakproof, p.procost, p.prorows, p.prosupport, p.proowner::regrole)
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
                JOIN pg_language l ON l.oid = p.prolang
  UNION ALL
  SELECT m.obj, 'signature',
         format('(%s) returns %s', pg_get_function_arguments(p.oid), pg_get_function_result(p.oid))
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT m.obj, 'proconfig', coalesce(p.proconfig::text, '(none)')
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT m.obj, 'acl', coalesce(p.proacl::text, '(default)')
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  -- types (composite attributes)
  SELECT m.obj, 'type',
         format('typtype=%s owner=%s acl=%s array=%s', t.typtype, t.typowner::regrole,
                coalesce(t.typacl::text, '(default)'), t.typarray::regtype)
  FROM member m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  UNION ALL
  SELECT m.obj, 'attributes', coalesce(ac.cols, '(none)')
  FROM member m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
                LEFT JOIN acols ac ON ac.attrelid = t.typrelid
  WHERE t.typrelid <> 0
  UNION ALL
  -- tables, views, sequences
  SELECT m.obj, 'relation',
         format('relkind=%s persistence=%s owner=%s acl=%s options=%s', c.relkind, c.relpersistence,
                c.relowner::regrole, coalesce(c.relacl::text, '(default)'), c.reloptions)
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  UNION ALL
  SELECT m.obj, 'columns', coalesce(ac.cols, '(none)')
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
                LEFT JOIN acols ac ON ac.attrelid = c.oid
  UNION ALL
  SELECT m.obj, 'view definition', pg_get_viewdef(c.oid)
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  WHERE c.relkind IN ('v', 'm')
  UNION ALL
  -- event triggers
  SELECT m.obj, 'event trigger',
         format('event=%s function=%s enabled=%s tags=%s owner=%s', e.evtevent, e.evtfoid::regprocedure,
                e.evtenabled, coalesce(e.evttags::text, '(all)'), e.evtowner::regrole)
  FROM member m JOIN pg_event_trigger e ON m.classid = 'pg_event_trigger'::regclass AND e.oid = m.objid
  UNION ALL
  -- schemas
  SELECT m.obj, 'schema', format('owner=%s acl=%s', n.nspowner::regrole, coalesce(n.nspacl::text, '(default)'))
  FROM member m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
)
SELECT f.obj || ' | ' || f.key || ': ' || l.line
FROM facts f, regexp_split_to_table(f.val, E'\n') WITH ORDINALITY AS l(line, i)
ORDER BY f.obj, f.key, f.val, l.i;
SQL
# the install script's CREATE statements, counted independently of the catalogs
script=$("$PG_BIN/pg_config" --sharedir)/extension/schema_guard--$target.sql
created=$(grep -cE '^CREATE (OR REPLACE )?(SCHEMA|FUNCTION|PROCEDURE|TYPE|EVENT TRIGGER|TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|DOMAIN|OPERATOR|CAST|AGGREGATE) ' "$script")
# (array types of the extension's composite types are members too from PostgreSQL 18 on;
# the script does not create them, so they are not counted)
members() { q "$1" -c "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
                          WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'schema_guard' AND d.deptype = 'e'
                            AND NOT EXISTS (SELECT FROM pg_type t WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                                                                    AND t.typcategory = 'A')"; }
q sg_fresh -f "$DIR/describe.sql" >"$DIR/fresh.txt"; rc_f=$?
ok "$rc_f|$(members sg_fresh)" "0|$created" "fresh: the description query runs; as many extension members as the $target install script creates ($created)"
ok "$(grep -c ' | definition: CREATE OR REPLACE FUNCTION' "$DIR/fresh.txt")" "$(grep -cE '^CREATE (OR REPLACE )?FUNCTION ' "$script")" \
  "the description ($(grep -c . "$DIR/fresh.txt") lines) has the definition of every function of the install script"
for from in $sources; do
  db=$(dbname $from)
  q $db -f "$DIR/describe.sql" >"$DIR/from_$from.txt"; rc_u=$?
  ok "$rc_u|$(members $db)" "0|$created" "updated from $from: the description query runs; as many extension members as a fresh install"
  if [ "$rc_u|$rc_f" != "0|0" ] || [ ! -s "$DIR/fresh.txt" ]; then
    ok "no description" "same" "updated from $from: every extension member and the extension record are identical to a fresh install"
  elif diff -u --label "fresh $target" --label "$from updated to $target" "$DIR/fresh.txt" "$DIR/from_$from.txt" >"$DIR/members_$from.diff"; then
    ok same same "updated from $from: every extension member and the extension record are identical to a fresh install"
  else
    ok "differs ($(grep -Ev '^(--- |\+\+\+ )' "$DIR/members_$from.diff" | grep -c '^[-+]') lines)" same \
      "updated from $from: every extension member and the extension record are identical to a fresh install"
    sed 's/^/#   /' "$DIR/members_$from.diff" | head -400
  fi
  ok "$(grep -c '^function schema_guard\.\(fk_index_audit\|audit\)(name\[\]) | proconfig: .*stats_fetch_consistency=none' "$DIR/from_$from.txt")" "2" \
    "updated from $from: fk_index_audit() and audit() keep SET stats_fetch_consistency = none"
done

# ---------------------------------------------------------------------------
# 3. The audits give the same rows in every database (the new C functions are reached).
fixture="SET schema_guard.mode = off;
CREATE TABLE parent (id int PRIMARY KEY, tenant_id int);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, tenant_id int);
INSERT INTO parent SELECT g, g % 3 FROM generate_series(1, 200) g;
INSERT INTO child SELECT g, g % 200 + 1, g % 3 FROM generate_series(1, 400) g;
ALTER TABLE child ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON child USING (tenant_id = current_setting('app.tenant')::int);
CREATE POLICY open ON child FOR SELECT USING (true);"
audits="SELECT relation, constraint_name, columns, reason, severity, fix FROM schema_guard.fk_index_audit();
SELECT * FROM schema_guard.rls_audit();"
q sg_fresh -q -c "$fixture" >/dev/null
a_f=$(q sg_fresh -c "$audits")
ok_match "$a_f" "^child\|child_parent_id_fkey\|\{parent_id\}" "fresh: fk_index_audit() reports the unindexed foreign key"
ok_match "$a_f" "^child\|open\|always_true\|" "fresh: rls_audit() reports the always-true policy"
for from in $sources; do
  db=$(dbname $from)
  q $db -q -c "$fixture" >/dev/null
  ok "$(q $db -c "$audits")" "$a_f" "updated from $from: fk_index_audit() and rls_audit() return the same rows as after a fresh install"
done

# ---------------------------------------------------------------------------
# 4. The schema: an existing one is used when a superuser owns it, refused otherwise;
# dumps of a fresh and of an updated database restore.
q postgres -q -c "CREATE DATABASE sg_schema_user" -c "CREATE DATABASE sg_schema_super" -c "CREATE ROLE sg_not_super" >/dev/null
out=$(q sg_schema_user -c "CREATE SCHEMA schema_guard AUTHORIZATION sg_not_super" -c "CREATE EXTENSION schema_guard")
ok_match "$out" "ERROR:  P0001: schema \"schema_guard\" is owned by role sg_not_super, which is not a superuser" \
  "CREATE EXTENSION refuses an existing schema schema_guard that a role other than a superuser owns"
ok "$(q sg_schema_user -c "SELECT count(*) FROM pg_extension WHERE extname = 'schema_guard'")|$(q sg_schema_user -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'schema_guard'::regnamespace")" \
  "0|0" "... and leaves nothing in it"
ok "$(q sg_schema_super -c "CREATE SCHEMA schema_guard" -c "CREATE EXTENSION schema_guard" -c "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'schema_guard'")" \
  $'CREATE SCHEMA\nCREATE EXTENSION\nschema_guard' "CREATE EXTENSION uses an existing schema schema_guard a superuser owns"
for db in sg_fresh sg_from_0_2_0; do
  q postgres -q -c "CREATE DATABASE ${db}_restored" >/dev/null
  # (in one transaction: how the guard treats plain restores is another test's subject)
  out=$( { "$PG_BIN/pg_dump" -d $db | "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 --single-transaction -d ${db}_restored >/dev/null; } 2>&1; echo "rc=$?")
  ok_match "$out" "rc=0\$" "pg_dump $db | psql --single-transaction restores without an error"
  ok "$(q ${db}_restored -c "SELECT extversion || ' in ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'schema_guard'")|$(q ${db}_restored -c "SELECT count(*) FROM schema_guard.fk_index_audit()")" \
    "$target in schema_guard|$(q $db -c "SELECT count(*) FROM schema_guard.fk_index_audit()")" "... with the extension in schema schema_guard and the same audit"
done

# ---------------------------------------------------------------------------
# 5. DROP EXTENSION in each updated database leaves nothing behind but the empty schema.
block="SET lock_timeout = '5s'; SET schema_guard.min_table_size = 0;"
for from in $sources; do
  db=$(dbname $from)
  m_u=$(q $db -c "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
                  WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'schema_guard'")
  out=$(q $db -c "$block" -c "CREATE INDEX child_parent_id_idx ON child (parent_id)")
  ok_match "$out" "ERROR:  SG001: schema_guard: create_index_blocking" "updated from $from: before DROP EXTENSION the guard blocks a non-concurrent CREATE INDEX"
  q $db -q -c "SET schema_guard.mode = off" -c "CREATE TABLE sg_gone AS
    SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
    WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'schema_guard'
    UNION ALL SELECT 'pg_extension'::regclass, oid FROM pg_extension WHERE extname = 'schema_guard'" >/dev/null
  ok "$(q $db -c "SELECT count(*) FROM sg_gone")" "$((m_u + 1))" "updated from $from: the extension and its $m_u members are recorded before the drop"
  # in the same session as DROP EXTENSION: the guard's cached "extension installed" check is invalidated
  out=$(q $db -c "DROP EXTENSION schema_guard" -c "$block" -c "CREATE INDEX child_parent_id_idx ON child (parent_id)")
  ok "$out" $'DROP EXTENSION\nSET\nSET\nCREATE INDEX' "updated from $from: DROP EXTENSION succeeds (no CASCADE) and the same CREATE INDEX then runs in the same session, without a warning"
  ok "$(q $db -c "SELECT count(*) FROM pg_event_trigger WHERE evtfoid::regproc::text LIKE '%schema_guard%' OR evtname LIKE 'schema_guard%'")|$(q $db -c "SELECT count(*) FROM pg_proc WHERE probin LIKE '%schema_guard%' OR prosrc LIKE 'schema_guard%'")" \
    "0|0" "updated from $from: no event trigger or C function is left"
  ok "$(q $db -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'schema_guard'")|$(q $db -c "SELECT count(*) FROM pg_depend WHERE refclassid = 'pg_namespace'::regclass AND refobjid = (SELECT oid FROM pg_namespace WHERE nspname = 'schema_guard')")" \
    "1|0" "updated from $from: schema schema_guard is left, empty (nothing depends on it)"
  ok "$(q $db -c "SELECT (SELECT count(*) FROM pg_depend d JOIN sg_gone g ON (d.classid, d.objid) = (g.classid, g.objid) OR (d.refclassid, d.refobjid) = (g.classid, g.objid))
    || '|' || (SELECT count(*) FROM pg_description ds JOIN sg_gone g ON (ds.classoid, ds.objoid) = (g.classid, g.objid))
    || '|' || (SELECT count(*) FROM pg_init_privs ip JOIN sg_gone g ON (ip.classoid, ip.objoid) = (g.classid, g.objid))
    || '|' || (SELECT count(*) FROM pg_extension WHERE extname = 'schema_guard')")" \
    "0|0|0|0" "updated from $from: no dependency, comment or init privilege of a former member is left, nor the extension"
  out=$(q $db -c "$block" -c "CREATE INDEX child_tenant_idx ON child (tenant_id)" \
    -c "ALTER TABLE child ADD COLUMN at timestamptz DEFAULT clock_timestamp()" \
    -c "SELECT count(*) FROM pg_index WHERE indrelid = 'child'::regclass")
  ok "$out" $'SET\nSET\nCREATE INDEX\nALTER TABLE\n3' "updated from $from: in a new session, CREATE INDEX and a rewriting ALTER TABLE run unjudged (no guard, no backstop)"
done
ok "$(q sg_fresh -c "DROP EXTENSION schema_guard" -c "DROP SCHEMA schema_guard" -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'schema_guard'")" \
  $'DROP EXTENSION\nDROP SCHEMA\n0' "fresh: DROP EXTENSION, then DROP SCHEMA schema_guard (no CASCADE) removes everything"
ok "$(grep -c 'terminated by signal' "$DIR/server.log")" "0" "no crash"
echo "1..$n"
exit $failed
