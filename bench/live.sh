#!/usr/bin/env bash
# bench/live.sh: live capture capacity. Replays a capture onto `lo` of a network namespace made
# for the run (tcpreplay, at each rate in turn) while wirewatch-sensor captures on that `lo`, and
# the same replay while `tcpdump -w` captures, and reports packets sent, received and dropped by
# the kernel (see bench/README.md, "Live capacity").
#
#   bench/live.sh [--capture FILE] [--packets N] [--rates R,R,...] [--workers N]
#                 [--buffer-size MiB] [--no-tcpdump] [--check-workers [RATE]] [--keep]
#
# --capture      pcap to replay (default bench/out/net-small.snap262144.pcap, made by
#                bench/sensor.sh --only net-small)
# --packets      packets replayed per run (tcpreplay --limit; default 1000000)
# --rates        packets/s, "top" = tcpreplay --topspeed (default 50000,100000,200000,top)
# --workers      passed to the sensor as --workers N (not passed unless given)
# --buffer-size  kernel buffer of the sensor and of tcpdump, MiB (default 64)
# --no-tcpdump   only the sensor
# --check-workers [RATE]  instead of the rate table: replay at RATE (default 50000) to the
#                sensor with one worker (no --workers: the default) and then --workers 2, and
#                check that every flow's final record appears exactly once with 2 workers as
#                with 1 (CHECK_WORKERS=N compares N instead of 2; 1 = two runs of the default,
#                which shows what the comparison gives without workers)
# --keep         keep the sensor's JSON lines and tcpdump's files in bench/out/live
#
# Environment: SENSOR (default .build/release/wirewatch-sensor), OUT (default bench/out),
# CHECK_WORKERS (default 2).
# Needs root (network namespace, capture). Exit status: 0 when every run worked (targets are
# reported, not enforced), 1 when a tool failed or the workers check found a difference, 2 on
# a usage error or when the sensor does not accept --workers.
set -uo pipefail
export LC_ALL=C
export PATH=$PATH:/usr/sbin:/sbin

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$REPO/bench/out}
SENSOR=${SENSOR:-$REPO/.build/release/wirewatch-sensor}
CAPTURE=$OUT/net-small.snap262144.pcap
PACKETS=1000000
RATES=50000,100000,200000,top
WORKERS=""
BUFFER_MIB=64
TCPDUMP=1
CHECK=0
CHECK_RATE=50000
CHECK_WORKERS=${CHECK_WORKERS:-2}
[[ $CHECK_WORKERS =~ ^[1-9][0-9]*$ ]] || { echo "CHECK_WORKERS must be a positive integer" >&2; exit 2; }
KEEP=0
# Seconds the tools get after the replay to read what is still in their buffers.
DRAIN_SECONDS=2

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
say() { printf '%s\n' "$*"; }

while [ $# -gt 0 ]; do
    case $1 in
        --capture) shift; CAPTURE=${1:-} ;;
        --packets) shift; PACKETS=${1:-} ;;
        --rates) shift; RATES=${1:-} ;;
        --workers) shift; WORKERS=${1:-}; [[ $WORKERS =~ ^([1-9][0-9]*|auto)$ ]] || { usage; exit 2; } ;;
        --buffer-size) shift; BUFFER_MIB=${1:-} ;;
        --no-tcpdump) TCPDUMP=0 ;;
        --check-workers)
            CHECK=1
            if [[ ${2:-} =~ ^([1-9][0-9]*|top)$ ]]; then shift; CHECK_RATE=$1; fi ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage; exit 2 ;;
    esac
    shift
