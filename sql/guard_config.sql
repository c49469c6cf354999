-- Configuration: schema_guard.mode, schema_guard.rules, schema_guard.allow,
-- schema_guard.min_table_size, and who may change them.
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
SELECT name, setting, unit, context, vartype, boot_val FROM pg_settings WHERE name LIKE 'schema_guard.%' ORDER BY name;

-- the rule catalog, with actions from the current settings
-- (lock_conflict warns instead of blocking because lock_timeout bounds the wait)
SELECT rule_id, category, default_action, action FROM schema_guard.rules() ORDER BY category, rule_id;
SET schema_guard.mode = warn;
SELECT rule_id, action FROM schema_guard.rules() WHERE default_action = 'block' LIMIT 3;
SET schema_guard.mode = off;
SELECT count(*) FILTER (WHERE action = 'off') AS off_rules, count(*) AS all_rules FROM schema_guard.rules();
RESET schema_guard.mode;

-- per-rule actions
SET schema_guard.rules = 'drop_table:block, create_index_blocking:warn, rename_column:off';
SELECT rule_id, action FROM schema_guard.rules() WHERE rule_id IN ('drop_table', 'create_index_blocking', 'rename_column');
CREATE TABLE config_t (id int, v text);
INSERT INTO config_t SELECT g, 'v' FROM generate_series(1, 100) g;
DROP TABLE config_t;
CREATE INDEX config_t_v_idx ON config_t (v);
ALTER TABLE config_t RENAME COLUMN v TO w;
RESET schema_guard.rules;
-- bad values are refused with a clear error
\set VERBOSITY default
SET schema_guard.rules = 'no_such_rule:block';
SET schema_guard.rules = 'drop_table:sometimes';
SET schema_guard.rules = 'drop_table';
BEGIN;
SET LOCAL schema_guard.allow = 'no_such_rule';
ROLLBACK;
SET schema_guard.mode = 'loud';
\set VERBOSITY terse

-- the allow list accepts a finding for one transaction
BEGIN;
SET LOCAL schema_guard.allow = 'rename_column, create_index_blocking';
ALTER TABLE config_t RENAME COLUMN w TO v;
CREATE INDEX config_t_v_idx2 ON config_t (v);
COMMIT;
SHOW schema_guard.allow;
ALTER TABLE config_t RENAME COLUMN v TO w;

-- ... and only for that transaction: a value that would outlive it is refused
-- (SET, ALTER ROLE / DATABASE / SYSTEM SET) or, set another way, ignored and said so
\set VERBOSITY default
SET schema_guard.allow = 'rename_column';
ALTER ROLE CURRENT_USER SET schema_guard.allow = 'rename_column';
ALTER DATABASE contrib_regression SET schema_guard.allow = 'rename_column';
ALTER SYSTEM SET schema_guard.allow = 'rename_column';
SET schema_guard.allow = '';
SELECT set_config('schema_guard.allow', 'rename_column', false) AS session_allow;
ALTER TABLE config_t RENAME COLUMN v TO w;
RESET schema_guard.allow;
\set VERBOSITY terse

-- below schema_guard.min_table_size the rewrite, scan and index-build rules are quiet
-- (with real sizes); breaking rules still apply
SET schema_guard.table_sizes = auto;
SET schema_guard.min_table_size = '1MB';
ALTER TABLE config_t ADD COLUMN r float8 DEFAULT random();
ALTER TABLE config_t RENAME COLUMN r TO s;
RESET schema_guard.min_table_size;
RESET schema_guard.table_sizes;
ALTER TABLE config_t ADD COLUMN r2 float8 DEFAULT random();

-- privileges decide who may loosen the guard
CREATE ROLE sg_app LOGIN;
CREATE ROLE sg_migrator LOGIN;
GRANT ALL ON SCHEMA public TO sg_app, sg_migrator;
ALTER TABLE config_t OWNER TO sg_migrator;
GRANT SET ON PARAMETER schema_guard.allow TO sg_migrator;
SET ROLE sg_app;
SET schema_guard.mode = off;
BEGIN;
SET LOCAL schema_guard.allow = 'rename_column';
ROLLBACK;
SET schema_guard.rules = 'rename_column:off';
RESET ROLE;
SET ROLE sg_migrator;
SET schema_guard.mode = off;
BEGIN;
SET LOCAL schema_guard.allow = 'rename_column';
ALTER TABLE config_t RENAME COLUMN w TO v;
COMMIT;
ALTER TABLE config_t RENAME COLUMN v TO w;
RESET ROLE;

-- per role and per database settings
ALTER ROLE sg_app SET schema_guard.mode = warn;
SELECT unnest(setconfig) AS role_setting FROM pg_db_role_setting WHERE setrole = 'sg_app'::regrole;
\c - sg_app
SHOW schema_guard.mode;
\c - postgres
ALTER ROLE sg_app RESET schema_guard.mode;
-- an allow list in the role's settings that got there anyway (written while the library
-- was not loaded) is refused when the role connects, and not in force
SET allow_system_table_mods = on;
INSERT INTO pg_db_role_setting VALUES (0, 'sg_app'::regrole, '{schema_guard.allow=rename_column}');
RESET allow_system_table_mods;
\c - sg_app
SHOW schema_guard.allow;
\c - postgres
SET allow_system_table_mods = on;
DELETE FROM pg_db_role_setting WHERE setrole = 'sg_app'::regrole;
RESET allow_system_table_mods;
ALTER DATABASE contrib_regression SET schema_guard.rules = 'truncate:block';
\c
SET client_min_messages = warning;
\set VERBOSITY terse
SET lock_timeout = '5s';
SHOW schema_guard.rules;
TRUNCATE config_t;
ALTER DATABASE contrib_regression RESET schema_guard.rules;
\c
SET client_min_messages = warning;
\set VERBOSITY terse
SET schema_guard.mode = off;
DROP TABLE config_t;
REVOKE SET ON PARAMETER schema_guard.allow FROM sg_migrator;
REVOKE ALL ON SCHEMA public FROM sg_app, sg_migrator;
DROP ROLE sg_app;
DROP ROLE sg_migrator;
