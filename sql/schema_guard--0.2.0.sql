-- schema_guard 0.2.0 install script, as released (frozen; the current version is generated from src/sql).
\echo Use "CREATE EXTENSION schema_guard" to load this file. \quit
-- The guard: status, rule catalog and the table_rewrite backstop.

-- The schema is created here (not named in the control file) so that it is a member
-- of the extension and DROP EXTENSION leaves nothing behind.
CREATE SCHEMA schema_guard;

CREATE FUNCTION schema_guard.status(
    OUT active boolean,
    OUT hook_installed boolean,
    OUT load_method text,
    OUT extension_installed boolean,
    OUT effective_mode text,
    OUT message text)
RETURNS record
AS 'MODULE_PATHNAME', 'schema_guard_status'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard.status() IS
  'Is the guard active in this backend: how the library was loaded, whether the extension is installed here, the effective mode';

CREATE FUNCTION schema_guard.rules(
    OUT rule_id text,
    OUT category text,
    OUT default_action text,
    OUT action text,
    OUT description text,
    OUT recipe text,
    OUT recipe_partitioned text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'schema_guard_rules'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard.rules() IS
  'The rule catalog: id, category, default and effective action (from the current settings), description, safe recipe';

CREATE FUNCTION schema_guard.table_rewrite_backstop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'schema_guard_table_rewrite'
LANGUAGE C;

CREATE EVENT TRIGGER schema_guard_table_rewrite
  ON table_rewrite
  EXECUTE FUNCTION schema_guard.table_rewrite_backstop();

GRANT USAGE ON SCHEMA schema_guard TO PUBLIC;

DO $$
BEGIN
  IF NOT (SELECT hook_installed FROM schema_guard.status()) THEN
    RAISE WARNING 'schema_guard is installed but inactive in this backend: the library is not preloaded'
      USING HINT = 'Add schema_guard to shared_preload_libraries (or session_preload_libraries) and reconnect; the audit functions work without it.';
  END IF;
END
$$;

CREATE FUNCTION schema_guard.check(
    sql text,
    OUT statement int,
    OUT line int,
    OUT rule text,
    OUT action text,
    OUT relation regclass,
    OUT lock_mode text,
    OUT rewrites boolean,
    OUT scans boolean,
    OUT message text,
    OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'schema_guard_check'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION schema_guard.check(text) IS
  'Dry-run a migration script against the live catalog: one row per finding, nothing executed';

CREATE FUNCTION schema_guard.explain(sql text)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'schema_guard_explain'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION schema_guard.explain(text) IS
  'What PostgreSQL will do for one statement: relations, locks, rewrite/scan/index build, size, duration class, conflicting sessions now';
-- Audit: foreign keys whose referencing side has no index the RI check can use.
--
-- Everything here reads the system catalogs and the statistics functions only:
-- no user relation is opened or locked, nothing runs with elevated rights, and
-- no deparsing function that opens relations (pg_get_expr with a relation,
-- pg_get_indexdef, pg_partition_tree) is called.

-- An index name in namespace nsp, at most 63 bytes, that no relation uses yet:
-- base_suffix, base_suffix1, base_suffix2, ... (the base is cut to fit, as
-- PostgreSQL itself does).  start skips candidates other fixes already took.
-- The same C++ code names the indexes of fk_index_audit()'s own fixes.
CREATE FUNCTION schema_guard._free_relname(nsp oid, base text, suffix text, start int DEFAULT 0)
RETURNS name
AS 'MODULE_PATHNAME', 'schema_guard_free_relname'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION schema_guard._free_relname(oid, text, text, int) IS
  'internal: a relation name of at most 63 bytes that is free in the namespace';

-- The leaf and intermediate partitions below a partitioned table, with the
-- depth and the direct parent of each (catalog read of pg_inherits: unlike
-- pg_partition_tree() it locks nothing).
CREATE FUNCTION schema_guard._partition_tree(root oid)
RETURNS TABLE (relid oid, parentid oid, depth int, relkind "char", relpages int)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH RECURSIVE tree AS (
  SELECT i.inhrelid AS relid, i.inhparent AS parentid, 1 AS depth
  FROM pg_inherits i WHERE i.inhparent = root
  UNION ALL
  SELECT i.inhrelid, i.inhparent, t.depth + 1
  FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
)
SELECT t.relid, t.parentid, t.depth, c.relkind, c.relpages
FROM tree t JOIN pg_class c ON c.oid = t.relid
$fn$;

COMMENT ON FUNCTION schema_guard._partition_tree(oid) IS
  'internal: the partitions below a table, from pg_inherits without locking them';

-- An index on a partitioned table (for a foreign key, or a policy column) built
-- without blocking writes.  CREATE INDEX ... ON ONLY creates it invalid and
-- empty; each leaf gets its index CONCURRENTLY (or an existing equivalent one)
-- and is attached; intermediate partitioned tables get their own ON ONLY index,
-- attached once their leaves are.  The partitioned index turns valid when the
-- last partition is attached.
CREATE FUNCTION schema_guard._partitioned_index_fix(root oid, colnames name[])
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  btree oid := (SELECT oid FROM pg_am WHERE amname = 'btree');
  idx_name jsonb := '{}';   -- table oid -> the (qualified) name of its index in the new tree
  idx_oid jsonb := '{}';    -- table oid -> that index's oid, when it exists already
  stmts text[] := '{}';
  attach text[] := '{}';
  taken text[] := '{}';
  rec record;
  nm name;
  existing oid;
  atts int2[];
  colls oid[];
  cols text;
BEGIN
  cols := (SELECT '(' || string_agg(quote_ident(c), ', ' ORDER BY n) || ')' FROM unnest(colnames) WITH ORDINALITY u(c, n));
  FOR rec IN
    SELECT t.relid, t.parentid, t.relkind, t.depth, c.relname, c.relnamespace, n.nspname
    FROM (SELECT root AS relid, 0::oid AS parentid, 'p'::"char" AS relkind, 0 AS depth
          UNION ALL
          SELECT p.relid, p.parentid, p.relkind, p.depth FROM schema_guard._partition_tree(root) p) t
    JOIN pg_class c ON c.oid = t.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE t.relkind IN ('p', 'r')
    ORDER BY t.depth, n.nspname, c.relname
  LOOP
    IF rec.depth > 0 AND NOT idx_name ? rec.parentid::text THEN
      CONTINUE;                                  -- below a partition that keeps its own index
    END IF;
    SELECT array_agg(a.attnum ORDER BY k.n), array_agg(a.attcollation ORDER BY k.n) INTO atts, colls
      FROM unnest(colnames) WITH ORDINALITY k(c, n)
      JOIN pg_attribute a ON a.attrelid = rec.relid AND a.attname = k.c AND NOT a.attisdropped;
    existing := NULL;
    IF rec.depth > 0 AND idx_oid ? rec.parentid::text THEN
      -- the parent's index exists already: is this table's index attached to it?
      SELECT x.indexrelid INTO existing
        FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
       WHERE i.inhparent = (idx_oid->>rec.parentid::text)::oid AND x.indrelid = rec.relid;
      IF existing IS NOT NULL THEN
        idx_name := idx_name || jsonb_build_object(rec.relid::text, existing::regclass::text);
        idx_oid := idx_oid || jsonb_build_object(rec.relid::text, existing);
        CONTINUE;
      END IF;
    END IF;
    -- an index the new tree can adopt: plain btree on exactly these columns
    -- with default operator classes and collations, not attached elsewhere;
    -- on the root, an unfinished (invalid) partitioned index of that shape
    SELECT i.indexrelid INTO existing
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = rec.relid AND ic.relam = btree
       AND CASE WHEN rec.depth = 0 THEN ic.relkind = 'I' AND NOT i.indisvalid
                WHEN rec.relkind = 'r' THEN i.indisvalid AND i.indisready AND i.indislive
                ELSE false END
       AND NOT i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL
       AND i.indnatts = cardinality(atts) AND i.indnkeyatts = cardinality(atts)
       AND (i.indkey::int2[])[0:cardinality(atts) - 1] = atts
       AND NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = i.indexrelid)
       AND NOT EXISTS (SELECT FROM generate_subscripts(atts, 1) g
                        JOIN pg_opclass opc ON opc.oid = i.indclass[g - 1]
                       WHERE NOT opc.opcdefault OR i.indcollation[g - 1] <> colls[g])
     ORDER BY i.indexrelid LIMIT 1;
    IF existing IS NOT NULL THEN
      idx_name := idx_name || jsonb_build_object(rec.relid::text, existing::regclass::text);
      idx_oid := idx_oid || jsonb_build_object(rec.relid::text, existing);
      IF rec.depth > 0 THEN
        stmts := stmts || format('ALTER INDEX %s ATTACH PARTITION %s;', idx_name->>rec.parentid::text, existing::regclass);
      END IF;
      CONTINUE;
    END IF;
    nm := schema_guard._free_relname(rec.relnamespace, rec.relname || '_' || array_to_string(colnames, '_'), 'idx');
    WHILE format('%I.%I', rec.nspname, nm) = ANY (taken) LOOP
      nm := schema_guard._free_relname(rec.relnamespace, rec.relname || '_' || array_to_string(colnames, '_'), 'idx',
                                       coalesce(nullif(substring(nm from '\d+$'), '')::int, 0) + 1);
    END LOOP;
    taken := taken || format('%I.%I', rec.nspname, nm);
    idx_name := idx_name || jsonb_build_object(rec.relid::text, format('%I.%I', rec.nspname, nm));
    IF rec.relkind = 'p' THEN
      stmts := stmts || format('CREATE INDEX %I ON ONLY %I.%I %s;', nm, rec.nspname, rec.relname, cols);
      IF rec.depth > 0 THEN
        -- attached once its own partitions are, deepest first
        attach := format('ALTER INDEX %s ATTACH PARTITION %I.%I;', idx_name->>rec.parentid::text, rec.nspname, nm) || attach;
      END IF;
    ELSE
      stmts := stmts || format('CREATE INDEX CONCURRENTLY %I ON %I.%I %s;', nm, rec.nspname, rec.relname, cols)
                     || format('ALTER INDEX %s ATTACH PARTITION %I.%I;', idx_name->>rec.parentid::text, rec.nspname, nm);
    END IF;
  END LOOP;
  RETURN array_to_string(stmts || attach, E'\n');
END
$fn$;

COMMENT ON FUNCTION schema_guard._partitioned_index_fix(oid, name[]) IS
  'internal: CREATE INDEX ON ONLY + per-partition CREATE INDEX CONCURRENTLY + ATTACH for a partitioned table';

-- Written in C++ (src/audit/, src/glue/audit_functions.cpp): the catalogs are
-- read once, each foreign key is graded against the indexes of its table (and
-- of each leaf partition) with the planner's own predicate proof and operator
-- families, and the rows come sorted by severity, schema, table and
-- constraint name.  Partitioned tables get their fix from
-- _partitioned_index_fix() above.
CREATE FUNCTION schema_guard.fk_index_audit(VARIADIC schema_filter name[] DEFAULT NULL)
RETURNS TABLE (
  relation        regclass,
  constraint_name name,
  columns         name[],
  referenced      regclass,
  reason          text,
  candidate_index regclass,
  partitions      regclass[],
  on_delete       text,
  on_update       text,
  table_bytes     bigint,
  parent_writes   bigint,
  severity        text,
  fix             text)
AS 'MODULE_PATHNAME', 'schema_guard_fk_index_audit'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION schema_guard.fk_index_audit(name[]) IS
  'Foreign keys whose referencing side has no index the RI check can use: one row per logical foreign key, with the reason, the size and write activity behind the severity, and the CREATE INDEX CONCURRENTLY fix';

-- PostgreSQL 15+: read each statistics entry fresh, without building the
-- session's stats cache (much cheaper for one look at thousands of tables).
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 150000 THEN
    ALTER FUNCTION schema_guard.fk_index_audit(name[]) SET stats_fetch_consistency = none;
  END IF;
END
$$;
-- Audit: row-level security gaps, and the effective access of one role.
--
-- Decided on catalog data and on the stored expression trees of policies
-- (pg_policy.polqual / polwithcheck read with stringToNode and walked, and
-- pg_depend for the relations, columns and functions a policy uses).  Deparsed
-- SQL is never inspected.  The only deparsing is for the text of fixes
-- (_policy_sql below), under locks that never wait.

-- The function calls in a policy expression (a stored node tree): one row per
-- FUNCEXPR with where it sits.  in_subquery: inside the subquery of a sublink
-- ("(SELECT current_setting(...))" runs once per statement as an initplan);
-- parent: the node type the call is the first child of (NULL when it is not a
-- first child); has_var: a column of the row among its arguments; for
-- current_setting(): the setting name when it is a literal, missing_ok when
-- the second argument is a literal, and whether the call is the first
-- argument of NULLIF(..., '').
CREATE TYPE schema_guard._policy_call AS (
  funcid oid, in_subquery boolean, parent text, has_var boolean,
  setting text, missing_ok boolean, nullif_empty boolean);

-- Everything the audit reads from one policy's expression trees, in one pass
-- (C++: stringToNode and the backend's tree walkers): the function calls of
-- both, and whether USING and WITH CHECK are always true.
CREATE TYPE schema_guard._policy_facts AS (
  calls schema_guard._policy_call[], qual_true boolean, check_true boolean);

CREATE FUNCTION schema_guard._policy_facts(qual pg_node_tree, chk pg_node_tree)
RETURNS schema_guard._policy_facts
AS 'MODULE_PATHNAME', 'schema_guard_policy_facts'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard._policy_facts(pg_node_tree, pg_node_tree) IS
  'internal: the function calls in a policy''s expressions and whether they are always true';

-- A policy's expressions as SQL (the server's deparser), as written and
-- with the audit's recipes applied (current_setting() read as
-- NULLIF(current_setting(name, true), ''), per-row calls that do not read the
-- row wrapped in a scalar subquery); NULL where unchanged.  Deparsing opens the
-- tables the policy reads, so it runs only under ACCESS SHARE locks taken
-- without waiting (ConditionalLockRelationOid) and released at once: when one
-- of those tables is locked by DDL, every column is NULL.  For fixes only;
-- nothing is decided on this text.
CREATE FUNCTION schema_guard._policy_sql(policy oid, OUT qual text, OUT with_check text,
                                         OUT qual_rewritten text, OUT check_rewritten text)
