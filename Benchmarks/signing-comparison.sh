#!/usr/bin/env bash
# Tegata's ES256 signing and verification against jwt-kit's, on a release build, in one run
# (Benchmarks/SigningComparison, its own package so the product never depends on jwt-kit).
# Usage: Benchmarks/signing-comparison.sh [rounds, default 7] [tokens per round, default 5000]
set -euo pipefail
cd "$(dirname "$0")/SigningComparison"
echo "building the signing comparison (release)…"
swift build -c release >/dev/null
"$(swift build -c release --show-bin-path)/SigningComparison" "${1:-7}" "${2:-5000}"
