-- The guard: status, rule catalog and the table_rewrite backstop.

-- The objects live in schema schema_guard, named by the control file (so \dx shows it):
-- CREATE EXTENSION creates it when missing.  PostgreSQL does not let an extension own
-- the schema it is installed in, so DROP EXTENSION leaves the (then empty) schema.
-- A schema of that name that already exists is used, but only when a superuser owns
-- it: its owner could drop and replace the functions superusers call.
DO $$
DECLARE
  owner regrole := (SELECT nspowner::regrole FROM pg_catalog.pg_namespace WHERE nspname = 'schema_guard');
BEGIN
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner) THEN
    RAISE EXCEPTION 'schema "schema_guard" is owned by role %, which is not a superuser', owner
      USING DETAIL = 'The owner of a schema can drop and replace the functions in it.',
            HINT = 'ALTER SCHEMA schema_guard OWNER TO a superuser, or drop it, then CREATE EXTENSION schema_guard again.';
  END IF;
END
$$;

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

-- The statement sequence schema_guard_lint sends: the files of one change, already read
-- as psql runs them on the client (which has the file system for \i), one element per
-- step: a kind letter (S statement, N note, C \connect, B/E the transaction a migration
-- tool opens and commits around a file), a flag digit (1 ON_ERROR_STOP, 2 AUTOCOMMIT),
-- then the text.  Rows name the step and, for a syntax error, the character offset in it.
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

-- Table sizes, exported from production for schema_guard_lint --schema:
--   psql -XAt -c "COPY (SELECT * FROM schema_guard.export_table_sizes()) TO STDOUT CSV" > sizes.csv
-- The heap size of every table and materialized view the caller can see (the size the
-- guard's rules and messages use).
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

CREATE FUNCTION schema_guard._simulate_table_sizes(relations text[], bytes bigint[])
RETURNS int
AS 'MODULE_PATHNAME', 'schema_guard_simulate_table_sizes'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION schema_guard._simulate_table_sizes(text[], bigint[]) FROM PUBLIC;

COMMENT ON FUNCTION schema_guard._simulate_table_sizes(text[], bigint[]) IS
  'schema_guard_lint --schema: production heap sizes for this session of a throwaway server (superuser only)';
