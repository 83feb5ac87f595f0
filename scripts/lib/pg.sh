# Starts and stops a private PostgreSQL server in a folder, as a non-root user.
# Sourced by scripts/test.sh and scripts/quickstart.sh; not run on its own.
#
# pg_start DIR  -> initialises DIR/data when needed, starts the server with its socket in DIR,
#                  listening on 127.0.0.1 at a free port, and exports PG_DIR, PG_PORT, PG_SOCKET,
#                  PG_USER (the server's superuser role), PG_BIN and PG_RUN (prefix that runs a
#                  command as the server's OS user).
# pg_attach DIR -> sets PG_DIR, PG_BIN and PG_RUN for the server folder DIR (started or not).
# pg_stop       -> stops the server of the attached folder, if it runs.

pg_find_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(readlink -f "$(command -v initdb)")"; return 0; }
    echo "error: no PostgreSQL server binaries (initdb) found; run scripts/install-deps.sh" >&2
    return 1
}

pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# PostgreSQL refuses to run as root: as root, the server runs as this unprivileged OS user.
PG_OS_USER="forecastd-pg"

pg_attach() {
    PG_DIR="$1"
    PG_BIN="$(pg_find_bin)"
    PG_USER="forecastd"
    PG_RUN=()
    [ "$(id -u)" -eq 0 ] && PG_RUN=(runuser -u "$PG_OS_USER" --)
    return 0
}

pg_start() {
    pg_attach "$1"
    if [ "$(id -u)" -eq 0 ]; then
        id "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
    mkdir -p "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER" "$PG_DIR"
    chmod 700 "$PG_DIR"
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 \
            || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    fi
    PG_PORT="$(pg_free_port)"
    PG_SOCKET="$PG_DIR"
    echo "$PG_PORT" >"$PG_DIR/port"
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-k $PG_SOCKET -p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; return 1; }
    export PG_DIR PG_PORT PG_SOCKET PG_USER PG_BIN
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 \
        || "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# A libpq URI for database $1 on the server started by pg_start.
pg_url() {
    echo "postgresql://$PG_USER@/$1?host=$PG_SOCKET&port=$PG_PORT"
}

pg_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET" -p "$PG_PORT" -U "$PG_USER" "$@"
}
