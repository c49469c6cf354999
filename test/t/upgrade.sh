#!/usr/bin/env bash
# TAP: the upgrade path from the released 0.1.0 gives exactly a fresh install.
#  * database sg_upgraded: CREATE EXTENSION schema_guard VERSION '0.1.0', then
#    ALTER EXTENSION schema_guard UPDATE; database sg_fresh: CREATE EXTENSION schema_guard;
#  * every extension member of both is described canonically (pg_describe_object, and
#    per kind: pg_get_functiondef, proconfig, volatility, parallel safety, strictness,
#    security, ACL, owner, comment; composite attributes; relations and view definitions;
#    event triggers; init privileges; what each member depends on and what depends on
#    it) and the two descriptions must be identical (the diff is printed otherwise);
#  * the audits return the same rows on the same fixture in both databases;
#  * DROP EXTENSION in the updated database leaves nothing behind (no schema, no member,
#    no dependency, comment or init privilege of one) and DDL the guard blocked before
#    runs afterwards.
# Runs its own throwaway cluster (schema_guard preloaded).
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
# A directory of its own per run (the socket lives in it, so the port may be shared).
DIR=${UPGRADE_DIR:-$(mktemp -d /tmp/sg_rel_upgrade.XXXXXX)}
PORT=${UPGRADE_PORT:-$(sg_port 54368)}
export PGHOST=$DIR/sock PGPORT=$PORT PGUSER=postgres
q() { local db=$1; shift; "$PG_BIN/psql" -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$db" "$@" 2>&1; }
# ok_match TEXT REGEX DESCRIPTION
ok_match() {
  n=$((n + 1))
  if printf '%s' "$1" | grep -Eq -- "$2"; then echo "ok $n - $3"
  else echo "not ok $n - $3"; echo "#   got: '$(printf '%s' "$1" | head -c 1500)'"; echo "#   wanted match: '$2'"; failed=1; fi
}
cleanup() {
  stop_cluster "$DIR"
  [ -z "${UPGRADE_DIR:-}" ] && [ "$failed" = 0 ] && rm -rf "$DIR"
}
trap cleanup EXIT

echo "1..20"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
q postgres -q -c "CREATE DATABASE sg_upgraded" -c "CREATE DATABASE sg_fresh" >/dev/null

# ---------------------------------------------------------------------------
# 1. Install 0.1.0 and update; install the current version fresh.
target=$(q postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'schema_guard'")
ok_match "$(q postgres -c "SELECT path FROM pg_extension_update_paths('schema_guard') WHERE source = '0.1.0' AND target = '$target'")" \
  "^0\\.1\\.0--(.*--)?$target\$" "an update path 0.1.0 -> $target exists"
ok "$(q sg_upgraded -c "CREATE EXTENSION schema_guard VERSION '0.1.0'" -c "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'")" \
  $'CREATE EXTENSION\n0.1.0' "CREATE EXTENSION schema_guard VERSION '0.1.0'"
ok "$(q sg_upgraded -c "ALTER EXTENSION schema_guard UPDATE")" "ALTER EXTENSION" \
  "ALTER EXTENSION schema_guard UPDATE runs without error, warning or notice"
ok "$(q sg_fresh -c "CREATE EXTENSION schema_guard")" "CREATE EXTENSION" "CREATE EXTENSION schema_guard (fresh $target)"
ok "$(q sg_upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'")|$(q sg_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'")" \
  "$target|$target" "extversion is $target (the control file's default_version) in both databases"

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
q sg_upgraded -f "$DIR/describe.sql" >"$DIR/upgraded.txt"; rc_u=$?
q sg_fresh -f "$DIR/describe.sql" >"$DIR/fresh.txt"; rc_f=$?
ok "$rc_u|$rc_f" "0|0" "the description query runs in both databases"
members() { q "$1" -c "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
                          WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'schema_guard' AND d.deptype = 'e'"; }
m_u=$(members sg_upgraded); m_f=$(members sg_fresh)
# the install script's CREATE statements, counted independently of the catalogs
script=$("$PG_BIN/pg_config" --sharedir)/extension/schema_guard--$target.sql
created=$(grep -cE '^CREATE (OR REPLACE )?(SCHEMA|FUNCTION|PROCEDURE|TYPE|EVENT TRIGGER|TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|DOMAIN|OPERATOR|CAST|AGGREGATE) ' "$script")
ok "$m_u|$m_f" "$created|$created" "both databases have as many extension members as the $target install script creates ($created)"
ok "$(grep -c ' | definition: CREATE OR REPLACE FUNCTION' "$DIR/fresh.txt")" "$(grep -cE '^CREATE (OR REPLACE )?FUNCTION ' "$script")" \
  "the description ($(grep -c . "$DIR/fresh.txt") lines) has the definition of every function of the install script"
if [ "$rc_u|$rc_f" != "0|0" ] || [ ! -s "$DIR/fresh.txt" ]; then
  ok "no description" "same" "every extension member is identical after the update and after a fresh install"
elif diff -u --label "fresh $target" --label "0.1.0 updated to $target" "$DIR/fresh.txt" "$DIR/upgraded.txt" >"$DIR/members.diff"; then
  ok same same "every extension member is identical after the update and after a fresh install"
else
  ok "differs ($(grep -Ev '^(--- |\+\+\+ )' "$DIR/members.diff" | grep -c '^[-+]') lines)" same "every extension member is identical after the update and after a fresh install"
  sed 's/^/#   /' "$DIR/members.diff" | head -400
fi
ok "$(grep -c ' | proconfig: .*stats_fetch_consistency=none' "$DIR/upgraded.txt")" "1" \
  "fk_index_audit() keeps SET stats_fetch_consistency = none after the update"

# ---------------------------------------------------------------------------
# 3. The audits give the same rows in both databases (the new C functions are reached).
fixture="SET schema_guard.mode = off;
CREATE TABLE parent (id int PRIMARY KEY, tenant_id int);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, tenant_id int);
INSERT INTO parent SELECT g, g % 3 FROM generate_series(1, 200) g;
INSERT INTO child SELECT g, g % 200 + 1, g % 3 FROM generate_series(1, 400) g;
ALTER TABLE child ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON child USING (tenant_id = current_setting('app.tenant')::int);
CREATE POLICY open ON child FOR SELECT USING (true);"
for db in sg_upgraded sg_fresh; do q $db -q -c "$fixture" >/dev/null; done
audits="SELECT relation, constraint_name, columns, reason, severity, fix FROM schema_guard.fk_index_audit();
SELECT * FROM schema_guard.rls_audit();"
a_u=$(q sg_upgraded -c "$audits"); a_f=$(q sg_fresh -c "$audits")
ok_match "$a_f" "^child\|child_parent_id_fkey\|\{parent_id\}" "fresh: fk_index_audit() reports the unindexed foreign key"
ok_match "$a_f" "^child\|open\|always_true\|" "fresh: rls_audit() reports the always-true policy"
ok "$a_u" "$a_f" "fk_index_audit() and rls_audit() return the same rows after the update as after a fresh install"

# ---------------------------------------------------------------------------
# 4. DROP EXTENSION in the updated database leaves nothing behind.
block="SET lock_timeout = '5s'; SET schema_guard.min_table_size = 0;"
out=$(q sg_upgraded -c "$block" -c "CREATE INDEX child_parent_id_idx ON child (parent_id)")
ok_match "$out" "ERROR:  SG001: schema_guard: create_index_blocking" "before DROP EXTENSION the guard blocks a non-concurrent CREATE INDEX in the updated database"
q sg_upgraded -q -c "SET schema_guard.mode = off" -c "CREATE TABLE sg_gone AS
  SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
  WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'schema_guard'
  UNION ALL SELECT 'pg_extension'::regclass, oid FROM pg_extension WHERE extname = 'schema_guard'" >/dev/null
ok "$(q sg_upgraded -c "SELECT count(*) FROM sg_gone")" "$((m_u + 1))" "the extension and its $m_u members are recorded before the drop"
# in the same session as DROP EXTENSION: the guard's cached "extension installed" check is invalidated
out=$(q sg_upgraded -c "DROP EXTENSION schema_guard" -c "$block" -c "CREATE INDEX child_parent_id_idx ON child (parent_id)")
ok "$out" $'DROP EXTENSION\nSET\nSET\nCREATE INDEX' "DROP EXTENSION succeeds (no CASCADE) and the same CREATE INDEX then runs in the same session, without a warning"
ok "$(q sg_upgraded -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'schema_guard'")|$(q sg_upgraded -c "SELECT count(*) FROM pg_event_trigger WHERE evtfoid::regproc::text LIKE '%schema_guard%' OR evtname LIKE 'schema_guard%'")|$(q sg_upgraded -c "SELECT count(*) FROM pg_proc WHERE probin LIKE '%schema_guard%' OR prosrc LIKE 'schema_guard%'")" \
  "0|0|0" "no schema_guard schema, event trigger or C function is left"
