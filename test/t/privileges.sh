#!/usr/bin/env bash
# TAP: permission first (issue 9).  The hook runs before PostgreSQL's own permission
# checks; a role that could not run a statement must get PostgreSQL's own error, word
# for word, and no verdict, size or lock holder.  For every statement family of the
# statement catalog (schema_guard.statements(): a family without a probe here fails
# the test) and for the other statements the guard judges, a probe runs
#  * as the objects' owner, guard on: the guard judges it (SG001: the probe reaches
#    the guard's analysis, so the comparisons below can fail);
#  * as roles without privileges (with and without USAGE on the schemas) and as a
#    role with partial privileges, guard on (block) and guard off (ALTER ROLE ... SET
#    schema_guard.mode = off): where PostgreSQL refuses (42501) or skips ("skipping"),
#    the two outputs (every ERROR, WARNING and NOTICE with SQLSTATE and LOCATION) are
#    identical; for the roles without privileges they are identical for every probe.
#  * probes marked j: the partial role may run the statement (PostgreSQL, guard off,
#    does not refuse it), so the guard must judge it (a "may not" here would let it
#    run unjudged).
# Every probe runs in a transaction that is rolled back (n: not in a transaction block).
# Uses the suite's cluster (scripts/test.sh exports PGHOST and PGPORT).
source "$(dirname "$0")/../../scripts/lib.sh"
set +e
DB=sg_privileges
TS_DIR=$SG_TMP/sg_privileges_ts
PSQL="$PG_BIN/psql -X -q"
WORK=$(mktemp -d "$SG_TMP/sg_privileges.XXXXXX")
n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
as_super() { $PSQL -U postgres "$@"; }

drop_fixture() {
  as_super -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
  as_super -d postgres -c "DROP TABLESPACE IF EXISTS sg_pv_ts" >/dev/null 2>&1
  for r in sg_pv_owner sg_pv_none sg_pv_nousage sg_pv_some; do
    as_super -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
  done
  rm -rf "$TS_DIR"
}
cleanup() {
  drop_fixture
  [ "$failed" = 0 ] && rm -rf "$WORK"
}
drop_fixture
trap cleanup EXIT
mkdir -p "$TS_DIR" && chown postgres:postgres "$TS_DIR"

