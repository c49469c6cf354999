-- Audit: one report of the schema's quiet risks.  audit() returns the rows of
-- the C++ checks (src/audit/), of fk_index_audit() and of rls_audit() in one
-- shape; audit_checks() lists every check (the catalog in
-- src/audit/checks.cpp), and schema_guard.audit_skip switches checks off.

-- The check catalog, and whether schema_guard.audit_skip leaves each out.
CREATE FUNCTION schema_guard.audit_checks()
RETURNS TABLE (
  "check"     text,
  category    text,
  severity    text,
  source      text,
  enabled     boolean,
  description text)
AS 'MODULE_PATHNAME', 'schema_guard_audit_checks'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION schema_guard.audit_checks() IS
  'The checks of audit(): name, category, highest severity, the function that finds it, whether schema_guard.audit_skip leaves it out, and what it catches';

-- The findings of the checks written in C++ (catalog reads only).
CREATE FUNCTION schema_guard._audit_catalog(schema_filter name[])
RETURNS TABLE (
  "check"  text,
  severity text,
  relation regclass,
  object   text,
  detail   text,
  fix      text)
AS 'MODULE_PATHNAME', 'schema_guard_audit_catalog'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION schema_guard._audit_catalog(name[]) IS
  'internal: the findings of audit()''s C++ checks';

CREATE FUNCTION schema_guard.audit(VARIADIC schema_filter name[] DEFAULT NULL)
RETURNS TABLE (
  "check"  text,
  severity text,
  relation regclass,
  object   text,
  detail   text,
  fix      text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
WITH
checks AS MATERIALIZED (
  SELECT c."check", c.source, c.enabled FROM schema_guard.audit_checks() c
),
findings AS (
  -- ord: each source's own order (the C++ checks sort theirs by relation and
  -- object names; fk_index_audit() and rls_audit() by schema and table), so the
  -- final sort needs no per-row name lookup
  SELECT a."check", a.severity, a.relation, a.object, a.detail, a.fix, 1 AS src, a.ord
  FROM schema_guard._audit_catalog(schema_filter) WITH ORDINALITY a("check", severity, relation, object, detail, fix, ord)
  UNION ALL
  -- a condition on the checks only: when the check is skipped, the function is not called at all
  SELECT 'unindexed_foreign_key', f.severity, f.relation, f.constraint_name::text,
         format('Foreign key %I of %s (%s) references %s, and %s has no index its RI check can use%s%s%s. Every DELETE or key UPDATE on %s (ON DELETE %s) searches %s for matching rows without one.',
                f.constraint_name, f.relation,
                array_to_string(ARRAY(SELECT quote_ident(c) FROM unnest(f.columns) c), ', '),
                f.referenced, f.relation, CASE WHEN f.reason <> 'no index' THEN ': ' || f.reason END,
                CASE WHEN f.candidate_index IS NOT NULL THEN format(' (best index: %s)', f.candidate_index) END,
                CASE WHEN f.partitions IS NOT NULL THEN format('; partitions without one: %s', array_to_string(f.partitions, ', ')) END,
                f.referenced, f.on_delete, f.relation),
         f.fix, 2, f.ordinality
  FROM schema_guard.fk_index_audit(VARIADIC schema_filter) WITH ORDINALITY f
  WHERE (SELECT c.enabled FROM checks c WHERE c."check" = 'unindexed_foreign_key')
  UNION ALL
  SELECT r."check", r.severity, r.relation, r.policy::text, r.detail, r.fix, 3, r.ordinality
  FROM schema_guard.rls_audit(VARIADIC schema_filter) WITH ORDINALITY r
  WHERE (SELECT bool_or(c.enabled) FROM checks c WHERE c.source = 'rls_audit')
    AND r."check" IN (SELECT c."check" FROM checks c WHERE c.enabled)
)
SELECT f."check", f.severity, f.relation, f.object, f.detail, f.fix
FROM findings f
ORDER BY CASE f.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, f."check" COLLATE "C", f.src, f.ord
$fn$;

COMMENT ON FUNCTION schema_guard.audit(name[]) IS
  'The schema''s quiet risks in one report: one row per finding of every check in audit_checks() (fk_index_audit() and rls_audit() included), with its severity and, where one exists, the exact fix';

-- PostgreSQL 15+: read each statistics entry fresh (see fk_index_audit()).
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 150000 THEN
    ALTER FUNCTION schema_guard.audit(name[]) SET stats_fetch_consistency = none;
  END IF;
END
$$;