RETURNS record
AS 'MODULE_PATHNAME', 'schema_guard_policy_sql'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION schema_guard._policy_sql(oid) IS
  'internal: a policy''s expressions as SQL, as written and rewritten by the audit''s recipes (for fixes)';

-- The schemas an audit looks at: the given ones, or all but pg_catalog,
-- information_schema, TOAST and temporary schemas (the same C++ rule as
-- fk_index_audit()).
CREATE FUNCTION schema_guard._audit_namespaces(schema_filter name[])
RETURNS oid[]
AS 'MODULE_PATHNAME', 'schema_guard_audit_namespaces'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard._audit_namespaces(name[]) IS
  'internal: the schemas an audit looks at';

-- The tenant-like column names: schema_guard.tenant_columns when the library
-- defines it and it is not empty, else the same default.
CREATE FUNCTION schema_guard._tenant_columns()
RETURNS name[]
LANGUAGE sql STABLE
AS $fn$
SELECT coalesce(array_agg(btrim(c)::name) FILTER (WHERE btrim(c) <> ''), '{}')
FROM unnest(string_to_array(
       coalesce(nullif(btrim(current_setting('schema_guard.tenant_columns', true)), ''),
                'tenant_id,org_id,organization_id,account_id,workspace_id,team_id,customer_id'), ',')) c
$fn$;

