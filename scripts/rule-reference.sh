#!/usr/bin/env bash
# Print README's rule reference (markdown) from schema_guard.rules() of a running
# server (connection from the PG* environment).  test/t/loading.sh checks that
# README.md contains exactly this, so the two cannot drift.
set -euo pipefail
echo "| rule id | category | default | what it catches | safe recipe |"
echo "|---|---|---|---|---|"
psql -X -At -F $'\t' -c "SELECT rule_id, category, default_action, description,
    recipe || coalesce(' Partitioned tables: ' || recipe_partitioned, '')
  FROM schema_guard.rules()" |
while IFS=$'\t' read -r id cat def desc recipe; do
  printf '| `%s` | %s | %s | %s | %s |\n' "$id" "$cat" "$def" "$desc" "$recipe"
done
