#!/usr/bin/env bash
# Build Citus from source and install it into the PostgreSQL the tests use, so that
# test/t/citus.sh can run schema_guard on a coordinator and two workers.
#
#   bash scripts/citus.sh            # into $PG_BIN (lib.sh: the system PostgreSQL, or
#                                    # the sandbox copy when SG_SANDBOX is set)
#   PG_CONFIG=/path/pg_config bash scripts/citus.sh
#
# Citus is not in Debian's archive, and scripts may not download from GitHub: give the
# source as CITUS_SRC, either an unpacked source tree or a git directory holding the tag
# CITUS_REF (default v13.2.2, the release that supports PostgreSQL 15-17).  The source is
# copied into CITUS_BUILD and patched there; the given tree is never changed.
# Nothing is done when the same Citus version is already installed (CITUS_FORCE=1 rebuilds).
source "$(dirname "$0")/lib.sh"

CITUS_REF=${CITUS_REF:-v13.2.2}
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
if [ -z "${CITUS_SRC:-}" ]; then
  for candidate in /work/.mirror/citusdata+citus/repo /var/cache/schema_guard-citus/src; do
    [ -e "$candidate" ] && { CITUS_SRC=$candidate; break; }
  done
fi
[ -n "${CITUS_SRC:-}" ] && [ -e "$CITUS_SRC" ] || {
  echo "citus.sh: no Citus source; set CITUS_SRC to a source tree or a git directory with $CITUS_REF" >&2
  exit 1
}

want_version=${CITUS_REF#v}
installed_version() {
  local control
  control="$("$PG_CONFIG" --sharedir)/extension/citus.control"
  [ -f "$control" ] && [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ] || return 0
  # default_version is the SQL version (13.2-1); the library reports the release.
  strings "$("$PG_CONFIG" --pkglibdir)/citus.so" | grep -m1 -o "Citus $want_version" || true
}
if [ -z "${CITUS_FORCE:-}" ] && [ -n "$(installed_version)" ]; then
  echo "== citus $want_version already installed in $("$PG_CONFIG" --pkglibdir)"
  exit 0
fi

# Build dependencies, from Debian (liblz4/libzstd: columnar compression; libkrb5: the
# server headers include gssapi/gssapi.h).
missing=""
for p in liblz4-dev libzstd-dev libkrb5-dev postgresql-server-dev-$PG_MAJOR make gcc binutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "== installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq $missing >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $missing >/dev/null; }
fi

# One build directory per target installation: configure records the pg_config.
key=$(echo "$PG_CONFIG" | md5sum | cut -c1-8)
CITUS_BUILD=${CITUS_BUILD:-/var/cache/schema_guard-citus/build-$want_version-$key}
if [ ! -f "$CITUS_BUILD/.unpacked" ]; then
  rm -rf "$CITUS_BUILD"
  mkdir -p "$CITUS_BUILD"
  if [ -f "$CITUS_SRC/configure" ]; then
    cp -a "$CITUS_SRC/." "$CITUS_BUILD/"
  else
    git --git-dir="$CITUS_SRC" archive "$CITUS_REF" | tar -x -C "$CITUS_BUILD"
  fi
  touch "$CITUS_BUILD/.unpacked"
fi
cd "$CITUS_BUILD"

# PostgreSQL 15.20 exports have_createdb_privilege() (commands/dbcommands.h); Citus's
# compatibility header defines a static function of that name for PostgreSQL < 16.
# Rename Citus's copy (its callers follow the macro).
compat=src/include/pg_version_compat.h
if ! grep -q citus_compat_have_createdb_privilege "$compat"; then
  sed -i '/^have_createdb_privilege(void)$/i #define have_createdb_privilege citus_compat_have_createdb_privilege' "$compat"
fi

echo "== building Citus $want_version for $("$PG_CONFIG" --version) in $CITUS_BUILD"
if [ ! -f Makefile.global ] || [ "$(sed -n 's/^PG_CONFIG *= *//p' Makefile.global)" != "$PG_CONFIG" ]; then
  nice ./configure PG_CONFIG="$PG_CONFIG" --without-libcurl >configure.log 2>&1 || {
    tail -30 configure.log; exit 1; }
fi
nice make -s -j2 >make.log 2>&1 || { tail -40 make.log; exit 1; }
make -s install >install.log 2>&1 || { tail -20 install.log; exit 1; }
echo "== citus installed in $("$PG_CONFIG" --pkglibdir)"
