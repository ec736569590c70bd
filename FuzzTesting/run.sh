#!/usr/bin/env bash
# Builds the libFuzzer targets (with AddressSanitizer) and fuzzes each for its share of a bounded time.
#
#   FuzzTesting/run.sh [SECONDS]        default 60 in all: FuzzPackets half, FuzzFragments and FuzzWire a quarter
#                                       each; exits non-zero on a crash, a sanitizer report, a broken invariant, a
#                                       build failure, or an uninstrumented ("blind") binary
#
# Inputs start from each target's committed seeds (Corpus/, CorpusFragments/, CorpusWire/) and crashers (FailCases/,
# FailCasesFragments/, FailCasesWire/), read, never written; new inputs go to a scratch directory, crash artifacts to
# .build/fuzz-artifacts/<target>/ (printed in hex on failure).
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-seed=1 -jobs=2"; FUZZ_TARGETS="FuzzWire" runs only the ones named
# (SECONDS is then split among those by the same shares).
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

# Both sanitizer flags through -Xswiftc: `--sanitize=fuzzer --sanitize=address` passes them in random order and only
# the last one takes effect, which can leave the objects without coverage instrumentation (shared/DEPENDENCIES.md).
flags=(--sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)

# target : share of the seconds (percent) : seeds : crashers : max input length : extra flags
all_targets=(
    "FuzzPackets:50:Corpus:FailCases:8192:-dict=$here/packets.dict"
    "FuzzFragments:25:CorpusFragments:FailCasesFragments:1024:"
    "FuzzWire:25:CorpusWire:FailCasesWire:8192:"
)
selected=()
for entry in "${all_targets[@]}"; do
    name="${entry%%:*}"
    if [ -z "${FUZZ_TARGETS:-}" ] || [[ " ${FUZZ_TARGETS} " == *" $name "* ]]; then selected+=("$entry"); fi
done
[ "${#selected[@]}" -gt 0 ] || { echo "run.sh: no target matches FUZZ_TARGETS=${FUZZ_TARGETS:-}" >&2; exit 2; }

# One --product at a time: a plain `swift build` would also link the root package's executables with libFuzzer's
# main and fail.
for entry in "${selected[@]}"; do
    swift build --product "${entry%%:*}" "${flags[@]}"
done
bin="$(swift build "${flags[@]}" --show-bin-path)"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$here/.build"
total=0
for entry in "${selected[@]}"; do
    IFS=: read -r _ share _ <<<"$entry"
    total=$((total + share))
done

for entry in "${selected[@]}"; do
    IFS=: read -r target share seeds crashers maxlen extra <<<"$entry"
    budget=$((seconds * share / total))
    [ "$budget" -ge 1 ] || budget=1
    artifacts="$here/.build/fuzz-artifacts/$target"
    rm -rf "$artifacts"
    mkdir -p "$artifacts" "$scratch/$target"
    log="$here/.build/fuzz-last-$target.log"
    inputs=("$scratch/$target")
    [ -d "$seeds" ] && inputs+=("$here/$seeds")
    [ -d "$crashers" ] && [ -n "$(ls -A "$crashers")" ] && inputs+=("$here/$crashers")
    extras=()
    [ -n "$extra" ] && extras+=("$extra")

    set +e
    # SWIFT_BACKTRACE=enable=no: Swift's own crash handler would otherwise make ASan report a spurious error.
    # -detect_leaks=0: libFuzzer's leak check after each input that allocates more than it frees would fire on
    # every input (the targets keep state in a global on purpose) and a LeakSanitizer pass over ~500 MB takes tens
    # of milliseconds: 1,000 of them ate a whole 60 s run (143 inputs/s instead of ~2,200).
    SWIFT_BACKTRACE=enable=no "$bin/$target" \
        -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 -max_len="$maxlen" -detect_leaks=0 \
        "${extras[@]}" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "${inputs[@]}" 2>&1 | tee "$log" \
        | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
    status=${PIPESTATUS[0]}
    set -e

    # libFuzzer counts the instrumented edges at start-up; zero means the build lost -sanitize=fuzzer and it ran blind.
    counters="$(sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -n 1)"
    if [ -z "$counters" ] || [ "$counters" -eq 0 ]; then
        echo "run.sh: $target has no coverage counters (ran blind); check the sanitizer flags" >&2
        exit 3
    fi
    if [ "$status" -ne 0 ]; then
        echo "run.sh: $target failed (exit $status); artifacts:" >&2
        for file in "$artifacts"/*; do
            [ -f "$file" ] || continue
            echo "--- $file" >&2
            od -A d -t x1 "$file" | head -n 40 >&2
        done
        echo "Replay one input: SWIFT_BACKTRACE=enable=no $bin/$target FILE (see README.md for state-dependent crashes)" >&2
        exit "$status"
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    echo "run.sh: $target ${budget}s, ${runs:-?} inputs, $counters coverage counters, no crash"
done
