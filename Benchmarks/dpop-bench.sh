#!/usr/bin/env bash
# Refresh rotation with and without DPoP (RFC 9449), side by side on one release build of `tegata
# serve` (default SQLite store, synchronous=full, rate limits off), driven by wrk (2 threads, 32
# connections) on this machine. A DPoP refresh verifies one ES256 proof and records its jti in the
# database (the replay rule that holds across replicas): that is what the comparison measures.
# Runs alternate (plain, DPoP, plain, DPoP, …) so that the machine's drift hits both alike; each
# prints requests/s, p99 and the server's CPU per request (the steady figure on a shared machine).
# Proofs are made before each DPoP run with Python's `cryptography` (one per request, fresh: a proof
# is accepted for 60 s plus the clock leeway).
# Usage: Benchmarks/dpop-bench.sh [seconds per run, default 10] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
ROUNDS="${2:-3}"
THREADS=2
CONNECTIONS=32

command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install --quiet 'cryptography>=41'
if [ -z "${TEGATA_BINARY:-}" ]; then
  echo "building tegata (release)…"
  swift build -c release --product tegata >/dev/null
  TEGATA_BINARY="$(swift build -c release --show-bin-path)/tegata"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
TICKS="$(getconf CLK_TCK)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
ISSUER="http://127.0.0.1:$PORT"

TEGATA_PORT="$PORT" TEGATA_ISSUER="$ISSUER" TEGATA_DATABASE_URL="sqlite://$WORK/data/tegata.sqlite" TEGATA_LOG_LEVEL=warning \
  TEGATA_RATE_LIMIT_ENABLED=false TEGATA_AUDIT_LOG=off "$TEGATA_BINARY" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$ISSUER/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$ISSUER/healthz" >/dev/null || { echo "server did not start"; cat "$WORK/server.log"; exit 1; }

SECRET="benchmark-device-secret-0123456789abcdef"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

run() {  # $1: label, $2: lua script, $3…: script arguments
  local label="$1" script="$2"; shift 2
  local before after out rps p99 errors requests cpu
  before="$(cpu_ticks)"
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "Benchmarks/wrk/$script" "$ISSUER" -- "$@")"
  after="$(cpu_ticks)"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  errors="$(echo "$out" | awk '/Non-2xx/ {print $5}')"
  requests="$(echo "$out" | awk '/requests in/ {print $1}')"
  cpu="$(python3 -c "print(f'{($after - $before) / $TICKS * 1000 / max(1, $requests):.3f}')")"
  printf "  %-26s %10s req/s   p99 %8s   CPU %s ms/request   non-2xx %s\n" "$label" "$rps" "$p99" "$cpu" "${errors:-0}"
}

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); $(swift --version 2>&1 | head -1)"
echo "load: wrk, $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run, on the same machine as the server"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  # Fresh sessions each round (the devices sign in again): a run leaves its tokens rotated.
  python3 Benchmarks/prepare-devices.py "$PORT" 256 "$SECRET" "$WORK"
  python3 Benchmarks/dpop-proofs.py "$WORK/key.pem" sign-in "$PORT" 256 "$SECRET" "$WORK"
  run "refresh (bearer)" refresh.lua "$WORK/refresh.txt" "$THREADS"
  # More proofs than the run can use (8,000 per second of run); a shortfall shows as non-2xx.
  python3 Benchmarks/dpop-proofs.py "$WORK/key.pem" proofs "$ISSUER" "$((DURATION * 8000))" "$WORK/proofs.txt"
  run "refresh (DPoP)" refresh-dpop.lua "$WORK/refresh-bound.txt" "$THREADS" "$WORK/proofs.txt"
done
