-- schema_guard 0.1.0 install script, as released (frozen: upgrades start from it).
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

-- A stored node tree (pg_node_tree text) as jsonb: {"node": "OPEXPR", "opno": 96,
-- "args": [...]}.  Only structure, numbers and booleans survive; identifiers and
-- strings inside the tree become JSON strings or null, datums become arrays of
-- their bytes.  Used on small trees (index predicates, short policy expressions).
CREATE FUNCTION schema_guard._node_json(tree text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
SELECT translate(replace(
  regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    -- backslash escapes (identifiers with blanks or braces) lose their meaning
    CASE WHEN strpos(tree, '\') > 0 THEN regexp_replace(tree, '\\.', '_', 'g') ELSE tree END,
    -- datums: "4 [ 16 0 0 0 ]" becomes the list "(16 0 0 0)"
    '\d+ \[ ((?:-?\d+(?: -?\d+)*)?) ?\]', '(\1)', 'g'),
    -- any token that is not a number, a word, a :field or <> becomes <>
    '(^|[\s(])(?!(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|:?[A-Za-z_]\w*|<>)(?:[\s(){}]|$))[^\s(){}]+', '\1<>', 'g'),
    -- words (other than true/false) become strings
    '(^|[\s(])(?!(?:true|false)(?:[\s)}]|$))([A-Za-z_]\w*)', '\1"\2"', 'g'),
    '\{([A-Z_]+)', '{"node":"\1"', 'g'),
    ' :(\w+) ', ',"\1":', 'g'),
    -- a value that looked like a field name (an alias such as ":x")
    '":(:\w+)', '":null', 'g'),
  '<>', 'null'), '() ', '[],')::jsonb
$fn$;

COMMENT ON FUNCTION schema_guard._node_json(text) IS
  'internal: a stored expression node tree as jsonb (structure, numbers and booleans only)';

-- Is an index predicate (as _node_json) implied by "every one of cols IS NOT NULL"?
-- The RI probe is "$1 = col" with a strict operator, which proves exactly that.
CREATE FUNCTION schema_guard._implied_by_not_null(pred jsonb, cols int2[])
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
  arg jsonb;
BEGIN
  IF jsonb_typeof(pred) = 'array' THEN            -- implicit AND
    FOR arg IN SELECT a FROM jsonb_array_elements(pred) a LOOP
      IF NOT schema_guard._implied_by_not_null(arg, cols) THEN
        RETURN false;
      END IF;
    END LOOP;
    RETURN true;
  END IF;
  CASE pred->>'node'
    WHEN 'NULLTEST' THEN
      RETURN (pred->>'nulltesttype') = '1'          -- IS NOT NULL
         AND (pred->>'argisrow') = 'false'
         AND pred->'arg'->>'node' = 'VAR'
         AND (pred->'arg'->>'varlevelsup') = '0'
         AND (pred->'arg'->>'varattno')::int2 = ANY (cols);
    WHEN 'BOOLEXPR' THEN
      IF pred->>'boolop' = 'and' THEN
        RETURN schema_guard._implied_by_not_null(pred->'args', cols);
      ELSIF pred->>'boolop' = 'or' THEN
        FOR arg IN SELECT a FROM jsonb_array_elements(pred->'args') a LOOP
          IF schema_guard._implied_by_not_null(arg, cols) THEN
            RETURN true;
          END IF;
        END LOOP;
      END IF;
      RETURN false;
    WHEN 'CONST' THEN                               -- WHERE true
      RETURN (pred->>'consttype') = '16' AND (pred->>'constisnull') = 'false'
         AND EXISTS (SELECT FROM jsonb_array_elements_text(pred->'constvalue') b WHERE b <> '0');
    ELSE
      RETURN false;
  END CASE;
END
$fn$;

COMMENT ON FUNCTION schema_guard._implied_by_not_null(jsonb, int2[]) IS
  'internal: is a partial-index predicate implied by the given columns being NOT NULL';

-- An index name in namespace nsp, at most 63 bytes, that no relation uses yet:
-- base_suffix, base_suffix1, base_suffix2, ... (the base is cut to fit, as
-- PostgreSQL itself does).  start skips candidates other fixes already took.
CREATE FUNCTION schema_guard._free_relname(nsp oid, base text, suffix text, start int DEFAULT 0)
RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  n int := start;
  tail text;
  head text;
BEGIN
  LOOP
    tail := '_' || suffix || CASE WHEN n > 0 THEN n::text ELSE '' END;
    head := base;
    WHILE octet_length(head) + octet_length(tail) > 63 LOOP
      head := left(head, -1);
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_class WHERE relname = head || tail AND relnamespace = nsp) THEN
      RETURN (head || tail)::name;
    END IF;
    n := n + 1;
  END LOOP;
END
$fn$;

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

-- Can a value of type src be used where type dst is expected without a run-time
-- conversion (same type, domain over it, or a binary-coercible cast)?  The RI
-- probe then only relabels the column and the index still matches it.
CREATE FUNCTION schema_guard._binary_coercible(src oid, dst oid)
RETURNS boolean
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH RECURSIVE base(t) AS (
  SELECT src
  UNION
  SELECT ty.typbasetype FROM base JOIN pg_type ty ON ty.oid = base.t WHERE ty.typtype = 'd'
)
SELECT EXISTS (
  SELECT FROM base b
  WHERE b.t = dst
     OR EXISTS (SELECT FROM pg_cast WHERE castsource = b.t AND casttarget = dst AND castmethod = 'b')
     OR (dst = 'anyarray'::regtype AND EXISTS (SELECT FROM pg_type WHERE oid = b.t AND typcategory = 'A'))
     OR (dst = 'anyenum'::regtype AND EXISTS (SELECT FROM pg_type WHERE oid = b.t AND typtype = 'e'))
     OR (dst = 'anyrange'::regtype AND EXISTS (SELECT FROM pg_type WHERE oid = b.t AND typtype = 'r'))
     OR (dst = 'record'::regtype AND EXISTS (SELECT FROM pg_type WHERE oid = b.t AND typtype = 'c'))
)
$fn$;

