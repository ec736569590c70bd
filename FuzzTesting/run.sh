#!/usr/bin/env bash
# Builds the FuzzPackets libFuzzer target (with AddressSanitizer) and fuzzes for a bounded time.
#
#   FuzzTesting/run.sh [SECONDS]        default 60; exits non-zero on a crash, a sanitizer report, a broken
#                                       invariant, a build failure, or an uninstrumented ("blind") binary
#
# Inputs start from the committed seeds in Corpus/ and the crashers in FailCases/ (both read, never written);
# new inputs go to a scratch directory, crash artifacts to .build/fuzz-artifacts/ (printed in hex on failure).
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-seed=1 -jobs=2".
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

# Both sanitizer flags through -Xswiftc: `--sanitize=fuzzer --sanitize=address` passes them in random order and only
# the last one takes effect, which can leave the objects without coverage instrumentation (shared/DEPENDENCIES.md).
build=(swift build --product FuzzPackets --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)
"${build[@]}"
binary="$("${build[@]}" --show-bin-path)/FuzzPackets"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
artifacts="$here/.build/fuzz-artifacts"
rm -rf "$artifacts"
mkdir -p "$artifacts"
log="$here/.build/fuzz-last.log"

inputs=("$scratch")
[ -d Corpus ] && inputs+=("$here/Corpus")
[ -d FailCases ] && [ -n "$(ls -A FailCases)" ] && inputs+=("$here/FailCases")

set +e
# SWIFT_BACKTRACE=enable=no: Swift's own crash handler would otherwise make ASan report a spurious error.
# -detect_leaks=0: libFuzzer's leak check after each input that allocates more than it frees would fire on every
# input (the flow table keeps state in a global on purpose) and a LeakSanitizer pass over ~500 MB takes tens of
# milliseconds: 1,000 of them ate a whole 60 s run (143 inputs/s instead of ~2,200).
SWIFT_BACKTRACE=enable=no "$binary" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -detect_leaks=0 \
    -dict="$here/packets.dict" \
    -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "${inputs[@]}" 2>&1 | tee "$log" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
status=${PIPESTATUS[0]}
set -e

# libFuzzer counts the instrumented edges at start-up; zero means the build lost -sanitize=fuzzer and it ran blind.
counters="$(sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -n 1)"
if [ -z "$counters" ] || [ "$counters" -eq 0 ]; then
    echo "run.sh: FuzzPackets has no coverage counters (ran blind); check the sanitizer flags" >&2
    exit 3
fi
if [ "$status" -ne 0 ]; then
    echo "run.sh: FuzzPackets failed (exit $status); artifacts:" >&2
    for file in "$artifacts"/*; do
        [ -f "$file" ] || continue
        echo "--- $file" >&2
        od -A d -t x1 "$file" | head -n 40 >&2
    done
    echo "Replay one input: SWIFT_BACKTRACE=enable=no $binary FILE (see README.md for state-dependent crashes)" >&2
    exit "$status"
fi
echo "run.sh: ${seconds}s of fuzzing, $counters coverage counters, no crash"
