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
