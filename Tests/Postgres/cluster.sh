#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on a free loopback port, run by a non-root user.
#   Tests/Postgres/cluster.sh start DIR   initdb + pg_ctl start in DIR; prints the URL to stdout
#   Tests/Postgres/cluster.sh stop DIR    stops it (immediately) and removes DIR
#   Tests/Postgres/cluster.sh crash DIR   stops it as a crash would (pg_ctl stop -m immediate), keeping DIR
#   Tests/Postgres/cluster.sh resume DIR  starts a crashed cluster again on the same port (it recovers from its WAL)
# Installs Debian's `postgresql` package first when no server binaries are found (CI machines).
# As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
command="${1:?start or stop}"
dir="${2:?a directory}"

find_bin() {
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    if [ -z "$found" ] && command -v pg_ctl >/dev/null; then found="$(dirname "$(command -v pg_ctl)")"; fi
    echo "$found"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_server() {  # bin dir port
    # Loopback only; enough connections for two replicas' pools and the tests; fsync stays on (the
    # durability tests rely on it).
    as_owner "$1/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$3 -c unix_socket_directories='$2' -c max_connections=200" start >&2 \
        || { cat "$2/server.log" >&2; exit 1; }
}

case "$command" in
start)
    bin="$(find_bin)"
    if [ -z "$bin" ]; then
        echo "installing postgresql from Debian's packages" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bin="$(find_bin)"
    fi
    [ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries found" >&2; exit 1; }
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    password="tegata-test-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    printf '%s\n' "$password" > "$dir/.pwfile" && chmod 600 "$dir/.pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/.pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U tegata --pwfile="$dir/.pwfile" -A scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$bin" > "$dir/.bin"
    echo "$port" > "$dir/.port"
    start_server "$bin" "$dir" "$port"
    echo "postgres://tegata:$password@127.0.0.1:$port/postgres?sslmode=disable"
    ;;
crash)
    as_owner "$(cat "$dir/.bin")/pg_ctl" -D "$dir/data" -m immediate -w stop >&2
    ;;
resume)
    start_server "$(cat "$dir/.bin")" "$dir" "$(cat "$dir/.port")"
    ;;
stop)
    if [ -f "$dir/.bin" ]; then
        as_owner "$(cat "$dir/.bin")/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|crash|resume DIR" >&2; exit 2
    ;;
esac
