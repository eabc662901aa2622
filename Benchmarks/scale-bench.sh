#!/usr/bin/env bash
# Scale benchmark: does the cost of a request stay flat as the data grows? Fills one fresh database
# to each size in turn (10 thousand, then 1 million sessions by default; say 10000000 to go on to
# ten million), and at each size serves it with a release build of `tegata serve` and measures, with
# wrk (2 threads, 32 connections) on the same machine:
#   GET /v1/me        (tokens of sessions spread over the whole database; each request loads its user),
#   refresh rotation  (each request most likely a session no other request of the run touched),
#   new device sign-in (a device never seen: a user, a device and a session inserted),
# each as requests/s, p99, and CPU per request (the server's user + system CPU time over the run
# divided by the requests: the figure that stays steady on a shared machine), then the database's
# size on disk and the server's resident memory.
#
# Filling writes through the store with `tegata-scale-fill` (Benchmarks/ScaleFill): the same
# transaction a new device's sign-in commits, without HTTP, so ten million take minutes. Every size
# runs on the same database, grown in place (the rows the measurements add are counted too).
#
# Usage: Benchmarks/scale-bench.sh [sizes…]     e.g. Benchmarks/scale-bench.sh 10000 1000000 10000000
#   SCALE_SECONDS (default 10) per measurement, SCALE_SAMPLE (default 50000) sessions sampled per size
#   (GET /v1/me uses at most 50,000 of them, so that its warm-up verifies each one),
#   SCALE_DATABASE_URL: a postgres:// URL to run on PostgreSQL instead of SQLite (the database must be
#   empty; the script does not create or drop it).
#   SCALE_VARIANTS: server settings to compare on the same data, separated by `;`, each a list of
#   TEGATA_*=value assignments, e.g. 'TEGATA_SQLITE_CACHE_MIB=2;TEGATA_SQLITE_CACHE_MIB=64'. At each
#   size the server is started once per variant and measured in turn; the refreshes of each variant
#   use their own share of the sampled sessions (so none presents a token another one rotated).
#   SCALE_PERF: a directory; each measurement is also profiled with `perf record` (flat, 999 Hz)
#   into <dir>/<size>-<variant>-<measurement>.data (read with `perf report -i FILE --sort symbol`).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 1000000)
DURATION="${SCALE_SECONDS:-10}"
SAMPLE="${SCALE_SAMPLE:-50000}"
IFS=';' read -r -a VARIANTS <<< "${SCALE_VARIANTS:-}"
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("")
THREADS=2
CONNECTIONS=32

command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
echo "building tegata and tegata-scale-fill (release)…"
swift build -c release --product tegata >/dev/null
swift build -c release --product tegata-scale-fill >/dev/null
BIN_DIR="$(swift build -c release --show-bin-path)"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT="$(free_port)"
export TEGATA_DATABASE_URL="${SCALE_DATABASE_URL:-sqlite://$WORK/data/tegata.sqlite}"
export TEGATA_MASTER_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
export TEGATA_RATE_LIMIT_ENABLED=false TEGATA_AUDIT_LOG=off TEGATA_LOG_LEVEL=warning TEGATA_PORT="$PORT"
export TEGATA_ISSUER="http://127.0.0.1:$PORT"
# Large enough that every sampled token, once verified, is served from the cache: /v1/me then
# measures the user's lookup, not ES256 (the HTTP benchmark measures that).
ME_SAMPLE=50000
export TEGATA_VERIFIED_TOKEN_CACHE_SIZE=$((ME_SAMPLE * 2))
TICKS="$(getconf CLK_TCK)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$SERVER_PID/status"; }
database_size() {
  case "$TEGATA_DATABASE_URL" in
    sqlite://*) du -sm "$WORK/data" | awk '{print $1 " MB"}' ;;
    *) echo "(PostgreSQL: see pg_database_size)" ;;
  esac
}

start_server() {  # $1: the variant's TEGATA_* assignments (word-split on purpose)
  # shellcheck disable=SC2086
  env $1 "$BIN_DIR/tegata" serve >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

measure() {  # $1: label, $2: seconds, $3: script, $4…: script arguments
  local label="$1" seconds="$2" script="$3"; shift 3
  local before after out requests rps p99 errors
  local perf_pid=""
  if [ -n "${SCALE_PERF:-}" ]; then
    mkdir -p "$SCALE_PERF"
    perf record -q -F 999 -p "$SERVER_PID" -o "$SCALE_PERF/$PERF_PREFIX-${label//[ \/]/-}.data" -- sleep "$seconds" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  before="$(cpu_ticks)"
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s" --latency -s "Benchmarks/wrk/$script" "http://127.0.0.1:$PORT" -- "$@")"
  after="$(cpu_ticks)"
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  requests="$(echo "$out" | awk '/requests in/ {print $1}')"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  errors="$(echo "$out" | awk '/Non-2xx/ {print $5}')"
  local cpu
  cpu="$(python3 -c "print(f'{($after - $before) / $TICKS * 1000 / max(1, $requests):.3f}')")"
  printf "  %-22s %10s req/s   p99 %8s   CPU %s ms/request   non-2xx %s\n" "$label" "$rps" "$p99" "$cpu" "${errors:-0}"
}

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); $(swift --version 2>&1 | head -1)"
echo "store: ${TEGATA_DATABASE_URL%%://*}; load: wrk, $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run; $SAMPLE sessions sampled per size"
total=0
for size in "${SIZES[@]}"; do
  [ "$size" -gt "$total" ] || { echo "sizes must grow: $size skipped"; continue; }
  echo
  echo "filling to $size sessions…"
  # The sample is drawn from this fill, so the sessions measured are spread over it.
  "$BIN_DIR/tegata-scale-fill" "$((size - total))" "$SAMPLE" "$WORK/tokens.txt"
  total="$size"
  head -n "$ME_SAMPLE" "$WORK/tokens.txt" >"$WORK/me-tokens.txt"
  for v in "${!VARIANTS[@]}"; do
    variant="${VARIANTS[$v]}"
    start_server "$variant"
    PERF_PREFIX="$size-$v"
    [ -z "$variant" ] || echo "variant $((v + 1)) of ${#VARIANTS[@]}: $variant"
    echo "$size sessions (plus those earlier measurements added): database $(database_size), server RSS $(rss_mb) MB after start"
    # Verifies every sampled access token once, so that the measured run hits the verified-token cache.
    measure "warm-up /v1/me" 8 me-pairs.lua "$WORK/me-tokens.txt" >/dev/null
    measure "GET /v1/me" "$DURATION" me-pairs.lua "$WORK/me-tokens.txt"
    measure "refresh rotation" "$DURATION" refresh-pairs.lua "$WORK/tokens.txt" "$THREADS" "$v" "${#VARIANTS[@]}"
    measure "new device sign-in" "$DURATION" new-device.lua "scale-$size-$v"
    echo "  database $(database_size), server RSS $(rss_mb) MB after the runs"
    stop_server
  done
done
