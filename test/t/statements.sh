#!/usr/bin/env bash
# TAP: docs/statements.md is exactly what the statement catalog generates, and the
# catalog's locks for ALTER TABLE subcommands come from the server.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
echo "1..2"
# The suite's cluster (scripts/test.sh exports PGHOST, PGPORT and a database with the extension).
generated=$(bash "$REPO_ROOT/scripts/statement-reference.sh")
ok "$(diff <(echo "$generated") "$REPO_ROOT/docs/statements.md" >/dev/null && echo same || echo differs)" "same" \
  "docs/statements.md matches schema_guard.statements()"
ok "$(psql -X -At -c "SELECT lock_mode FROM schema_guard.statements() WHERE subcommand = 'ADD FOREIGN KEY'")" \
  "SHARE ROW EXCLUSIVE" "ALTER TABLE subcommand locks are the server's"
exit $failed