-- The index DDL for one column list: "(a, b)", with a cast or COLLATE where the
-- RI probe needs one.
CREATE FUNCTION schema_guard._fk_index_columns(conoid oid)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT '(' || string_agg(
         CASE
           WHEN NOT schema_guard._binary_coercible(fa.atttypid, o.oprright)
             THEN format('(%I::%s)', fa.attname, format_type(o.oprright, NULL))
           WHEN fa.attcollation <> 0 AND fa.attcollation <> pa.attcollation AND NOT pc.collisdeterministic
             THEN format('%I COLLATE %I.%I', fa.attname, pcn.nspname, pc.collname)
           ELSE quote_ident(fa.attname)
         END, ', ' ORDER BY k.n) || ')'
FROM pg_constraint c
     CROSS JOIN LATERAL unnest(c.conkey, c.confkey, c.conpfeqop) WITH ORDINALITY k(att, patt, op, n)
     JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = k.att
     JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.patt
     JOIN pg_operator o ON o.oid = k.op
     LEFT JOIN pg_collation pc ON pc.oid = pa.attcollation
     LEFT JOIN pg_namespace pcn ON pcn.oid = pc.collnamespace
WHERE c.oid = conoid
$fn$;


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

-- The collation of the RI probe on FK column k: the FK column's own, unless the
-- referenced column's collation differs and is nondeterministic (then the probe
-- says COLLATE with it).
CREATE FUNCTION schema_guard._probe_collation(conoid oid, k int)
RETURNS oid
LANGUAGE sql STABLE
AS $fn$
SELECT CASE WHEN pa.attcollation <> fa.attcollation AND NOT coalesce(pc.collisdeterministic, true)
            THEN pa.attcollation ELSE fa.attcollation END
FROM pg_constraint c
JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = c.conkey[k]
JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[k]
LEFT JOIN pg_collation pc ON pc.oid = pa.attcollation
WHERE c.oid = conoid
$fn$;

-- Does the RI probe convert some FK column (int column, numeric key: the
-- operator is numeric = numeric and the column is cast)?
CREATE FUNCTION schema_guard._fk_cast_needed(conoid oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT EXISTS (
  SELECT FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey, c.conpfeqop) k(att, op)
  JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = k.att
  JOIN pg_operator o ON o.oid = k.op
  WHERE c.oid = conoid AND NOT schema_guard._binary_coercible(fa.atttypid, o.oprright))
$fn$;

-- The grade (as in fk_index_audit) of an index whose leading key columns include
-- expressions, when those are exactly the casts the RI probe applies to the FK
-- columns ("(a::numeric)" for an int column referencing a numeric key: the probe
-- compares "$1 = a::numeric", which such an index matches).  NULL when the
-- index's leading columns are not the FK's columns.
CREATE FUNCTION schema_guard._expr_index_grade(conoid oid, attnums int2[], idx oid)
RETURNS int
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  i pg_index;
  c pg_constraint;
  n int := cardinality(attnums);
  exprs jsonb;
  e jsonb;
  ne int := 0;
  cols int2[] := '{}';
  casts oid[] := '{}';
  funcs oid[] := '{}';
  j int;
  opr pg_operator;
  fktype oid;
  castfunc oid;
  opc pg_opclass;
  eq_ok boolean;
BEGIN
  SELECT * INTO i FROM pg_index WHERE indexrelid = idx;
  SELECT * INTO c FROM pg_constraint WHERE oid = conoid;
  IF n > i.indnkeyatts THEN
    RETURN NULL;
  END IF;
  exprs := schema_guard._node_json(i.indexprs::text);
  FOR j IN 0 .. i.indnkeyatts - 1 LOOP
    IF i.indkey[j] <> 0 THEN
      IF j < n THEN cols := cols || i.indkey[j]; casts := casts || 0::oid; funcs := funcs || 0::oid; END IF;
      CONTINUE;
    END IF;
    e := exprs->ne;
    ne := ne + 1;
    IF j >= n THEN CONTINUE; END IF;
    IF e->>'node' = 'FUNCEXPR' AND e->>'funcformat' IN ('1', '2')
       AND jsonb_array_length(e->'args') = 1 AND e->'args'->0->>'node' = 'VAR' THEN
      cols := cols || (e->'args'->0->>'varattno')::int2;
      casts := casts || (e->>'funcresulttype')::oid;
      funcs := funcs || (e->>'funcid')::oid;
    ELSE
      RETURN NULL;
    END IF;
  END LOOP;
  IF NOT (cols @> attnums AND cols <@ attnums) THEN
    RETURN NULL;
  END IF;
  FOR k IN 1 .. n LOOP
    j := array_position(cols, attnums[k]);
    SELECT * INTO opr FROM pg_operator WHERE oid = c.conpfeqop[k];
    SELECT * INTO opc FROM pg_opclass WHERE oid = i.indclass[j - 1];
    IF opc.opcmethod NOT IN (SELECT oid FROM pg_am WHERE amname IN ('btree', 'hash')) THEN
      RETURN 6;
    END IF;
    eq_ok := opr.oprright = opc.opcintype
             AND EXISTS (SELECT FROM pg_amop ao
                          WHERE ao.amopfamily = opc.opcfamily AND ao.amopopr = opr.oprcom
                            AND ao.amoppurpose = 's' AND ao.amopstrategy = 1 + 2 * (opc.opcmethod = 403)::int);
    IF casts[j] <> 0 THEN
      -- the expression must be the very cast the probe writes: fk type -> operator input
      SELECT a.atttypid INTO fktype FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = c.conkey[k];
      SELECT pc.castfunc INTO castfunc FROM pg_cast pc WHERE pc.castsource = fktype AND pc.casttarget = opr.oprright;
      IF casts[j] <> opr.oprright OR castfunc IS NULL OR funcs[j] <> castfunc THEN
        RETURN 4;
      END IF;
    END IF;
    IF NOT eq_ok THEN
      RETURN 4;
    END IF;
    IF i.indcollation[j - 1] <> 0 AND i.indcollation[j - 1] <> schema_guard._probe_collation(conoid, k) THEN
      RETURN 3;
    END IF;
  END LOOP;
  IF i.indpred IS NOT NULL
     AND NOT schema_guard._implied_by_not_null(schema_guard._node_json(i.indpred::text), attnums) THEN
    RETURN 2;
  END IF;
  IF NOT (i.indisvalid AND i.indisready AND i.indislive) THEN
    RETURN 1;
  END IF;
  RETURN 0;
END
$fn$;

