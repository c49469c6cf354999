#!/usr/bin/env bash
# Set-up command 1: install what is needed, build, install, start a throwaway
# PostgreSQL with schema_guard preloaded and show the guard at work.
source "$(dirname "$0")/lib.sh"
install_deps
build_install
DIR=${DEMO_DIR:-$SG_TMP/schema_guard_demo}
PORT=${DEMO_PORT:-$(sg_port 54329)}
stop_cluster "$DIR"
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
echo "== cluster running: psql -h $DIR/sock -p $PORT -U postgres  (stop: $PG_BIN/pg_ctl -D $DIR/data stop)"
runuser -u postgres -- "$PG_BIN/psql" -X -h "$DIR/sock" -p "$PORT" -U postgres -d postgres -e <<'SQL'
CREATE EXTENSION schema_guard;
SELECT active, load_method, effective_mode FROM schema_guard.status();
CREATE TABLE accounts (id bigint PRIMARY KEY, email text, plan text);
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', 'free' FROM generate_series(1, 10000) g;
-- set-up work passes: this session created the table, nobody else uses it yet (logged)
CREATE INDEX accounts_plan_idx ON accounts (plan);
SQL
# The next deploy: another session, on the table the application now uses.
runuser -u postgres -- "$PG_BIN/psql" -X -h "$DIR/sock" -p "$PORT" -U postgres -d postgres -e <<'SQL'
SET lock_timeout = '2s';
-- unsafe: builds the index while every write waits
CREATE INDEX accounts_email_idx ON accounts (email);
-- safe: the same index, built concurrently
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);
-- unsafe: a volatile default rewrites the whole table under ACCESS EXCLUSIVE
ALTER TABLE accounts ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();
-- safe: a non-volatile default is stored once, no rewrite
ALTER TABLE accounts ADD COLUMN created_at timestamptz DEFAULT now();
-- dry-run a whole migration without executing it
SELECT statement, line, rule, action, relation FROM schema_guard.check($m$
ALTER TABLE accounts ADD CONSTRAINT plan_known CHECK (plan IN ('free', 'pro')) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT plan_known;
ALTER TABLE accounts RENAME COLUMN plan TO tier;
$m$);
-- audits: a foreign key without a usable index (only a partial one) ...
CREATE TABLE invoices (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts, paid boolean);
CREATE INDEX CONCURRENTLY invoices_unpaid_idx ON invoices (account_id) WHERE NOT paid;
SELECT relation, constraint_name, reason, candidate_index, fix FROM schema_guard.fk_index_audit();
-- ... and a row-level security policy that errors when the tenant setting is unset
CREATE ROLE demo_app;
GRANT SELECT ON invoices TO demo_app;
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON invoices FOR SELECT TO demo_app USING (account_id = current_setting('app.account')::bigint);
SELECT "check", severity, fix FROM schema_guard.rls_audit() WHERE policy = 'tenant' ORDER BY "check";
SQL
