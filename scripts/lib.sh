# What the scripts share. Source it: . "$(dirname "$0")/lib.sh"

# The PostgreSQL the tests, benchmarks and drills use.
MADOGUCHI_PG_URL="${MADOGUCHI_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# start_postgres: starts this machine's PostgreSQL cluster when nothing answers on
# 127.0.0.1:5432 and waits up to 30 s for it.
start_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if [ -d /etc/postgresql ]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
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

# sweep_test_databases: drops the test databases that interrupted runs on this machine left
# behind. A test database is named madoguchi_test_<pid>_<uuid> after the test process that made
# it; only those whose process is gone are dropped, so a run in progress (a colleague's, or CI's
# on the same server) keeps its databases.
sweep_test_databases() {
  psql "$MADOGUCHI_PG_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname ~ '^madoguchi_test_[0-9]+_[0-9a-f]+$'" |
    while read -r name; do
      pid=${name#madoguchi_test_}
      pid=${pid%%_*}
      if ! kill -0 "$pid" 2>/dev/null; then
        psql "$MADOGUCHI_PG_URL" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null || true
      fi
    done
}