COMMENT ON FUNCTION schema_guard._expr_index_grade(oid, int2[], oid) IS
  'internal: grade of an expression index against a foreign key whose RI probe casts the column';

-- Fast paths for the usual predicates ("WHERE flag": no IS NOT NULL at all;
-- "WHERE col IS NOT NULL": one NULLTEST on one column); the rest goes through
-- the node tree.  Inlined into the caller (no SET clause on purpose).
CREATE FUNCTION schema_guard._pred_implied(pred text, cols int2[])
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT CASE
  WHEN pg_catalog.strpos(pred, '{NULLTEST ') = 0 AND pg_catalog.strpos(pred, '{CONST ') = 0 THEN false
  WHEN pred LIKE '{NULLTEST :arg {VAR :varno 1 :varattno % :varlevelsup 0 %} :nulltesttype 1 :argisrow false :location %}'
   AND pg_catalog.length(pred) - pg_catalog.length(pg_catalog.replace(pred, '{', '')) = 2
    THEN pg_catalog.split_part(pg_catalog.split_part(pred, ' :varattno ', 2), ' ', 1)::int2 = ANY (cols)
  ELSE schema_guard._implied_by_not_null(schema_guard._node_json(pred), cols)
END
$fn$;

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
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
SET work_mem = '32MB'
AS $fn$
-- Few rows are materialized on purpose: catalogs are scanned once, joined by
-- hash on OIDs, and everything per foreign key beyond the grade is computed
-- for the reported ones only.
WITH
-- btree equality (strategy 3) and hash equality (strategy 1) members, keyed by
-- (opclass, operator) for an RI probe "$1 OPERATOR(op) column": an index column
-- serves it when the operator's commutator is in the opclass's family and the
-- operator's right input is the opclass input type (no conversion of the column)
compat AS (
  SELECT (opc.oid::bigint << 32) | o.oid::bigint AS k
  FROM pg_opclass opc
  JOIN pg_am am ON am.oid = opc.opcmethod AND am.amname IN ('btree', 'hash')
  JOIN pg_amop ao ON ao.amopfamily = opc.opcfamily AND ao.amoppurpose = 's'
                 AND ao.amopstrategy = CASE am.amname WHEN 'btree' THEN 3 ELSE 1 END
  JOIN pg_operator o ON o.oprcom = ao.amopopr AND o.oprright = opc.opcintype
),
eqam AS (
  SELECT opc.oid FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
  WHERE am.amname IN ('btree', 'hash')
),
scope AS (
  SELECT n.oid FROM pg_namespace n
  WHERE CASE WHEN coalesce(cardinality(array_remove(schema_filter, NULL)), 0) = 0
             THEN n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
             ELSE n.nspname = ANY (schema_filter) END
),
-- the logical foreign keys in scope (partition clones, conparentid <> 0, are
-- folded into their parent), with the relation whose indexes serve the probe:
-- the referencing table itself, or each leaf below a partitioned one (with the
-- FK columns mapped to the leaf's attribute numbers)
targets AS (
  SELECT c.oid AS conoid, c.conrelid AS relid, c.conkey AS attnums, false AS is_leaf,
         cardinality(c.conkey) AS n, c.conpfeqop
  FROM pg_constraint c
  WHERE c.contype = 'f' AND c.conparentid = 0 AND c.connamespace IN (SELECT oid FROM scope)
    AND c.conrelid NOT IN (SELECT d.objid FROM pg_depend d
                           WHERE d.refclassid = 'pg_extension'::regclass
                             AND d.classid = 'pg_class'::regclass AND d.deptype = 'e')
  UNION ALL
  SELECT c.oid, t.relid,
         (SELECT array_agg(la.attnum ORDER BY k.n)
            FROM unnest(c.conkey) WITH ORDINALITY k(att, n)
            JOIN pg_attribute pa ON pa.attrelid = c.conrelid AND pa.attnum = k.att
            JOIN pg_attribute la ON la.attrelid = t.relid AND la.attname = pa.attname),
         true, cardinality(c.conkey), c.conpfeqop
  FROM pg_constraint c
  CROSS JOIN LATERAL schema_guard._partition_tree(c.conrelid) t
  WHERE c.contype = 'f' AND c.conparentid = 0 AND c.connamespace IN (SELECT oid FROM scope)
    AND c.conrelid IN (SELECT partrelid FROM pg_partitioned_table) AND t.relkind = 'r'
),
-- per target, the best of its indexes, as (grade << 32) | index oid.  Grades:
-- 0 usable; 1 invalid or not ready; 2 partial with a predicate the probe does
-- not prove; 3 other collation; 4 operator class or type mismatch; 6 access
-- method; 7 a FK column only in INCLUDE; 8 the FK columns are key columns but
-- not the leading ones; 9 nothing.  For index column j serving FK column k
-- (one and two columns written out, more through a subquery): the operator
-- class must accept the FK's equality operator, the collation must be the
-- probe's, a predicate must follow from the columns being NOT NULL.
best AS MATERIALIZED (
  SELECT conoid, relid, is_leaf, coalesce(min(enc), 9::bigint << 32) AS b
  FROM (
  SELECT t.conoid, t.relid, t.is_leaf,
    ((
      CASE
        WHEN t.n <= i.indnkeyatts
         AND (i.indkey::int2[])[0:t.n - 1] @> t.attnums
         AND (i.indkey::int2[])[0:t.n - 1] <@ t.attnums THEN
          CASE
            WHEN t.n = 1 THEN
              CASE
                WHEN ((i.indclass[0]::bigint << 32) | t.conpfeqop[1]::bigint) NOT IN (SELECT k FROM compat)
                  THEN CASE WHEN i.indclass[0] IN (SELECT oid FROM eqam) THEN 4 ELSE 6 END
                WHEN i.indcollation[0] <> 0
                 AND i.indcollation[0] <> schema_guard._probe_collation(t.conoid, 1) THEN 3
                WHEN i.partial AND NOT schema_guard._pred_implied((SELECT x.indpred::text FROM pg_index x WHERE x.indexrelid = i.indexrelid), t.attnums) THEN 2
                WHEN NOT (i.indisvalid AND i.indisready AND i.indislive) THEN 1
                ELSE 0
              END
            WHEN t.n = 2 THEN
              CASE
                WHEN ((i.indclass[0]::bigint << 32)
                      | t.conpfeqop[CASE WHEN i.indkey[0] = t.attnums[1] THEN 1 ELSE 2 END]::bigint) NOT IN (SELECT k FROM compat)
                  OR ((i.indclass[1]::bigint << 32)
                      | t.conpfeqop[CASE WHEN i.indkey[1] = t.attnums[1] THEN 1 ELSE 2 END]::bigint) NOT IN (SELECT k FROM compat)
                  THEN CASE WHEN i.indclass[0] IN (SELECT oid FROM eqam) THEN 4 ELSE 6 END
                WHEN (i.indcollation[0] <> 0
                      AND i.indcollation[0] <> schema_guard._probe_collation(t.conoid, CASE WHEN i.indkey[0] = t.attnums[1] THEN 1 ELSE 2 END))
                  OR (i.indcollation[1] <> 0
                      AND i.indcollation[1] <> schema_guard._probe_collation(t.conoid, CASE WHEN i.indkey[1] = t.attnums[1] THEN 1 ELSE 2 END)) THEN 3
                WHEN i.partial AND NOT schema_guard._pred_implied((SELECT x.indpred::text FROM pg_index x WHERE x.indexrelid = i.indexrelid), t.attnums) THEN 2
                WHEN NOT (i.indisvalid AND i.indisready AND i.indislive) THEN 1
                ELSE 0
              END
            ELSE
              (SELECT CASE
                        WHEN bool_or(((i.indclass[pos.p]::bigint << 32) | t.conpfeqop[pos.k]::bigint) NOT IN (SELECT k FROM compat))
                          THEN CASE WHEN i.indclass[0] IN (SELECT oid FROM eqam) THEN 4 ELSE 6 END
                        WHEN bool_or(i.indcollation[pos.p] <> 0
                                     AND i.indcollation[pos.p] <> schema_guard._probe_collation(t.conoid, pos.k)) THEN 3
                        WHEN i.partial AND NOT schema_guard._pred_implied((SELECT x.indpred::text FROM pg_index x WHERE x.indexrelid = i.indexrelid), t.attnums) THEN 2
                        WHEN NOT (i.indisvalid AND i.indisready AND i.indislive) THEN 1
                        ELSE 0
                      END
                 FROM (SELECT gs.k, array_position((i.indkey::int2[])[0:t.n - 1], t.attnums[gs.k]) - 1 AS p
                         FROM generate_subscripts(t.attnums, 1) gs(k)) pos)
          END
        ELSE coalesce(
          CASE WHEN i.expr AND 0 = ANY ((i.indkey::int2[])[0:least(t.n, i.indnkeyatts) - 1])
               THEN schema_guard._expr_index_grade(t.conoid, t.attnums, i.indexrelid) END,
          CASE WHEN i.indnatts > i.indnkeyatts AND (i.indkey::int2[]) @> t.attnums
                AND NOT ((i.indkey::int2[])[0:i.indnkeyatts - 1] @> t.attnums) THEN 7
               WHEN (i.indkey::int2[])[0:i.indnkeyatts - 1] @> t.attnums THEN 8
               ELSE 9 END)
      END::bigint << 32) | i.indexrelid::bigint) AS enc
  FROM targets t
  LEFT JOIN (SELECT x.indexrelid, x.indrelid, x.indnkeyatts, x.indnatts, x.indkey, x.indclass, x.indcollation,
                    x.indisvalid, x.indisready, x.indislive,
                    x.indpred IS NOT NULL AS partial, x.indexprs IS NOT NULL AS expr
               FROM pg_index x) i
         ON i.indrelid = t.relid AND ((i.indkey::int2[]) && t.attnums OR i.expr)
  OFFSET 0) graded
  GROUP BY conoid, relid, is_leaf
),
leafinfo AS (
  SELECT b.conoid, count(*) AS nleaves,
         array_agg(b.relid::regclass ORDER BY b.relid::regclass::text) FILTER (WHERE b.b >> 32 <> 0) AS uncovered
  FROM best b WHERE b.is_leaf
  GROUP BY b.conoid
),
-- reported: the FK's own table has no usable index and, when it is partitioned,
-- some leaf lacks one too (or there are no leaves yet).  Details are looked up
-- for these rows only, by index probes.
finding AS (
  SELECT b.conoid, b.relid, (b.b >> 32)::int AS code, (b.b & 4294967295)::oid AS candidate,
         li.uncovered, li.nleaves IS NOT NULL OR b.relid IN (SELECT partrelid FROM pg_partitioned_table) AS partitioned,
         c.conname, c.confrelid, c.confdeltype, c.confupdtype, c.conkey, c.connamespace AS relnamespace,
         r.relname, r.relpages
  FROM best b
  LEFT JOIN leafinfo li ON li.conoid = b.conoid
  CROSS JOIN LATERAL (SELECT x.conname, x.confrelid, x.confdeltype, x.confupdtype, x.conkey, x.connamespace
                        FROM pg_constraint x WHERE x.oid = b.conoid OFFSET 0) c
  CROSS JOIN LATERAL (SELECT x.relname, x.relpages FROM pg_class x WHERE x.oid = b.relid OFFSET 0) r
  WHERE NOT b.is_leaf AND b.b >> 32 <> 0
    AND (li.conoid IS NULL OR li.uncovered IS NOT NULL)
),
named AS (
  SELECT f.*, nm.colnames,
         f.relname || '_' || array_to_string(nm.colnames, '_') COLLATE "C" AS base,
         CASE WHEN f.partitioned
              THEN (SELECT coalesce(sum(p.relpages), 0) FROM schema_guard._partition_tree(f.relid) p WHERE p.relkind = 'r')
              ELSE f.relpages END::bigint * (SELECT current_setting('block_size')::bigint) AS bytes,
         CASE WHEN f.confrelid IN (SELECT partrelid FROM pg_partitioned_table)
              THEN (SELECT coalesce(sum(pg_stat_get_tuples_updated(p.relid) + pg_stat_get_tuples_deleted(p.relid)), 0)
                      FROM schema_guard._partition_tree(f.confrelid) p)
              ELSE pg_stat_get_tuples_updated(f.confrelid) + pg_stat_get_tuples_deleted(f.confrelid) END AS writes,
         f.confdeltype IN ('c', 'n', 'd') OR f.confupdtype IN ('c', 'n', 'd') AS cascading,
         f.code = 1 AND f.candidate IN (SELECT index_relid FROM pg_stat_progress_create_index) AS building
  FROM finding f
  CROSS JOIN LATERAL (
    -- one index probe per column; written out for the usual one and two columns
    SELECT CASE cardinality(f.conkey)
             WHEN 1 THEN ARRAY[(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = f.relid AND a.attnum = f.conkey[1])]
             WHEN 2 THEN ARRAY[(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = f.relid AND a.attnum = f.conkey[1]),
                               (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = f.relid AND a.attnum = f.conkey[2])]
             ELSE (SELECT array_agg(a.attname ORDER BY array_position(f.conkey, a.attnum))
                     FROM pg_attribute a WHERE a.attrelid = f.relid AND a.attnum = ANY (f.conkey))
           END AS colnames OFFSET 0) nm
),
-- distinct indexes whose names would collide (long names cut to 63 bytes, or
-- one table and column list needing two different indexes) are numbered apart
ranked AS (
  SELECT s.*,
         dense_rank() OVER (PARTITION BY s.relnamespace, s.base
                            ORDER BY s.relid, s.colnames::text COLLATE "C", s.code IN (3, 4)) - 1 AS dup,
         CASE
           WHEN s.building THEN 'low'
           WHEN s.bytes >= 1073741824 THEN 'high'
           WHEN s.bytes >= 10485760 AND (s.writes >= 10000 OR s.cascading) THEN 'high'
           WHEN s.bytes >= 10485760 OR s.writes >= 10000 OR (s.bytes >= 1048576 AND s.cascading) THEN 'medium'
           ELSE 'low'
         END AS sev
  FROM named s
)
SELECT s.relid::regclass,
       s.conname,
       s.colnames,
       s.confrelid::regclass,
       CASE
         WHEN s.building THEN 'index being built'
         WHEN s.code = 1 THEN 'index invalid'
         WHEN s.code = 2 THEN 'only a partial index'
         WHEN s.code = 3 THEN 'collation differs'
         WHEN s.code = 4 AND schema_guard._fk_cast_needed(s.conoid) THEN 'column type forces a cast'
         WHEN s.code = 4 THEN 'operator class cannot serve the equality'
         WHEN s.code = 6 THEN 'wrong access method'
         WHEN s.code = 7 THEN 'only as INCLUDE column'
         WHEN s.code = 8 THEN 'not the leading columns'
         ELSE 'no index'
       END,
       CASE WHEN s.code < 9 THEN s.candidate::regclass END,
       s.uncovered,
       CASE s.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
                          WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END,
       CASE s.confupdtype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
                          WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END,
       s.bytes,
       s.writes,
       s.sev,
       CASE
         WHEN s.building THEN NULL
         WHEN s.partitioned THEN schema_guard._partitioned_index_fix(s.relid, s.colnames)
         WHEN s.code = 1 THEN format('REINDEX INDEX CONCURRENTLY %s;', s.candidate::regclass)
         ELSE format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %I.%I %s;',
                     CASE WHEN s.dup > 0 OR octet_length(s.base) > 58
                            THEN schema_guard._free_relname(s.relnamespace, s.base, 'idx', s.dup::int)
                          ELSE coalesce(
                            -- one index probe for the two usual candidates
                            (SELECT min(c.nm) FROM (VALUES (s.base || '_idx'), (s.base || '_idx1')) c(nm)
                              WHERE c.nm NOT IN (SELECT x.relname FROM pg_class x
                                                  WHERE x.relnamespace = s.relnamespace
                                                    AND x.relname IN (s.base || '_idx', s.base || '_idx1'))),
                            schema_guard._free_relname(s.relnamespace, s.base, 'idx', 2)) END,
                     ns.nspname, s.relname,
                     CASE WHEN s.code IN (3, 4) THEN schema_guard._fk_index_columns(s.conoid)
                          WHEN cardinality(s.colnames) = 1 THEN '(' || quote_ident(s.colnames[1]) || ')'
                          WHEN cardinality(s.colnames) = 2
                            THEN '(' || quote_ident(s.colnames[1]) || ', ' || quote_ident(s.colnames[2]) || ')'
                          ELSE '(' || array_to_string(ARRAY(SELECT quote_ident(c) FROM unnest(s.colnames) c), ', ') || ')' END)
       END
