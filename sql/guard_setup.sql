-- Test harness for the guard tests.  sg_test.probe() runs one statement twice on
-- the real server, both times rolled back:
--   1. with schema_guard.mode = block and every rule set to block: the guard's
--      verdict (rule ids and the lock it names in DETAIL);
--   2. with the guard off: what PostgreSQL really did to the target relation,
--      read from pg_locks, pg_class.relfilenode and pg_stat_get_xact_numscans().
-- `agrees` says whether the verdict matches what happened.  Every probe is kept in
-- sg_test.results; guard_agreement checks that none disagrees.
SET client_min_messages = warning;
-- The tests create their tables in the session that then probes them: every later test
-- file judges them as if an earlier deploy had created them, and as if they were large
-- (guard_sizes tests the size rules; test/t/workflows.sh the setup passes).
DO $$BEGIN
  EXECUTE format('ALTER DATABASE %I SET schema_guard.exempt_setup = off', current_database());
  EXECUTE format('ALTER DATABASE %I SET schema_guard.table_sizes = assume_large', current_database());
END$$;
SET schema_guard.exempt_setup = off;
SET schema_guard.table_sizes = assume_large;
CREATE SCHEMA sg_test;
CREATE TABLE sg_test.results (
  id serial PRIMARY KEY, label text, statement text, rules text, guard_lock text,
  observed_lock text, rewritten boolean, scanned boolean, index_built boolean, agrees boolean,
  check_rules text);

