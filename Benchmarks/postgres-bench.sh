#!/usr/bin/env bash
# HTTP benchmark of a release build of `tegata serve` on PostgreSQL, against PostgreSQL's own
# ceiling measured in the same run. A throwaway cluster (Tests/Postgres/cluster.sh: loopback,
# fsync and synchronous_commit on, otherwise PostgreSQL's defaults) serves:
#   0. pgbench's built-in simple-update script (-N), with as many client connections as wrk uses
#      and, for reference, with as many as one replica's pool holds;
#   1. device sign-in, 2. refresh rotation, 3. GET /v1/me (tokens reused), through one replica;
#   4. the same three through two replicas on the same database, the wrk connections split between
#      them (as a load balancer would), figures summed.
# wrk, the replicas and PostgreSQL all run on this machine's cores.
# Usage: Benchmarks/postgres-bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
THREADS=2
CONNECTIONS=32
POOL=10

command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
echo "building tegata (release)…"
swift build -c release --product tegata >/dev/null
BIN="$(swift build -c release --show-bin-path)/tegata"

WORK="$(mktemp -d)"
chmod 755 "$WORK"
CLUSTER="$WORK/cluster"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  Tests/Postgres/cluster.sh stop "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

URL="$(Tests/Postgres/cluster.sh start "$CLUSTER" 2>/dev/null)"
PGBIN="$(cat "$CLUSTER/.bin")"
export PGPASSWORD="$(cat "$CLUSTER/.pwfile")"
PGHOST=127.0.0.1
PGPORT="$(cat "$CLUSTER/.port")"
psql_admin() { "$PGBIN/psql" -h "$PGHOST" -p "$PGPORT" -U tegata -d postgres -qAt -c "$1"; }
db_url() { echo "${URL%%/postgres\?*}/$1?sslmode=disable"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
MASTER_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"

start_replica() {  # $1: database; sets REPLICA_PORT (not a subshell: PIDS must keep the process)
  local port
  port="$(free_port)"
  TEGATA_PORT="$port" TEGATA_DATABASE_URL="$(db_url "$1")" TEGATA_DATABASE_POOL_SIZE="$POOL" TEGATA_LOG_LEVEL=warning TEGATA_RATE_LIMIT_ENABLED=false \
    TEGATA_MASTER_KEY="$MASTER_KEY" TEGATA_ISSUER="http://bench.tegata.local" "$BIN" serve >>"$WORK/server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && { REPLICA_PORT="$port"; return; }; sleep 0.1; done
  echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}

stop_replicas() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }

SECRET="benchmark-device-secret-0123456789abcdef"
prepare() {  # $1: port, $2: device count; writes devices.txt, refresh.txt, access.txt
  python3 Benchmarks/prepare-devices.py "$1" "$2" "$SECRET" "$WORK"
  # Halves for two replicas: each gets its own sessions, as sticky clients would.
  awk 'NR % 2 == 1' "$WORK/refresh.txt" >"$WORK/refresh-a.txt"
  awk 'NR % 2 == 0' "$WORK/refresh.txt" >"$WORK/refresh-b.txt"
}

# wrk against each given port at once (CONNECTIONS split between them); prints the summed rate,
# the worst p50 and p99 of the parts, and the non-2xx count.
run() {  # $1: label, $2: script, $3: script arguments (";"-separated per port, "," between arguments), $4…: ports
  local label="$1" script="$2" argsets="$3"; shift 3
  local ports=("$@") count=$# index=0 loads=()
  IFS=';' read -r -a perport <<<"$argsets"
  for port in "${ports[@]}"; do
    IFS=',' read -r -a args <<<"${perport[$index]}"
    wrk -t"$((THREADS / count > 0 ? THREADS / count : 1))" -c"$((CONNECTIONS / count))" -d"${DURATION}s" --latency \
      -s "Benchmarks/wrk/$script" "http://127.0.0.1:$port" -- "${args[@]}" >"$WORK/wrk-$index.out" &
    loads+=($!)
    index=$((index + 1))
  done
  wait "${loads[@]}"
  python3 - "$label" "$WORK" "$count" <<'PY'
import re, sys
label, work, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rate, p50, p99, bad = 0.0, 0.0, 0.0, 0
for i in range(count):
    out = open(f"{work}/wrk-{i}.out").read()
    rate += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = max(p50, ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)))
    p99 = max(p99, ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    bad += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", out)
    if m: print(f"  ({m.group(0)})")
print(f"{label:<58} {rate:>10,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   non-2xx {bad}")
PY
  rm -f "$WORK"/wrk-*.out
}

pgbench_run() {  # $1: clients
  local out
  out="$("$PGBIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U tegata -N -c "$1" -j "$THREADS" -T "$DURATION" -M prepared -r bench 2>&1)"
  local tps latency
  tps="$(echo "$out" | awk -F'= ' '/^tps/ {print $2}' | awk '{print $1}')"
  latency="$(echo "$out" | awk -F'= ' '/^latency average/ {print $2}')"
  printf "%-58s %10.0f tx/s    average latency %s\n" "pgbench -N (simple update), $1 clients" "$tps" "$latency"
}

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); $(swift --version 2>&1 | head -1)"
echo "PostgreSQL: $("$PGBIN/postgres" --version); loopback, fsync on, synchronous_commit on"
echo "load: wrk, $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run; pool of $POOL connections per replica"
echo

psql_admin "CREATE DATABASE bench"
"$PGBIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U tegata -i -s 10 -q bench >/dev/null 2>&1
pgbench_run "$CONNECTIONS"
pgbench_run "$POOL"
psql_admin "CHECKPOINT"

for replicas in 1 2; do
  database="tegata_$replicas"
  psql_admin "CREATE DATABASE $database"
  ports=()
  for _ in $(seq 1 "$replicas"); do start_replica "$database"; ports+=("$REPLICA_PORT"); done
  prepare "${ports[0]}" 256
  if [ "$replicas" = 1 ]; then
    run "device sign-in, 1 replica" device.lua "$WORK/devices.txt,$SECRET" "${ports[@]}"
    run "refresh rotation, 1 replica" refresh.lua "$WORK/refresh.txt,$THREADS" "${ports[@]}"
    run "GET /v1/me (tokens reused), 1 replica" me.lua "$WORK/access.txt" "${ports[@]}"
  else
    run "device sign-in, 2 replicas" device.lua "$WORK/devices.txt,$SECRET;$WORK/devices.txt,$SECRET" "${ports[@]}"
    run "refresh rotation, 2 replicas" refresh.lua "$WORK/refresh-a.txt,1;$WORK/refresh-b.txt,1" "${ports[@]}"
    run "GET /v1/me (tokens reused), 2 replicas" me.lua "$WORK/access.txt;$WORK/access.txt" "${ports[@]}"
  fi
  stop_replicas
  psql_admin "CHECKPOINT"
done
