#!/usr/bin/env bash
# make-detect-scan-fixtures.sh - regenerate the port-scan detector's captures (scan-*.pcap, benign-web.pcap): one
# small capture per scan technique, made with real nmap, curl and python servers.
#
# Like make-fixtures.sh, everything runs inside a private network namespace that this script creates and deletes,
# on its loopback (127.0.0.0/8) only. Run as root:  sudo Tests/Fixtures/make-detect-scan-fixtures.sh  (about 2 min)
# The tests compute the expected ports from these files with tshark; nothing here is copied into a test.
#
# Inside the namespace: python http.server on 127.0.0.1:80 and :22 (open TCP ports), a UDP echo on 127.0.0.1:53
# (open UDP port); TCP 25 is a listener whose full accept queue makes Linux drop SYNs and UDP 57 a socket that never
# answers, so those probes stay unanswered (filtered) while the other closed ports answer RST / ICMP port
# unreachable (rejected).
#
#   scan-sS.pcap      nmap -sS -p 1-100                          scan-sT.pcap   nmap -sT -p 1-60
#   scan-sU.pcap      nmap -sU -p 50-62                          scan-sF/sN/sX/sA.pcap  nmap -sF/-sN/-sX/-sA -p 15-40,80
#   scan-slow.pcap    nmap -sS --scan-delay 8s -p 21-27 (7 probes over ~50 s: below the count threshold)
#   scan-sweep.pcap   nmap -sS -p 80 127.0.0.1-40 (horizontal)
#   scan-decoy.pcap   ping + curl from the real source 127.0.0.1, then nmap -sS -D 127.0.0.2,127.0.0.3,ME,127.0.0.4
#   scan-split-a.pcap / scan-split-b.pcap  one nmap -sS source, ports 21,23,24,80 and 26-28,80, captured separately
#   benign-web.pcap   40 curl requests, a 256 KiB download, 3 connection attempts to the closed port 81
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/netns-lab.sh"
lab_start make-detect-scan-fixtures nmap tcpdump tshark python3 curl ping:iputils-ping

mkdir -p "$WORK/www"
head -c 262144 /dev/zero | tr '\0' 'w' >"$WORK/www/bulk.bin"
echo "hello" >"$WORK/www/index.html"
ip netns exec "$NS" python3 -m http.server 80 --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$NS" python3 -m http.server 22 --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$NS" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data[:64] or b"x", peer)
' >/dev/null 2>&1 &
PIDS+=($!)
# Filtered ports. TCP 25: a listener that never accepts, its accept queue (backlog 0: one slot) filled by one held
# connection, so Linux drops further SYNs unanswered. UDP 57: a socket that reads and never answers.
ip netns exec "$NS" python3 -c '
import socket
l = socket.socket(); l.bind(("127.0.0.1", 25)); l.listen(0)
held = socket.create_connection(("127.0.0.1", 25))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 57))
while True:
    u.recvfrom(2048)
' >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

# capture NAME SNAPLEN COMMAND...: one tcpdump around one command, checked for kernel drops.
capture() {
    local name=$1 snap=$2
    shift 2
    ip netns exec "$NS" tcpdump -U -B 16384 -s "$snap" -i lo -w "$WORK/$name" 2>"$WORK/$name.err" &
    local cap=$!
    sleep 1
    "$@" >"$WORK/$name.out" 2>&1 || true
    sleep 1
    kill -INT "$cap"
    wait "$cap" || true
    grep -q '^0 packets dropped by kernel' "$WORK/$name.err" || { cat "$WORK/$name.err" >&2; exit 1; }
    say "$name: $(tshark -r "$WORK/$name" 2>/dev/null | wc -l) packets, $(stat -c %s "$WORK/$name") bytes"
}

NMAP=(ns nmap -n -Pn --max-retries 0)
capture scan-sS.pcap 200 "${NMAP[@]}" -sS -p 1-100 127.0.0.1
capture scan-sT.pcap 200 "${NMAP[@]}" -sT -p 1-60 127.0.0.1
capture scan-sU.pcap 200 "${NMAP[@]}" -sU -p 50-62 127.0.0.1
capture scan-sF.pcap 200 "${NMAP[@]}" -sF -p 15-40,80 127.0.0.1
capture scan-sN.pcap 200 "${NMAP[@]}" -sN -p 15-40,80 127.0.0.1
capture scan-sX.pcap 200 "${NMAP[@]}" -sX -p 15-40,80 127.0.0.1
capture scan-sA.pcap 200 "${NMAP[@]}" -sA -p 15-40,80 127.0.0.1
capture scan-slow.pcap 200 "${NMAP[@]}" -sS --scan-delay 8s -p 21-27 127.0.0.1
capture scan-sweep.pcap 200 "${NMAP[@]}" -sS -p 80 127.0.0.1-40

