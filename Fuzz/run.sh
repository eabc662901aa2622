#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer (a separate build folder,
# .build-fuzz) and runs each for FUZZ_SECONDS (default 15) from its committed seed corpus in
# Fuzz/Corpus/<target>/. A crash, a sanitizer report or an oracle's disagreement fails the run; the
# input is printed (base64) so it can be committed to the corpus as a regression.
# Usage: Fuzz/run.sh [target…]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-15}
swift build --scratch-path .build-fuzz --product tegata-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DTEGATA_LIBFUZZER 2>&1 | grep -v "warning: Cannot export local symbol" | tail -3
FUZZER="$PWD/.build-fuzz/debug/tegata-fuzz"

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(ls Fuzz/Corpus)
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failed=0
for target in "${TARGETS[@]}"; do
    mkdir -p "$WORK/$target/new" "$WORK/$target/artifacts"
    status=0
    # SWIFT_BACKTRACE off: Swift's crash handler would itself trip AddressSanitizer after a fatal error.
    (cd "$WORK/$target" && SWIFT_BACKTRACE=enable=no TEGATA_FUZZ_TARGET="$target" "$FUZZER" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -max_len=12000 -print_final_stats=1 \
        -artifact_prefix="$WORK/$target/artifacts/" new "$OLDPWD/Fuzz/Corpus/$target" \
        </dev/null >"$WORK/$target/log" 2>&1) || status=$?
    runs=$(grep -E "^stat::number_of_executed_units" "$WORK/$target/log" | awk '{print $2}' || true)
    if [ "$status" -ne 0 ] || ls "$WORK/$target/artifacts/"* >/dev/null 2>&1; then
        failed=1
        echo "fuzz $target: FAILED (exit $status)"
        grep -E "Fatal error|ERROR: |SUMMARY" "$WORK/$target/log" | head -5 || true
        for artifact in "$WORK/$target/artifacts/"*; do
            [ -f "$artifact" ] || continue
            echo "  input $(basename "$artifact") (base64; add it to Fuzz/Corpus/$target/ once fixed):"
            base64 -w 0 "$artifact"; echo
        done
    else
        echo "fuzz $target: ok, ${runs:-?} inputs in ${SECONDS_EACH}s"
    fi
done
exit $failed