FROM ranked s
JOIN pg_namespace ns ON ns.oid = s.relnamespace
ORDER BY CASE s.sev WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, ns.nspname, s.relname, s.conname
$fn$;

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
-- (pg_policy.polqual / polwithcheck as pg_node_tree, walked structurally, and
-- pg_depend for the relations, columns and functions a policy uses).  Deparsed
-- SQL is never inspected; pg_get_expr() is not even called, because with a
-- relation it locks that relation.

-- Node trees are searched as bytea: offsets into text cost a scan of the
-- multibyte characters before them, offsets into bytea do not.

-- Position (1-based, in bytes) of the '}' closing the node whose '{' is at p,
-- NULL when unbalanced.  Braces inside identifiers are backslash-escaped in
-- node trees; callers neutralise the escapes first.
CREATE FUNCTION schema_guard._node_end(b bytea, p int)
RETURNS int
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
  cur int := p;
  nxt int;
  seg text;
  opens int := 0;
  closes int := 0;
BEGIN
  LOOP
    nxt := position('\x7d'::bytea IN substring(b FROM cur));
    IF nxt = 0 THEN
      RETURN NULL;
    END IF;
    seg := encode(substring(b FROM cur FOR nxt - 1), 'escape');
    opens := opens + length(seg) - length(replace(seg, '{', ''));
    closes := closes + 1;
    IF opens = closes THEN
      RETURN cur + nxt - 1;
    END IF;
    cur := cur + nxt;
  END LOOP;
