#!/usr/bin/env bash
# make-scan-fixtures.sh - regenerate scans.pcap: every nmap scan type, hping3 and iperf3, as real traffic.
#
# Like make-fixtures.sh, everything runs inside a private network namespace that this script creates and
# deletes, on its loopback (127.0.0.1) only. Run as root:  sudo Tests/Fixtures/make-scan-fixtures.sh
# Tests compare the sensor against tshark run on the committed file, never against numbers copied from here.
#
# Contents:
#   nmap -sT -sU -sF -sN -sX -sA on ports 20-30 and 8080 (a python http.server listens on 8080)
#   hping3 -S: 4 SYNs from one source port to 8080 (connection reuse on one 5-tuple)
#   iperf3: a 64 KiB TCP transfer with 1400-byte segments (bulk data, window updates)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OPEN_PORT=8080
IPERF_PORT=5201
. "$HERE/netns-lab.sh"
lab_start make-scan-fixtures nmap hping3 iperf3 tcpdump tshark python3

# `ip netns exec` execs the program, so $! is the program itself and the signals below reach it.
ip netns exec "$NS" python3 -m http.server "$OPEN_PORT" --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$NS" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

# The namespace holds only this script's traffic, so the capture takes all of it.
ip netns exec "$NS" tcpdump -U -B 16384 -i lo -w "$WORK/scans.pcap" 2>"$WORK/tcpdump.err" &
CAP=$!
sleep 1
i=1
for type in -sT -sU -sF -sN -sX -sA; do
    ns nmap "$type" -n -Pn --max-retries 0 -g $((46000 + i)) -p 20-30,$OPEN_PORT 127.0.0.1 >"$WORK/nmap$i.out" 2>&1
    i=$((i + 1))
done
ns hping3 -S -c 4 -i u100000 -s 46010 -k -p "$OPEN_PORT" 127.0.0.1 >/dev/null 2>&1 || true
ns iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -n 64K -M 1400 -l 1400 --cport 46011 >/dev/null 2>&1 || true
sleep 1.6
kill -INT "$CAP"; wait "$CAP" || true
grep -q '^0 packets dropped by kernel' "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }

packets=$(tshark -r "$WORK/scans.pcap" 2>/dev/null | wc -l)
[ "$packets" -gt 100 ] || { say "only $packets packets captured"; exit 1; }
cp "$WORK/scans.pcap" "$HERE/scans.pcap"
say "scans.pcap: $packets packets, $(stat -c %s "$HERE/scans.pcap") bytes"
