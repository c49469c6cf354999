-- pgTAP: the guard's SQL and GUC surface, status(), and verdicts seen through
-- PL/pgSQL EXECUTE (PROCESS_UTILITY_QUERY), as pgTAP's throws_ok runs them.
BEGIN;
SELECT plan(39);

SELECT has_function('schema_guard', 'status', 'schema_guard.status() exists');
SELECT has_function('schema_guard', 'rules', 'schema_guard.rules() exists');
SELECT is((SELECT active FROM schema_guard.status()), true, 'the guard is active here');
SELECT is((SELECT load_method FROM schema_guard.status()), 'shared_preload_libraries', 'loaded by shared_preload_libraries');
SELECT is((SELECT extension_installed FROM schema_guard.status()), true, 'status() sees the extension');
SELECT is((SELECT library_version FROM schema_guard.status()),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'schema_guard'),
          'status() reports the loaded library''s version, the control file''s default_version');
SELECT is((SELECT extension_version FROM schema_guard.status()),
          (SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'),
          'status() reports the installed extension''s version');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'schema_guard'), 'schema_guard',
          'the extension is recorded in schema schema_guard (as \dx shows it)');

SELECT set_eq(
  $$SELECT name FROM pg_settings WHERE name LIKE 'schema_guard.%'$$,
  ARRAY['schema_guard.allow', 'schema_guard.audit_skip', 'schema_guard.exempt_schemas', 'schema_guard.exempt_setup', 'schema_guard.lock_timeout',
        'schema_guard.min_table_size', 'schema_guard.mode', 'schema_guard.rules', 'schema_guard.table_sizes',
        'schema_guard.tenant_columns'],
  'the documented GUCs exist');
SELECT is_empty(
  $$SELECT name FROM pg_settings WHERE name IN ('schema_guard.allow', 'schema_guard.exempt_schemas', 'schema_guard.exempt_setup',
      'schema_guard.lock_timeout', 'schema_guard.min_table_size', 'schema_guard.mode', 'schema_guard.rules') AND context <> 'superuser'$$,
  'every setting that can loosen the guard is PGC_SUSET');
SELECT is(current_setting('schema_guard.mode'), 'block', 'mode defaults to block');
SELECT is((SELECT enumvals FROM pg_settings WHERE name = 'schema_guard.mode'), ARRAY['off', 'warn', 'block'], 'mode values');

SELECT is((SELECT count(*)::int FROM schema_guard.rules()), 39, 'the rule catalog has 39 rules');
SELECT is_empty($$SELECT rule_id FROM schema_guard.rules() WHERE rule_id !~ '^[a-z][a-z_]*[a-z]$'$$, 'rule ids are snake_case');
SELECT is_empty($$SELECT rule_id FROM schema_guard.rules() WHERE coalesce(recipe, '') = '' OR coalesce(description, '') = ''$$, 'every rule has a description and a recipe');
SELECT is_empty($$SELECT rule_id FROM schema_guard.rules() WHERE category NOT IN ('rewrite', 'scan', 'index_build', 'breaking', 'lock_wait', 'backstop', 'script')$$, 'categories are known');
SELECT results_eq(
  $$SELECT rule_id FROM schema_guard.rules() WHERE default_action = 'warn' ORDER BY 1$$,
  ARRAY['detach_partition_blocking', 'drop_index_blocking', 'drop_table', 'lock_timeout_missing', 'not_simulated', 'truncate'],
  'default warn rules');

SET LOCAL lock_timeout = '5s';
SET LOCAL schema_guard.mode = off;
CREATE TABLE tap_t (id int, v text);
INSERT INTO tap_t SELECT g, 'v' FROM generate_series(1, 100) g;
SAVEPOINT fixture;
RESET schema_guard.mode;
-- tap_t was created in this transaction: exempt.  Pretend otherwise by judging a
-- table created before it: pg_class itself is never a target, so use a committed table.
SELECT lives_ok($$CREATE INDEX tap_t_v_idx ON tap_t (v)$$, 'a table created in this transaction is exempt');

SELECT throws_ok($$SET schema_guard.rules = 'nope:block'$$, '22023', NULL, 'unknown rule ids are refused');
SELECT throws_ok($$SET LOCAL schema_guard.allow = 'nope'$$, '22023', NULL, 'unknown allow-list ids are refused');
-- schema_guard.allow counts for one transaction: SET LOCAL only
SELECT throws_ok($$SET schema_guard.allow = 'rename_table'$$, '55P02', 'schema_guard.allow can only be set with SET LOCAL',
                 'a session-level allow is refused');
SELECT throws_ok($$ALTER ROLE CURRENT_USER SET schema_guard.allow = 'rename_table'$$, '55P02', NULL,
                 'a per-role allow is refused');
SELECT lives_ok($$SELECT set_config('schema_guard.allow', 'rename_table', false)$$, 'set_config(..., false)');
SELECT is((SELECT action FROM schema_guard.rules() WHERE rule_id = 'rename_table'), 'block',
          'a value given by set_config(..., false) would outlive the transaction: ignored');
SELECT lives_ok($$SELECT set_config('schema_guard.allow', 'rename_table', true)$$, 'set_config(..., true)');
SELECT is((SELECT action FROM schema_guard.rules() WHERE rule_id = 'rename_table'), 'off',
          'set_config(..., true) is SET LOCAL: counted');
SELECT lives_ok($$SET LOCAL schema_guard.allow = ''$$, 'reset allow');
SELECT lives_ok($$SET schema_guard.rules = 'drop_table:block, truncate:off'$$, 'rule overrides parse');
SELECT is((SELECT action FROM schema_guard.rules() WHERE rule_id = 'drop_table'), 'block', 'override applies');
SELECT lives_ok($$RESET schema_guard.rules$$, 'reset');
SELECT lives_ok($$SET schema_guard.min_table_size = '10MB'$$, 'size with unit');
SELECT is(current_setting('schema_guard.min_table_size'), '10MB', 'min_table_size shown with unit');
SELECT lives_ok($$RESET schema_guard.min_table_size$$, 'reset size');

CREATE ROLE tap_app;
SET LOCAL ROLE tap_app;
SELECT throws_ok($$SET schema_guard.mode = off$$, '42501', NULL, 'a non-superuser cannot switch the guard off');
SELECT throws_ok($$SET LOCAL schema_guard.allow = 'drop_column'$$, '42501', NULL, 'nor use the allow list');
SELECT lives_ok($$SET schema_guard.tenant_columns = 'tenant'$$, 'tenant_columns is for everyone');
RESET ROLE;

SELECT is((SELECT effective_mode FROM schema_guard.status()), 'block', 'effective mode block');
SET LOCAL schema_guard.mode = warn;
SELECT is((SELECT effective_mode FROM schema_guard.status()), 'warn', 'effective mode warn');
SELECT is((SELECT action FROM schema_guard.rules() WHERE rule_id = 'drop_column'), 'warn', 'warn mode caps every rule');

SELECT * FROM finish();
ROLLBACK;
