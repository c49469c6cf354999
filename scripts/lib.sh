# Shared shell functions for the demo, the test suite and the benchmarks.
# Sourced, not run.  Everything runs as root; the server runs as the postgres user.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Several checkouts on one machine (developers working in parallel): SG_SANDBOX=NAME
# gives this one a private, relocated copy of the PostgreSQL installation (PostgreSQL
# finds its share and lib directories relative to its binaries), so `make install`
# never replaces another checkout's library; SG_PORT_OFFSET shifts every test port and
# SG_TMP moves the fixed working directories.  Unset, everything is as on CI.
SG_TMP=${SG_TMP:-/tmp}
sg_port() { echo $(( $1 + ${SG_PORT_OFFSET:-0} )); }
if [ -n "${SG_SANDBOX:-}" ]; then
  SG_PG_ROOT=/tmp/sg-sandbox-$SG_SANDBOX/pg
  PG_BIN=$SG_PG_ROOT/usr/lib/postgresql/$PG_MAJOR/bin
else
  PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
fi

# Copy the packaged installation into the sandbox (once; again after packages change).
sandbox_pg() {
  [ -n "${SG_SANDBOX:-}" ] || return 0
  # cp -a keeps the packaged binary's mtime: the copy is current unless it is older
  # (a copy made before a package upgrade).  "-nt" would recopy on every source,
  # deleting the library that build_install put into the sandbox.
  [ -x "$PG_BIN/postgres" ] && ! [ "$PG_BIN/postgres" -ot /usr/lib/postgresql/$PG_MAJOR/bin/postgres ] && return 0
  rm -rf "$SG_PG_ROOT"
  mkdir -p "$SG_PG_ROOT/usr/lib/postgresql" "$SG_PG_ROOT/usr/share/postgresql" "$SG_PG_ROOT/usr/include"
  cp -a /usr/lib/postgresql/$PG_MAJOR "$SG_PG_ROOT/usr/lib/postgresql/"
  cp -a /usr/share/postgresql/$PG_MAJOR "$SG_PG_ROOT/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$SG_PG_ROOT/usr/include/"
  chmod 755 "/tmp/sg-sandbox-$SG_SANDBOX" "$SG_PG_ROOT"
}
[ -d /usr/lib/postgresql/$PG_MAJOR/bin ] && sandbox_pg

# Debian packages the build and the tests need; installed only when missing.
install_deps() {
  local pkgs="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-pgtap
              libtap-parser-sourcehandler-pgtap-perl g++ make"
  local missing=""
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "== installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
  fi
  sandbox_pg
}

build_install() {
  echo "== building schema_guard"
  make -C "$REPO_ROOT" -s -j2 PG_CONFIG="$PG_BIN/pg_config" ERROR_ON_WARNING=1 >/dev/null
  make -C "$REPO_ROOT" -s install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}

# start_cluster DIR PORT [extra postgresql.conf lines...]
# A throwaway cluster owned by postgres, listening only on a private socket dir.
start_cluster() {
  local dir=$1 port=$2
  shift 2
  rm -rf "$dir"
  mkdir -p "$dir"
  chown postgres:postgres "$dir"
  cd /  # the postgres user may not be able to read the checkout
  runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  mkdir -p "$dir/sock" && chown postgres:postgres "$dir/sock"
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir/sock'"
    echo "port = $port"
    echo "fsync = off"
    echo "log_min_messages = warning"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
  cd "$OLDPWD"
}

stop_cluster() {
  local dir=$1
  [ -d "$dir/data" ] && (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1) || true
}
