#!/usr/bin/env bash
# Makes sure the servers the integration tests use are installed and running:
# PostgreSQL (a role and database matching tests/conftest.py's default URL).
# As root it installs missing Debian packages with apt; elsewhere it explains what is missing.
# Under CI=true a server that cannot be had is an error; otherwise the tests skip loudly.
set -euo pipefail

fail() {
  echo "test-servers: $*" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  echo "test-servers: continuing; the tests that need it will be skipped" >&2
  exit 0
}

as_postgres() {
  if command -v runuser >/dev/null; then runuser -u postgres -- "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed and we are not root to apt-get it"
  echo "test-servers: installing postgresql with apt" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

if [ "$(id -u)" != 0 ] && [ "$(id -un)" != postgres ]; then
  pg_isready -q -h 127.0.0.1 || fail "PostgreSQL is not running and we are not root to start it"
  exit 0
fi

read -r version cluster < <(pg_lsclusters -h | awk 'NR==1 {print $1, $2}')
[ -n "${version:-}" ] || fail "no PostgreSQL cluster found (pg_lsclusters is empty)"
if ! pg_lsclusters -h | awk 'NR==1 {print $4}' | grep -q online; then
  pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
pg_isready -q -h 127.0.0.1 || fail "PostgreSQL $version/$cluster did not become ready"

as_postgres psql -q -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'firewatch') THEN
    CREATE ROLE firewatch LOGIN SUPERUSER PASSWORD 'firewatch';
  END IF;
END $$;
SQL
if ! as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'firewatch_test'" | grep -q 1; then
  as_postgres createdb -O firewatch firewatch_test
fi
echo "test-servers: PostgreSQL $version ready (firewatch_test)" >&2