decoy() {
    ns ping -c 1 -W 1 127.0.0.1
    ns curl -s -o /dev/null http://127.0.0.1:80/index.html
    sleep 0.5
    ns nmap -n -Pn --max-retries 0 -sS -D 127.0.0.2,127.0.0.3,ME,127.0.0.4 -p 15-40,80 127.0.0.1
}
capture scan-decoy.pcap 200 decoy
capture scan-split-a.pcap 200 "${NMAP[@]}" -sS -p 21,23,24,80 127.0.0.1
capture scan-split-b.pcap 200 "${NMAP[@]}" -sS -p 26-28,80 127.0.0.1

web() {
    for i in $(seq 1 40); do ns curl -s -o /dev/null "http://127.0.0.1:80/index.html?n=$i"; done
    ns curl -s -o /dev/null http://127.0.0.1:80/bulk.bin
    for i in 1 2 3; do ns curl -s -o /dev/null --max-time 1 http://127.0.0.1:81/ || true; done
}
capture benign-web.pcap 128 web

# Checks before anything is replaced: each scan capture holds its probes, the filtered ports stayed unanswered.
count() { tshark -r "$WORK/$1" -Y "$2" 2>/dev/null | wc -l; }
[ "$(count scan-sS.pcap 'tcp.flags.syn==1 && tcp.flags.ack==0')" -ge 100 ] || { say "scan-sS: too few SYNs"; exit 1; }
[ "$(count scan-sS.pcap 'tcp.srcport==25')" -eq 0 ] || { say "scan-sS: port 25 answered"; exit 1; }
[ "$(count scan-sU.pcap 'icmp.type==3 && icmp.code==3')" -ge 5 ] || { say "scan-sU: no port unreachables"; exit 1; }
[ "$(count scan-sU.pcap 'udp.srcport==53 && !icmp')" -ge 1 ] || { say "scan-sU: the UDP echo on 53 did not answer"; exit 1; }
[ "$(count scan-sU.pcap 'icmp && udp.dstport==57')" -eq 0 ] || { say "scan-sU: port 57 answered"; exit 1; }
[ "$(count scan-sU.pcap 'tcp')" -eq 0 ] || { say "scan-sU: stray TCP in the capture"; exit 1; }
[ "$(count scan-sF.pcap 'tcp.flags==0x001')" -ge 27 ] || { say "scan-sF: FIN probes missing"; exit 1; }
[ "$(count scan-sN.pcap 'tcp.flags==0x000')" -ge 27 ] || { say "scan-sN: NULL probes missing"; exit 1; }
[ "$(count scan-sX.pcap 'tcp.flags==0x029')" -ge 27 ] || { say "scan-sX: Xmas probes missing"; exit 1; }
[ "$(count scan-sA.pcap 'tcp.flags==0x010')" -ge 27 ] || { say "scan-sA: ACK probes missing"; exit 1; }
[ "$(count scan-sweep.pcap 'tcp.flags.syn==1 && tcp.flags.ack==0')" -ge 40 ] || { say "scan-sweep: SYNs missing"; exit 1; }
[ "$(count scan-decoy.pcap 'ip.src==127.0.0.3 && tcp.flags.syn==1 && tcp.flags.ack==0')" -ge 27 ] ||
    { say "scan-decoy: decoy probes missing"; exit 1; }
[ "$(count benign-web.pcap 'http.request')" -ge 41 ] || { say "benign-web: requests missing"; exit 1; }

for f in scan-sS scan-sT scan-sU scan-sF scan-sN scan-sX scan-sA scan-slow scan-sweep scan-decoy scan-split-a \
    scan-split-b benign-web; do
    cp "$WORK/$f.pcap" "$HERE/$f.pcap"
done
say "done: $(du -ch "$HERE"/scan-s[STUFNXA].pcap "$HERE"/scan-{slow,sweep,decoy,split-a,split-b}.pcap \
    "$HERE/benign-web.pcap" | tail -1)"
