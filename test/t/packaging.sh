#!/usr/bin/env bash
# TAP: the packaging agrees with itself and with the server: META.json, CHANGELOG,
# LICENSE and the control files name the same version and schema; the loaded library
# reports that version (status(), and its magic block on 18+); the README's supported
# line names the majors scripts/matrix.sh builds.  Uses the main test cluster
# (PGHOST/PGPORT/PGDATABASE from scripts/test.sh).
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
cd "$REPO_ROOT"
q() { (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -At "$@" 2>&1); }
json() { /usr/bin/python3 -c "import json,sys; m=json.load(open('META.json')); print($1)" 2>&1; }
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" schema_guard.control)

ok_match "$version" '^[0-9]+\.[0-9]+\.[0-9]+$' "the control file's default_version is a semantic version ($version)"
ok "$(json "m['version'], m['provides']['schema_guard']['version'], m['provides']['schema_guard']['file'], m['license'], m['meta-spec']['version']")" \
  "$version $version sql/schema_guard--$version.sql postgresql 1.0.0" "META.json: version, provided version and file follow the control file; PostgreSQL License; PGXN meta-spec 1.0.0"
ok_match "$(head -1 LICENSE)|$(grep -c 'Permission to use, copy, modify, and distribute this software' LICENSE)" '^PostgreSQL License\|1$' "LICENSE is the PostgreSQL License"
ok_match "$(grep -E '^## ' CHANGELOG.md | head -1)" "^## $version( |\$)" "CHANGELOG.md starts with $version"
ok "$(cat schema_guard--$version.control 2>/dev/null | grep -E '^schema *=')" "schema = schema_guard" "the install of $version names schema schema_guard (secondary control file)"
ok "$(q -c "SELECT library_version || ' ' || extension_version FROM schema_guard.status()")" "$version $version" \
  "status(): the loaded library and the installed extension are $version"
ok "$(q -c "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'schema_guard'")" \
  "schema_guard" "\\dx shows the extension in schema schema_guard"
if [ "$(q -c "SHOW server_version_num")" -ge 180000 ]; then
  ok "$(q -c "SELECT module_name || ' ' || version FROM pg_get_loaded_modules() WHERE file_name = 'schema_guard.so'")" \
    "schema_guard $version" "PostgreSQL 18+: pg_get_loaded_modules() names the library and its version (PG_MODULE_MAGIC_EXT)"
else
  n=$((n + 1)); echo "ok $n # SKIP pg_get_loaded_modules() arrived in PostgreSQL 18"
fi
supported=$(grep -E '^Supported:' README.md)
majors=$(sed -n 's/^MAJORS=.*:-\(.*\)}.*/\1/p' scripts/matrix.sh)
missing=""
for m in $majors; do echo "$supported" | grep -qw "$m" || missing="$missing $m"; done
ok "$missing" "" "README's Supported line names every major scripts/matrix.sh builds ($majors)"
echo "1..$n"
exit $failed
