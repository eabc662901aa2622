#!/usr/bin/env bash
# Verifications per second through TegataVerifier against a raw swift-crypto P-256 verify of the
# same signing inputs, in one run, on a release build (see Benchmarks/VerifierBenchmark).
# Usage: Benchmarks/verifier-bench.sh [rounds, default 9] [verifications per round, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
echo "building tegata-verifier-benchmark (release)…"
swift build -c release --product tegata-verifier-benchmark >/dev/null
"$(swift build -c release --show-bin-path)/tegata-verifier-benchmark" "${1:-9}" "${2:-20000}"
