-- schema_guard 0.2.0 -> 0.3.0, written by hand: one commented section per object.
\echo Use "ALTER EXTENSION schema_guard UPDATE TO '0.3.0'" to load this file. \quit

-- extension schema: 0.3.0 lives in the schema the control file names (schema =
-- schema_guard), so \dx shows it and pg_dump writes CREATE EXTENSION ... WITH SCHEMA
-- schema_guard (a fresh 0.3.0 refuses any other schema).  Up to 0.2.0 the script
-- created that schema as a member, and the extension was recorded in the first schema
-- of the search_path.  PostgreSQL refuses a member schema that contains its own
-- extension, and ALTER EXTENSION SET SCHEMA refuses a non-relocatable one (it would
-- move the objects; they are already in schema_guard), so the record is changed in the
-- catalog, with the dependency CREATE EXTENSION records on the schema.
ALTER EXTENSION schema_guard DROP SCHEMA schema_guard;
UPDATE pg_catalog.pg_extension SET extnamespace = 'schema_guard'::pg_catalog.regnamespace
WHERE extname = 'schema_guard';
DELETE FROM pg_catalog.pg_depend
WHERE classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND objid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'schema_guard')
  AND refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND deptype = 'n';
INSERT INTO pg_catalog.pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass, oid, 0,
       'pg_catalog.pg_namespace'::pg_catalog.regclass, extnamespace, 0, 'n'
FROM pg_catalog.pg_extension WHERE extname = 'schema_guard';

-- status(): two new result columns, library_version and extension_version (a
-- function's result type cannot be changed in place).
DROP FUNCTION schema_guard.status();
CREATE FUNCTION schema_guard.status(
    OUT active boolean,
    OUT hook_installed boolean,
    OUT load_method text,
    OUT extension_installed boolean,
    OUT effective_mode text,
    OUT message text,
    OUT library_version text,
    OUT extension_version text)
RETURNS record
AS 'MODULE_PATHNAME', 'schema_guard_status'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard.status() IS
  'Is the guard active in this backend: how the library was loaded, whether the extension is installed here, the effective mode; the versions of the loaded library and of the installed extension';

-- schema_guard._relations_bytes(text[]): new in 0.3.0.  A Citus coordinator calls it on
-- every node to read the size of a distributed table's shards without locking them.
CREATE FUNCTION schema_guard._relations_bytes(relations text[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'schema_guard_relations_bytes'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION schema_guard._relations_bytes(text[]) IS
  'Internal (Citus): the storage of the named relations on this node, summed, read without locks; NULL when one is missing';

-- schema_guard.statements(): the statement catalog (new in 0.3.0)
CREATE FUNCTION schema_guard.statements(
    OUT statement text,
    OUT subcommand text,
    OUT lock_mode text,
    OUT locked text,
    OUT work text,
    OUT rules text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'schema_guard_statements'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION schema_guard.statements() IS
  'The statements the guard judges: each utility statement that takes a lock stronger than SHARE UPDATE EXCLUSIVE on an existing relation, the lock, which relations get it, the work done under it and the rules that judge it';

-- ---------------------------------------------------------------------------
-- New in 0.3.0 (issue 14): audit_checks(), _audit_catalog() and audit(), as in
-- src/sql/40_audit.sql: one report of every check (the C++ checks, and the rows
-- of fk_index_audit() and rls_audit()).  The GUC schema_guard.audit_skip is the
-- library's.

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

-- schema_guard._check_sequence(text[]): new in 0.3.0, the protocol of the C++
-- schema_guard_lint (check() over statements the client read as psql runs them).
CREATE FUNCTION schema_guard._check_sequence(
    steps text[],
    OUT step int,
    OUT error_offset int,
    OUT rule text,
    OUT action text,
    OUT relation regclass,
    OUT lock_mode text,
    OUT rewrites boolean,
    OUT scans boolean,
    OUT message text,
    OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'schema_guard_check_sequence'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION schema_guard._check_sequence(text[]) IS
  'schema_guard_lint''s protocol: check() over a sequence of steps read by the client';

-- schema_guard.export_table_sizes(): new in 0.3.0, exports heap sizes for schema_guard_lint
-- --schema --table-sizes.
CREATE FUNCTION schema_guard.export_table_sizes(OUT relation text, OUT bytes bigint)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
  SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.pg_relation_size(c.oid, 'main')
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'm')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname !~ '^pg_(toast|temp_)'
     AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
   ORDER BY 1
$$;

COMMENT ON FUNCTION schema_guard.export_table_sizes() IS
  'Heap size of each table, for schema_guard_lint --schema --table-sizes (size-dependent verdicts as in production)';

-- schema_guard._simulate_table_sizes(text[], bigint[]): new in 0.3.0, loads those sizes
-- into a throwaway server's session (superuser only).
CREATE FUNCTION schema_guard._simulate_table_sizes(relations text[], bytes bigint[])
RETURNS int
AS 'MODULE_PATHNAME', 'schema_guard_simulate_table_sizes'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION schema_guard._simulate_table_sizes(text[], bigint[]) FROM PUBLIC;

COMMENT ON FUNCTION schema_guard._simulate_table_sizes(text[], bigint[]) IS
  'schema_guard_lint --schema: production heap sizes for this session of a throwaway server (superuser only)';
