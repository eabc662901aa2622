#!/usr/bin/env bash
# HTTP benchmark of a release build of `tegata serve` with the default SQLite store, driven by wrk
# (2 threads, 32 connections) on this machine. Prints requests/s and latency percentiles for:
#   1. device sign-in (already registered devices),
#   2. refresh rotation (every request a legitimate rotation of its session's current token),
#   3. GET /v1/me reusing tokens (the verified-token cache hits),
#   4. GET /v1/me with the cache disabled (every request pays the ES256 verification, as a token
#      never seen before does),
# each with TEGATA_SQLITE_SYNCHRONOUS=full (the default) and, for the writes, =normal; the first
# three also with the rate limits off (TEGATA_RATE_LIMIT_ENABLED=false) and on, side by side. "On"
# runs every limit's code (the address's failure counters, the per-device and per-session counters,
# the shared registration counter) with quotas raised so that this load, all from 127.0.0.1 and a
# few hundred sessions, trips none: a tripped limit would measure how fast 429s are, not what the
# limits cost a legitimate request.
# Device sign-in (one audit event each) is also run with the audit trail off
# (TEGATA_AUDIT_LOG=off), written as JSON lines to a file, and to the file and the audit table
# (TEGATA_AUDIT_TABLE=true). Every other run keeps the default: the audit stream on standard error,
# here redirected to a file.
# Usage: Benchmarks/http-bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
THREADS=2
CONNECTIONS=32

command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
echo "building tegata (release)…"
swift build -c release --product tegata >/dev/null
BIN="$(swift build -c release --show-bin-path)/tegata"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

LIMITS_ON=(TEGATA_RATE_LIMIT_ENABLED=true TEGATA_RATE_LIMIT_REGISTRATIONS=1000000/1m
  TEGATA_RATE_LIMIT_DEVICE_SIGN_INS=1000000/1m TEGATA_RATE_LIMIT_SESSION_REFRESHES=1000000/1m)
LIMITS_OFF=(TEGATA_RATE_LIMIT_ENABLED=false)

start_server() {  # $1: synchronous mode, $2: verified-token cache size, $3: on or off (rate limits), $4: audit (default, off, stream, table)
  PORT="$(free_port)"
  rm -rf "$WORK/data" "$WORK/audit.jsonl"
  local limits=("${LIMITS_OFF[@]}")
  [ "${3:-off}" = on ] && limits=("${LIMITS_ON[@]}")
  local audit=()
  case "${4:-default}" in
    off) audit=(TEGATA_AUDIT_LOG=off) ;;
    stream) audit=(TEGATA_AUDIT_LOG="$WORK/audit.jsonl") ;;
    table) audit=(TEGATA_AUDIT_LOG="$WORK/audit.jsonl" TEGATA_AUDIT_TABLE=true) ;;
  esac
  env "${limits[@]}" "${audit[@]}" TEGATA_PORT="$PORT" TEGATA_DATABASE_URL="sqlite://$WORK/data/tegata.sqlite" TEGATA_LOG_LEVEL=warning \
    TEGATA_SQLITE_SYNCHRONOUS="$1" TEGATA_VERIFIED_TOKEN_CACHE_SIZE="$2" "$BIN" serve >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}

stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

SECRET="benchmark-device-secret-0123456789abcdef"
prepare() {  # registers $1 devices; writes devices.txt, refresh.txt, access.txt
  python3 Benchmarks/prepare-devices.py "$PORT" "$1" "$SECRET" "$WORK"
}

run() {  # $1: label, $2: lua script, $3…: script arguments
  local label="$1" script="$2"; shift 2
  local out
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "Benchmarks/wrk/$script" "http://127.0.0.1:$PORT" -- "$@")"
  local rps p50 p99 errors
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1=="50%" {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  errors="$(echo "$out" | awk '/Non-2xx/ {print $5}')"
  printf "%-52s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n" "$label" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); $(swift --version 2>&1 | head -1)"
echo "load: wrk, $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run, on the same machine as the server"
echo

for limits in off on; do
  start_server full 20000 "$limits"
  prepare 256
  run "device sign-in (limits $limits)" device.lua "$WORK/devices.txt" "$SECRET"
  run "refresh rotation (limits $limits)" refresh.lua "$WORK/refresh.txt" "$THREADS"
  run "GET /v1/me, tokens reused, cache on (limits $limits)" me.lua "$WORK/access.txt"
  stop_server
done
for audit in off stream table; do
  start_server full 20000 off "$audit"
  prepare 256
  run "device sign-in (audit $audit)" device.lua "$WORK/devices.txt" "$SECRET"
  stop_server
  [ "$audit" = off ] || echo "    audit lines written: $(wc -l <"$WORK/audit.jsonl")"
done
start_server normal 20000
prepare 256
run "device sign-in (synchronous=normal)" device.lua "$WORK/devices.txt" "$SECRET"
run "refresh rotation (synchronous=normal)" refresh.lua "$WORK/refresh.txt" "$THREADS"
stop_server
start_server full 0
prepare 64
run "GET /v1/me, every request verified (cache off)" me.lua "$WORK/access.txt"
stop_server