ok "$(q sg_upgraded -c "SELECT (SELECT count(*) FROM pg_depend d JOIN sg_gone g ON (d.classid, d.objid) = (g.classid, g.objid) OR (d.refclassid, d.refobjid) = (g.classid, g.objid))
  || '|' || (SELECT count(*) FROM pg_description ds JOIN sg_gone g ON (ds.classoid, ds.objoid) = (g.classid, g.objid))
  || '|' || (SELECT count(*) FROM pg_init_privs ip JOIN sg_gone g ON (ip.classoid, ip.objoid) = (g.classid, g.objid))
  || '|' || (SELECT count(*) FROM pg_extension WHERE extname = 'schema_guard')")" \
  "0|0|0|0" "no dependency, comment or init privilege of a former member is left, nor the extension"
out=$(q sg_upgraded -c "$block" -c "CREATE INDEX child_tenant_idx ON child (tenant_id)" \
  -c "ALTER TABLE child ADD COLUMN at timestamptz DEFAULT clock_timestamp()" \
  -c "SELECT count(*) FROM pg_index WHERE indrelid = 'child'::regclass")
ok "$out" $'SET\nSET\nCREATE INDEX\nALTER TABLE\n3' "in a new session, CREATE INDEX and a rewriting ALTER TABLE run unjudged (no guard, no backstop)"
ok "$(grep -c 'terminated by signal' "$DIR/server.log")" "0" "no crash"
exit $failed