CREATE FUNCTION sg_test.lock_rank(mode text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT array_position(ARRAY['AccessShareLock','RowShareLock','RowExclusiveLock',
    'ShareUpdateExclusiveLock','ShareLock','ShareRowExclusiveLock','ExclusiveLock',
    'AccessExclusiveLock'], mode) $$;

CREATE FUNCTION sg_test.sql_lock_name(mode text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT upper(regexp_replace(regexp_replace(mode, 'Lock$', ''), '([a-z])([A-Z])', '\1 \2', 'g')) $$;

-- How the guard's messages name a relation ("table public.items").
CREATE FUNCTION sg_test.relation_text(rel oid) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'm' THEN 'materialized view'
           WHEN 'v' THEN 'view' WHEN 'f' THEN 'foreign table' WHEN 'i' THEN 'index'
           WHEN 'I' THEN 'partitioned index' WHEN 'S' THEN 'sequence' ELSE 'table' END
         || ' ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel $$;

CREATE FUNCTION sg_test.probe(label text, stmt text, target text)
RETURNS TABLE (rules text, guard_lock text, observed_lock text, rewritten boolean,
               scanned boolean, index_built boolean, agrees boolean)
LANGUAGE plpgsql AS $$
DECLARE
  target_oid oid := to_regclass(target);
  v_rules text := '';
  v_lock text;
  v_msg text;
  v_detail text;
  old_node oid;
  old_scans bigint;
  old_index_nodes oid[];
  v_observed text;
  v_rewritten boolean := false;
  v_scanned boolean := false;
  v_index boolean := false;
  pred_rewrite boolean;
  pred_scan boolean;
  pred_index boolean;
  v_agrees boolean;
  v_check text;
  v_target_rules text;
  v_explain_lock text;
  v_target_lock text;
BEGIN
  PERFORM set_config('lock_timeout', '5s', true);
  PERFORM set_config('schema_guard.mode', 'block', true);
  PERFORM set_config('schema_guard.rules', (SELECT string_agg(r.rule_id || ':block', ',') FROM schema_guard.rules() r), true);
  BEGIN
    EXECUTE stmt;
    RAISE EXCEPTION USING ERRCODE = 'SGT01';
  EXCEPTION
    WHEN SQLSTATE 'SG001' THEN
      GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
      v_rules := concat_ws(', ', substring(v_msg from '^schema_guard: ([a-z_]+):'),
                           substring(v_detail from 'Also blocked: ([a-z_, ]+)\.'));
      v_lock := substring(v_detail from ' held in ([A-Z ]+) mode');
      -- compared with the target's lock only when the blocking finding is about the target
      IF lower(v_detail) LIKE lower(sg_test.relation_text(target_oid)) || ' (%' THEN
        v_target_lock := v_lock;
      END IF;
    WHEN SQLSTATE 'SGT01' THEN NULL;
  END;
  SELECT string_agg(x, ', ' ORDER BY x) INTO v_rules FROM unnest(string_to_array(nullif(v_rules, ''), ', ')) x;
  -- the same statement through schema_guard.check(), same settings: must name the same rules
  SELECT string_agg(DISTINCT c.rule, ', ' ORDER BY c.rule) INTO v_check FROM schema_guard.check(stmt) c;
  -- What the guard predicts for this target: the rules of the findings check()
  -- reports on it or on a parent it belongs to (check() and the hook
  -- agree; guard_agreement proves it).
  SELECT string_agg(c.rule, ' ') INTO v_target_rules FROM schema_guard.check(stmt) c
   WHERE c.relation IS NULL OR c.relation IN (
           WITH RECURSIVE ancestors(oid) AS (
             SELECT target_oid
             UNION SELECT i.inhparent FROM pg_inherits i JOIN ancestors a ON i.inhrelid = a.oid)
           SELECT oid FROM ancestors);

  -- The lock the guard expects on the target (explain() lists every relation the
  -- statement locks), or NULL when it expects none.
  SELECT substring(e from ': ([A-Z ]+) lock, ') INTO v_explain_lock
    FROM schema_guard.explain(stmt) e
   WHERE target_oid IS NOT NULL
     AND e LIKE sg_test.relation_text(target_oid) || ' (%'
   LIMIT 1;

  PERFORM set_config('schema_guard.mode', 'off', true);
  IF target_oid IS NOT NULL THEN
    SELECT c.relfilenode INTO old_node FROM pg_class c WHERE c.oid = target_oid;
    old_scans := coalesce(pg_stat_get_xact_numscans(target_oid), 0);
    SELECT array_agg(c.relfilenode) INTO old_index_nodes
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = target_oid;
  END IF;
  BEGIN
    EXECUTE stmt;
    IF target_oid IS NOT NULL THEN
      SELECT l.mode INTO v_observed FROM pg_locks l
       WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.relation = target_oid AND l.granted
       ORDER BY sg_test.lock_rank(l.mode) DESC LIMIT 1;
      v_rewritten := coalesce((SELECT c.relfilenode <> old_node FROM pg_class c WHERE c.oid = target_oid), false);
      v_scanned := coalesce(pg_stat_get_xact_numscans(target_oid), 0) > old_scans;
      v_index := EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                          WHERE i.indrelid = target_oid AND c.relkind = 'i'
                            AND c.relfilenode <> ALL (coalesce(old_index_nodes, '{}')));
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'SGT02';
  EXCEPTION WHEN SQLSTATE 'SGT02' THEN NULL;
  END;

  -- TRUNCATE gives the table new (empty) storage: a new relfilenode.
  pred_rewrite := coalesce(v_target_rules ~ '(truncate|alter_column_type_rewrite|add_column_rewrite|set_expression_rewrite|set_persistence_rewrite|set_access_method_rewrite|set_tablespace_copy|vacuum_full|cluster|refresh_matview_blocking)', false);
  pred_index := coalesce(v_target_rules ~ '(create_index_blocking|add_constraint_index_build|reindex_blocking|alter_column_type_index_rebuild|attach_partition_index_build)', false);
  pred_scan := coalesce(v_target_rules ~ '(add_check_scan|add_foreign_key_scan|set_not_null_scan|attach_partition_scan|alter_domain_scan|alter_column_type_recheck|validate_under_strong_lock)', false);
  v_agrees := pred_rewrite = v_rewritten
          AND (v_rewritten OR pred_index = v_index)
          AND (v_rewritten OR v_index OR pred_scan = v_scanned)
          AND (v_target_lock IS NULL OR v_target_lock = sg_test.sql_lock_name(v_observed))
          -- every lock that blocks reads or writes is foreseen, with its mode
          AND (coalesce(sg_test.lock_rank(v_observed), 0) < 5 AND v_explain_lock IS NULL
               OR v_explain_lock IS NOT DISTINCT FROM sg_test.sql_lock_name(v_observed));
  INSERT INTO sg_test.results (label, statement, rules, guard_lock, observed_lock, rewritten, scanned, index_built, agrees, check_rules)
  VALUES (label, stmt, coalesce(v_rules, ''), v_lock, sg_test.sql_lock_name(v_observed), v_rewritten, v_scanned, v_index, v_agrees, coalesce(v_check, ''));
  RETURN QUERY SELECT coalesce(v_rules, ''), v_lock, sg_test.sql_lock_name(v_observed), v_rewritten, v_scanned, v_index, v_agrees;
END
$$;

-- The fixture every guard test uses: tables with rows.
SET schema_guard.mode = off;
CREATE TABLE parent_tbl (id int PRIMARY KEY);
INSERT INTO parent_tbl SELECT g FROM generate_series(1, 2000) g;
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
CREATE DOMAIN plain_text AS text;
CREATE TABLE items (
  id int PRIMARY KEY, parent_id int, code varchar(10), amount numeric(6,2),
  created timestamp, label text, qty int, checked int, note plain_text);
CREATE INDEX items_label_idx ON items (label);
CREATE UNIQUE INDEX items_qty_key ON items (qty);
CREATE UNIQUE INDEX items_id_key ON items (id);
INSERT INTO items SELECT g, g, 'c' || g % 10, g % 100, now(), 'label ' || g, g, g, 'n'
  FROM generate_series(1, 2000) g;
ALTER TABLE items ADD CONSTRAINT items_checked_not_null CHECK (checked IS NOT NULL);
CREATE TABLE empty_tbl (id int, val int);
CREATE MATERIALIZED VIEW items_mv AS SELECT id FROM items;
CREATE UNIQUE INDEX items_mv_id ON items_mv (id);
ANALYZE;
RESET schema_guard.mode;
SELECT active, load_method, extension_installed, effective_mode FROM schema_guard.status();
