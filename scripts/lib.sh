# Shared shell functions for the demo, the test suite and the benchmarks.
# Sourced, not run.  Everything runs as root; the server runs as the postgres user.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

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
