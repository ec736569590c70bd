#!/usr/bin/env bash
# bench/flow-cost.sh: what one flow's whole life costs the sensor, in microseconds of CPU.
#
#   bench/flow-cost.sh [SENSOR ...]
#
# Two captures of the same PACKETS one-packet-sized UDP frames (bench/make-flows.py): in one every packet is a flow
# of its own, in the other the packets take turns among FEW flows. Same bytes, same decoding, same per-packet work;
# the difference in CPU time (user + system, best of REPEATS, runs interleaved) divided by the difference in flows is
# the cost of a flow: creating it, its uid and timers, its expiry, its record, its release. GAP_US between packets
# (default 200, so 1,000,000 packets span 200 s of packet time) lets idle timeouts expire flows as the capture goes,
# with about 300,000 open at once, under the default --max-flows (nothing is evicted).
#
# Each SENSOR (default .build/release/wirewatch-sensor) is timed on both captures; give several to compare builds.
# Environment: PACKETS (1000000), FEW (1000), GAP_US (200), REPEATS (5), OUT (bench/out).
set -uo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$REPO/bench/out}
PACKETS=${PACKETS:-1000000}
FEW=${FEW:-1000}
GAP_US=${GAP_US:-200}
REPEATS=${REPEATS:-5}
[[ $PACKETS =~ ^[1-9][0-9]*$ && $FEW =~ ^[1-9][0-9]*$ && $GAP_US =~ ^[1-9][0-9]*$ && $REPEATS =~ ^[1-9][0-9]*$ ]] ||
    { echo "PACKETS, FEW, GAP_US and REPEATS must be positive integers" >&2; exit 2; }
[ "$FEW" -lt "$PACKETS" ] || { echo "FEW must be less than PACKETS" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install -y time)" >&2; exit 1; }
SENSORS=("$@")
[ ${#SENSORS[@]} -gt 0 ] || SENSORS=("$REPO/.build/release/wirewatch-sensor")
for sensor in "${SENSORS[@]}"; do
    [ -x "$sensor" ] || { echo "not an executable: $sensor (build with swift build -c release)" >&2; exit 1; }
done

mkdir -p "$OUT"
MANY=$OUT/flowcost-$PACKETS-$GAP_US-many.pcap
SOME=$OUT/flowcost-$PACKETS-$GAP_US-few$FEW.pcap
[ -s "$MANY" ] || python3 "$REPO/bench/make-flows.py" "$MANY" "$PACKETS" "$PACKETS" 1700000000 "$GAP_US" || exit 1
[ -s "$SOME" ] || python3 "$REPO/bench/make-flows.py" "$SOME" "$PACKETS" "$FEW" 1700000000 "$GAP_US" "$FEW" || exit 1
cat "$MANY" "$SOME" >/dev/null  # into the page cache

# One run: prints "cpu_seconds peak_rss_kib".
run() {
    local err
    err=$(mktemp)
    if ! /usr/bin/time -f "%U %S %M" "$1" --read "$2" --emit none >/dev/null 2>"$err"; then
        echo "failed: $1 --read $2" >&2
        cat "$err" >&2
        rm -f "$err"
        return 1
    fi
    tail -1 "$err" | awk '{ printf "%.2f %d\n", $1 + $2, $3 }'
    rm -f "$err"
}

declare -A best rss
for ((r = 0; r < REPEATS; r++)); do
    for index in "${!SENSORS[@]}"; do
        for kind in many few; do
            capture=$MANY
            [ $kind = few ] && capture=$SOME
            read -r cpu kib < <(run "${SENSORS[$index]}" "$capture") || exit 1
            key=$index-$kind
            if [ -z "${best[$key]:-}" ] || awk -v a="$cpu" -v b="${best[$key]}" 'BEGIN { exit !(a < b) }'; then
                best[$key]=$cpu
            fi
            [ "${rss[$key]:-0}" -ge "$kib" ] || rss[$key]=$kib
        done
    done
done

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "captures: $PACKETS packets, $GAP_US us apart; $PACKETS flows vs $FEW flows; best of $REPEATS, CPU = user + system"
printf '%-60s %10s %10s %12s %12s %12s\n' sensor "cpu many" "cpu few" "us/flow" "RSS many MiB" "RSS few MiB"
for index in "${!SENSORS[@]}"; do
    many=${best[$index-many]}
    few=${best[$index-few]}
    perflow=$(awk -v a="$many" -v b="$few" -v n="$PACKETS" -v f="$FEW" 'BEGIN { printf "%.2f", (a - b) * 1e6 / (n - f) }')
    printf '%-60s %10s %10s %12s %12d %12d\n' "${SENSORS[$index]}" "$many" "$few" "$perflow" \
        $((rss[$index-many] / 1024)) $((rss[$index-few] / 1024))
done
