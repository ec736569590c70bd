#!/usr/bin/env bash
# demo.sh - the distributed pair on one machine, on bundled captures of real traffic, in about ten seconds.
#
# Generates a CA and certificates, starts a collector on 127.0.0.1 with a SQLite database, runs two sensors that
# replay bundled captures (Tests/Fixtures: web, DNS and one nmap SYN scan whose ports were split between the two
# sensors) and ship them over mutual TLS, then prints the alerts the collector raised as they fired and the query
# tool's alerts and top-talkers reports, and stops everything it started. Only 127.0.0.1 is used.
#   scripts/demo.sh [--bin DIR] [--keep]     (default DIR: .build/release; --keep leaves the work directory)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$HERE/.build/release"
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) shift; BIN="$1" ;;
        --keep) KEEP=1 ;;
        *) echo "usage: $0 [--bin DIR] [--keep]" >&2; exit 2 ;;
    esac
    shift
done
for program in wirewatch wirewatch-sensor wirewatch-collector; do
    [ -x "$BIN/$program" ] || { echo "demo: $BIN/$program is missing; build with: swift build -c release" >&2; exit 2; }
done
FIX="$HERE/Tests/Fixtures"
WORK=$(mktemp -d /tmp/wirewatch-demo.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then echo "demo: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

say "certificates: a private CA, the collector and two sensors (wirewatch certs init)"
"$BIN/wirewatch" certs init --out "$WORK/pki" --sensor edge-1 --sensor edge-2 >/dev/null
PKI="$WORK/pki"

say "collector on 127.0.0.1 (database $WORK/wirewatch.db)"
"$BIN/wirewatch-collector" --listen 127.0.0.1:0 --tls-ca "$PKI/ca.pem" --tls-cert "$PKI/collector.pem" \
    --tls-key "$PKI/collector-key.pem" --db "$WORK/wirewatch.db" --alerts text \
    >"$WORK/collector.out" 2>"$WORK/collector.err" &
COLLECTOR=$!
PIDS+=("$COLLECTOR")
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$WORK/collector.out" 2>/dev/null && break
    kill -0 "$COLLECTOR" 2>/dev/null || { cat "$WORK/collector.err" >&2; exit 1; }
    sleep 0.1
done
ADDRESS=$(sed -n 's/^listening on //p' "$WORK/collector.out" | head -1)
[ -n "$ADDRESS" ] || { echo "demo: the collector did not start" >&2; cat "$WORK/collector.err" >&2; exit 1; }
echo "listening on $ADDRESS"

# Each sensor replays its captures in packet-time order and exits once the collector acknowledged everything.
sensor() {
    local name=$1; shift
    local reads=()
    for f in "$@"; do reads+=(--read "$FIX/$f"); done
    "$BIN/wirewatch-sensor" "${reads[@]}" --collector "$ADDRESS" --tls-ca "$PKI/ca.pem" \
        --tls-cert "$PKI/sensors/$name.pem" --tls-key "$PKI/sensors/$name-key.pem" --drain-timeout 30 \
        2>"$WORK/$name.err"
}
say "sensors edge-1 (scan-split-a.pcap, benign-web.pcap) and edge-2 (dns-benign.pcap, scan-split-b.pcap)"
sensor edge-1 scan-split-a.pcap benign-web.pcap &
S1=$!
sensor edge-2 dns-benign.pcap scan-split-b.pcap &
S2=$!
status=0
wait "$S1" || { status=1; echo "demo: sensor edge-1 failed: $(cat "$WORK/edge-1.err")" >&2; }
wait "$S2" || { status=1; echo "demo: sensor edge-2 failed: $(cat "$WORK/edge-2.err")" >&2; }
echo "both sensors delivered everything"

# SIGTERM: the collector stores what it received, runs the last records through the detectors, and exits.
kill -TERM "$COLLECTOR"
wait "$COLLECTOR" || { status=1; echo "demo: the collector exited with an error" >&2; }
PIDS=()

say "alerts the collector printed as they fired"
sed '/^listening on /d' "$WORK/collector.out"

say "wirewatch --db wirewatch.db alerts"
"$BIN/wirewatch" --db "$WORK/wirewatch.db" alerts
say "wirewatch --db wirewatch.db top-talkers"
"$BIN/wirewatch" --db "$WORK/wirewatch.db" top-talkers --limit 10
say "wirewatch --db wirewatch.db sensors"
"$BIN/wirewatch" --db "$WORK/wirewatch.db" sensors

if ! "$BIN/wirewatch" --db "$WORK/wirewatch.db" alerts --kind port-scan --format json | grep -q '"sensors":\["edge-1","edge-2"\]'; then
    echo "demo: expected one port scan seen by both sensors" >&2
    status=1
fi
exit "$status"
