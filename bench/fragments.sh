#!/usr/bin/env bash
# bench/fragments.sh: wirewatch-sensor's cost for a flood of duplicate or overlapping IP fragments, against the
# same number of ordinary packets. Prints each capture's wall and CPU time, best of REPEATS.
#
#   bench/fragments.sh [--no-build]
#
# Environment: COUNT (packets per capture, default 40000), REPEATS (default 3), SENSOR (sensor binary, default
# .build/release/wirewatch-sensor, built unless --no-build), OUT (default bench/out/fragments).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$REPO/bench/out/fragments}
COUNT=${COUNT:-40000}
REPEATS=${REPEATS:-3}
SENSOR=${SENSOR:-$REPO/.build/release/wirewatch-sensor}
BUILD=1
case ${1:-} in
    --no-build) BUILD=0 ;;
    '') ;;
    *) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
[[ $COUNT =~ ^[1-9][0-9]*$ && $REPEATS =~ ^[1-9][0-9]*$ ]] || { echo "COUNT and REPEATS must be positive" >&2; exit 2; }

if [ "$BUILD" = 1 ]; then
    (cd "$REPO" && swift build -c release --product wirewatch-sensor >&2)
fi
[ -x "$SENSOR" ] || { echo "no $SENSOR: run without --no-build" >&2; exit 1; }

mkdir -p "$OUT"
python3 "$REPO/bench/make-fragments.py" "$OUT" "$COUNT"

# run CAPTURE: prints "wall user+sys" in seconds of the best (lowest wall) of REPEATS runs, and keeps the last
# run's stats record (stderr of --emit none is empty, so the weird counters come from a jsonl run after).
run() {
    local capture=$1 best="" line TIMEFORMAT='%R %U %S'
    for _ in $(seq 1 "$REPEATS"); do
        line=$( { time "$SENSOR" --read "$capture" --emit none >/dev/null 2>/dev/null; } 2>&1 | tail -n 1)
        read -r wall user sys <<<"$line"
        cpu=$(printf "%.3f" "$(echo "$user + $sys" | bc)")
        if [ -z "$best" ] || [ "$(echo "$wall < ${best%% *}" | bc)" = 1 ]; then best="$wall $cpu"; fi
    done
    echo "$best"
}

printf '%-18s %9s %9s %8s  %s\n' capture wall_s cpu_s vs_plain "stats (fragments, reassembled, expired, weird)"
plain=""
for name in ordinary duplicates overlapping; do
    capture="$OUT/$name.pcap"
    read -r wall cpu <<<"$(run "$capture")"
    [ -n "$plain" ] || plain=$wall
    ratio=$(echo "scale=2; $wall / $plain" | bc)
    stats=$("$SENSOR" --read "$capture" --emit jsonl 2>/dev/null | grep '"final":true' | grep '"fragments"' |
        python3 -c 'import json,sys
r=json.loads(sys.stdin.read().splitlines()[-1])
print(r.get("fragments"), r.get("fragments_reassembled"), r.get("fragments_expired"),
      {k: v for k, v in r.get("weird", {}).items() if "fragment" in k})' 2>/dev/null || echo "?")
    printf '%-18s %9s %9s %7sx  %s\n' "$name ($COUNT)" "$wall" "$cpu" "$ratio" "$stats"
done
