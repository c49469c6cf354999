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
-- the event trigger, check, explain, _free_relname, _partition_tree,
-- _partitioned_index_fix, the types _policy_call and _policy_facts,
-- _tenant_columns, _reloption_true, _role_list, rls_audit, rls_access) are
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
--    and result columns.  CREATE OR REPLACE resets proconfig: SET jit = off is
--    gone, search_path and work_mem are set by the definition, and
--    stats_fetch_consistency is set again afterwards, as the install script does.
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
SET search_path = pg_catalog, pg_temp
SET work_mem = '32MB';

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
