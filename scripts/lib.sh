# What the scripts share. Source it: . "$(dirname "$0")/lib.sh"

# The PostgreSQL the tests, benchmarks and drills use.
MADOGUCHI_PG_URL="${MADOGUCHI_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# start_postgres: starts this machine's PostgreSQL cluster when nothing answers on
# 127.0.0.1:5432 and waits up to 30 s for it (not at all when it could not be started).
start_postgres() {
  command -v pg_isready >/dev/null 2>&1 || return 0
  if ! pg_isready -q -h 127.0.0.1 -p 5432 && [ -d /etc/postgresql ]; then
    if pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start; then
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
}

# require_postgres SCRIPT HINT: exits with a clear message when PostgreSQL does not answer.
require_postgres() {
  if ! psql "$MADOGUCHI_PG_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    echo "$1: PostgreSQL is not reachable at $MADOGUCHI_PG_URL" >&2
    echo "  start it (pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)" >&2
    [ -n "${2:-}" ] && echo "  or $2" >&2
    exit 1
  fi
}

# pg_bin NAME: the path of a PostgreSQL server program (initdb, pg_ctl), newest version first,
# or nothing when the server binaries are not installed.
pg_bin() {
  local found
  found=$(command -v "$1" 2>/dev/null || true)
  [ -z "$found" ] && found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n1)
  [ -n "$found" ] && echo "$found"
}

# throwaway_postgres SCRIPT: when no PostgreSQL answers, a cluster of this run's own: initdb in a
# temporary folder, trust auth for the user postgres, 127.0.0.1 on a free port; stopped and
# removed when the script exits. Sets MADOGUCHI_PG_URL. Without the server binaries it names
# the one install line and exits.
throwaway_postgres() {
  local initdb pg_ctl dir port run_as=()
  initdb=$(pg_bin initdb || true)
  pg_ctl=$(pg_bin pg_ctl || true)
  if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
    echo "$1: no PostgreSQL answers at $MADOGUCHI_PG_URL, and its server programs (initdb, pg_ctl) are not installed" >&2
    echo "  install them (Debian: apt-get install -y postgresql), or run SQLite only: MADOGUCHI_TEST_BACKENDS=sqlite $1" >&2
    exit 1
  fi
  dir=$(mktemp -d /tmp/madoguchi-pg.XXXXXX)
  # initdb refuses root: the cluster then belongs to the postgres account the package made.
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { rmdir "$dir"; echo "$1: running as root and no postgres account to own a throwaway cluster" >&2; exit 1; }
    chown postgres "$dir"
    run_as=(runuser -u postgres --)
  fi
  # Removed however the script ends, from here on (a failed start included). This is the
  # script's EXIT trap: a script that needs one of its own calls stop_throwaway_postgres in it.
  THROWAWAY_PG=("${run_as[@]}" "$pg_ctl" -D "$dir/data" -m immediate stop)
  THROWAWAY_PG_DIR=$dir
  trap 'stop_throwaway_postgres' EXIT
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ "${MADOGUCHI_TEST_PG:-}" = throwaway ]; then
    echo "$1: MADOGUCHI_TEST_PG=throwaway: starting a throwaway cluster in $dir on port $port" >&2
  else
    echo "$1: no PostgreSQL answers at $MADOGUCHI_PG_URL; starting a throwaway cluster in $dir on port $port" >&2
  fi
  "${run_as[@]}" "$initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  "${run_as[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  MADOGUCHI_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_throwaway_postgres() {
  if [ -n "${THROWAWAY_PG_DIR:-}" ]; then
    [ -f "$THROWAWAY_PG_DIR/data/postmaster.pid" ] && { "${THROWAWAY_PG[@]}" >/dev/null 2>&1 || true; }
    rm -rf "$THROWAWAY_PG_DIR"
    THROWAWAY_PG_DIR=
  fi
}

# test_postgres SCRIPT HINT: the PostgreSQL the tests use. The one at MADOGUCHI_PG_URL when it
# answers (this machine's cluster is started first when it is there but stopped); else, unless
# MADOGUCHI_TEST_PG_URL named a server on purpose, a throwaway cluster (throwaway_postgres).
# MADOGUCHI_TEST_PG=throwaway asks for the throwaway cluster whatever answers (CI tries it so).
test_postgres() {
  if [ "${MADOGUCHI_TEST_PG:-}" != throwaway ]; then
    start_postgres
    psql "$MADOGUCHI_PG_URL" -Atqc 'SELECT 1' >/dev/null 2>&1 && return 0
    [ -n "${MADOGUCHI_TEST_PG_URL:-}" ] && require_postgres "$1" "$2"
  fi
  throwaway_postgres "$1"
}

# host_tag: this machine as test databases name it: the first 12 hex digits of the SHA-256 of
# the kernel's host name (whole, so that CI runners named alike but for a suffix differ).
# tests/api/helpers.rs computes the same.
host_tag() {
  printf '%s' "$(cat /proc/sys/kernel/hostname 2>/dev/null)" | sha256sum | cut -c1-12
}

# sweep_test_databases: drops the test databases that interrupted runs on this machine left
# behind. A test database is named madoguchi_test_<host>_<pid>_<random> after the machine and the
# test process that made it; only this machine's, and of those only the ones whose process is
# gone, are dropped, so a run in progress (a colleague's, or CI's, on a shared server) keeps its
# databases.
# (A process is alive if it can be signalled, or exists but belongs to someone else: `kill -0`
# then says "not permitted"; /proc may hide other users' processes, so it is not asked.)
# Databases named before the host was part of the name (madoguchi_test_<pid>_<uuid>) are swept
# by their pid alone, as they always were.
pid_alive() {
  local out
  out=$(kill -0 "$1" 2>&1) && return 0
  case "$out" in *"not permitted"*) return 0 ;; *) return 1 ;; esac
}

sweep_test_databases() {
  local host
  host=$(host_tag)
  psql "$MADOGUCHI_PG_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname ~ '^madoguchi_test_(${host}_)?[0-9]+_[0-9a-f]+$'" |
    while read -r name; do
      pid=${name#madoguchi_test_}
      pid=${pid#"${host}"_}
      pid=${pid%%_*}
      if ! pid_alive "$pid"; then
        psql "$MADOGUCHI_PG_URL" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null || true
      fi
    done
}