END
$fn$;

-- The text of a text-typed CONST node ("{CONST :consttype 25 ... :constvalue 9 [ 36 0 0 0 97 ... ]}"),
-- decoded from its datum bytes (4-byte or 1-byte varlena header).
CREATE FUNCTION schema_guard._const_text(node text)
RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
  bytes int[] := string_to_array(btrim(split_part(split_part(split_part(node, ':constvalue ', 2), ']', 1), '[', 2)), ' ')::int[];
  skip int;
  res text := '';
  hex text := '';
  b int;
  ascii boolean := true;
BEGIN
  IF bytes IS NULL OR cardinality(bytes) = 0 THEN
    RETURN NULL;
  END IF;
  skip := CASE WHEN (bytes[1] + 256) % 4 = 0 THEN 4 ELSE 1 END;
  FOR i IN skip + 1 .. cardinality(bytes) LOOP
    b := (bytes[i] + 256) % 256;
    IF b >= 128 OR b = 0 THEN ascii := false; END IF;
    hex := hex || lpad(to_hex(b), 2, '0');
    IF ascii THEN res := res || chr(b); END IF;
  END LOOP;
  IF ascii THEN
    RETURN res;
  END IF;
  RETURN convert_from(decode(hex, 'hex'), current_setting('server_encoding'));