as_super -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL || { echo "Bail out! set-up failed"; exit 1; }
CREATE ROLE sg_pv_owner LOGIN;
CREATE ROLE sg_pv_none LOGIN;
CREATE ROLE sg_pv_nousage LOGIN;
CREATE ROLE sg_pv_some LOGIN;
CREATE DATABASE $DB;
GRANT CREATE ON DATABASE $DB TO sg_pv_owner;
CREATE TABLESPACE sg_pv_ts LOCATION '$TS_DIR';
GRANT CREATE ON TABLESPACE sg_pv_ts TO sg_pv_owner, sg_pv_some;
SQL
as_super -d $DB -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || { echo "Bail out! fixture failed"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION schema_guard;
SET schema_guard.mode = off;
ALTER DATABASE sg_privileges SET schema_guard.table_sizes = assume_large;
ALTER DATABASE sg_privileges SET schema_guard.exempt_setup = off;
CREATE FOREIGN DATA WRAPPER sg_pv_fdw;
CREATE SERVER sg_pv_srv FOREIGN DATA WRAPPER sg_pv_fdw;
GRANT USAGE ON FOREIGN SERVER sg_pv_srv TO sg_pv_owner;
CREATE SCHEMA app AUTHORIZATION sg_pv_owner;
CREATE SCHEMA part;
CREATE SCHEMA own AUTHORIZATION sg_pv_some;
GRANT USAGE ON SCHEMA app, part TO sg_pv_none, sg_pv_some;
GRANT USAGE, CREATE ON SCHEMA part TO sg_pv_owner;
SET ROLE sg_pv_owner;
CREATE TABLE app.t (id int PRIMARY KEY, v int, c int CONSTRAINT t_c CHECK (c > 0), n int NOT NULL DEFAULT 0);
INSERT INTO app.t SELECT g, g, 1 FROM generate_series(1, 200) g;
CREATE INDEX t_v ON app.t (v);
ALTER TABLE app.t CLUSTER ON t_pkey;
CREATE TABLE app.ref (id int, t_id int CONSTRAINT ref_fk REFERENCES app.t);
INSERT INTO app.ref SELECT g, g FROM generate_series(1, 200) g;
ALTER TABLE app.ref ADD CONSTRAINT ref_nv CHECK (id > 0) NOT VALID;
CREATE TABLE app.parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES FROM (0) TO (100);
CREATE TABLE app.parted_d PARTITION OF app.parted DEFAULT;
INSERT INTO app.parted SELECT g, g FROM generate_series(0, 150) g;
CREATE TABLE app.loose (id int, v int);
INSERT INTO app.loose VALUES (500, 1);
CREATE TABLE app.inh_parent (id int);
CREATE MATERIALIZED VIEW app.mv AS SELECT id, v FROM app.t;
CREATE VIEW app.vw AS SELECT id, v FROM app.t;
CREATE SEQUENCE app.seq;
CREATE FOREIGN TABLE app.ft (id int) SERVER sg_pv_srv;
CREATE TYPE app.comp AS (a int, b int);
CREATE TABLE app.typed OF app.comp;
INSERT INTO app.typed VALUES (1, 2);
CREATE DOMAIN app.dom AS int;
CREATE TABLE app.d (x app.dom);
INSERT INTO app.d VALUES (1);
CREATE FUNCTION app.f() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';
CREATE TABLE app.uses_f (x int DEFAULT app.f());
INSERT INTO app.uses_f DEFAULT VALUES;
CREATE FUNCTION app.trgf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER trg BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.trgf();
CREATE POLICY pol ON app.t USING (true);
CREATE RULE r AS ON INSERT TO app.vw DO INSTEAD NOTHING;
CREATE TABLE part.mixed_1 (id int, v int);
INSERT INTO part.mixed_1 SELECT g, g FROM generate_series(0, 99) g;
CREATE INDEX mixed_1_id ON part.mixed_1 (id);
RESET ROLE;
-- the partial role: table privileges on app (no REFERENCES; no TRUNCATE on app.ref),
-- its own schema, a table of its own in a schema where it may not create, the
-- partitioned parent of a partition it does not own, a type of another role in its schema
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER ON ALL TABLES IN SCHEMA app TO sg_pv_some;
REVOKE TRUNCATE ON app.ref FROM sg_pv_some;
CREATE TABLE part.some_t (id int, v int);
INSERT INTO part.some_t SELECT g, g FROM generate_series(1, 100) g;
ALTER TABLE part.some_t OWNER TO sg_pv_some;
CREATE TABLE own.mixed (id int, v int) PARTITION BY RANGE (id);
ALTER TABLE own.mixed OWNER TO sg_pv_some;
ALTER TABLE own.mixed ATTACH PARTITION part.mixed_1 FOR VALUES FROM (0) TO (100);
CREATE TYPE own.theirs AS (a int);
ALTER TYPE own.theirs OWNER TO sg_pv_owner;
CREATE TABLE own.uses_theirs (x own.theirs);
INSERT INTO own.uses_theirs VALUES (ROW(1));
ALTER TABLE own.uses_theirs OWNER TO sg_pv_some;
CREATE TYPE own.stype AS (a int, b int);
ALTER TYPE own.stype OWNER TO sg_pv_some;
CREATE TABLE part.styped OF own.stype;
INSERT INTO part.styped VALUES (1, 2);
ALTER TABLE part.styped OWNER TO sg_pv_owner;
CREATE TABLE own.inh_parent (id int);
ALTER TABLE own.inh_parent OWNER TO sg_pv_some;
CREATE TABLE part.inh_child (id int) INHERITS (own.inh_parent);  -- its own column too
INSERT INTO part.inh_child VALUES (1);
ALTER TABLE part.inh_child OWNER TO sg_pv_owner;
SQL

# key|flags|statement.  key: a family of schema_guard.statements() (statement, or
# "statement … subcommand"), or "+ name" for a judged statement the catalog does not
# list (it locks no relation, or many).  flags: n (not in a transaction block), o (the
# owner gets no verdict: PostgreSQL refuses the owner too, or the statement takes only
# SHARE UPDATE EXCLUSIVE, which no rule judges), j (the partial role may run it: it
# must be judged).
cat >"$WORK/probes" <<'PROBES'
ALTER TABLE||ALTER TABLE app.t ADD COLUMN x float8 DEFAULT random()
ALTER TABLE … ADD COLUMN||ALTER TABLE app.t ADD COLUMN y int NOT NULL DEFAULT 0 CHECK (y >= 0)
ALTER TABLE … ADD COLUMN||ALTER TABLE app.t ADD COLUMN r int REFERENCES app.t
ALTER TABLE … ALTER COLUMN ... TYPE||ALTER TABLE app.t ALTER COLUMN v TYPE bigint
ALTER TABLE … ALTER COLUMN ... SET NOT NULL||ALTER TABLE app.t ALTER COLUMN v SET NOT NULL
ALTER TABLE … ADD CHECK||ALTER TABLE app.t ADD CHECK (v > 0)
ALTER TABLE … ADD FOREIGN KEY||ALTER TABLE app.ref ADD FOREIGN KEY (t_id) REFERENCES app.t
ALTER TABLE … ADD UNIQUE / PRIMARY KEY / EXCLUDE||ALTER TABLE app.t ADD UNIQUE (v)
ALTER TABLE … VALIDATE CONSTRAINT||ALTER TABLE app.ref ADD COLUMN z int, VALIDATE CONSTRAINT ref_nv
ALTER TABLE … SET LOGGED / UNLOGGED||ALTER TABLE app.loose SET UNLOGGED
ALTER TABLE … SET ACCESS METHOD||ALTER TABLE app.t SET ACCESS METHOD heap
ALTER TABLE … SET TABLESPACE||ALTER TABLE app.t SET TABLESPACE sg_pv_ts
ALTER TABLE … DROP COLUMN||ALTER TABLE app.t DROP COLUMN c
ALTER TABLE … ATTACH PARTITION||ALTER TABLE app.parted ATTACH PARTITION app.loose FOR VALUES FROM (400) TO (600)
ALTER TABLE … DETACH PARTITION||ALTER TABLE app.parted DETACH PARTITION app.parted_1
ALTER TABLE … DROP CONSTRAINT||ALTER TABLE app.t DROP CONSTRAINT t_c
ALTER TABLE … ALTER COLUMN ... SET / DROP DEFAULT||ALTER TABLE app.t ALTER COLUMN v SET DEFAULT 1
ALTER TABLE … ALTER COLUMN ... DROP NOT NULL||ALTER TABLE app.t ALTER COLUMN n DROP NOT NULL
ALTER TABLE … ENABLE / DISABLE TRIGGER||ALTER TABLE app.t DISABLE TRIGGER trg
ALTER TABLE … OWNER TO||ALTER TABLE app.t OWNER TO sg_pv_owner
ALTER TABLE … REPLICA IDENTITY||ALTER TABLE app.t REPLICA IDENTITY FULL
ALTER TABLE … INHERIT / NO INHERIT||ALTER TABLE app.loose INHERIT app.inh_parent
ALTER TABLE … ENABLE / DISABLE / FORCE ROW LEVEL SECURITY||ALTER TABLE app.t ENABLE ROW LEVEL SECURITY
ALTER TABLE … ALTER COLUMN ... SET STATISTICS|o|ALTER TABLE app.t ALTER COLUMN v SET STATISTICS 100
ALTER TABLE … CLUSTER ON / SET WITHOUT CLUSTER|o|ALTER TABLE app.t CLUSTER ON t_v
ALTER TABLE / MATERIALIZED VIEW ALL IN TABLESPACE ... SET TABLESPACE||ALTER TABLE ALL IN TABLESPACE pg_default OWNED BY sg_pv_owner SET TABLESPACE sg_pv_ts
ALTER TABLE / MATERIALIZED VIEW ALL IN TABLESPACE ... SET TABLESPACE||ALTER MATERIALIZED VIEW ALL IN TABLESPACE pg_default OWNED BY sg_pv_owner SET TABLESPACE sg_pv_ts
ALTER TABLE / MATERIALIZED VIEW ALL IN TABLESPACE ... SET TABLESPACE|o|ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE sg_pv_ts
ALTER INDEX||ALTER INDEX app.t_v SET TABLESPACE sg_pv_ts
ALTER INDEX ALL IN TABLESPACE ... SET TABLESPACE||ALTER INDEX ALL IN TABLESPACE pg_default OWNED BY sg_pv_owner SET TABLESPACE sg_pv_ts
ALTER VIEW||ALTER VIEW app.vw ALTER COLUMN v SET DEFAULT 0
ALTER MATERIALIZED VIEW||ALTER MATERIALIZED VIEW app.mv SET TABLESPACE sg_pv_ts
ALTER FOREIGN TABLE||ALTER FOREIGN TABLE app.ft ADD COLUMN z int
ALTER SEQUENCE||ALTER SEQUENCE app.seq RESTART
ALTER TYPE ... ADD / DROP / ALTER ATTRIBUTE ... CASCADE||ALTER TYPE app.comp ADD ATTRIBUTE c int CASCADE
ALTER TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE ... RENAME TO||ALTER TABLE app.t RENAME TO t2
ALTER TABLE / VIEW / MATERIALIZED VIEW ... RENAME COLUMN||ALTER TABLE app.t RENAME COLUMN v TO v2
ALTER TYPE ... RENAME ATTRIBUTE ... CASCADE||ALTER TYPE app.comp RENAME ATTRIBUTE a TO a2 CASCADE
ALTER TABLE ... RENAME CONSTRAINT||ALTER TABLE app.t RENAME CONSTRAINT t_c TO t_c2
ALTER TRIGGER ... RENAME||ALTER TRIGGER trg ON app.t RENAME TO trg2
ALTER RULE ... RENAME||ALTER RULE r ON app.vw RENAME TO r2
CREATE [UNIQUE] INDEX||CREATE INDEX ON app.t (c)
REINDEX INDEX / TABLE||REINDEX TABLE app.t
REINDEX INDEX / TABLE||REINDEX INDEX app.t_v
CLUSTER||CLUSTER app.t
CLUSTER|n|CLUSTER
VACUUM FULL|n|VACUUM FULL app.t
VACUUM FULL|n|VACUUM (FULL) app.t, app.loose
VACUUM FULL|nj|VACUUM FULL
REFRESH MATERIALIZED VIEW||REFRESH MATERIALIZED VIEW app.mv
TRUNCATE|j|TRUNCATE app.loose
TRUNCATE||TRUNCATE app.t CASCADE
DROP TABLE||DROP TABLE app.loose
DROP INDEX||DROP INDEX app.t_v
DROP VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE||DROP VIEW app.vw
DROP VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE||DROP MATERIALIZED VIEW app.mv
DROP VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE||DROP FOREIGN TABLE app.ft
DROP VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE||DROP SEQUENCE app.seq CASCADE
DROP TRIGGER / POLICY / RULE||DROP TRIGGER trg ON app.t
DROP TRIGGER / POLICY / RULE||DROP POLICY pol ON app.t
DROP TRIGGER / POLICY / RULE||DROP RULE r ON app.vw
DROP TYPE / DOMAIN / FUNCTION / COLLATION / OPERATOR CLASS / EXTENSION / ... CASCADE||DROP FUNCTION app.f() CASCADE
DROP TYPE / DOMAIN / FUNCTION / COLLATION / OPERATOR CLASS / EXTENSION / ... CASCADE||DROP TYPE app.comp CASCADE
DROP TYPE / DOMAIN / FUNCTION / COLLATION / OPERATOR CLASS / EXTENSION / ... CASCADE||DROP DOMAIN app.dom CASCADE
DROP TYPE / DOMAIN / FUNCTION / COLLATION / OPERATOR CLASS / EXTENSION / ... CASCADE|o|DROP FUNCTION app.f()
DROP TYPE / DOMAIN / FUNCTION / COLLATION / OPERATOR CLASS / EXTENSION / ... CASCADE|oj|DROP TYPE own.theirs CASCADE
DROP SCHEMA ... CASCADE||DROP SCHEMA app CASCADE
DROP OWNED||DROP OWNED BY sg_pv_owner CASCADE
REASSIGN OWNED||REASSIGN OWNED BY sg_pv_owner TO sg_pv_owner
CREATE TABLE ... REFERENCES||CREATE TABLE app.newref (x int REFERENCES app.t)
CREATE TABLE ... PARTITION OF||CREATE TABLE app.parted_2 PARTITION OF app.parted FOR VALUES FROM (200) TO (300)
CREATE OR REPLACE VIEW||CREATE OR REPLACE VIEW app.vw AS SELECT id, v FROM app.t
CREATE [CONSTRAINT] TRIGGER|j|CREATE TRIGGER trg3 BEFORE UPDATE ON app.t FOR EACH ROW EXECUTE FUNCTION app.trgf()
CREATE POLICY||CREATE POLICY pol2 ON app.t USING (true)
ALTER POLICY||ALTER POLICY pol ON app.t USING (false)
CREATE [OR REPLACE] RULE||CREATE OR REPLACE RULE r AS ON INSERT TO app.vw DO INSTEAD NOTHING
ALTER DOMAIN ... ADD CONSTRAINT / VALIDATE CONSTRAINT / SET NOT NULL||ALTER DOMAIN app.dom ADD CONSTRAINT pos CHECK (VALUE > 0)
LOCK TABLE|j|LOCK TABLE app.t IN ACCESS EXCLUSIVE MODE
ALTER TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE ... SET SCHEMA||ALTER TABLE app.loose SET SCHEMA part
ALTER INDEX / MATERIALIZED VIEW / TRIGGER ... [NO] DEPENDS ON EXTENSION||ALTER INDEX app.t_v DEPENDS ON EXTENSION schema_guard
+ ALTER SCHEMA ... RENAME||ALTER SCHEMA app RENAME TO app2
+ CREATE SCHEMA ... CREATE TABLE ... PARTITION OF||CREATE SCHEMA sg_pv_new CREATE TABLE parted_3 PARTITION OF app.parted FOR VALUES FROM (300) TO (400)
+ REINDEX SCHEMA|n|REINDEX SCHEMA app
+ REINDEX DATABASE|no|REINDEX DATABASE sg_privileges
+ partial: a partition the role does not own|o|ALTER TABLE own.mixed ADD COLUMN x float8 DEFAULT random()
+ partial: a partition the role does not own|o|ALTER TABLE own.mixed ALTER COLUMN v TYPE bigint
+ partial: a partition the role does not own|o|ALTER TABLE own.mixed ALTER COLUMN v SET NOT NULL
+ partial: a partition the role does not own|o|ALTER TABLE own.mixed ADD CHECK (v > 0)
+ partial: a partition the role does not own|o|CREATE INDEX ON own.mixed (v)
+ partial: a partition the role does not own|no|VACUUM FULL own.mixed
+ partial: a partition the role does not own|o|TRUNCATE own.mixed
+ partial: a partition the role does not own|o|LOCK TABLE own.mixed IN ACCESS EXCLUSIVE MODE
+ partial: no CREATE on the schema|o|ALTER TABLE part.some_t RENAME TO some_t2
+ partial: no CREATE on the schema|o|CREATE INDEX ON part.some_t (v)
+ partial: no CREATE on the schema|o|ALTER TABLE part.some_t ADD UNIQUE (v)
+ partial: its own table|oj|ALTER TABLE part.some_t ADD COLUMN x float8 DEFAULT random()
+ partial: its own table|oj|ALTER TABLE ONLY own.mixed ALTER COLUMN v SET DEFAULT 1
+ partial: its own table|oj|CREATE INDEX ON own.inh_parent (id)
+ partial: its own table (the partition's matching index is attached)|oj|CREATE INDEX ON own.mixed (id)
+ partial: a partition the role does not own|o|ALTER TABLE own.mixed DROP COLUMN v
+ partial: a partition the role does not own|o|ALTER TABLE own.mixed RENAME COLUMN v TO v2
+ partial: its own table (the inheritance child keeps its own column)|oj|ALTER TABLE own.inh_parent DROP COLUMN id
+ partial: a typed table the role does not own|o|ALTER TYPE own.stype ADD ATTRIBUTE c int CASCADE
+ partial: a typed table the role does not own|o|ALTER TYPE own.stype RENAME ATTRIBUTE a TO a2 CASCADE
+ partial: an inheritance child the role does not own|o|ALTER TABLE own.inh_parent ADD COLUMN x float8 DEFAULT random()
+ partial: no CREATE on the new schema|o|ALTER TABLE part.some_t SET SCHEMA app
+ partial: no CREATE on the tablespace|o|ALTER TABLE part.some_t SET TABLESPACE sg_pv_ts
+ partial: not a member of the new owner|o|ALTER TABLE part.some_t OWNER TO sg_pv_owner
+ partial: no REFERENCES|o|ALTER TABLE part.some_t ADD FOREIGN KEY (id) REFERENCES app.t
+ partial: no REFERENCES|o|ALTER TABLE part.some_t ADD COLUMN r int REFERENCES app.t
+ partial: no REFERENCES|o|CREATE TABLE own.newref (x int REFERENCES app.t)
+ partial: parent not owned|o|CREATE TABLE own.parted_2 PARTITION OF app.parted FOR VALUES FROM (200) TO (300)
+ partial: no CREATE on the database|o|ALTER SCHEMA own RENAME TO own2
PROBES

# One session per role and mode runs every probe; \warn marks where each begins.
run_probes() {  # role out
  local i=0
  {
    echo '\set VERBOSITY verbose'
    echo "SET statement_timeout = '20s';"
    while IFS='|' read -r key flags stmt; do
      i=$((i + 1))
      echo "\\warn ==probe $i=="
      case $flags in
        *n*) echo "$stmt;" ;;
        *) printf 'BEGIN;\n%s;\nROLLBACK;\n' "$stmt" ;;
      esac
    done <"$WORK/probes"
  } >"$WORK/script.sql"
  (cd / && $PSQL -U "$1" -d $DB -f "$WORK/script.sql" 2>&1 >/dev/null) >"$2"
}
probe_output() {  # file i
  awk -v i="$2" '/==probe [0-9]+==$/ { on = ($0 ~ "==probe " i "==$"); next } on' "$1"
}
set_mode() {  # role mode
  as_super -d $DB -c "ALTER ROLE $1 IN DATABASE $DB SET schema_guard.mode = $2" >/dev/null
}

