#!/usr/bin/env bash
# bench/query.sh: a collector database of FLOWS flow records (default 10,000,000, spread over the last two hours
# from HOSTS client addresses), filled through the real path (wirewatch-sensor --read -> mutual TLS ->
# wirewatch-collector -> SQLite, commits fsync'ed, rollups kept); then the ingest rate and the latency of
# `wirewatch top-talkers --since 1h` and `wirewatch report --since 1h` on it (targets: at least 300,000 flow rows/s
# ingested; each query under one second).
#
#   bench/query.sh                     # build release if stale; FLOWS=10000000 HOSTS=4096
#   FLOWS=2000000 bench/query.sh --no-build
#
# Everything stays on 127.0.0.1; the capture is a file written by bench/make-flows.py (nothing is sent).
set -euo pipefail

. "$(dirname "$0")/common.sh"
OUT=$REPO/bench/out/query
FLOWS=${FLOWS:-10000000}
HOSTS=${HOSTS:-4096}
bench_setup "$OUT" "$@"

# Flows spread evenly over the two hours before now, so that --since 1h selects half of them.
START=$(($(date +%s) - 7200))
GAP_US=$((7200 * 1000000 / FLOWS))
CAPTURE=$OUT/flows-$FLOWS-hosts-$HOSTS.pcap
say "writing $CAPTURE ($FLOWS flows, $HOSTS hosts, ${GAP_US} µs apart from $START)"
python3 "$REPO/bench/make-flows.py" "$CAPTURE" "$FLOWS" "$HOSTS" "$START" "$GAP_US"

rm -rf "$OUT/run" && mkdir -p "$OUT/run"
port=$(free_port)
start_collector "$OUT/run" "$port" --db "$OUT/run/flows.db"
collector=$COLLECTOR
t0=$(now)
"$BIN/wirewatch-sensor" --read "$CAPTURE" --collector "127.0.0.1:$port" --tls-ca "$PKI/ca.pem" \
    --tls-cert "$PKI/sensors/bench-1.pem" --tls-key "$PKI/sensors/bench-1-key.pem" --spool "$OUT/run/spool" \
    --udp-timeout 1 --max-flows 1000000 2>"$OUT/run/sensor.err"
t1=$(now)
kill -TERM "$collector"
wait "$collector" || true
records=$(grep -o 'stopped; [0-9]* records' "$OUT/run/collector.err" | awk '{print $2}' | tail -1)
ingest=$(echo "$t1 - $t0" | bc -l)
rate=$(echo "$records / $ingest" | bc)
size=$(du -m "$OUT/run/flows.db" | cut -f1)

best() { # best of 3 wall-clock seconds of a command
    local best=999
    for _ in 1 2 3; do
        local s e d
        s=$(now); "$@" >/dev/null; e=$(now)
        d=$(echo "$e - $s" | bc -l)
        best=$(echo "if ($d < $best) $d else $best" | bc -l)
    done
    printf '%.3f' "$best"
}
talkers=$(best "$BIN/wirewatch" --db "$OUT/run/flows.db" top-talkers --since 1h)
report=$(best "$BIN/wirewatch" --db "$OUT/run/flows.db" report --since 1h --format json --output "$OUT/run/report.json")
html=$(best "$BIN/wirewatch" --db "$OUT/run/flows.db" report --since 1h --format html --output "$OUT/run/report.html")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
cat <<REPORT
machine: $(nproc) cores, $cpu, $(uname -r)
database: $records records ($FLOWS flows from $HOSTS hosts over 2 h), $size MB
ingest (sensor -> TLS -> collector -> SQLite, fsync'ed, rollups): ${ingest}s, $rate records/s (target 300000)
top-talkers --since 1h: ${talkers}s (best of 3; target < 1 s)
report --since 1h --format json: ${report}s; --format html: ${html}s (best of 3; target < 1 s)
REPORT
