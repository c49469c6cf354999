-- schema_guard upgrade script 0.1.0 -> 0.2.0 (written by hand; keep in step with src/sql/*.sql).
\echo Use "ALTER EXTENSION schema_guard UPDATE TO '0.2.0'" to load this file. \quit
--
-- 0.2.0 moved the foreign-key grading and the policy-tree reading from SQL and
-- PL/pgSQL into C++ (src/audit/).  This script turns a 0.1.0 installation into
-- exactly what CREATE EXTENSION schema_guard VERSION '0.2.0' creates; the test
-- test/t/upgrade.sh compares the two catalog by catalog.
--
-- Rules for editing:
--  * one section per function.  Until 0.2.0 is released, a change to a function
--    in src/sql/*.sql must be made here too (test/t/upgrade.sh fails until it
--    is); after the release, changes go into a new upgrade script instead;
--  * CREATE OR REPLACE FUNCTION resets every attribute (language, volatility,
--    strictness, parallel safety, SET clauses), so each replaced function is
--    written out whole, as in src/sql, followed by its COMMENT and any ALTER
--    FUNCTION the install script applies to it;
--  * removed functions are dropped with their exact signature and without
--    CASCADE: a user object that still depends on one makes the update fail
--    instead of being dropped silently.
--
-- Objects not named here (the schema, status, rules, table_rewrite_backstop,
-- the event trigger, check, explain, _partition_tree,
-- _partitioned_index_fix, the types _policy_call and _policy_facts,
-- _tenant_columns, _reloption_true) are
-- identical in 0.1.0 and 0.2.0.

-- ---------------------------------------------------------------------------
-- 1. Removed: the SQL/PL/pgSQL helpers of fk_index_audit() 0.1.0 (index grading,
--    predicate implication over node trees as JSON, cast and collation probes).
--    Replaced by the C implementation of fk_index_audit() (section 3).
DROP FUNCTION schema_guard._node_json(text);
DROP FUNCTION schema_guard._implied_by_not_null(jsonb, int2[]);
DROP FUNCTION schema_guard._binary_coercible(oid, oid);
DROP FUNCTION schema_guard._fk_index_columns(oid);
DROP FUNCTION schema_guard._probe_collation(oid, int);
DROP FUNCTION schema_guard._fk_cast_needed(oid);
DROP FUNCTION schema_guard._expr_index_grade(oid, int2[], oid);
DROP FUNCTION schema_guard._pred_implied(text, int2[]);

-- ---------------------------------------------------------------------------
-- 2. Removed: the PL/pgSQL node-tree text scanners behind _policy_facts() 0.1.0.
--    Replaced by the C implementation of schema_guard._policy_facts (section 4).
DROP FUNCTION schema_guard._node_end(bytea, int);
DROP FUNCTION schema_guard._const_text(text);
DROP FUNCTION schema_guard._const_true(text);
DROP FUNCTION schema_guard._policy_calls(text);
DROP FUNCTION schema_guard._always_true(text);
DROP FUNCTION schema_guard._maybe_always_true(text);

-- ---------------------------------------------------------------------------
-- 3. Replaced: schema_guard.fk_index_audit(name[])
--    LANGUAGE sql -> LANGUAGE C ('schema_guard_fk_index_audit'); same signature
--    and result columns.  CREATE OR REPLACE resets proconfig: SET jit = off and
--    SET work_mem are gone (the audits use the server's work_mem), search_path
--    is set by the definition, and stats_fetch_consistency is set again
--    afterwards, as the install script does.
CREATE OR REPLACE FUNCTION schema_guard.fk_index_audit(VARIADIC schema_filter name[] DEFAULT NULL)
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

-- ---------------------------------------------------------------------------
-- 4. Replaced: schema_guard._policy_facts(pg_node_tree, pg_node_tree)
--    LANGUAGE plpgsql STABLE -> LANGUAGE C STABLE PARALLEL SAFE; same signature,
--    same result type (schema_guard._policy_facts, unchanged).
CREATE OR REPLACE FUNCTION schema_guard._policy_facts(qual pg_node_tree, chk pg_node_tree)
RETURNS schema_guard._policy_facts
AS 'MODULE_PATHNAME', 'schema_guard_policy_facts'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard._policy_facts(pg_node_tree, pg_node_tree) IS
  'internal: the function calls in a policy''s expressions and whether they are always true';

-- ---------------------------------------------------------------------------
-- 5. New: _policy_sql(), the deparsed (and rewritten) policy expressions that
--    rls_audit() 0.2.0 uses for the fixes of policy-expression checks.
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

-- ---------------------------------------------------------------------------
-- 6. Changed: rls_audit() sorts its findings by a precomputed relation
--    position (rel.pos) and gives fixes for permissive_public,
--    missing_with_check, update_without_select, current_setting_* and
--    per_row_function.
CREATE OR REPLACE FUNCTION schema_guard.rls_audit(VARIADIC schema_filter name[] DEFAULT NULL)
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

-- ---------------------------------------------------------------------------
-- 7. Fixed: _role_list() failed on PUBLIC together with named roles
--    ('PUBLIC' || text[] parsed 'PUBLIC' as an array literal).
-- A role list for messages: PUBLIC for 0, role names (quoted as needed), sorted.
CREATE OR REPLACE FUNCTION schema_guard._role_list(roles oid[])
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

-- ---------------------------------------------------------------------------
-- 8. Replaced: _free_relname() is C (the same code names fk_index_audit()'s
--    indexes); plpgsql -> C, no SET clause.
-- An index name in namespace nsp, at most 63 bytes, that no relation uses yet:
-- base_suffix, base_suffix1, base_suffix2, ... (the base is cut to fit, as
-- PostgreSQL itself does).  start skips candidates other fixes already took.
-- The same C++ code names the indexes of fk_index_audit()'s own fixes.
CREATE OR REPLACE FUNCTION schema_guard._free_relname(nsp oid, base text, suffix text, start int DEFAULT 0)
RETURNS name
AS 'MODULE_PATHNAME', 'schema_guard_free_relname'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION schema_guard._free_relname(oid, text, text, int) IS
  'internal: a relation name of at most 63 bytes that is free in the namespace';

-- ---------------------------------------------------------------------------
-- 9. New: _audit_namespaces(), the audits' one scope rule (C++), used by
--    rls_audit() and rls_access(); rls_access() replaced to use it.
-- The schemas an audit looks at: the given ones, or all but pg_catalog,
-- information_schema, TOAST and temporary schemas (the same C++ rule as
-- fk_index_audit()).
CREATE FUNCTION schema_guard._audit_namespaces(schema_filter name[])
RETURNS oid[]
AS 'MODULE_PATHNAME', 'schema_guard_audit_namespaces'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard._audit_namespaces(name[]) IS
  'internal: the schemas an audit looks at';

CREATE OR REPLACE FUNCTION schema_guard.rls_access(role regrole, VARIADIC schema_filter name[] DEFAULT NULL)
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
