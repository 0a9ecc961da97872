#!/usr/bin/env bash
# Makes sure the servers the integration tests use are installed and running:
# PostgreSQL (a role and database matching tests/conftest.py's default URL), and the Prometheus
# and Alertmanager binaries (tests/support/prom.py starts its own on free loopback ports, so the
# system services the Debian packages start are stopped and disabled here).
# As root it installs missing Debian packages with apt; elsewhere it explains what is missing.
# Under CI=true a server that cannot be had is an error; otherwise the tests skip loudly.
set -euo pipefail

fail() {
  echo "test-servers: $*" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  echo "test-servers: continuing; the tests that need it will be skipped" >&2
  exit 0
}

# Like fail, but returns (non-zero) instead of exiting outside CI, so later servers are still set up.
soft_fail() {
  echo "test-servers: $*" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  echo "test-servers: continuing; the tests that need it will be skipped" >&2
  return 1
}

PROM_BINARIES=(/usr/bin/prometheus /usr/bin/prometheus-alertmanager)
PROM_SERVICES=(prometheus prometheus-alertmanager prometheus-node-exporter)

prom_missing() {
  local binary
  for binary in "${PROM_BINARIES[@]}"; do [ -x "$binary" ] || return 0; done
  return 1
}

# Stop a system service however this machine runs them, and keep it from starting at boot.
# Nothing running (or no such service) is fine.
stop_service() {
  local name=$1 pidfile pid
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$name" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$name" ]; then
    if command -v service >/dev/null 2>&1; then
      service "$name" stop >/dev/null 2>&1 || true
    else
      "/etc/init.d/$name" stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d "$name" disable >/dev/null 2>&1 || true; fi
  fi
  # Last resort (no init system, or a stop that did not take): the daemon's own pidfile.
  for pidfile in "/run/prometheus/$name.pid" "/run/$name.pid" "/var/run/$name.pid"; do
    [ -r "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "/usr/bin/$name" ]; then
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

# Prometheus 2.42 and Alertmanager 0.25 (Debian bookworm): only the binaries are used; their
# system services would hold 9090/9093/9094 (and 9100 for the node exporter), so they are stopped.
prometheus_binaries() {
  if prom_missing; then
    [ "$(id -u)" = 0 ] || {
      soft_fail "Prometheus/Alertmanager are not installed (need ${PROM_BINARIES[*]}) and we are not root to apt-get them (apt-get install prometheus prometheus-alertmanager)"
      return 0
    }
    echo "test-servers: installing prometheus and prometheus-alertmanager with apt" >&2
    # Keep the packages' post-install from starting services where no policy says so already.
    local policy_added=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\n# added by firewatch scripts/test-servers.sh during apt-get install\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      policy_added=1
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local status=0
    apt-get update -qq || status=$?
    if [ "$status" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus prometheus-alertmanager >/dev/null || status=$?
    fi
    if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    [ "$status" = 0 ] || { soft_fail "apt-get install prometheus prometheus-alertmanager failed ($status)"; return 0; }
    prom_missing && { soft_fail "apt-get installed prometheus but ${PROM_BINARIES[*]} are still missing"; return 0; }
  fi
  if [ "$(id -u)" = 0 ]; then
    local service
    for service in "${PROM_SERVICES[@]}"; do stop_service "$service"; done
  fi
  echo "test-servers: $(/usr/bin/prometheus --version 2>&1 | head -n1)" >&2
  echo "test-servers: $(/usr/bin/prometheus-alertmanager --version 2>&1 | head -n1)" >&2
}

as_postgres() {
  if command -v runuser >/dev/null; then runuser -u postgres -- "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi
}

prometheus_binaries || true

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