END
$fn$;

-- Is a CONST node a non-null boolean true?
CREATE FUNCTION schema_guard._const_true(node text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT node LIKE '{CONST :consttype 16 %'
   AND pg_catalog.strpos(node, ':constisnull false') > 0
   AND pg_catalog.translate(pg_catalog.split_part(pg_catalog.split_part(pg_catalog.split_part(node, ':constvalue ', 2), ']', 1), '[', 2), ' 0', '') <> ''
$fn$;

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

-- (An array, not a set: a PL/pgSQL set-returning function costs far more per call.)
CREATE FUNCTION schema_guard._policy_calls(tree text)
RETURNS schema_guard._policy_call[]
LANGUAGE plpgsql STABLE STRICT
AS $fn$
DECLARE
  tx text := CASE WHEN strpos(tree, '\') > 0 THEN regexp_replace(tree, '\\.', '__', 'g') ELSE tree END;
  res schema_guard._policy_call[] := '{}';
  segs text[];
  seg text;
  prev text;
  lo int[] := '{}';
  hi int[] := '{}';
  opens int[] := '{}';
  ends int[] := '{}';
  stack int[] := '{}';
  pos int;
  n int;
  a int;
  ae int;
  e int;
  funcid oid;
  in_subquery boolean;
  parent text;
  has_var boolean;
  setting text;
  missing_ok boolean;
  nullif_empty boolean;
  arg1 text;
  after text;
BEGIN
  -- Positions are byte offsets (the markers are ASCII), found with one
  -- string_to_array() pass per marker.
  --
  -- The subqueries of sublinks: from the '{' of "... :subselect {QUERY" to the
  -- brace closing that Query, which is followed by the SubLink's own location
  -- and end: "... :stmt_len N} :location N}".  Opens and ends nest; a stack
  -- pairs them.  Anything unexpected falls back to counting braces.
  IF strpos(tx, ':subselect {QUERY ') > 0 THEN
    segs := string_to_array(tx, ':subselect {QUERY ');
    pos := 0;
    FOR i IN 1 .. cardinality(segs) - 1 LOOP
      pos := pos + octet_length(segs[i]) + (CASE WHEN i > 1 THEN 18 ELSE 0 END);
      opens := opens || (pos + 12);                         -- the '{' of {QUERY
    END LOOP;
    segs := string_to_array(tx, ':stmt_len ');
    pos := octet_length(segs[1]);
    FOR i IN 2 .. cardinality(segs) LOOP
      IF segs[i] ~ '^\d+\} :location -?\d+\}' THEN
        ends := ends || (pos + 10 + strpos(segs[i], '}'));   -- the '}' closing the Query
      END IF;
      pos := pos + 10 + octet_length(segs[i]);
    END LOOP;
    IF cardinality(opens) = cardinality(ends) THEN
      a := 1;
      ae := 1;
      WHILE ae <= cardinality(ends) LOOP
        IF a <= cardinality(opens) AND opens[a] < ends[ae] THEN
          stack := stack || opens[a];
          a := a + 1;
        ELSE
          lo := lo || stack[cardinality(stack)];
          hi := hi || ends[ae];
          stack := stack[1:cardinality(stack) - 1];
          ae := ae + 1;
        END IF;
      END LOOP;
    ELSE
      FOREACH pos IN ARRAY opens LOOP
        lo := lo || pos;
        hi := hi || schema_guard._node_end(convert_to(tx, 'UTF8'), pos);
      END LOOP;
    END IF;
  END IF;

  segs := string_to_array(tx, '{FUNCEXPR :funcid ');
  n := cardinality(segs);
  pos := octet_length(segs[1]) + 1;                         -- the '{' of the first call
  FOR i IN 2 .. n LOOP
    seg := segs[i];                                         -- "<oid> :funcresulttype ..." up to the next call
    prev := segs[i - 1];
    funcid := split_part(seg, ' ', 1)::oid;
    in_subquery := false;
    FOR j IN 1 .. cardinality(lo) LOOP
      IF pos > lo[j] AND pos < hi[j] THEN
        in_subquery := true;
      END IF;
    END LOOP;
    -- the parent: the last node opened before the call and not closed since
    -- (no '{' since the previous call: that call is the parent)
    IF strpos(prev, '{') > 0 OR i = 2 THEN
      prev := (string_to_array(prev, '{'))[cardinality(string_to_array(prev, '{'))];
      parent := CASE WHEN strpos(prev, '}') = 0 THEN split_part(prev, ' ', 1) END;
    ELSE
      parent := CASE WHEN strpos(prev, '}') = 0 THEN 'FUNCEXPR' END;
    END IF;
    has_var := NULL;
    setting := NULL;
    missing_ok := NULL;
    nullif_empty := NULL;
    IF funcid IN (2077, 3294) THEN                          -- current_setting(text [, bool])
      arg1 := split_part(split_part(seg, ':args (', 2), '}', 1);
      IF arg1 LIKE '{CONST :consttype 25 %' THEN
        setting := schema_guard._const_text(arg1);
        IF funcid = 3294 THEN
          after := split_part(seg, '}', 2);                  -- " {CONST ..." of the second argument
          IF after LIKE ' {CONST :consttype 16 %' THEN
            missing_ok := schema_guard._const_true(substr(after, 2));
            -- NULLIF(current_setting(name, true), ''): the next sibling, after
            -- the call's own closing brace
            after := split_part(seg, '}', 4);
          END IF;
        ELSE
          after := split_part(seg, '}', 3);
        END IF;
      END IF;
      IF funcid = 3294 AND missing_ok IS NULL THEN
        missing_ok := true;                                 -- not a literal: assume it may be true
      END IF;
      nullif_empty := funcid = 3294 AND parent = 'NULLIFEXPR' AND missing_ok IS NOT NULL AND after IS NOT NULL
                      AND after LIKE ' {CONST :consttype 25 %' AND strpos(after, ':constisnull false') > 0
                      AND (after LIKE '%:constvalue 4 [ 16 0 0 0 ]' OR after LIKE '%:constvalue 4 [ 0 0 0 16 ]');
    ELSIF funcid >= 16384 THEN                              -- user functions: do the arguments read the row?
      e := schema_guard._node_end(convert_to(tx, 'UTF8'), pos);
      has_var := position('{VAR '::bytea IN substring(convert_to(tx, 'UTF8') FROM pos FOR e - pos + 1)) > 0;
    END IF;
    res := res || ROW(funcid, in_subquery, parent, has_var, setting, missing_ok, nullif_empty)::schema_guard._policy_call;
    pos := pos + 18 + octet_length(seg);
  END LOOP;
  RETURN res;
END
$fn$;

COMMENT ON FUNCTION schema_guard._policy_calls(text) IS
  'internal: the function calls in a stored policy expression, with their position in the tree';

-- Is a stored boolean expression always true, judged on its tree: a constant
-- true; an OR with such an arm; an AND of such arms; NOT of a constant false;
-- "c = c" for one constant on both sides.
CREATE FUNCTION schema_guard._always_true(tree text)
RETURNS boolean
LANGUAGE plpgsql STABLE STRICT
AS $fn$
DECLARE
  t bytea := convert_to(CASE WHEN strpos(tree, '\') > 0 THEN regexp_replace(tree, '\\.', '__', 'g') ELSE tree END,
                        'UTF8');
  root text := split_part(tree, ' ', 1);
  op text;
  p int;
  e int;
  arg text;
  args text[] := '{}';
BEGIN
  IF root = '{CONST' THEN
    RETURN schema_guard._const_true(tree);
  END IF;
  IF root NOT IN ('{BOOLEXPR', '{OPEXPR') THEN
    RETURN false;
  END IF;
  -- the top-level arguments
  p := position(':args ('::bytea IN t);
  IF p = 0 THEN
    RETURN false;
  END IF;
  p := p + 7;
  WHILE substring(t FROM p FOR 1) = '\x7b'::bytea LOOP    -- '{'
    e := schema_guard._node_end(t, p);
    EXIT WHEN e IS NULL;
    args := args || convert_from(substring(t FROM p FOR e - p + 1), 'UTF8');
    p := e + 2;                                           -- skip "} "
  END LOOP;
  IF root = '{BOOLEXPR' THEN
    op := split_part(tree, ' ', 3);                       -- {BOOLEXPR :boolop and|or|not
    IF op = 'or' THEN
      FOREACH arg IN ARRAY args LOOP
        IF schema_guard._always_true(arg) THEN RETURN true; END IF;
      END LOOP;
      RETURN false;
    ELSIF op = 'and' THEN
      FOREACH arg IN ARRAY args LOOP
        IF NOT schema_guard._always_true(arg) THEN RETURN false; END IF;
      END LOOP;
      RETURN cardinality(args) > 0;
    ELSIF op = 'not' THEN
      RETURN cardinality(args) = 1 AND args[1] LIKE '{CONST :consttype 16 %'
         AND strpos(args[1], ':constisnull false') > 0 AND NOT schema_guard._const_true(args[1]);
    END IF;
    RETURN false;
  END IF;
  -- OPEXPR: an equality between two identical constants
  RETURN cardinality(args) = 2
     AND args[1] LIKE '{CONST %' AND strpos(args[1], ':constisnull false') > 0
     AND regexp_replace(args[1], ' :location -?\d+', '') = regexp_replace(args[2], ' :location -?\d+', '')
     AND EXISTS (SELECT FROM pg_operator o
                  WHERE o.oid = split_part(split_part(tree, ':opno ', 2), ' ', 1)::oid
                    AND o.oprname = '=' AND (o.oprcanhash OR o.oprcanmerge));
END
$fn$;

COMMENT ON FUNCTION schema_guard._always_true(text) IS
  'internal: is a stored policy expression always true, judged on its node tree';

-- Everything the audit reads from one policy's expression trees, in one pass
-- (a tree is detoasted once): the function calls of both, and whether USING
-- and WITH CHECK are always true.  _always_true runs behind cheap necessary
-- conditions: a constant at the root; an operator whose first argument is a
-- constant; a boolean combination that is small or holds a boolean constant
-- other than the missing_ok of current_setting(name, true).
CREATE TYPE schema_guard._policy_facts AS (
  calls schema_guard._policy_call[], qual_true boolean, check_true boolean);

CREATE FUNCTION schema_guard._maybe_always_true(tree text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  IF tree IS NULL THEN
    RETURN false;
  END IF;
  CASE left(tree, 7)
    WHEN '{CONST ' THEN
      RETURN schema_guard._const_true(tree);
    WHEN '{OPEXPR' THEN
      RETURN split_part(tree, ':args (', 2) LIKE '{CONST %' AND schema_guard._always_true(tree);
    WHEN '{BOOLEX' THEN
      RETURN (octet_length(tree) < 2000
              OR (octet_length(tree) - octet_length(replace(tree, '{CONST :consttype 16 ', ''))) / 21
                 > (octet_length(tree) - octet_length(replace(tree, '{FUNCEXPR :funcid 3294 ', ''))) / 23)
             AND schema_guard._always_true(tree);
    ELSE
      RETURN false;
  END CASE;
END
$fn$;

CREATE FUNCTION schema_guard._policy_facts(qual pg_node_tree, chk pg_node_tree)
RETURNS schema_guard._policy_facts
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
  q text := qual::text;                     -- detoasted once, on assignment
  c text := chk::text;
  calls schema_guard._policy_call[] := '{}';
BEGIN
  IF strpos(q, '{FUNCEXPR ') > 0 THEN
    calls := calls || schema_guard._policy_calls(q);
  END IF;
  IF strpos(c, '{FUNCEXPR ') > 0 THEN
    calls := calls || schema_guard._policy_calls(c);
  END IF;
  RETURN ROW(calls, coalesce(schema_guard._maybe_always_true(q), false),
             coalesce(schema_guard._maybe_always_true(c), false))::schema_guard._policy_facts;
END
$fn$;

COMMENT ON FUNCTION schema_guard._policy_facts(pg_node_tree, pg_node_tree) IS
  'internal: the function calls in a policy''s expressions and whether they are always true';

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
    names := 'PUBLIC' || names;
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
SET work_mem = '64MB'
AS $fn$
WITH
scope AS (
  SELECT n.oid, n.nspname FROM pg_namespace n
  WHERE CASE WHEN coalesce(cardinality(array_remove(schema_filter, NULL)), 0) = 0
             THEN n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
             ELSE n.nspname = ANY (schema_filter) END
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
         o.rolsuper OR o.rolbypassrls AS owner_bypasses
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
  JOIN rel r ON r.oid = p.polrelid
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
         NULL
  FROM pol p
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
         NULL
  FROM pol p
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
        SELECT pc.polrelid, pc.cmd, pc.polname, k.role
        FROM polcmd pc
        JOIN (SELECT polrelid, cmd FROM polcmd WHERE polpermissive GROUP BY polrelid, cmd HAVING count(*) > 1) crowded
          ON crowded.polrelid = pc.polrelid AND crowded.cmd = pc.cmd
        CROSS JOIN LATERAL (
          SELECT 0::oid AS role WHERE 0 = ANY (pc.polroles)
          UNION
          SELECT i.member FROM inh i WHERE i.role = ANY (pc.polroles) OR 0 = ANY (pc.polroles)
        ) k
        WHERE pc.polpermissive
      ) a
      GROUP BY a.polrelid, a.cmd, a.role
      HAVING count(*) > 1
    ) s
    GROUP BY s.polrelid, s.names
  ) g

  UNION ALL
  -- UPDATE / DELETE policies for roles that no SELECT policy covers
  SELECT u.polrelid, u.polname, 'update_without_select', 'medium',
         format('No permissive SELECT policy applies to %s: an %s that reads the table (a WHERE clause, SET col = col + 1, RETURNING) silently affects no rows.',
                schema_guard._role_list(array_agg(u.role)),
                CASE u.polcmd WHEN 'w' THEN 'UPDATE' ELSE 'DELETE' END),
         NULL
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

  UNION ALL
  -- current_setting() without missing_ok
  SELECT p.polrelid, p.polname, 'current_setting_no_missing_ok', 'medium',
         format('%s raises an error when the setting is not set in the session. Use NULLIF(current_setting(name, true), '''') and handle NULL.',
                string_agg(DISTINCT format('current_setting(%L)', coalesce(c.setting, '...')), ', ')),
         NULL
  FROM calls c JOIN pol p ON p.oid = c.polid
  WHERE c.funcid = 2077 OR (c.funcid = 3294 AND NOT c.missing_ok)
  GROUP BY p.polrelid, p.polname

  UNION ALL
  -- current_setting(name, true) used without turning '' into NULL
  SELECT p.polrelid, p.polname, 'current_setting_empty_string', 'medium',
         format('%s returns '''' (not NULL) on a pooled connection where an earlier transaction set it with SET LOCAL; %s Wrap it: NULLIF(current_setting(name, true), '''').',
                string_agg(DISTINCT format('current_setting(%L, true)', coalesce(c.setting, '...')), ', '),
                CASE WHEN bool_or(c.parent = 'COERCEVIAIO' OR c.parent = 'FUNCEXPR')
                     THEN 'the cast then raises an error.' ELSE 'the empty string is then compared as a value.' END),
         NULL
  FROM calls c JOIN pol p ON p.oid = c.polid
  WHERE c.funcid = 3294 AND c.missing_ok AND NOT c.nullif_empty
  GROUP BY p.polrelid, p.polname

  UNION ALL
  -- calls evaluated for every row that a scalar subquery would evaluate once
  SELECT p.polrelid, p.polname, 'per_row_function', 'low',
         format('%s %s evaluated for every row; written as a scalar subquery, (SELECT %s), %s evaluated once per statement.',
                string_agg(DISTINCT f.proname || '()', ', '),
                CASE WHEN count(DISTINCT f.oid) = 1 THEN 'is' ELSE 'are' END,
                CASE WHEN count(DISTINCT f.oid) > 1 THEN '...'
                     WHEN min(f.pronargs) > 0 THEN min(f.proname) || '(...)' ELSE min(f.proname) || '()' END,
                CASE WHEN count(DISTINCT f.oid) = 1 THEN 'it is' ELSE 'they are' END),
         NULL
  FROM calls c JOIN pol p ON p.oid = c.polid JOIN pg_proc f ON f.oid = c.funcid
  WHERE NOT c.in_subquery
    AND (c.funcid IN (2077, 3294)
         OR (f.provolatile <> 'i' AND NOT c.has_var AND f.oid >= 16384 AND NOT f.proretset))
  GROUP BY p.polrelid, p.polname

  UNION ALL
  -- volatile functions, called directly or behind an operator
  SELECT p.polrelid, p.polname, 'volatile_function', 'medium',
         format('The policy calls volatile %s %s: %s per row, and the result can differ between the rows of one statement.',
                CASE WHEN count(DISTINCT v.oid) = 1 THEN 'function' ELSE 'functions' END,
                string_agg(DISTINCT v.oid::regprocedure::text, ', '),
                CASE WHEN count(DISTINCT v.oid) = 1 THEN 'it is evaluated' ELSE 'they are evaluated' END),
         NULL
  FROM pol p
  JOIN (SELECT c.polid, c.funcid AS oid FROM calls c
        UNION
        SELECT d.polid, d.refobjid FROM poldep d WHERE d.refclassid = 'pg_proc'::regclass
        UNION
        SELECT d.polid, o.oprcode::oid FROM poldep d JOIN pg_operator o ON o.oid = d.refobjid
        WHERE d.refclassid = 'pg_operator'::regclass) u ON u.polid = p.oid
  JOIN pg_proc v ON v.oid = u.oid AND v.provolatile = 'v'
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
         c.nspname NULLS FIRST, c.relname NULLS FIRST, f.chk COLLATE "C", f.policy NULLS FIRST, f.detail COLLATE "C"
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
  SELECT n.oid FROM pg_namespace n
  WHERE CASE WHEN coalesce(cardinality(array_remove(schema_filter, NULL)), 0) = 0
             THEN n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
             ELSE n.nspname = ANY (schema_filter) END
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
