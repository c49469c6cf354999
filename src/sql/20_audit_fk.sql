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