run_probes sg_pv_owner "$WORK/owner.on"
for role in sg_pv_none sg_pv_nousage sg_pv_some; do
  set_mode $role block
  run_probes $role "$WORK/$role.on"
  set_mode $role off
  run_probes $role "$WORK/$role.off"
done

# Every family of the catalog has a probe.
as_super -d $DB -At -c "SELECT statement || coalesce(' … ' || subcommand, '') FROM schema_guard.statements()" >"$WORK/families"
[ -s "$WORK/families" ] || fail "schema_guard.statements() lists the families"
cut -d'|' -f1 "$WORK/probes" >"$WORK/keys"  # (no pipe into grep -q: pipefail and SIGPIPE)
while read -r family; do
  if grep -qxF -- "$family" "$WORK/keys"; then
    pass "a probe for: $family"
  else
    fail "a probe for: $family (add one to test/t/privileges.sh)"
  fi
done <"$WORK/families"

i=0
while IFS='|' read -r key flags stmt; do
  i=$((i + 1))
  owner=$(probe_output "$WORK/owner.on" $i)
  case $flags in
    *o*) ;;
    *) if grep -q "SG001" <<<"$owner"; then pass "owner: judged: $stmt"; else
         fail "owner: judged: $stmt"; echo "#   got: $(head -c 600 <<<"$owner")"; fi ;;
  esac
  for role in sg_pv_none sg_pv_nousage sg_pv_some; do
    on=$(probe_output "$WORK/$role.on" $i)
    off=$(probe_output "$WORK/$role.off" $i)
    refused=no   # PostgreSQL refuses it, or skips what the role may not touch
    denied=no    # PostgreSQL refuses it
    grep -qE "42501|skipping" <<<"$off" && refused=yes
    grep -q "ERROR:  42501" <<<"$off" && denied=yes
    if [ $role = sg_pv_some ] && [[ $flags == *j* ]]; then
      if [ $denied = no ] && grep -q SG001 <<<"$on"; then pass "$role: may run it, judged: $stmt"; else
        fail "$role: may run it, judged: $stmt"; echo "#   guard off: $(head -c 300 <<<"$off")"
        echo "#   guard on: $(head -c 600 <<<"$on")"; fi
    elif [ $role != sg_pv_some ] || [ $refused = yes ]; then
      if [ "$on" = "$off" ] && ! grep -q SG001 <<<"$on"; then
        pass "$role: PostgreSQL's own answer, no verdict: $stmt"
      else
        fail "$role: PostgreSQL's own answer, no verdict: $stmt"
        diff <(echo "$off") <(echo "$on") | head -20 | sed 's/^/#   /'
      fi
    fi
  done
done <"$WORK/probes"

echo "1..$n"
exit $failed
