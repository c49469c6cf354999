# Shared shell functions for the demo, the test suite and the benchmarks.
# Sourced, not run.  Everything runs as root; the server runs as the postgres user.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Which PostgreSQL: by default Debian's packaged major PG_MAJOR (15), laid out under
# /usr/lib/postgresql/$PG_MAJOR.  PG_ROOT=DIR selects an installation in another layout
# (a source build's prefix, a prebuilt server; scripts/matrix.sh assembles them): the
# programs are in DIR/bin, and DIR/bin/pg_config tells the rest (PostgreSQL finds its
# share and lib directories relative to its programs).
if [ -n "${PG_ROOT:-}" ]; then
  PG_ORIG_BIN=$PG_ROOT/bin
  PG_MAJOR=$("$PG_ORIG_BIN/pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
else
  PG_MAJOR=${PG_MAJOR:-15}
  PG_ORIG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
fi

# Several checkouts on one machine (developers working in parallel): SG_SANDBOX=NAME
# gives this one a private, relocated copy of the PostgreSQL installation, so `make
# install` never replaces another checkout's library; SG_PORT_OFFSET shifts every test
# port and SG_TMP moves the fixed working directories.  Unset, everything is as on CI.
SG_TMP=${SG_TMP:-/tmp}
sg_port() { echo $(( $1 + ${SG_PORT_OFFSET:-0} )); }
if [ -n "${SG_SANDBOX:-}" ] && [ -n "${PG_ROOT:-}" ]; then
  SG_PG_ROOT=/tmp/sg-sandbox-$SG_SANDBOX/pg$PG_MAJOR-$(echo "$PG_ROOT" | md5sum | cut -c1-8)
  PG_BIN=$SG_PG_ROOT/bin
elif [ -n "${SG_SANDBOX:-}" ]; then
  SG_PG_ROOT=/tmp/sg-sandbox-$SG_SANDBOX/pg
  PG_BIN=$SG_PG_ROOT/usr/lib/postgresql/$PG_MAJOR/bin
else
  PG_BIN=$PG_ORIG_BIN
fi
# psql, pg_dump, pg_prove's psql...: this installation's, not Debian's version wrapper
export PATH=$PG_BIN:$PATH

# Copy the installation into the sandbox, once: again only after the original changed
# (the stamp names its server binary and that binary's time), never on every source of
# this file, which would drop the library `make install` put there.
sandbox_pg() {
  [ -n "${SG_SANDBOX:-}" ] || return 0
  local stamp
  stamp="$(stat -c '%n %Y %s' "$PG_ORIG_BIN/postgres") $(cat "${PG_ROOT:-/nonexistent}/.complete" 2>/dev/null || true)"
  [ -x "$PG_BIN/postgres" ] && [ "$(cat "$SG_PG_ROOT/.sg-stamp" 2>/dev/null)" = "$stamp" ] && return 0
  rm -rf "$SG_PG_ROOT"
  mkdir -p "$SG_PG_ROOT"
  if [ -n "${PG_ROOT:-}" ]; then
    cp -a "$PG_ROOT/." "$SG_PG_ROOT/"
  else
    mkdir -p "$SG_PG_ROOT/usr/lib/postgresql" "$SG_PG_ROOT/usr/share/postgresql" "$SG_PG_ROOT/usr/include"
    cp -a /usr/lib/postgresql/$PG_MAJOR "$SG_PG_ROOT/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/$PG_MAJOR "$SG_PG_ROOT/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$SG_PG_ROOT/usr/include/"
  fi
  chmod 755 "/tmp/sg-sandbox-$SG_SANDBOX" "$SG_PG_ROOT"
  echo "$stamp" >"$SG_PG_ROOT/.sg-stamp"
}
[ -x "$PG_ORIG_BIN/postgres" ] && sandbox_pg

# Debian packages the build and the tests need; installed only when missing.  An
# installation in another layout brings its own server, headers and pgTAP.
install_deps() {
  # (python3-django, python3-psycopg2: test/t/django.sh runs Django's migrations on Debian's python)
  local pkgs="libtap-parser-sourcehandler-pgtap-perl g++ make python3-django python3-psycopg2 libpq-dev"
  [ -z "${PG_ROOT:-}" ] && pkgs="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-pgtap $pkgs"
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
  SG_CLUSTERS+=("$dir")
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
  cd "$OLDPWD"
}

stop_cluster() {
  local dir=$1
  [ -d "$dir/data" ] && stop_data_dir "$dir/data"
  return 0
}

# stop_data_dir DATA: stop the server running on the data directory DATA, if any.  When
# pg_ctl cannot (a server of another major, a damaged directory), the postmaster named
# in postmaster.pid gets SIGQUIT, if that process is a postgres started on DATA.
stop_data_dir() {
  local data=$1 pid
  [ -f "$data/postmaster.pid" ] || return 0
  (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1) && return 0
  pid=$(head -1 "$data/postmaster.pid" 2>/dev/null)
  case $pid in ''|*[!0-9]*) return 0 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-D $data" && kill -QUIT "$pid" 2>/dev/null
  return 0
}

# Clean-up at exit.  A postmaster whose directory is removed keeps running, holding its
# port, its shared memory and the directory's disk space (test/t/memory.sh once left a
# PostgreSQL 18 server behind that way): every removal goes through remove_dir, and the
# clusters start_cluster started are stopped when the script exits, whatever happened.
SG_CLUSTERS=()
SG_EXIT_COMMANDS=()

# remove_dir DIR: stop every server whose data directory lies under DIR, then remove DIR.
remove_dir() {
  local dir=$1 pidfile
  [ -d "$dir" ] || return 0
  while IFS= read -r pidfile; do stop_data_dir "$(dirname "$pidfile")"; done \
    < <(find "$dir" -name postmaster.pid 2>/dev/null)
  rm -rf "$dir"
}

# cleanup_dir DIR [NAMED]: remove the throwaway DIR, unless the caller named it (NAMED is
# not empty: kept to look at) or a test failed ($failed is not 0: kept with its logs).
cleanup_dir() {
  [ -z "${2:-}" ] && [ "${failed:-0}" = 0 ] && remove_dir "$1"
  return 0
}

# on_exit COMMAND: run COMMAND when the script exits, in the order given, then stop the
# clusters this script started.  Replaces any other EXIT trap.
on_exit() {
  SG_EXIT_COMMANDS+=("$1")
  trap sg_run_exit_commands EXIT
}
sg_run_exit_commands() {
  local c d
  for c in "${SG_EXIT_COMMANDS[@]}"; do eval "$c"; done
  for d in "${SG_CLUSTERS[@]}"; do stop_cluster "$d"; done
}
