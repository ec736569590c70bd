#!/usr/bin/env bash
# detect-flood.sh - detector state under a flood of a million distinct sources stays within its caps.
#
# Makes bench/out/flood-N.pcap (N distinct 127.x.y.z sources, one SYN each to 127.0.0.1:80, 10,000 a second;
# a file only, nothing is sent), then runs on it, release builds, with /usr/bin/time:
#   1. wirewatch-sensor --read FLOOD --emit none          the pipeline alone (flow table, records)
#   2. wirewatch analyze FLOOD --usage --config CAPS      the same pipeline plus every detector
# and prints each detector's entries, estimated bytes and evictions, the configured caps, and the difference in
# peak RSS between the two runs (the detectors' real cost). Fails when a detector holds more entries than its
# cap or the RSS difference exceeds the memory budget below.
#   bench/detect-flood.sh [SOURCES]      (default 1000000)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SOURCES=${1:-1000000}
OUT="$HERE/bench/out"
BIN="${WIREWATCH_BIN:-$HERE/.build/release}"
mkdir -p "$OUT"
if [ ! -x "$BIN/wirewatch" ] || [ ! -x "$BIN/wirewatch-sensor" ]; then
    (cd "$HERE" && swift build -c release --product wirewatch && swift build -c release --product wirewatch-sensor)
fi
FLOOD="$OUT/flood-$SOURCES.pcap"
[ -f "$FLOOD" ] || python3 "$HERE/bench/make-flood.py" "$FLOOD" "$SOURCES"

# The caps under test: the scan detector's source table is what a flood of sources fills.
MAX_SOURCES=${MAX_SOURCES:-100000}
CAPS="$OUT/flood-caps.conf"
cat >"$CAPS" <<CONF
[scan]
max-sources = $MAX_SOURCES
[dns]
max-clients = 50000
[ports]
max-services = 200000
CONF
# Memory budget for the detectors' state at these caps (MiB); the estimate printed below explains it.
BUDGET_MB=${BUDGET_MB:-256}

measure() { /usr/bin/time -f '%M %e' -o "$OUT/flood.time" "$@" >/dev/null 2>"$OUT/flood.err" || {
    cat "$OUT/flood.err" >&2; exit 1; }; cat "$OUT/flood.time"; }
read -r base_kb base_s < <(measure "$BIN/wirewatch-sensor" --read "$FLOOD" --emit none)
read -r det_kb det_s < <(measure "$BIN/wirewatch" analyze "$FLOOD" --usage --config "$CAPS" --format json)
echo "flood: $SOURCES sources, $(stat -c %s "$FLOOD") bytes ($FLOOD)"
echo "pipeline alone:        peak RSS $((base_kb / 1024)) MiB, $base_s s"
echo "pipeline + detectors:  peak RSS $((det_kb / 1024)) MiB, $det_s s"
delta_mb=$(((det_kb - base_kb) / 1024))
echo "detectors' peak RSS:   $delta_mb MiB (budget $BUDGET_MB MiB)"
grep 'detector ' "$OUT/flood.err" | sed 's/^wirewatch analyze: /  /'
grep 'alerts' "$OUT/flood.err" | sed 's/^wirewatch analyze: /  /'
status=0
scan_entries=$(sed -n 's/.*detector scan: at most \([0-9]*\) entries.*/\1/p' "$OUT/flood.err")
# Sources and targets are capped at max-sources each.
if [ -z "$scan_entries" ] || [ "$scan_entries" -gt $((2 * MAX_SOURCES)) ]; then
    echo "FAIL: the scan detector holds ${scan_entries:-?} sources and targets, cap $MAX_SOURCES each" >&2
    status=1
fi
if [ "$delta_mb" -gt "$BUDGET_MB" ]; then
    echo "FAIL: detectors used $delta_mb MiB, budget $BUDGET_MB MiB" >&2
    status=1
fi
[ "$status" = 0 ] && echo "PASS: state within its caps"
exit "$status"