-- parse_bool() as for reloptions: "security_invoker=t" is true.
CREATE FUNCTION schema_guard._reloption_true(opts text[], opt text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT coalesce(bool_or(pg_catalog.lower(pg_catalog.split_part(o, '=', 2))
                        IN ('t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1')), false)
FROM pg_catalog.unnest(opts) o
WHERE pg_catalog.split_part(o, '=', 1) = opt
$fn$;

-- A role list for messages: PUBLIC for 0, role names (quoted as needed), sorted.
CREATE FUNCTION schema_guard._role_list(roles oid[])
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  names text[] := '{}';
  pub boolean := false;
  r oid;
BEGIN
  FOREACH r IN ARRAY coalesce(roles, '{}') LOOP
    IF r = 0 THEN
      pub := true;
    ELSIF NOT r::regrole::text = ANY (names) THEN
      names := names || r::regrole::text;
    END IF;
  END LOOP;
  IF cardinality(names) > 1 THEN
    names := ARRAY(SELECT n FROM unnest(names) n ORDER BY n COLLATE "C");
  END IF;
  IF pub THEN
    names := ARRAY['PUBLIC'] || names;
  END IF;
  RETURN nullif(array_to_string(names, ', '), '');
END
$fn$;

CREATE FUNCTION schema_guard.rls_audit(VARIADIC schema_filter name[] DEFAULT NULL)
RETURNS TABLE (
  relation regclass,
  policy   name,
  "check"  text,
  severity text,
  detail   text,
  fix      text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
WITH
scope AS (
  SELECT n.oid, n.nspname
  FROM unnest(schema_guard._audit_namespaces(schema_filter)) s(oid) JOIN pg_namespace n ON n.oid = s.oid
),
ext AS (
  SELECT d.classid, d.objid FROM pg_depend d
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
),
cfg AS MATERIALIZED (
  SELECT schema_guard._tenant_columns() AS tenant_cols
),
rol AS MATERIALIZED (
  SELECT oid, rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles
),
rel AS MATERIALIZED (
  SELECT c.oid, c.relname, c.relnamespace, s.nspname, c.relkind, c.relowner,
         c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, c.relispartition, c.relpages,
         o.rolsuper OR o.rolbypassrls AS owner_bypasses,
         -- the report order of relations (an integer sorts 40,000 findings fast)
         row_number() OVER (ORDER BY s.nspname, c.relname) AS pos
  FROM pg_class c
  JOIN scope s ON s.oid = c.relnamespace
  JOIN rol o ON o.oid = c.relowner
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    AND c.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_class'::regclass)
),
-- grants on these relations to roles other than the owner (PUBLIC is 0)
acl AS MATERIALIZED (
  SELECT r.oid AS relid, a.grantee, a.privilege_type AS priv
  FROM rel r
  JOIN pg_class c ON c.oid = r.oid
  CROSS JOIN LATERAL aclexplode(c.relacl) a
  WHERE c.relacl IS NOT NULL AND a.grantee <> r.relowner
),
-- per relation: the roles other than the owner with row privileges
reach AS (
  SELECT a.relid, array_agg(a.grantee) AS grantees,
         bool_or(a.priv = 'SELECT') AS can_read,
         bool_or(a.priv IN ('INSERT', 'UPDATE', 'DELETE')) AS can_write
  FROM acl a WHERE a.priv IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
  GROUP BY a.relid
),
rlsschema AS (
  SELECT DISTINCT relnamespace FROM rel WHERE rls AND relkind IN ('r', 'p')
),
-- the roles that inherit the rights of each owner (members, transitively),
-- superusers left out (they bypass anyway and are reported on their own)
heirs AS (
  SELECT o.relowner, array_agg(DISTINCT m.oid) AS members,
         array_agg(DISTINCT m.oid) FILTER (WHERE m.rolcanlogin) AS login_members
  FROM (SELECT DISTINCT relowner FROM rel) o
  JOIN rol m ON m.oid <> o.relowner AND NOT m.rolsuper AND m.rolname !~ '^pg_'
            AND pg_has_role(m.oid, o.relowner, 'USAGE')
  GROUP BY o.relowner
),
facts AS MATERIALIZED (
  SELECT p.oid, p.polname, p.polrelid, p.polcmd, p.polpermissive, p.polroles,
         p.polqual IS NOT NULL AS has_qual, p.polwithcheck IS NOT NULL AS has_check,
         schema_guard._policy_facts(p.polqual, p.polwithcheck) AS facts
  FROM pg_policy p
  -- a semi-join: the hash is built on the narrow relation oids, not on the
  -- policies with their expression trees
  WHERE p.polrelid IN (SELECT oid FROM rel)
),
pol AS MATERIALIZED (
  SELECT oid, polname, polrelid, polcmd, polpermissive, polroles, has_qual, has_check,
         (facts).qual_true, (facts).check_true
  FROM facts
),
-- the roles named by permissive policies, and the roles inheriting from each
-- (itself included); superusers and BYPASSRLS roles are left out, policies do
-- not apply to them
named AS (
  SELECT DISTINCT x AS role FROM pol CROSS JOIN LATERAL unnest(polroles) x WHERE polpermissive AND x <> 0
),
inh AS MATERIALIZED (
  SELECT m.oid AS member, n.role
  FROM named n
  JOIN rol m ON NOT m.rolsuper AND NOT m.rolbypassrls AND m.rolname !~ '^pg_' AND pg_has_role(m.oid, n.role, 'USAGE')
),
-- the commands a policy governs
polcmd AS (
  SELECT p.*, c.cmd
  FROM pol p CROSS JOIN LATERAL unnest(CASE p.polcmd WHEN '*' THEN '{r,a,w,d}'::"char"[]
                                                     ELSE ARRAY[p.polcmd] END) c(cmd)
),
-- permissive policies narrowed, for every role they apply to, by a restrictive
-- policy of their table for a command they govern
softened AS (
  SELECT DISTINCT c.oid
  FROM polcmd c
  JOIN polcmd r ON r.polrelid = c.polrelid AND r.cmd = c.cmd AND NOT r.polpermissive
  WHERE c.polpermissive
    AND (0 = ANY (r.polroles) OR (NOT 0 = ANY (c.polroles) AND c.polroles <@ r.polroles))
),
-- what pg_depend knows about each policy: relations, columns, functions, operators
poldep AS MATERIALIZED (
  SELECT d.objid AS polid, d.refclassid, d.refobjid, d.refobjsubid
  FROM pg_depend d
  WHERE d.classid = 'pg_policy'::regclass AND d.deptype = 'n'
),
-- the function calls in policy expressions, from the node trees (only trees
-- with a call are walked)
calls AS MATERIALIZED (
  SELECT p.oid AS polid, c.*
  FROM facts p CROSS JOIN LATERAL unnest((p.facts).calls) c
),
-- the policies whose fixes need their expressions as SQL, deparsed once each:
-- those with a current_setting or per-row finding (their fix: the policy
-- rewritten with both recipes) and UPDATE / ALL policies without WITH CHECK
-- (their fix spells out the USING expression); NULL while a table they read is
-- locked by DDL
polsql AS MATERIALIZED (
  SELECT x.polid, s.qual,
         CASE WHEN s.qual_rewritten IS NOT NULL OR s.check_rewritten IS NOT NULL
              THEN format('ALTER POLICY %I ON %s%s%s;', p.polname, p.polrelid::regclass,
                          ' USING (' || s.qual_rewritten || ')', ' WITH CHECK (' || s.check_rewritten || ')') END AS rewrite_fix
  FROM (SELECT c.polid FROM calls c JOIN pg_proc f ON f.oid = c.funcid
        WHERE c.funcid = 2077
           OR (c.funcid = 3294 AND (NOT c.missing_ok OR NOT c.nullif_empty))
           OR (NOT c.in_subquery
               AND (c.funcid = 3294 OR (f.provolatile <> 'i' AND NOT c.has_var AND f.oid >= 16384 AND NOT f.proretset)))
        UNION
        SELECT oid FROM pol WHERE polcmd IN ('w', '*') AND has_qual AND NOT has_check) x
  JOIN pol p ON p.oid = x.polid
  CROSS JOIN LATERAL schema_guard._policy_sql(x.polid) s
),
-- the tenant column of the tables the checks below look at: RLS off and
-- reachable, or RLS on without a policy
tenant AS (
  SELECT DISTINCT ON (a.attrelid) a.attrelid AS relid, a.attname AS col,
         format_type(a.atttypid, a.atttypmod) AS coltype
  FROM pg_attribute a
  JOIN rel r ON r.oid = a.attrelid
  WHERE a.attname = ANY ((SELECT tenant_cols FROM cfg)::name[]) AND a.attnum > 0 AND NOT a.attisdropped
    AND r.relkind IN ('r', 'p')
    AND (CASE WHEN r.rls THEN r.oid NOT IN (SELECT polrelid FROM pol)
              ELSE r.oid IN (SELECT relid FROM reach) OR r.relowner IN (SELECT relowner FROM heirs) END)
  ORDER BY a.attrelid, array_position((SELECT tenant_cols FROM cfg)::name[], a.attname)
),
findings AS (
  ------------------------------------------------------------------ tables
  -- RLS disabled on a table other roles can reach, where RLS is expected
  SELECT r.oid AS relid, NULL::name AS policy, 'rls_disabled' AS chk,
         CASE WHEN t.col IS NOT NULL OR par.relid IS NOT NULL THEN 'high' ELSE 'medium' END AS sev,
         format('Row-level security is disabled, but %s can %s the %s.%s',
                concat_ws(', ',
                  CASE WHEN g.grantees IS NOT NULL THEN schema_guard._role_list(g.grantees) END,
                  CASE WHEN h.members IS NOT NULL
                       THEN format('the members of its owner %s', schema_guard._role_list(ARRAY[r.relowner])) END),
                CASE WHEN h.members IS NOT NULL OR (g.can_read AND g.can_write) THEN 'read and write'
                     WHEN g.can_write THEN 'write' ELSE 'read' END,
                CASE r.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END,
                CASE WHEN par.relid IS NOT NULL
                       THEN format(' It is a partition of %s, which has row-level security: querying the partition directly skips the parent''s policies.', par.relid::regclass)
                     WHEN t.col IS NOT NULL
                       THEN format(' It has the tenant column %I.', t.col)
                     ELSE format(' Other tables in schema %I use row-level security.', r.nspname) END) AS detail,
         CASE
           WHEN par.relid IS NOT NULL AND g.grantees IS NOT NULL
             THEN format('REVOKE ALL ON %s FROM %s;', r.oid::regclass, schema_guard._role_list(g.grantees))
           WHEN t.col IS NOT NULL AND r.oid NOT IN (SELECT polrelid FROM pol)
             THEN format('CREATE POLICY tenant_isolation ON %s USING (%I = (SELECT NULLIF(current_setting(%L, true), '''')::%s));',
                         r.oid::regclass, t.col, 'app.' || t.col, t.coltype) || E'\n'
                  || format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', r.oid::regclass)
           ELSE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', r.oid::regclass)
         END AS fix
  FROM rel r
  LEFT JOIN reach g ON g.relid = r.oid
  LEFT JOIN heirs h ON h.relowner = r.relowner
  LEFT JOIN tenant t ON t.relid = r.oid
  LEFT JOIN LATERAL (SELECT i.inhparent AS relid FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                      WHERE i.inhrelid = r.oid AND pc.relrowsecurity) par ON r.relispartition
  WHERE r.relkind IN ('r', 'p') AND NOT r.rls
    AND (g.grantees IS NOT NULL OR h.members IS NOT NULL)
    AND (par.relid IS NOT NULL OR t.col IS NOT NULL OR r.relnamespace IN (SELECT relnamespace FROM rlsschema))

  UNION ALL
  -- policies that are not applied
  SELECT r.oid, NULL, 'policies_without_rls', 'high',
         format('%s exist%s, but row-level security is disabled on the table, so %s not applied.',
                CASE WHEN count(*) = 1 THEN format('Policy %I', min(p.polname))
                     ELSE format('Policies %s', string_agg(quote_ident(p.polname), ', ' ORDER BY p.polname)) END,
                CASE WHEN count(*) = 1 THEN 's' ELSE '' END,
                CASE WHEN count(*) = 1 THEN 'it is' ELSE 'they are' END),
         format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', r.oid::regclass)
  FROM rel r JOIN pol p ON p.polrelid = r.oid
  WHERE r.relkind IN ('r', 'p') AND NOT r.rls
  GROUP BY r.oid

  UNION ALL
  -- RLS on, no policy: nobody but the owner (and bypassing roles) sees a row
  SELECT r.oid, NULL, 'rls_without_policy',
         CASE WHEN g.relid IS NOT NULL OR h.members IS NOT NULL THEN 'medium' ELSE 'low' END,
         'Row-level security is enabled and the table has no policy, so every role subject to it sees no rows and can change none (a silent deny-all).',
         CASE WHEN t.col IS NOT NULL
              THEN format('CREATE POLICY tenant_isolation ON %s USING (%I = (SELECT NULLIF(current_setting(%L, true), '''')::%s));',
                          r.oid::regclass, t.col, 'app.' || t.col, t.coltype) END
  FROM rel r
  LEFT JOIN reach g ON g.relid = r.oid
  LEFT JOIN tenant t ON t.relid = r.oid
  LEFT JOIN heirs h ON h.relowner = r.relowner
  WHERE r.relkind IN ('r', 'p') AND r.rls AND r.oid NOT IN (SELECT polrelid FROM pol)

  UNION ALL
  -- a command for which a role has restrictive policies and no permissive one
  SELECT ro.polrelid, NULL, 'restrictive_only', 'high',
         format('Only restrictive %s (%s) %s to %s for %s: restrictive policies only narrow what permissive policies allow, so no row can be %s.',
                CASE WHEN cardinality(ro.names) = 1 THEN 'policy' ELSE 'policies' END,
                array_to_string(ro.names, ', '),
                CASE WHEN cardinality(ro.names) = 1 THEN 'applies' ELSE 'apply' END,
                schema_guard._role_list(ro.roles), cmd.name, cmd.past),
         format('CREATE POLICY %I ON %s AS PERMISSIVE FOR %s TO %s %s (true);',
                lower(cmd.name) || '_permitted', ro.polrelid::regclass, cmd.name,
                schema_guard._role_list(ro.roles),
                CASE WHEN ro.cmd = 'a' THEN 'WITH CHECK' ELSE 'USING' END)
  FROM (
    SELECT x.polrelid, x.cmd, array_agg(DISTINCT x.role) AS roles,
           array_agg(DISTINCT quote_ident(x.polname)) AS names
    FROM (
      SELECT pc.polrelid, pc.cmd, pc.polname, k.role
      FROM polcmd pc
      JOIN rel r ON r.oid = pc.polrelid AND r.rls
      CROSS JOIN LATERAL unnest(pc.polroles) k(role)
      LEFT JOIN (SELECT q.polrelid, q.cmd, y.role
                   FROM polcmd q CROSS JOIN LATERAL unnest(q.polroles) y(role)
                  WHERE q.polpermissive) perm
        ON perm.polrelid = pc.polrelid AND perm.cmd = pc.cmd
       AND (k.role = 0 OR perm.role = 0 OR perm.role = k.role OR (k.role, perm.role) IN (SELECT member, role FROM inh))
      WHERE NOT pc.polpermissive
        AND EXISTS (SELECT FROM pol WHERE NOT polpermissive)   -- skips the rest when there are none
      GROUP BY pc.polrelid, pc.cmd, pc.polname, k.role
      HAVING count(perm.polrelid) = 0
    ) x
    GROUP BY x.polrelid, x.cmd
  ) ro
  CROSS JOIN LATERAL (VALUES (CASE ro.cmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' ELSE 'DELETE' END,
                              CASE ro.cmd WHEN 'r' THEN 'read' WHEN 'a' THEN 'inserted' WHEN 'w' THEN 'updated' ELSE 'deleted' END)) cmd(name, past)

  UNION ALL
  -- the owner bypasses RLS unless it is forced, and the owner logs in
  SELECT r.oid, NULL, 'rls_not_forced', 'medium',
         format('Row-level security is not forced, and %s: sessions as the owner%s bypass every policy.',
                concat_ws(' and ',
                  CASE WHEN o.rolcanlogin THEN format('the owner %s can log in', schema_guard._role_list(ARRAY[r.relowner])) END,
                  CASE WHEN h.login_members IS NOT NULL
                       THEN format('%s can log in and %s the owner''s rights',
                                   schema_guard._role_list(h.login_members),
                                   CASE WHEN cardinality(h.login_members) = 1 THEN 'inherits' ELSE 'inherit' END) END),
                CASE WHEN h.login_members IS NOT NULL THEN ' or as a role inheriting its rights' ELSE '' END),
         format('ALTER TABLE %s FORCE ROW LEVEL SECURITY;', r.oid::regclass)
  FROM rel r
  JOIN rol o ON o.oid = r.relowner
  LEFT JOIN heirs h ON h.relowner = r.relowner
  WHERE r.relkind IN ('r', 'p') AND r.rls AND NOT r.forced
    AND (o.rolcanlogin AND NOT r.owner_bypasses OR h.login_members IS NOT NULL)

  UNION ALL
  -- tables with row-level security where roles other than the owner may TRUNCATE
  SELECT r.oid, NULL, 'truncate_privilege', 'medium',
         format('%s may TRUNCATE the table; row-level security does not apply to TRUNCATE, which empties the table for every tenant.',
                schema_guard._role_list(array_agg(a.grantee))),
         format('REVOKE TRUNCATE ON %s FROM %s;', r.oid::regclass, schema_guard._role_list(array_agg(a.grantee)))
  FROM rel r JOIN acl a ON a.relid = r.oid AND a.priv = 'TRUNCATE'
  WHERE r.rls
  GROUP BY r.oid

  ------------------------------------------------------------------ roles
  UNION ALL
  SELECT NULL, NULL, 'bypass_role',
         CASE WHEN bool_or(x.granted) THEN 'high' ELSE 'medium' END,
         format('Role %s can log in and %s, so row-level security never applies to it; it %s %s %s with row-level security (%s%s).',
                quote_ident(o.rolname),
                CASE WHEN o.rolsuper THEN 'is a superuser' ELSE 'has BYPASSRLS' END,
                concat_ws(' and ',
                          CASE WHEN bool_or(x.owns) THEN 'owns' END,
                          CASE WHEN bool_or(x.granted) THEN 'is granted privileges on' END),
                count(DISTINCT x.relid),
                CASE WHEN count(DISTINCT x.relid) = 1 THEN 'table' ELSE 'tables' END,
                string_agg(x.relid::regclass::text, ', ' ORDER BY x.relid::regclass::text) FILTER (WHERE x.rn <= 3),
                CASE WHEN count(DISTINCT x.relid) > 3 THEN ', ...' ELSE '' END),
         CASE WHEN NOT o.rolsuper THEN format('ALTER ROLE %I NOBYPASSRLS;', o.rolname) END
  FROM rol o
  CROSS JOIN LATERAL (
    SELECT y.*, row_number() OVER (ORDER BY y.relid::regclass::text) AS rn
    FROM (SELECT r.oid AS relid, bool_or(r.relowner = o.oid) AS owns,
                 bool_or(a.grantee IS NOT NULL) AS granted
          FROM rel r
          LEFT JOIN acl a ON a.relid = r.oid AND a.grantee <> 0
                         AND (a.grantee = o.oid OR pg_has_role(o.oid, a.grantee, 'USAGE') AND NOT o.rolsuper)
          WHERE r.relkind IN ('r', 'p') AND r.rls
          GROUP BY r.oid
          HAVING bool_or(r.relowner = o.oid) OR bool_or(a.grantee IS NOT NULL)) y) x
  WHERE o.rolcanlogin AND (o.rolsuper OR o.rolbypassrls)
  GROUP BY o.oid, o.rolname, o.rolsuper

  ------------------------------------------------------------------ policies
  UNION ALL
  SELECT p.polrelid, p.polname, 'permissive_public', 'low',
         'The permissive policy applies to PUBLIC: to every role with privileges on the table, including roles created later.',
         -- the roles that hold privileges on the table now (none to name when PUBLIC holds some)
         CASE WHEN g.grantees IS NOT NULL AND NOT 0 = ANY (g.grantees)
              THEN format('ALTER POLICY %I ON %s TO %s;', p.polname, p.polrelid::regclass, schema_guard._role_list(g.grantees)) END
  FROM pol p
  LEFT JOIN reach g ON g.relid = p.polrelid
  WHERE p.polpermissive AND 0 = ANY (p.polroles)

  UNION ALL
  SELECT p.polrelid, p.polname, 'always_true',
         CASE WHEN NOT p.polpermissive THEN 'low'
              WHEN p.oid IN (SELECT oid FROM softened) THEN 'low'
              WHEN p.polcmd = 'r' THEN 'medium'
              ELSE 'high' END,
         format('%s always true%s',
                concat_ws(' and ', CASE WHEN tq THEN 'USING is' END, CASE WHEN tc THEN 'WITH CHECK is' END),
                CASE WHEN NOT p.polpermissive THEN ': the restrictive policy restricts nothing.'
                     WHEN p.polcmd = 'r' THEN ': every row is visible to the roles it applies to.'
                     ELSE ': the roles it applies to can ' ||
                          CASE WHEN tq AND tc THEN 'see and write every row.'
                               WHEN tq THEN 'reach every row.'
                               ELSE 'write rows with any values, including other tenants'' keys.' END END),
         NULL
  FROM (SELECT p.*, p.qual_true AS tq, p.check_true AS tc FROM pol p) p
  WHERE tq OR tc

  UNION ALL
  SELECT p.polrelid, p.polname, 'missing_with_check',
         CASE WHEN p.polcmd <> 'a' THEN 'low' WHEN p.polpermissive THEN 'medium' ELSE 'high' END,
         CASE WHEN p.polcmd <> 'a'
                THEN 'The policy has no WITH CHECK expression: its USING expression is applied to new rows as well.'
              WHEN p.polpermissive
                THEN 'The INSERT policy has no WITH CHECK expression, so it admits no row.'
              ELSE 'The restrictive INSERT policy has no WITH CHECK expression, so it restricts nothing.' END,
         -- UPDATE / ALL: say explicitly what already applies (an INSERT policy needs a real predicate)
         CASE WHEN p.polcmd <> 'a' AND ps.qual IS NOT NULL
              THEN format('ALTER POLICY %I ON %s WITH CHECK (%s);', p.polname, p.polrelid::regclass, ps.qual) END
  FROM pol p
  LEFT JOIN polsql ps ON ps.polid = p.oid
  WHERE p.polcmd IN ('a', 'w', '*') AND NOT p.has_check

  UNION ALL
  -- several permissive policies for one command and one role
  SELECT g.polrelid, NULL, 'multiple_permissive', 'low',
         format('Permissive policies %s all apply to %s for %s: they are OR-ed, and each is evaluated for every row.',
                g.names, g.roles, g.cmds),
         NULL
  FROM (
    SELECT s.polrelid, s.names, string_agg(DISTINCT s.cmdname, ', ') AS cmds,
           CASE WHEN bool_or(s.role = 0) THEN 'PUBLIC' ELSE schema_guard._role_list(array_agg(DISTINCT s.role)) END AS roles
    FROM (
      SELECT a.polrelid, a.cmd, a.role,
             CASE a.cmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' ELSE 'DELETE' END AS cmdname,
             string_agg(quote_ident(a.polname), ', ' ORDER BY a.polname) AS names
      FROM (
        -- each permissive policy of a (table, command) that has several, with
        -- the roles it applies to: PUBLIC, and the roles inheriting a named role
        WITH cp AS (
          SELECT pc.polrelid, pc.cmd, pc.polname, pc.polroles
          FROM polcmd pc
          JOIN (SELECT polrelid, cmd FROM polcmd WHERE polpermissive GROUP BY polrelid, cmd HAVING count(*) > 1) crowded
            ON crowded.polrelid = pc.polrelid AND crowded.cmd = pc.cmd
          WHERE pc.polpermissive
        )
        SELECT cp.polrelid, cp.cmd, cp.polname, 0::oid AS role FROM cp WHERE 0 = ANY (cp.polroles)
        UNION ALL
        SELECT DISTINCT cp.polrelid, cp.cmd, cp.polname, i.member
        FROM cp JOIN inh i ON i.role = ANY (cp.polroles) OR 0 = ANY (cp.polroles)
      ) a
      GROUP BY a.polrelid, a.cmd, a.role
      HAVING count(*) > 1
    ) s
    GROUP BY s.polrelid, s.names
  ) g

  UNION ALL
  -- UPDATE / DELETE policies for roles that no SELECT policy covers
  SELECT w.polrelid, w.polname, 'update_without_select', 'medium',
         format('No permissive SELECT policy applies to %s: an %s that reads the table (a WHERE clause, SET col = col + 1, RETURNING) silently affects no rows.',
                w.roles, CASE w.polcmd WHEN 'w' THEN 'UPDATE' ELSE 'DELETE' END),
         -- a SELECT policy for those roles that shows the rows the policy lets them change
         (SELECT format('CREATE POLICY %I ON %s FOR SELECT TO %s USING (%s);',
                        (SELECT c.name FROM generate_series(1, 1000) i
                                CROSS JOIN LATERAL (SELECT (w.polname || '_select' || CASE WHEN i > 1 THEN i::text ELSE '' END)::name AS name) c
                          WHERE NOT EXISTS (SELECT FROM pg_policy x WHERE x.polrelid = w.polrelid AND x.polname = c.name)
                          ORDER BY i LIMIT 1),
                        w.polrelid::regclass, w.roles, s.qual)
            FROM schema_guard._policy_sql(w.oid) s WHERE s.qual IS NOT NULL)
  FROM (
  SELECT u.oid, u.polrelid, u.polname, u.polcmd, schema_guard._role_list(array_agg(u.role)) AS roles
  FROM (
    SELECT p.oid, p.polrelid, p.polname, p.polcmd, x.role
    FROM pol p
    CROSS JOIN LATERAL unnest(p.polroles) x(role)
    LEFT JOIN (SELECT s.polrelid, y.role
                 FROM pol s CROSS JOIN LATERAL unnest(s.polroles) y(role)
                WHERE s.polpermissive AND s.polcmd IN ('r', '*')) sel
      ON sel.polrelid = p.polrelid
     AND (sel.role = 0 OR sel.role = x.role
          OR (x.role, sel.role) IN (SELECT member, role FROM inh))
    WHERE p.polcmd IN ('w', 'd') AND p.polpermissive
    GROUP BY p.oid, p.polrelid, p.polname, p.polcmd, x.role
    HAVING count(sel.polrelid) = 0
  ) u
  GROUP BY u.oid, u.polrelid, u.polname, u.polcmd
  ) w

  UNION ALL
  -- current_setting() without missing_ok
  -- (each of these three groups the calls first and joins the fix after, so
  -- the sorts behind the grouping do not carry the fix text)
  SELECT g.polrelid, g.polname, 'current_setting_no_missing_ok', 'medium', g.detail, ps.rewrite_fix
  FROM (
    SELECT p.oid, p.polrelid, p.polname,
           format('%s raises an error when the setting is not set in the session. Use NULLIF(current_setting(name, true), '''') and handle NULL.',
                  string_agg(DISTINCT format('current_setting(%L)', coalesce(c.setting, '...')), ', ')) AS detail
    FROM calls c JOIN pol p ON p.oid = c.polid
    WHERE c.funcid = 2077 OR (c.funcid = 3294 AND NOT c.missing_ok)
    GROUP BY p.oid, p.polrelid, p.polname
  ) g
  LEFT JOIN polsql ps ON ps.polid = g.oid

  UNION ALL
  -- current_setting(name, true) used without turning '' into NULL
  SELECT g.polrelid, g.polname, 'current_setting_empty_string', 'medium', g.detail, ps.rewrite_fix
  FROM (
    SELECT p.oid, p.polrelid, p.polname,
           format('%s returns '''' (not NULL) on a pooled connection where an earlier transaction set it with SET LOCAL; %s Wrap it: NULLIF(current_setting(name, true), '''').',
                  string_agg(DISTINCT format('current_setting(%L, true)', coalesce(c.setting, '...')), ', '),
                  CASE WHEN bool_or(c.parent = 'COERCEVIAIO' OR c.parent = 'FUNCEXPR')
                       THEN 'the cast then raises an error.' ELSE 'the empty string is then compared as a value.' END) AS detail
    FROM calls c JOIN pol p ON p.oid = c.polid
    WHERE c.funcid = 3294 AND c.missing_ok AND NOT c.nullif_empty
    GROUP BY p.oid, p.polrelid, p.polname
  ) g
  LEFT JOIN polsql ps ON ps.polid = g.oid

  UNION ALL
  -- calls evaluated for every row that a scalar subquery would evaluate once
  SELECT g.polrelid, g.polname, 'per_row_function', 'low', g.detail, ps.rewrite_fix
  FROM (
    SELECT p.oid, p.polrelid, p.polname,
           format('%s %s evaluated for every row; written as a scalar subquery, (SELECT %s), %s evaluated once per statement.',
                  string_agg(DISTINCT f.proname || '()', ', '),
                  CASE WHEN count(DISTINCT f.oid) = 1 THEN 'is' ELSE 'are' END,
                  CASE WHEN count(DISTINCT f.oid) > 1 THEN '...'
                       WHEN min(f.pronargs) > 0 THEN min(f.proname) || '(...)' ELSE min(f.proname) || '()' END,
                  CASE WHEN count(DISTINCT f.oid) = 1 THEN 'it is' ELSE 'they are' END) AS detail
    FROM calls c JOIN pol p ON p.oid = c.polid JOIN pg_proc f ON f.oid = c.funcid
    WHERE NOT c.in_subquery
      AND (c.funcid IN (2077, 3294)
           OR (f.provolatile <> 'i' AND NOT c.has_var AND f.oid >= 16384 AND NOT f.proretset))
    GROUP BY p.oid, p.polrelid, p.polname
  ) g
  LEFT JOIN polsql ps ON ps.polid = g.oid

  UNION ALL
  -- volatile functions, called directly or behind an operator
  SELECT p.polrelid, p.polname, 'volatile_function', 'medium',
         format('The policy calls volatile %s %s: %s per row, and the result can differ between the rows of one statement.',
                CASE WHEN count(DISTINCT v.oid) = 1 THEN 'function' ELSE 'functions' END,
                string_agg(DISTINCT v.oid::regprocedure::text, ', '),
                CASE WHEN count(DISTINCT v.oid) = 1 THEN 'it is evaluated' ELSE 'they are evaluated' END),
         NULL
  FROM pol p
  -- the volatile functions first (few), then the policies that use them
  JOIN (SELECT c.polid, c.funcid AS oid FROM calls c
        UNION ALL
        SELECT d.polid, d.refobjid FROM poldep d WHERE d.refclassid = 'pg_proc'::regclass
        UNION ALL
        SELECT d.polid, o.oprcode::oid FROM poldep d JOIN pg_operator o ON o.oid = d.refobjid
        WHERE d.refclassid = 'pg_operator'::regclass) u ON u.polid = p.oid
  JOIN (SELECT oid FROM pg_proc WHERE provolatile = 'v') v ON v.oid = u.oid
  GROUP BY p.polrelid, p.polname

  UNION ALL
  -- the columns a policy reads from its own table, none of them leading an index
  SELECT pc.polrelid, pc.polname, 'unindexed_policy_column',
         CASE WHEN r.relpages::bigint * current_setting('block_size')::bigint >= 10485760 THEN 'medium' ELSE 'low' END,
         format('No valid index starts with %s %s, which the policy compares for every row it filters.',
                CASE WHEN cardinality(nm.cols) = 1 THEN 'column' ELSE 'any of the columns' END,
                array_to_string(ARRAY(SELECT quote_ident(c) FROM unnest(nm.cols) c), ', ')),
         CASE WHEN r.relkind = 'p'
              THEN schema_guard._partitioned_index_fix(r.oid, ARRAY[nm.lead])
              ELSE format('CREATE INDEX CONCURRENTLY ON %s (%I);', r.oid::regclass, nm.lead) END
  FROM (
    SELECT p.oid, p.polrelid, p.polname, array_agg(DISTINCT d.refobjsubid) AS attnums
    FROM pol p
    JOIN poldep d ON d.polid = p.oid AND d.refclassid = 'pg_class'::regclass
                 AND d.refobjid = p.polrelid AND d.refobjsubid > 0
    GROUP BY p.oid, p.polrelid, p.polname
  ) pc
  JOIN rel r ON r.oid = pc.polrelid
  -- names only for the policies reported
  CROSS JOIN LATERAL (
    SELECT array_agg(a.attname ORDER BY a.attnum) AS cols,
           (array_agg(a.attname ORDER BY a.attname = ANY ((SELECT tenant_cols FROM cfg)::name[]) DESC, a.attnum))[1] AS lead
    FROM pg_attribute a WHERE a.attrelid = pc.polrelid AND a.attnum = ANY (pc.attnums)) nm
  WHERE NOT EXISTS (SELECT FROM pg_index i
                     WHERE i.indrelid = pc.polrelid AND i.indisvalid AND i.indpred IS NULL
                       AND i.indkey[0] = ANY (pc.attnums))

  UNION ALL
  -- a policy reading another table that has no row-level security
  SELECT p.polrelid, p.polname, 'policy_reads_table_without_rls',
         CASE WHEN bool_or(w.writers IS NOT NULL) THEN 'high' ELSE 'low' END,
         format('The policy reads %s, which %s no row-level security%s',
                string_agg(DISTINCT o.oid::regclass::text, ', '),
                CASE WHEN count(DISTINCT o.oid) = 1 THEN 'has' ELSE 'have' END,
                CASE WHEN bool_or(w.writers IS NOT NULL)
                     THEN format(' and which %s can write: whoever can write it decides what this policy lets through.',
                                 string_agg(DISTINCT w.writers, ', '))
                     ELSE '.' END),
         string_agg(DISTINCT CASE WHEN w.writers IS NOT NULL
                                  THEN format('REVOKE INSERT, UPDATE, DELETE ON %s FROM %s;', o.oid::regclass, w.writers) END, E'\n')
  FROM pol p
  JOIN (SELECT DISTINCT polid, refobjid FROM poldep WHERE refclassid = 'pg_class'::regclass) d
    ON d.polid = p.oid AND d.refobjid <> p.polrelid
  JOIN pg_class o ON o.oid = d.refobjid AND o.relkind IN ('r', 'p', 'm', 'f') AND NOT o.relrowsecurity
  LEFT JOIN LATERAL (
    SELECT schema_guard._role_list(array_agg(DISTINCT a.grantee)) AS writers
    FROM aclexplode(o.relacl) a
    WHERE a.grantee <> o.relowner AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE')) w ON true
  GROUP BY p.polrelid, p.polname

  ------------------------------------------------------------------ views and functions
  UNION ALL
  SELECT v.viewid, NULL,
         CASE WHEN v.relkind = 'm' THEN 'matview_over_rls' ELSE 'definer_view' END,
         CASE WHEN v.relkind = 'm' THEN CASE WHEN bool_or(v.readers) THEN 'high' ELSE 'medium' END
              WHEN bool_or(v.bypass) THEN 'high' ELSE 'medium' END,
         CASE WHEN v.relkind = 'm'
              THEN format('The materialized view stores rows of %s, which %s row-level security; it has no policies of its own, so every reader sees what its last REFRESH saw.',
                          string_agg(DISTINCT v.tblid::regclass::text, ', '),
                          CASE WHEN count(DISTINCT v.tblid) = 1 THEN 'has' ELSE 'have' END)
              ELSE format('The view reads %s, which %s row-level security, with the rights of its owner %s (no security_invoker)%s',
                          string_agg(DISTINCT v.tblid::regclass::text, ', '),
                          CASE WHEN count(DISTINCT v.tblid) = 1 THEN 'has' ELSE 'have' END,
                          schema_guard._role_list(ARRAY[min(v.relowner)]),
                          CASE WHEN bool_or(v.bypass)
                               THEN format(', who bypasses it (%s): every caller sees every row.',
                                           string_agg(DISTINCT v.why, '; '))
                               ELSE ': policies are checked for the owner, not for the caller.' END) END,
         CASE WHEN v.relkind = 'v' THEN format('ALTER VIEW %s SET (security_invoker = true);', v.viewid::regclass)
              WHEN bool_or(v.readers) THEN format('REVOKE SELECT ON %s FROM %s;', v.viewid::regclass, min(v.readerlist)) END
  FROM (
    WITH RECURSIVE reads(viewid, relid, depth) AS (
      SELECT w.ev_class, d.refobjid, 1
      FROM pg_rewrite w
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> w.ev_class
      WHERE w.ev_class IN (SELECT oid FROM rel WHERE relkind IN ('v', 'm'))
      UNION
      -- through views that run with the caller's rights
      SELECT r.viewid, d.refobjid, r.depth + 1
      FROM reads r
      JOIN pg_class iv ON iv.oid = r.relid AND iv.relkind = 'v'
                      AND schema_guard._reloption_true(iv.reloptions, 'security_invoker')
      JOIN pg_rewrite w ON w.ev_class = iv.oid
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> w.ev_class
      WHERE r.depth < 10
    )
    SELECT DISTINCT vr.oid AS viewid, vr.relkind, vr.relowner, t.oid AS tblid,
           -- the owner bypasses RLS on t: superuser, BYPASSRLS, or t's owner (or heir) without FORCE
           (vo.rolsuper OR vo.rolbypassrls OR (NOT t.relforcerowsecurity AND pg_has_role(vr.relowner, t.relowner, 'USAGE'))) AS bypass,
           CASE WHEN vo.rolsuper THEN 'superuser' WHEN vo.rolbypassrls THEN 'BYPASSRLS'
                ELSE format('owner of %s without FORCE ROW LEVEL SECURITY', t.oid::regclass) END AS why,
           (SELECT array_agg(DISTINCT a.grantee) IS NOT NULL FROM aclexplode(vr.relacl) a
             WHERE a.grantee <> vr.relowner AND a.privilege_type = 'SELECT') AS readers,
           (SELECT schema_guard._role_list(array_agg(DISTINCT a.grantee)) FROM aclexplode(vr.relacl) a
             WHERE a.grantee <> vr.relowner AND a.privilege_type = 'SELECT') AS readerlist
    FROM reads rd
    JOIN pg_class vr ON vr.oid = rd.viewid
    JOIN rol vo ON vo.oid = vr.relowner
    JOIN pg_class t ON t.oid = rd.relid AND t.relkind IN ('r', 'p') AND t.relrowsecurity
    WHERE vr.relkind = 'm' OR NOT schema_guard._reloption_true(vr.reloptions, 'security_invoker')
  ) v
  GROUP BY v.viewid, v.relkind

  UNION ALL
  -- SECURITY DEFINER functions: owners that bypass RLS, and unpinned search_path
  SELECT f.relid, NULL, f.chk, f.sev, f.detail, f.fix
  FROM (
    SELECT x.*
    FROM (
      SELECT p.oid, p.oid::regprocedure AS sig, p.proowner, p.proconfig, n.nspname,
             EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                      WHERE a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE') AS callable,
             0 = ANY (SELECT a.grantee FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE a.privilege_type = 'EXECUTE') AS public_exec,
             o.rolsuper, o.rolbypassrls,
             (SELECT substr(c, 13) FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%') AS path
      FROM pg_proc p
      JOIN scope n ON n.oid = p.pronamespace
      JOIN rol o ON o.oid = p.proowner
      WHERE p.prosecdef AND p.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_proc'::regclass)
    ) fn
    CROSS JOIN LATERAL (
      -- tables with RLS the body reads (known for SQL-standard bodies) or the owner bypasses
      SELECT b.relid, 'definer_function' AS chk,
             CASE WHEN b.reads THEN 'high' ELSE 'medium' END AS sev,
             format('SECURITY DEFINER function %s runs with the rights of its owner %s, who bypasses row-level security%s; %s',
                    fn.sig, schema_guard._role_list(ARRAY[fn.proowner]),
                    CASE WHEN fn.rolsuper THEN ' (superuser)' WHEN fn.rolbypassrls THEN ' (BYPASSRLS)'
                         ELSE format(' on %s (owner without FORCE)', b.relid::regclass) END,
                    CASE WHEN b.reads THEN format('it reads %s, so its callers see rows their policies hide.', b.relid::regclass)
                         ELSE 'callers reach the rows of any table it reads without their own policies.' END) AS detail,
             CASE WHEN fn.public_exec THEN format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC;', fn.sig) END AS fix
      FROM (
        SELECT d.refobjid AS relid, true AS reads
        FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid AND t.relrowsecurity AND t.relkind IN ('r', 'p')
        WHERE d.classid = 'pg_proc'::regclass AND d.objid = fn.oid AND d.refclassid = 'pg_class'::regclass
          AND (fn.rolsuper OR fn.rolbypassrls OR (NOT t.relforcerowsecurity AND pg_has_role(fn.proowner, t.relowner, 'USAGE')))
        GROUP BY d.refobjid
        UNION ALL
        -- body not known: the owner's bypass is the finding
        SELECT NULL, false
        WHERE NOT EXISTS (SELECT FROM pg_depend d
                           WHERE d.classid = 'pg_proc'::regclass AND d.objid = fn.oid AND d.refclassid = 'pg_class'::regclass)
          AND (fn.rolsuper OR fn.rolbypassrls
               OR EXISTS (SELECT FROM (SELECT DISTINCT relowner FROM rel WHERE rls AND NOT forced) o
                           WHERE pg_has_role(fn.proowner, o.relowner, 'USAGE')))
          AND EXISTS (SELECT FROM rel r WHERE r.rls)
      ) b
      WHERE fn.callable
      UNION ALL
      SELECT NULL, 'definer_function_search_path',
             CASE WHEN fn.path IS NULL THEN CASE WHEN fn.callable THEN 'high' ELSE 'medium' END ELSE 'low' END,
             CASE WHEN fn.path IS NULL
                  THEN format('SECURITY DEFINER function %s does not pin search_path: a caller can put a schema or temporary object of its own in front of the ones the function expects.', fn.sig)
                  ELSE format('SECURITY DEFINER function %s pins search_path = %s without pg_temp last, so the session''s temporary schema is searched first for tables and views.', fn.sig, fn.path) END,
             format('ALTER FUNCTION %s SET search_path = %s;', fn.sig,
                    CASE WHEN fn.path IS NULL THEN quote_ident(fn.nspname) || ', pg_temp'
                         ELSE coalesce(nullif(array_to_string(ARRAY(
                                SELECT btrim(e) FROM unnest(string_to_array(fn.path, ',')) e
                                WHERE btrim(btrim(e), '"') NOT IN ('pg_temp', '')), ', '), '') || ', ', '') || 'pg_temp' END)
      WHERE fn.path IS NULL
         OR btrim(btrim((string_to_array(fn.path, ','))[cardinality(string_to_array(fn.path, ','))]), '"') <> 'pg_temp'
    ) x
  ) f

  UNION ALL
  SELECT NULL, NULL, 'leakproof_function', 'medium',
         format('Function %s is LEAKPROOF: the planner may evaluate it on rows before the policies filter them, so it must not reveal its arguments (in errors, notices or side effects).',
                p.oid::regprocedure),
         format('ALTER FUNCTION %s NOT LEAKPROOF;', p.oid::regprocedure)
  FROM pg_proc p
  JOIN scope n ON n.oid = p.pronamespace
  WHERE p.proleakproof AND p.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_proc'::regclass)
)
SELECT f.relid::regclass, f.policy, f.chk, f.sev, f.detail, f.fix
FROM findings f
LEFT JOIN rel c ON c.oid = f.relid
ORDER BY CASE f.sev WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
         c.pos NULLS FIRST, f.chk COLLATE "C", f.policy NULLS FIRST, f.detail COLLATE "C"
$fn$;

COMMENT ON FUNCTION schema_guard.rls_audit(name[]) IS
  'Row-level security gaps: one row per finding with a stable check id, severity, detail and, where one exists, the fix';

CREATE FUNCTION schema_guard.rls_access(role regrole, VARIADIC schema_filter name[] DEFAULT NULL)
RETURNS TABLE (
  relation    regclass,
  command     text,
  outcome     text,
  policies    name[],
  restrictive name[],
  detail      text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
WITH
scope AS (
  SELECT s.oid FROM unnest(schema_guard._audit_namespaces(schema_filter)) s(oid)
),
who AS (
  SELECT a.oid, a.rolname, a.rolsuper, a.rolbypassrls FROM pg_roles a WHERE a.oid = rls_access.role
),
-- the roles whose policies apply to this role: itself and the roles it inherits
heritage AS (
  SELECT a.oid FROM pg_roles a, who WHERE pg_has_role(who.oid, a.oid, 'USAGE')
),
tbl AS (
  SELECT c.oid, c.relname, s.oid AS nsp, c.relowner, c.relforcerowsecurity AS forced
  FROM pg_class c JOIN scope s ON s.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity
    AND c.oid NOT IN (SELECT d.objid FROM pg_depend d
                      WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_class'::regclass
                        AND d.deptype = 'e')
),
cmd(n, name, polcmd) AS (
  VALUES (1, 'SELECT', 'r'::"char"), (2, 'INSERT', 'a'), (3, 'UPDATE', 'w'), (4, 'DELETE', 'd')
),
-- the policies that apply to this role, per table and command
applies AS (
  SELECT p.polrelid, c.n, p.polpermissive, p.polname
  FROM pg_policy p
  JOIN tbl t ON t.oid = p.polrelid
  JOIN cmd c ON p.polcmd IN (c.polcmd, '*')
  WHERE 0 = ANY (p.polroles) OR p.polroles && ARRAY(SELECT oid FROM heritage)
),
cell AS (
  SELECT t.oid, t.relname, t.nsp, c.n, c.name,
         CASE WHEN c.name = 'DELETE' THEN has_table_privilege(w.oid, t.oid, 'DELETE')
              ELSE has_any_column_privilege(w.oid, t.oid, c.name) END AS priv,
         w.rolsuper, w.rolbypassrls, w.oid = t.relowner AS is_owner,
         pg_has_role(w.oid, t.relowner, 'USAGE') AS owner_rights, t.forced, t.relowner,
         (SELECT array_agg(a.polname ORDER BY a.polname) FROM applies a
           WHERE a.polrelid = t.oid AND a.n = c.n AND a.polpermissive) AS perm,
         (SELECT array_agg(a.polname ORDER BY a.polname) FROM applies a
           WHERE a.polrelid = t.oid AND a.n = c.n AND NOT a.polpermissive) AS restr,
         EXISTS (SELECT FROM applies a WHERE a.polrelid = t.oid AND a.n = 1 AND a.polpermissive) AS can_select
  FROM tbl t CROSS JOIN cmd c CROSS JOIN who w
)
SELECT x.oid::regclass, x.name,
       CASE WHEN NOT x.priv THEN 'no privilege'
            WHEN x.rolsuper OR x.rolbypassrls OR (x.owner_rights AND NOT x.forced) THEN 'bypass'
            WHEN x.perm IS NULL THEN 'denied'
            ELSE 'filtered' END,
       CASE WHEN x.priv AND NOT (x.rolsuper OR x.rolbypassrls OR (x.owner_rights AND NOT x.forced)) THEN x.perm END,
       CASE WHEN x.priv AND NOT (x.rolsuper OR x.rolbypassrls OR (x.owner_rights AND NOT x.forced)) THEN x.restr END,
       CASE WHEN NOT x.priv THEN format('The role has no %s privilege on the table.', x.name)
            WHEN x.rolsuper THEN 'The role is a superuser: row-level security does not apply.'
            WHEN x.rolbypassrls THEN 'The role has BYPASSRLS: row-level security does not apply.'
            WHEN x.owner_rights AND NOT x.forced AND x.is_owner
              THEN 'The role owns the table and row-level security is not forced: policies do not apply.'
            WHEN x.owner_rights AND NOT x.forced
              THEN format('The role inherits the rights of the owner %s and row-level security is not forced: policies do not apply.',
                          x.relowner::regrole)
            WHEN x.perm IS NULL
              THEN format('No permissive policy for %s applies to the role: no row can be %s.', x.name,
                          CASE x.n WHEN 1 THEN 'read' WHEN 2 THEN 'inserted' WHEN 3 THEN 'updated' ELSE 'deleted' END)
            ELSE concat_ws(' ',
                   CASE x.n WHEN 1 THEN 'Rows are visible'
                            WHEN 2 THEN 'New rows are accepted'
                            WHEN 3 THEN 'Rows can be updated'
                            ELSE 'Rows can be deleted' END
                   || CASE WHEN x.restr IS NULL THEN ' when one of the permissive policies passes.'
                           ELSE ' when one of the permissive policies and all of the restrictive ones pass.' END,
                   CASE WHEN x.n IN (3, 4) AND NOT x.can_select
                        THEN format('No SELECT policy applies to the role, so an %s that reads the table (WHERE, RETURNING, SET col = col + 1) affects no rows.', x.name) END)
       END
FROM cell x
JOIN pg_namespace n ON n.oid = x.nsp
ORDER BY n.nspname, x.relname, x.n
$fn$;

COMMENT ON FUNCTION schema_guard.rls_access(regrole, name[]) IS
  'For one role: every table with row-level security x SELECT/INSERT/UPDATE/DELETE, with the effective outcome (bypass, no privilege, denied, filtered) and the policies that decide it';