done
[[ $PACKETS =~ ^[1-9][0-9]*$ && $BUFFER_MIB =~ ^[1-9][0-9]*$ ]] || { echo "--packets and --buffer-size take positive integers" >&2; exit 2; }
IFS=, read -r -a RATE_LIST <<<"$RATES"
for rate in "${RATE_LIST[@]}"; do
    [[ $rate =~ ^([1-9][0-9]*|top)$ ]] || { echo "bad rate '$rate': packets/s or 'top'" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { say "needs root (a network namespace and live capture)"; exit 1; }
for tool in ip tcpreplay tcpdump python3; do
    command -v "$tool" >/dev/null 2>&1 || { say "missing $tool (apt-get install -y iproute2 tcpreplay tcpdump python3)"; exit 1; }
done
[ -x "$SENSOR" ] || { say "no sensor at $SENSOR (build it, or set SENSOR)"; exit 1; }
[ -s "$CAPTURE" ] || { say "no capture $CAPTURE: make it with bench/sensor.sh --only net-small (or give --capture)"; exit 1; }

RUN=$OUT/live
mkdir -p "$RUN"
NS=wirewatch-live-$$
PIDS=()  # every process this script started in the background; stopped by pid on exit

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && stop "$pid"; done
    PIDS=()
    ip netns del "$NS" 2>/dev/null
    [ $KEEP -eq 1 ] || rm -f "$RUN"/*.jsonl "$RUN"/*.pcap
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || { say "cannot create network namespace $NS"; exit 1; }
ip -n "$NS" link set lo up || { say "cannot bring up lo in $NS"; exit 1; }
# in_ns CMD...: CMD in the namespace. Background processes are started with `ip netns exec` itself
# (which execs CMD), so that $! is their pid, not a subshell's.
in_ns() { ip netns exec "$NS" "$@"; }

# replay RATE LOG: tcpreplay PACKETS packets of the capture onto lo in the namespace.
replay() {
    local -a speed=(--pps="$1")
    [ "$1" = top ] && speed=(--topspeed)
    # --preload-pcap: read the packets into memory first, so the disk does not limit the rate.
    in_ns tcpreplay -i lo "${speed[@]}" --limit="$PACKETS" --preload-pcap "$CAPTURE" >"$2" 2>&1
}

# sent_of LOG / pps_of LOG: tcpreplay's "Actual: N packets" and the rate it reached.
sent_of() { sed -n 's/^ *Actual: \([0-9]*\) packets.*/\1/p' "$1" | head -n 1; }
pps_of() { sed -n 's/^ *Rated: .*, \([0-9.]*\) pps.*/\1/p' "$1" | head -n 1; }

# wait_socket PID: until PID has a packet socket in the namespace (it is capturing), max 15 s.
wait_socket() {
    local i
    for i in $(seq 150); do
        # grep without -q: it reads all of ss's output, so no SIGPIPE fails the pipeline (pipefail).
        in_ns ss -0 -H -p 2>/dev/null | grep "pid=$1," >/dev/null && { sleep 0.3; return 0; }
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# proc_usage PID: "CPU-seconds peak-RSS-MiB" of a running process (all its threads).
proc_usage() {
    local ticks hz
    hz=$(getconf CLK_TCK)
    ticks=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null)
    awk -v t="${ticks:-0}" -v hz="$hz" -v kb="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null)" \
        'BEGIN {printf "%.2f %.1f", t / hz, kb / 1024}'
}

# stop PID [SIGNAL]: SIGNAL (default TERM; again every 10 s), then wait for PID to exit (the sensor
# flushes every open flow first), at most 120 s before SIGKILL.
stop() {
    local i sig=${2:-TERM}
    kill -"$sig" "$1" 2>/dev/null
    for i in $(seq 1200); do
        kill -0 "$1" 2>/dev/null || break
        [ $((i % 100)) -eq 0 ] && kill -"$sig" "$1" 2>/dev/null
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && { say "  pid $1 did not stop; killing it"; kill -KILL "$1" 2>/dev/null; }
    wait "$1" 2>/dev/null
}

# sensor_stats FILE: the final stats record(s) of the sensor's JSON lines, summed when there are
# several (one per worker), as "received kernel_dropped interface_dropped records".
sensor_stats() {
    python3 - "$1" <<'PY'
import json, sys
final = []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if '"type":"stats"' in line and '"final":true' in line:
        try:
            final.append(json.loads(line))
        except ValueError:
            pass
if not final:
    print("- - - 0")
    sys.exit()
def total(key):
    values = [r.get(key) for r in final if r.get(key) is not None]
    return str(sum(values)) if values else "-"
# Several final records: per-worker ones and perhaps a summed one (a source naming no worker, or one whose
# packets equal the rest together); take the summed one when it is there, otherwise add them up.
if len(final) > 1:
    for r in final:
        rest = [x for x in final if x is not r]
        if r.get("packets_received") == sum(x.get("packets_received", 0) for x in rest):
            final = [r]
            break
print(total("packets_received"), total("packets_dropped_kernel"), total("packets_dropped_interface"), len(final))
PY
}

ROWS=()
FAILED=0

# run_sensor RATE WORKERS_ARG JSONL: one replay captured by the sensor; appends a row to ROWS.
run_sensor() {
    local rate=$1 workers=$2 jsonl=$3 label=wirewatch-sensor
    local -a extra=()
    if [ -n "$workers" ]; then extra=(--workers "$workers"); label="wirewatch-sensor -w$workers"; fi
    rm -f "$jsonl"
    ip netns exec "$NS" "$SENSOR" --interface lo --buffer-size "$BUFFER_MIB" --emit jsonl --output "$jsonl" "${extra[@]}" \
        >"$RUN/sensor.out" 2>"$RUN/sensor.err" &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_socket "$pid"; then
        local rc=0
        if kill -0 "$pid" 2>/dev/null; then stop "$pid"; rc=timeout; else wait "$pid" 2>/dev/null; rc=$?; fi
        if [ -n "$workers" ] && grep -qi 'workers' "$RUN/sensor.err"; then
            say "the sensor does not accept --workers $workers: $(head -n 1 "$RUN/sensor.err")"
            say "($SENSOR predates the option, or the value is out of range)"
            exit 2
        fi
        say "the sensor did not start capturing (exit $rc): $(head -n 3 "$RUN/sensor.err")"
        FAILED=1
        return 1
    fi
    replay "$rate" "$RUN/replay.log"
    sleep "$DRAIN_SECONDS"
    local usage
    usage=$(proc_usage "$pid")
    stop "$pid"
    local stats received dropped ifdrop records
    stats=$(sensor_stats "$jsonl")
    read -r received dropped ifdrop records <<<"$stats"
    [ "$records" = 0 ] && { say "  no final stats record from the sensor: $(tail -n 2 "$RUN/sensor.err")"; FAILED=1; }
    ROWS+=("$rate|$label|$(sent_of "$RUN/replay.log")|$(pps_of "$RUN/replay.log")|$received|$dropped|$ifdrop|$usage")
}

# run_tcpdump RATE: one replay captured by tcpdump -w; appends a row to ROWS.
run_tcpdump() {
    local rate=$1 file=$RUN/tcpdump.pcap
    rm -f "$file"
    ip netns exec "$NS" tcpdump -i lo -n -s 262144 -B $((BUFFER_MIB * 1024)) -Z root -w "$file" >"$RUN/tcpdump.out" 2>"$RUN/tcpdump.err" &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_socket "$pid"; then
        stop "$pid" INT
        say "tcpdump did not start capturing: $(head -n 3 "$RUN/tcpdump.err")"; FAILED=1; return 1
    fi
    replay "$rate" "$RUN/replay.log"
    sleep "$DRAIN_SECONDS"
    local usage
    usage=$(proc_usage "$pid")
    stop "$pid" INT
    local captured dropped
    captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$RUN/tcpdump.err")
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$RUN/tcpdump.err")
    ROWS+=("$rate|tcpdump -w|$(sent_of "$RUN/replay.log")|$(pps_of "$RUN/replay.log")|${captured:--}|${dropped:--}|-|$usage")
    rm -f "$file"
}

print_rows() {
    printf '%-8s %-24s %10s %10s %10s %10s %8s %9s %7s %9s\n' rate tool sent "sent pps" received \
        "kern drop" "drop %" "if drop" "cpu s" "RSS MiB"
    local row rate tool sent pps received dropped ifdrop cpu rss
    for row in "${ROWS[@]}"; do
        IFS='|' read -r rate tool sent pps received dropped ifdrop usage <<<"$row"
        read -r cpu rss <<<"$usage"
        printf '%-8s %-24s %10s %10.0f %10s %10s %8s %9s %7s %9s\n' "$rate" "$tool" "${sent:--}" "${pps:-0}" \
            "$received" "$dropped" \
            "$(awk -v d="$dropped" -v s="$sent" 'BEGIN {if (d ~ /^[0-9]+$/ && s > 0) printf "%.1f%%", 100 * d / s; else print "-"}')" \
            "$ifdrop" "$cpu" "$rss"
    done
}

header() {
    local npk
    npk=$(python3 -c 'import sys; print(sys.argv[1])' "$PACKETS")
    say "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)," \
        "load $(cut -d' ' -f1-3 /proc/loadavg)"
    say "tools:   $(tcpreplay --version 2>&1 | head -n 1), $(tcpdump --version 2>&1 | head -n 1), sensor $SENSOR"
    say "replay:  $npk packets of $CAPTURE onto lo in namespace $NS (tcpreplay --preload-pcap);"
    say "         capture buffer $BUFFER_MIB MiB (sensor --buffer-size, tcpdump -B); the sensor writes JSON lines"
    say "         (--emit jsonl --output FILE) and is stopped with SIGTERM $DRAIN_SECONDS s after the replay ends;"
    say "         received and kern drop = its final stats record (packets_received, packets_dropped_kernel),"
    say "         tcpdump's = its 'packets captured' and 'packets dropped by kernel'; cpu s and RSS read from"
    say "         /proc just before the stop"
}

# final_flows JSONL OUT: the direction-free 5-tuples (and VLAN) of the final flow records, one a line, sorted.
final_flows() {
    python3 - "$1" >"$2" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if not line.startswith('{"type":"flow"') or '"final":true' not in line:
        continue
    r = json.loads(line)
    a = (r.get("id.orig_h"), r.get("id.orig_p", 0))
    b = (r.get("id.resp_h"), r.get("id.resp_p", 0))
    lo, hi = sorted([a, b], key=lambda e: (str(e[0]), e[1]))
    print(r.get("proto"), lo[0], lo[1], hi[0], hi[1], r.get("vlan", 0))
PY
    sort -o "$2" "$2"
}

if [ $CHECK -eq 1 ]; then
    header
    second=""
    [ "$CHECK_WORKERS" -gt 1 ] && second=$CHECK_WORKERS
    say "check:   replay at $CHECK_RATE packets/s to the sensor with one worker (its default), then with"
    say "         ${second:+--workers }${second:-one again}; every flow's final record (5-tuple, both directions"
    say "         as one, and VLAN) must appear in the second run exactly as often as in the first"
    say ""
    run_sensor "$CHECK_RATE" "" "$RUN/workers1.jsonl" || exit 1
    run_sensor "$CHECK_RATE" "$second" "$RUN/workers2.jsonl" || exit 1
    print_rows
    final_flows "$RUN/workers1.jsonl" "$RUN/flows1.txt"
    final_flows "$RUN/workers2.jsonl" "$RUN/flows2.txt"
    n1=$(wc -l <"$RUN/flows1.txt"); n2=$(wc -l <"$RUN/flows2.txt")
    only1=$(comm -23 "$RUN/flows1.txt" "$RUN/flows2.txt" | wc -l)
    only2=$(comm -13 "$RUN/flows1.txt" "$RUN/flows2.txt" | wc -l)
    dup2=$(( $(uniq -d "$RUN/flows2.txt" | wc -l) - $(uniq -d "$RUN/flows1.txt" | wc -l) ))
    say ""
    say "final flow records: $n1 with one worker, $n2 with $CHECK_WORKERS"
    say "  only in the first run (or more often there): $only1; only in the second (or more often there): $only2;" \
        "5-tuples repeated in the second run beyond the first: $dup2"
    drops=$(printf '%s\n' "${ROWS[@]}" | awk -F'|' '$6 ~ /^[0-9]+$/ {d += $6} END {print d + 0}')
    [ "$drops" -gt 0 ] && say "  note: the kernel dropped $drops packets across the two runs, so the sets may differ for that reason alone"
    [ $KEEP -eq 1 ] || rm -f "$RUN/flows1.txt" "$RUN/flows2.txt"
    if [ "$only1" -eq 0 ] && [ "$only2" -eq 0 ]; then
        say "  every flow's final record appears exactly once in the second run ($CHECK_WORKERS worker(s)): MET"
        exit $FAILED
    fi
    say "  every flow's final record appears exactly once in the second run ($CHECK_WORKERS worker(s)): MISSED"
    exit 1
fi

header
say ""
for rate in "${RATE_LIST[@]}"; do  # interleaved: sensor, then tcpdump, at each rate
    say "rate $rate ..."
    run_sensor "$rate" "$WORKERS" "$RUN/sensor.jsonl"
    [ $TCPDUMP -eq 1 ] && run_tcpdump "$rate"
done
say ""
print_rows
say "target (issue 13): no kernel drops at the replayer's top speed with --buffer-size 64, as tcpdump -w manages"
exit $FAILED
