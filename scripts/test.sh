#!/usr/bin/env bash
# The one test command: starts a throwaway PostgreSQL (initdb in a temporary folder, run as a
# non-root user, a free port and a private Unix socket), runs `swift test` against it, and
# stops and removes the server afterwards, also when tests fail. Arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh

tmp="$(mktemp -d /tmp/forecastd-test.XXXXXX)"
chmod 755 "$tmp"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

echo "==> starting a throwaway PostgreSQL in $tmp"
pg_start "$tmp/pg"
pg_psql -d postgres -c "CREATE DATABASE forecastd_test"

# A command the tests use to restart the server under open connections.
cat >"$tmp/pg-restart" <<RESTART
#!/usr/bin/env bash
exec ${PG_RUN[*]} "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -m fast -w -t 60 \
    -o "-k $PG_SOCKET -p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200" restart >/dev/null
RESTART
chmod 755 "$tmp/pg-restart"

export FORECASTD_TEST_DATABASE_URL="$(pg_url forecastd_test)"
export FORECASTD_TEST_ADMIN_URL="$(pg_url postgres)"
export FORECASTD_TEST_PG_RESTART="$tmp/pg-restart"
export FORECASTD_TEST_PSQL="$PG_BIN/psql"

# FORECASTD_SCRATCH picks another build folder (.build-NAME), so parallel work does not share one.
scratch=()
[ -n "${FORECASTD_SCRATCH:-}" ] && scratch=(--scratch-path "$FORECASTD_SCRATCH")
echo "==> building"
swift build "${scratch[@]}" --build-tests
echo "==> testing against $FORECASTD_TEST_DATABASE_URL"
swift test "${scratch[@]}" --skip-build --disable-swift-testing "$@"
