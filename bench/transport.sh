#!/usr/bin/env bash
# bench/transport.sh: flow records per second from wirewatch-sensor to wirewatch-collector over mutual TLS on
# 127.0.0.1, stored in SQLite (commits fsync'ed before each ack: --durability full), next to the raw TLS
# throughput of the same link (bench/raw_tls.py: Python's ssl, the same certificates).
#
#   bench/transport.sh                  # build release if stale, 1,000,000 flows, 3 runs
#   FLOWS=200000 REPEATS=1 bench/transport.sh --no-build
#   DURABILITY=normal bench/transport.sh
#   HOSTS=1000000 bench/transport.sh    # every flow from its own address: the worst case for the host rollups
#   BIN=/other/.build/release bench/transport.sh   # the programs of another build (nothing is built)
#   PERF=1 bench/transport.sh           # also `perf record -g` the collector of each run (OUT/run/perf.data)
#
# Everything stays on 127.0.0.1; the capture is a file of one-packet UDP flows made by bench/make-flows.py.
set -euo pipefail

. "$(dirname "$0")/common.sh"
OUT=$REPO/bench/out/transport
FLOWS=${FLOWS:-1000000}
# Distinct client addresses among the flows; the per-minute host rollups write a row per host, so this is the
# knob that matters after the flow count. HOSTS=$FLOWS (every flow from its own address) is the worst case.
HOSTS=${HOSTS:-4096}
REPEATS=${REPEATS:-3}
DURABILITY=${DURABILITY:-full}
TLS_BYTES=${TLS_BYTES:-1073741824}
# Flows expire while the capture is read (as in a live capture), so the sensor and the collector work at the
# same time; with the default 60 s UDP timeout every record of this 10 s capture would come out at its end.
SENSOR_ARGS=${SENSOR_ARGS:---udp-timeout 1}
bench_setup "$OUT" "$@"

CAPTURE=$OUT/flows-$FLOWS-hosts-$HOSTS.pcap
[ -f "$CAPTURE" ] || python3 "$REPO/bench/make-flows.py" "$CAPTURE" "$FLOWS" "$HOSTS"


# The sensor alone (decode + flow table + records, nothing shipped): what the pipeline costs before the wire.
t0=$(now)
"$BIN/wirewatch-sensor" --read "$CAPTURE" --emit none --max-flows $((FLOWS * 2)) $SENSOR_ARGS >/dev/null
t1=$(now)
pipeline=$(echo "$t1 - $t0" | bc -l)

best=0
results=()
for run in $(seq 1 "$REPEATS"); do
    rm -rf "$OUT/run" && mkdir -p "$OUT/run"
    port=$(free_port)
    start_collector "$OUT/run" "$port" --db "$OUT/run/bench.db" --durability "$DURABILITY"
    collector=$COLLECTOR
    if [ -n "${PERF:-}" ]; then
        perf record -g -o "$OUT/run/perf.data" -p "$collector" 2>"$OUT/run/perf.err" &
        perf_pid=$!
    fi
    t0=$(now)
    "$BIN/wirewatch-sensor" --read "$CAPTURE" --collector "127.0.0.1:$port" --tls-ca "$PKI/ca.pem" \
        --tls-cert "$PKI/sensors/bench-1.pem" --tls-key "$PKI/sensors/bench-1-key.pem" --spool "$OUT/run/spool" \
        --max-flows $((FLOWS * 2)) $SENSOR_ARGS 2>"$OUT/run/sensor.err"
    t1=$(now)
    # The collector's CPU time (user + system, clock ticks), before the shutdown's final work: per record, a figure
    # that other load on the machine does not change much.
    ticks=$(awk '{print $14 + $15}' "/proc/$collector/stat")
    kill -TERM "$collector"
    wait "$collector" || true
    if [ -n "${PERF:-}" ]; then wait "$perf_pid" || true; fi
    line=$(grep -o 'stopped; [0-9]* records in [0-9]* batches stored ([0-9]* bytes' "$OUT/run/collector.err" | tail -1)
    records=$(echo "$line" | awk '{print $2}')
    batches=$(echo "$line" | awk '{print $5}')
    bytes=$(echo "$line" | awk '{print $8}' | tr -d '(')
    seconds=$(echo "$t1 - $t0" | bc -l)
    rate=$(echo "$records / $seconds" | bc)
    mbps=$(echo "$bytes / $seconds / 1000000" | bc -l)
    cpu_s=$(echo "$ticks / $(getconf CLK_TCK)" | bc -l)
    results+=("$(printf 'run %d: %d records in %d batches, %.2f s: %d records/s, %.1f MB/s of frames; collector CPU %.2f s, %.2f µs/record' \
        "$run" "$records" "$batches" "$seconds" "$rate" "$mbps" "$cpu_s" "$(echo "$cpu_s * 1000000 / $records" | bc -l)")")
    say "${results[-1]}"
    [ "$rate" -gt "$best" ] && best=$rate
done

alone=$(echo "$FLOWS / $pipeline" | bc)
percent=$(echo "100 * $best / $alone" | bc -l)

# Raw TLS on the same link: Python's ssl (OpenSSL) client to server, same CA and certificates, mutual
# authentication, 1 MiB writes: the ceiling for any protocol on this link.
tls_line="skipped (TLS_BYTES=0)"
[ "$TLS_BYTES" = 0 ] || tls_line=$(python3 "$REPO/bench/raw_tls.py" "$PKI" bench-1 "$TLS_BYTES")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
cat <<EOF
machine: $(nproc) cores, $cpu, $(uname -r)
capture: $FLOWS one-packet UDP flows from $HOSTS client addresses ($CAPTURE), sensor options: $SENSOR_ARGS
sensor pipeline alone (--emit none): $(printf '%.2f' "$pipeline") s, $alone flows/s
$(printf '%s\n' "${results[@]}")
best: $best flow records/s end to end (durability $DURABILITY), $(printf '%.0f' "$percent") % of the sensor alone (target 50 %)
raw TLS on the same link: $tls_line
EOF
[ "$best" -ge $((alone / 2)) ] && echo "target met" || echo "target NOT met"
