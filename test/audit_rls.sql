-- pgTAP: rls_access() against what a role can actually do (every command run
-- as the role, counted and rolled back), and rls_audit() fixes that remove
-- their findings.
BEGIN;
SET LOCAL schema_guard.mode = off;
SET LOCAL client_min_messages = warning;
SELECT plan(23);

SELECT has_function('schema_guard', 'rls_audit', ARRAY['name[]'], 'rls_audit(VARIADIC name[]) exists');
SELECT has_function('schema_guard', 'rls_access', ARRAY['regrole', 'name[]'], 'rls_access(regrole, VARIADIC name[]) exists');

CREATE ROLE tap_rls_app LOGIN;
CREATE ROLE tap_rls_bypass BYPASSRLS;
CREATE ROLE tap_rls_group;
CREATE ROLE tap_rls_member IN ROLE tap_rls_group;
CREATE SCHEMA tap_rls;
GRANT USAGE ON SCHEMA tap_rls TO PUBLIC;
SET LOCAL search_path = tap_rls, public;

-- ten rows each, owner_id 1..10; the policies let owner 1 through
CREATE FUNCTION mk(t text, rls boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE tap_rls.%I (id int PRIMARY KEY, owner_id int, v int)', t);
  EXECUTE format('INSERT INTO tap_rls.%I SELECT g, g, 0 FROM generate_series(1, 10) g', t);
  IF rls THEN EXECUTE format('ALTER TABLE tap_rls.%I ENABLE ROW LEVEL SECURITY', t); END IF;
END $$;
DO $$ BEGIN
  PERFORM tap_rls.mk(t, true)
  FROM unnest(ARRAY['filt', 'deny', 'partial_priv', 'owned', 'owned_forced', 'restr', 'upd_only', 'grp']) t;
END $$;
CREATE POLICY s ON filt FOR SELECT TO tap_rls_app USING (owner_id = 1);
CREATE POLICY i ON filt FOR INSERT TO tap_rls_app WITH CHECK (owner_id = 1);
CREATE POLICY u ON filt FOR UPDATE TO tap_rls_app USING (owner_id = 1);
CREATE POLICY d ON filt FOR DELETE TO tap_rls_app USING (owner_id = 1);
GRANT ALL ON filt, deny, restr, upd_only TO tap_rls_app;
GRANT SELECT ON partial_priv TO tap_rls_app;
CREATE POLICY a ON partial_priv TO tap_rls_app USING (owner_id = 1);
ALTER TABLE owned OWNER TO tap_rls_app;
ALTER TABLE owned_forced OWNER TO tap_rls_app;
ALTER TABLE owned_forced FORCE ROW LEVEL SECURITY;
CREATE POLICY a ON owned_forced TO tap_rls_app USING (owner_id = 1);
CREATE POLICY a ON restr FOR SELECT TO tap_rls_app USING (owner_id <= 5);
CREATE POLICY r ON restr AS RESTRICTIVE FOR UPDATE TO tap_rls_app USING (owner_id = 1);
CREATE POLICY r2 ON restr AS RESTRICTIVE FOR DELETE TO tap_rls_app USING (owner_id = 1);
CREATE POLICY u ON upd_only FOR UPDATE TO tap_rls_app USING (owner_id = 1);
CREATE POLICY g ON grp TO tap_rls_group USING (owner_id = 1) WITH CHECK (owner_id = 1);
GRANT ALL ON ALL TABLES IN SCHEMA tap_rls TO tap_rls_bypass, tap_rls_member;
GRANT ALL ON grp TO tap_rls_member;

-- run each command as the current role, in a subtransaction rolled back
-- afterwards, and classify what happened
CREATE TEMP TABLE probe (role text, relation regclass, command text, outcome text);
GRANT ALL ON probe TO PUBLIC;
CREATE FUNCTION probe(t regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  total bigint;
  n bigint;
  cmd text;
BEGIN
  total := 10;
  FOREACH cmd IN ARRAY ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] LOOP
    BEGIN
      BEGIN
        CASE cmd
          WHEN 'SELECT' THEN EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
          WHEN 'INSERT' THEN EXECUTE format('INSERT INTO %s VALUES (100, 1, 0)', t); GET DIAGNOSTICS n = ROW_COUNT;
          WHEN 'UPDATE' THEN EXECUTE format('UPDATE %s SET v = 1', t); GET DIAGNOSTICS n = ROW_COUNT;
          ELSE EXECUTE format('DELETE FROM %s', t); GET DIAGNOSTICS n = ROW_COUNT;
        END CASE;
        RAISE EXCEPTION USING ERRCODE = 'P0004', MESSAGE = n::text;      -- roll the command back
      EXCEPTION WHEN SQLSTATE 'P0004' THEN
        n := SQLERRM::bigint;
      END;
      INSERT INTO probe VALUES (current_user, t, cmd,
        CASE WHEN cmd = 'INSERT' THEN 'accepted' WHEN n = total THEN 'all rows' WHEN n = 0 THEN 'no rows' ELSE 'some rows' END);
    EXCEPTION WHEN insufficient_privilege THEN
      INSERT INTO probe VALUES (current_user, t, cmd,
        CASE WHEN SQLERRM LIKE 'new row violates row-level security%' THEN 'no rows' ELSE 'no privilege' END);
    END;
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION probe(regclass) TO PUBLIC;

SET LOCAL ROLE tap_rls_app;
DO $$ BEGIN PERFORM tap_rls.probe(c.oid) FROM pg_class c
              WHERE c.relnamespace = 'tap_rls'::regnamespace AND c.relkind = 'r'; END $$;
SET LOCAL ROLE tap_rls_bypass;
DO $$ BEGIN PERFORM tap_rls.probe(c.oid) FROM pg_class c
              WHERE c.relnamespace = 'tap_rls'::regnamespace AND c.relkind = 'r'; END $$;
SET LOCAL ROLE tap_rls_member;
DO $$ BEGIN PERFORM tap_rls.probe('tap_rls.grp'::regclass); END $$;
RESET ROLE;

-- what rls_access predicts, in the probe's terms: a bypass reaches all rows,
-- a filter some (owner 1 of ten), a denial none
CREATE TEMP VIEW predicted AS
  SELECT r.rolname::text AS role, a.relation, a.command,
         CASE WHEN a.outcome = 'no privilege' THEN 'no privilege'
              WHEN a.command = 'INSERT' AND a.outcome IN ('bypass', 'filtered') THEN 'accepted'
              WHEN a.outcome = 'bypass' THEN 'all rows'
              WHEN a.outcome = 'denied' THEN 'no rows'
              ELSE 'some rows' END AS outcome
  FROM pg_roles r CROSS JOIN LATERAL schema_guard.rls_access(r.oid, 'tap_rls') a
  WHERE r.rolname IN ('tap_rls_app', 'tap_rls_bypass', 'tap_rls_member');

SELECT set_eq($$SELECT * FROM probe WHERE role = 'tap_rls_app'$$,
              $$SELECT * FROM predicted WHERE role = 'tap_rls_app'$$,
              'rls_access predicts every command of a role subject to policies');
SELECT set_eq($$SELECT * FROM probe WHERE role = 'tap_rls_bypass'$$,
              $$SELECT * FROM predicted WHERE role = 'tap_rls_bypass'$$,
              'rls_access predicts every command of a BYPASSRLS role');
SELECT set_eq($$SELECT * FROM probe WHERE role = 'tap_rls_member'$$,
              $$SELECT * FROM predicted WHERE role = 'tap_rls_member' AND relation = 'grp'::regclass$$,
              'rls_access follows role membership');
SELECT results_eq(
  $$SELECT command, outcome FROM schema_guard.rls_access('tap_rls_app', 'tap_rls') WHERE relation = 'owned'::regclass$$,
  $$VALUES ('SELECT', 'bypass'), ('INSERT', 'bypass'), ('UPDATE', 'bypass'), ('DELETE', 'bypass')$$,
  'the owner bypasses unless row-level security is forced');
SELECT results_eq(
  $$SELECT command, outcome FROM schema_guard.rls_access('tap_rls_app', 'tap_rls') WHERE relation = 'restr'::regclass$$,
  $$VALUES ('SELECT', 'filtered'), ('INSERT', 'denied'), ('UPDATE', 'denied'), ('DELETE', 'denied')$$,
  'restrictive policies alone deny');

-- the UPDATE policy without a SELECT policy: a constant SET updates, a WHERE does not
SELECT alike((SELECT detail FROM schema_guard.rls_access('tap_rls_app', 'tap_rls')
              WHERE relation = 'upd_only'::regclass AND command = 'UPDATE'),
            '%No SELECT policy applies to the role%', 'rls_access warns about UPDATE without SELECT');
SET LOCAL ROLE tap_rls_app;
UPDATE upd_only SET v = 2 WHERE owner_id = 1;
RESET ROLE;
SELECT is((SELECT count(*) FROM upd_only WHERE v = 2)::int, 0, 'an UPDATE with a WHERE clause changed nothing');
SELECT ok(EXISTS (SELECT FROM schema_guard.rls_audit('tap_rls')
                   WHERE relation = 'upd_only'::regclass AND "check" = 'update_without_select'),
          'rls_audit reports it');

-- the exact fixes remove their findings
CREATE TABLE open_t (id int, tenant_id int);
GRANT SELECT ON open_t TO tap_rls_app;
CREATE VIEW v AS SELECT * FROM filt;
GRANT TRUNCATE ON filt TO tap_rls_app;
CREATE FUNCTION sd() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE TEMP TABLE fixed AS
  SELECT relation, policy, "check", detail, fix FROM schema_guard.rls_audit('tap_rls')
  WHERE fix IS NOT NULL AND "check" IN ('rls_disabled', 'policies_without_rls', 'rls_not_forced', 'definer_view',
                                        'truncate_privilege', 'definer_function_search_path', 'unindexed_policy_column');
SELECT set_eq($$SELECT relation::text, "check" FROM fixed$$,
  $$VALUES ('filt', 'truncate_privilege'), ('deny', 'truncate_privilege'), ('partial_priv', 'truncate_privilege'),
           ('owned', 'truncate_privilege'), ('owned_forced', 'truncate_privilege'), ('restr', 'truncate_privilege'),
           ('upd_only', 'truncate_privilege'), ('grp', 'truncate_privilege'),
           ('open_t', 'rls_disabled'), ('owned', 'rls_not_forced'),
           ('v', 'definer_view'), (NULL, 'definer_function_search_path'), ('filt', 'unindexed_policy_column'),
           ('partial_priv', 'unindexed_policy_column'), ('owned_forced', 'unindexed_policy_column'),
           ('restr', 'unindexed_policy_column'), ('upd_only', 'unindexed_policy_column'),
           ('grp', 'unindexed_policy_column')$$,
  'the findings with an exact fix');
SELECT lives_ok(
  $q$DO $d$ DECLARE f text;
    BEGIN
      FOR f IN SELECT fix FROM fixed LOOP
        EXECUTE replace(f, 'CONCURRENTLY ', '');
      END LOOP;
    END $d$ $q$,
  'the fixes run');
SELECT is_empty(
  $$SELECT a.relation, a."check" FROM schema_guard.rls_audit('tap_rls') a
     JOIN fixed f ON f."check" = a."check" AND f.relation IS NOT DISTINCT FROM a.relation
                 AND f.policy IS NOT DISTINCT FROM a.policy AND (f.relation IS NOT NULL OR f.detail = a.detail)$$,
  'and their findings are gone');

-- the fixes that rewrite policies: current_setting() read safely and once per
-- statement, WITH CHECK spelled out, a SELECT policy for an UPDATE policy,
-- the roles named instead of PUBLIC
CREATE TABLE cs (id int PRIMARY KEY, owner_id int);
INSERT INTO cs SELECT g, g FROM generate_series(1, 10) g;
ALTER TABLE cs ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON cs TO tap_rls_app;
CREATE POLICY sel ON cs FOR SELECT TO tap_rls_app USING (owner_id = current_setting('tap.owner')::int);
CREATE TABLE pub (id int);
INSERT INTO pub VALUES (1), (2);
ALTER TABLE pub ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON pub TO tap_rls_app;
CREATE POLICY everyone ON pub USING (id = 1);
CREATE TEMP TABLE rewritten AS
  SELECT relation, policy, "check", fix FROM schema_guard.rls_audit('tap_rls')
  WHERE fix IS NOT NULL AND relation IN ('cs'::regclass, 'pub'::regclass, 'upd_only'::regclass)
    AND "check" IN ('current_setting_no_missing_ok', 'current_setting_empty_string', 'per_row_function',
                    'missing_with_check', 'update_without_select', 'permissive_public');
SELECT set_eq($$SELECT relation::text, policy::text, "check" FROM rewritten$$,
  $$VALUES ('cs', 'sel', 'current_setting_no_missing_ok'), ('cs', 'sel', 'per_row_function'),
           ('pub', 'everyone', 'permissive_public'), ('pub', 'everyone', 'missing_with_check'),
           ('upd_only', 'u', 'missing_with_check'), ('upd_only', 'u', 'update_without_select')$$,
  'the policy findings with a fix');
SET LOCAL ROLE tap_rls_app;
SELECT throws_ok('SELECT count(*) FROM tap_rls.cs', '42704', NULL,
  'before: the policy raises an error when tap.owner is not set');
RESET ROLE;
SELECT lives_ok(
  $q$DO $d$ DECLARE f text;
    BEGIN
      FOR f IN SELECT DISTINCT fix FROM rewritten LOOP EXECUTE f; END LOOP;
    END $d$ $q$,
  'the policy fixes run');
SELECT is_empty(
  $$SELECT a.relation, a.policy, a."check" FROM schema_guard.rls_audit('tap_rls') a
     JOIN rewritten r USING (relation, policy, "check")$$,
  'and their findings are gone');
SET LOCAL ROLE tap_rls_app;
SELECT is((SELECT count(*) FROM tap_rls.cs)::int, 0, 'after: tap.owner unset, no row and no error');
SELECT set_config('tap.owner', '', true);
SELECT is((SELECT count(*) FROM tap_rls.cs)::int, 0, 'tap.owner empty (as SET LOCAL leaves it on a pooled connection): no row, no error');
SELECT set_config('tap.owner', '3', true);
SELECT is((SELECT array_agg(id) FROM tap_rls.cs), ARRAY[3], 'tap.owner = 3: the owner''s row');
SELECT lives_ok('UPDATE tap_rls.upd_only SET v = 2 WHERE id = 1', 'an UPDATE with a WHERE clause, as the role');
RESET ROLE;
SELECT is((SELECT count(*) FROM upd_only WHERE v = 2)::int, 1,
  'the new SELECT policy lets the UPDATE policy''s rows be updated with a WHERE clause');
SELECT is((SELECT polroles::regrole[]::text FROM pg_policy WHERE polname = 'everyone'), '{tap_rls_app}',
  'the PUBLIC policy now names the role that holds privileges');

SELECT * FROM finish();
ROLLBACK;
