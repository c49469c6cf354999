#!/usr/bin/env bash
# Print README's audit check reference (markdown) from schema_guard.audit_checks()
# of a running server (connection from the PG* environment).  test/t/loading.sh
# checks that README.md contains exactly this, so the two cannot drift.
set -euo pipefail
echo "| check | category | up to | found by | what it catches |"
echo "|---|---|---|---|---|"
psql -X -At -F $'\t' -c "SELECT \"check\", category, severity, source, description FROM schema_guard.audit_checks()" |
while IFS=$'\t' read -r check category severity source description; do
  printf '| `%s` | %s | %s | `%s()` | %s |\n' "$check" "$category" "$severity" "$source" "$description"
done
