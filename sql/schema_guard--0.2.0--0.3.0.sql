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
