#!/usr/bin/env bash
# make-fixtures.sh - regenerate the packet-capture fixtures in this directory.
#
# Every capture except malformed.pcap (hand-crafted) and the link-layer
# variants (re-wrapped copies of a real capture, IP bytes unchanged) is REAL
# traffic between real tools, recorded with `tcpdump -U` on the loopback
# interface while the tools run. See README.md for the list of files.
#
# Run as root:  sudo Tests/Fixtures/make-fixtures.sh
#
# Safe to re-run: it builds everything in a temporary directory, checks the
# result, and only then replaces the fixture files. Packet counts and
# timestamps change from run to run (ephemeral ports, nmap timing), so tests
# must compare against tshark run on the committed files, not hard-coded
# numbers copied from a previous run.
#
# Network: ONLY 127.0.0.0/8 and ::1, and only inside a private network
# namespace that this script creates and deletes. Every server, client and
# tcpdump runs in it (`ip netns exec`), so the captures contain none of the
# host's other loopback traffic and the well-known ports are always free.
# The host's lo is never touched; for fragments.pcap the namespace's own lo
# gets MTU 1500 after all other captures are done.
#
# Ports: the IANA ports, so that tshark's default dissector table decodes
# them without -d options: HTTP 80 (python http.server on 127.0.0.1 and on
# ::1), TLS 443 (openssl s_server), DNS 53 (dnsmasq, UDP and TCP).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS="$HERE/tools"
PY=/usr/bin/python3            # Debian's python3: python3-scapy lives there

HTTP_PORT=80
TLS_PORT=443
DNS_PORT=53
SCAN_OPEN_PORT=80              # kept open during the SYN scan of ports 1-200
SCAN_SRC_PORT=45678            # nmap -g: every scan packet uses this port
UDP_SCAN_SRC_PORT=45679
CLOSED_UDP_PORT=5999           # nothing listens here (checked below)
FRAG_PORT=18099                # UDP port inside the private namespace
ZONE=wirewatch.test

log() { printf '[make-fixtures] %s\n' "$*" >&2; }
die() { printf '[make-fixtures] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (ip netns, tcpdump, nmap -sS, ports 53/80/443)"

# ---------------------------------------------------------------- tools ----
ensure_tools() {
    local missing=()
    local pair
    for pair in tcpdump:tcpdump tshark:tshark editcap:tshark capinfos:tshark \
                nmap:nmap dig:bind9-dnsutils dnsmasq:dnsmasq-base openssl:openssl \
                curl:curl ping:iputils-ping ip:iproute2 ss:iproute2; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    [ -x "$PY" ] || missing+=(python3)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing: ${missing[*]}"
        apt-get update -qq
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
ensure_tools

# --------------------------------------------------------------- state -----
WORK=$(mktemp -d /tmp/wirewatch-fixtures.XXXXXX)
OUT="$WORK/out"
mkdir -p "$OUT" "$WORK/www" "$WORK/tls" "$WORK/logs"
NS="wwfix$$"
NS_CREATED=0
BG_PIDS=()

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$NS_CREATED" = 1 ]; then ip netns del "$NS" 2>/dev/null || true; fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Private network namespace: its lo is the only interface, and it is empty.
ip netns add "$NS"
NS_CREATED=1
nsx() { ip netns exec "$NS" "$@"; }   # `ip netns exec` execs, so $! is the command's pid
nsx ip link set lo up

wait_tcp_listen() { # port
    local i
    for i in $(seq 1 100); do
        if [ -n "$(nsx ss -Hltn "sport = :$1")" ]; then return 0; fi
        sleep 0.05
    done
    die "nothing listening on TCP port $1"
}

# start_capture OUTFILE tcpdump-args...   (sets CAP_PID)
start_capture() {
    local file=$1; shift
    local err="$WORK/logs/tcpdump.$(basename "$file").err"
    # No --immediate-mode: with it libpcap uses TPACKET_V2 slots of snaplen
    # bytes each, so a 2 MiB ring holds ~8 loopback packets and a scan
    # overflows it. TPACKET_V3 blocks hand packets over within the 1 s
    # timeout, so stop_captures waits longer than that.
    ip netns exec "$NS" tcpdump -U -B 16384 -Z root -w "$file" "$@" 2>"$err" &
    CAP_PID=$!
    BG_PIDS+=("$CAP_PID")
    local i
    for i in $(seq 1 100); do
        if grep -q "listening on" "$err"; then sleep 0.3; return 0; fi
        kill -0 "$CAP_PID" 2>/dev/null || { cat "$err" >&2; die "tcpdump for $file exited"; }
        sleep 0.05
    done
    die "tcpdump for $file did not start"
}

stop_captures() { # pid...
    sleep 1.6    # > tcpdump's 1000 ms buffer timeout: the last block reaches the file
    local pid
    for pid in "$@"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# Every tcpdump must report "0 packets dropped by kernel".
check_no_drops() {
    local f bad=0
    for f in "$WORK"/logs/tcpdump.*.err; do
        grep -q '^0 packets dropped by kernel' "$f" || { log "drops in $f: $(tr '\n' ' ' <"$f")"; bad=1; }
    done
    [ "$bad" = 0 ] || die "tcpdump dropped packets; the captures are incomplete"
}

start_bg() { # logname cmd...   (sets BG_PID)
    local name=$1; shift
    ip netns exec "$NS" "$@" >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err" &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

stop_bg() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

expect_eq() { # what actual expected
    [ "$2" = "$3" ] || die "$1: got '$2', expected '$3'"
}

# ------------------------------------------------------------- content -----
cat >"$WORK/www/index.html" <<'EOF'
<!doctype html>
<html><head><title>Wirewatch fixture</title></head>
<body><p>Served by python3 http.server for Wirewatch capture fixtures.</p></body></html>
EOF
"$PY" -c 'import sys; sys.stdout.write("".join("line %04d of the wirewatch fixture text file\n" % i for i in range(40)))' \
    >"$WORK/www/a.txt"

# ------------------------------------------------------------- servers -----
log "starting python http.server on 127.0.0.1:$HTTP_PORT"
start_bg http4 "$PY" "$TOOLS/http_server.py" --bind 127.0.0.1 --port "$HTTP_PORT" --directory "$WORK/www"
HTTP4_PID=$BG_PID
wait_tcp_listen "$HTTP_PORT"

log "starting dnsmasq on 127.0.0.1:$DNS_PORT"
start_bg dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --no-daemon --log-queries --log-facility=- --pid-file= \
    --listen-address=127.0.0.1 --bind-interfaces --port="$DNS_PORT" \
    --local=/$ZONE/ \
    --host-record=www.$ZONE,127.0.0.80,::1 \
    --host-record=mail.$ZONE,127.0.0.25 \
    --address=/blocked.$ZONE/127.0.0.9 \
    --mx-host=$ZONE,mail.$ZONE,10 \
    --txt-record=$ZONE,"v=spf1 -all","wirewatch fixture zone" \
    --cname=alias.$ZONE,www.$ZONE
DNSMASQ_PID=$BG_PID
for i in $(seq 1 50); do
    nsx dig @127.0.0.1 -p "$DNS_PORT" +short +tries=1 +time=1 www.$ZONE A 2>/dev/null | grep -q 127.0.0.80 && break
    [ "$i" = 50 ] && { cat "$WORK/logs/dnsmasq.err" >&2; die "dnsmasq did not answer"; }
    sleep 0.1
done

HOSTS_RESOLVE=(--resolve "www.$ZONE:$HTTP_PORT:127.0.0.1" --resolve "api.$ZONE:$HTTP_PORT:127.0.0.1")
BASE="http://www.$ZONE:$HTTP_PORT"

# ---------------------------------------------- http.pcap + sll + snap96 ---
log "capturing http.pcap, http-snap96.pcap, sll.pcap, sll2.pcap, dns.pcap, dns-nano.pcap"
SLL_FILTER="port $DNS_PORT or tcp port $HTTP_PORT"
# -i any shows every loopback packet twice (outgoing + incoming); -Q in keeps one copy.
start_capture "$OUT/sll.pcap"  -i any -Q in -y LINUX_SLL  "$SLL_FILTER"; SLL_PID=$CAP_PID
start_capture "$OUT/sll2.pcap" -i any -Q in -y LINUX_SLL2 "$SLL_FILTER"; SLL2_PID=$CAP_PID
start_capture "$OUT/http.pcap" -i lo "tcp port $HTTP_PORT"; HTTP_CAP=$CAP_PID
start_capture "$OUT/http-snap96.pcap" -i lo -s 96 "tcp port $HTTP_PORT"; SNAP_CAP=$CAP_PID

# 1) keep-alive: two URLs on one connection
code=$(nsx curl -sS "${HOSTS_RESOLVE[@]}" -A 'Wirewatch-Fixture-KeepAlive/1.0' -w '%{http_code} %{num_connects}\n' \
    -o /dev/null "$BASE/index.html" -o /dev/null "$BASE/a.txt" | tr '\n' ' ')
expect_eq "keep-alive GETs (code, new connections)" "$code" "200 1 200 0 "
# 2) POST with a body
code=$(nsx curl -sS "${HOSTS_RESOLVE[@]}" -A 'Wirewatch-Fixture-Post/1.0' -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'name=wirewatch&kind=fixture&answer=42' "http://api.$ZONE:$HTTP_PORT/submit")
expect_eq "POST" "$code" "201"
# 3) 404
code=$(nsx curl -sS "${HOSTS_RESOLVE[@]}" -A 'Wirewatch-Fixture-NotFound/1.0' -o /dev/null -w '%{http_code}' \
    "$BASE/missing.html")
expect_eq "404 GET" "$code" "404"
# 4) HEAD
code=$(nsx curl -sS "${HOSTS_RESOLVE[@]}" -A 'Wirewatch-Fixture-Head/1.0' -I -o /dev/null -w '%{http_code}' \
    "$BASE/index.html")
expect_eq "HEAD" "$code" "200"
stop_captures "$HTTP_CAP" "$SNAP_CAP"

# ------------------------------------------------------ dns + dns-nano -----
start_capture "$OUT/dns.pcap" -i lo "port $DNS_PORT"; DNS_CAP=$CAP_PID
start_capture "$OUT/dns-nano.pcap" -i lo --time-stamp-precision=nano "port $DNS_PORT"; NANO_CAP=$CAP_PID
q() { # name type [extra dig options]   -> prints "status answers"
    local name=$1 type=$2; shift 2
    local outp
    outp=$(nsx dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +time=2 "$@" "$name" "$type")
    printf '%s\n' "$outp" >>"$WORK/logs/dig.log"
    printf '%s %s' "$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$outp")" \
        "$(sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p' <<<"$outp")"
}
expect_eq "dig A"        "$(q www.$ZONE A)"            "NOERROR 1"
expect_eq "dig AAAA"     "$(q www.$ZONE AAAA)"         "NOERROR 1"
expect_eq "dig MX"       "$(q $ZONE MX)"               "NOERROR 1"
expect_eq "dig TXT"      "$(q $ZONE TXT)"              "NOERROR 1"
expect_eq "dig CNAME"    "$(q alias.$ZONE CNAME)"      "NOERROR 1"
expect_eq "dig A->CNAME" "$(q alias.$ZONE A)"          "NOERROR 2"
expect_eq "dig NXDOMAIN" "$(q nosuch.$ZONE A)"         "NXDOMAIN 0"
expect_eq "dig +tcp A"   "$(q blocked.$ZONE A +tcp)"   "NOERROR 1"
stop_captures "$DNS_CAP" "$NANO_CAP"
stop_captures "$SLL_PID" "$SLL2_PID"
stop_bg "$DNSMASQ_PID"

# --------------------------------------------------------------- tls -------
log "capturing tls.pcap"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" -subj "/CN=tls.$ZONE" \
    -addext "subjectAltName=DNS:tls.$ZONE,DNS:tls12.$ZONE,DNS:www.$ZONE" 2>"$WORK/logs/openssl-req.err"
start_bg s_server openssl s_server -accept "127.0.0.1:$TLS_PORT" -cert "$WORK/tls/cert.pem" \
    -key "$WORK/tls/key.pem" -www -alpn http/1.1
TLS_SRV=$BG_PID
wait_tcp_listen "$TLS_PORT"
start_capture "$OUT/tls.pcap" -i lo "tcp port $TLS_PORT"; TLS_CAP=$CAP_PID
s_client() { # sni version-flag user-agent
    printf 'GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: %s\r\n\r\n' "$1" "$3" |
        nsx timeout 20 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$1" \
            -alpn h2,http/1.1 "$2" -ign_eof 2>&1
}
out=$(s_client "tls.$ZONE" -tls1_3 Wirewatch-Fixture-SClient13/1.0)
grep -q 'New, TLSv1.3' <<<"$out" || die "s_client TLS 1.3 handshake failed: $out"
grep -q 'ALPN protocol: http/1.1' <<<"$out" || die "ALPN not negotiated (TLS 1.3)"
out=$(s_client "tls12.$ZONE" -tls1_2 Wirewatch-Fixture-SClient12/1.0)
grep -q 'New, TLSv1.2' <<<"$out" || die "s_client TLS 1.2 handshake failed: $out"
grep -q 'ALPN protocol: http/1.1' <<<"$out" || die "ALPN not negotiated (TLS 1.2)"
code=$(nsx curl -sS -k --http1.1 --resolve "www.$ZONE:$TLS_PORT:127.0.0.1" -A 'Wirewatch-Fixture-TLS/1.0' \
    -o /dev/null -w '%{http_code}' "https://www.$ZONE:$TLS_PORT/")
expect_eq "curl https" "$code" "200"
stop_captures "$TLS_CAP"
stop_bg "$TLS_SRV"

# -------------------------------------------------------------- icmp -------
log "capturing icmp.pcap"
start_capture "$OUT/icmp.pcap" -i lo \
    '(icmp and (icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply)) or (icmp6 and (ip6[40] = 128 or ip6[40] = 129))'
ICMP_CAP=$CAP_PID
nsx ping -n -c 3 -i 0.2 127.0.0.1 >"$WORK/logs/ping4.out"
nsx ping -6 -n -c 3 -i 0.2 ::1 >"$WORK/logs/ping6.out"
stop_captures "$ICMP_CAP"

# ------------------------------------------------------- udp-unreach -------
log "capturing udp-unreach.pcap"
start_capture "$OUT/udp-unreach.pcap" -i lo \
    "(udp and (port $UDP_SCAN_SRC_PORT or dst port $CLOSED_UDP_PORT)) or (icmp and icmp[icmptype] = icmp-unreach) or (icmp6 and ip6[40] = 1)"
UNR_CAP=$CAP_PID
nsx nmap -sU -n -Pn --max-retries 0 -g "$UDP_SCAN_SRC_PORT" -p 5000-5010 127.0.0.1 >"$WORK/logs/nmap-udp.out" 2>&1
nsx dig @127.0.0.1 -p "$CLOSED_UDP_PORT" +tries=1 +time=1 unreach4.$ZONE A >"$WORK/logs/dig-closed4.out" 2>&1 || true
nsx dig @::1 -p "$CLOSED_UDP_PORT" +tries=1 +time=1 unreach6.$ZONE AAAA >"$WORK/logs/dig-closed6.out" 2>&1 || true
stop_captures "$UNR_CAP"

# ---------------------------------------------------------- ipv6-tcp -------
log "capturing ipv6-tcp.pcap"
stop_bg "$HTTP4_PID"
start_bg http6 "$PY" "$TOOLS/http_server.py" --bind ::1 --port "$HTTP_PORT" --directory "$WORK/www"
HTTP6_PID=$BG_PID
wait_tcp_listen "$HTTP_PORT"
start_capture "$OUT/ipv6-tcp.pcap" -i lo "ip6 and tcp port $HTTP_PORT"; V6_CAP=$CAP_PID
code=$(nsx curl -sS -g -A 'Wirewatch-Fixture-IPv6/1.0' -o /dev/null -w '%{http_code} ' \
    "http://[::1]:$HTTP_PORT/index.html" -o /dev/null "http://[::1]:$HTTP_PORT/a.txt")
expect_eq "IPv6 GETs" "$code" "200 200 "
stop_captures "$V6_CAP"
stop_bg "$HTTP6_PID"

# ---------------------------------------------------------- scan-syn -------
log "capturing scan-syn.pcap"
start_bg scan-open "$PY" "$TOOLS/http_server.py" --bind 127.0.0.1 --port "$SCAN_OPEN_PORT" --directory "$WORK/www"
OPEN_PID=$BG_PID
wait_tcp_listen "$SCAN_OPEN_PORT"
start_capture "$OUT/scan-syn.pcap" -i lo "tcp port $SCAN_SRC_PORT"; SCAN_CAP=$CAP_PID
nsx nmap -sS -n -Pn --max-retries 0 -g "$SCAN_SRC_PORT" -p 1-200 127.0.0.1 >"$WORK/logs/nmap-syn.out" 2>&1
grep -q "^$SCAN_OPEN_PORT/tcp *open" "$WORK/logs/nmap-syn.out" || { cat "$WORK/logs/nmap-syn.out" >&2; die "scan did not find port $SCAN_OPEN_PORT open"; }
stop_captures "$SCAN_CAP"
stop_bg "$OPEN_PID"

# --------------------------------------------------------- fragments -------
log "capturing fragments.pcap (namespace lo MTU 1500)"
nsx ip link set lo mtu 1500
sleep 0.3
start_capture "$OUT/fragments.pcap" -i lo; FRAG_CAP=$CAP_PID
nsx ping -n -c 1 -s 3000 -M dont 127.0.0.1 >"$WORK/logs/ping-frag4.out"
nsx ping -6 -n -c 1 -s 3000 -M dont ::1 >"$WORK/logs/ping-frag6.out"
nsx "$PY" "$TOOLS/udp_frag.py" "$FRAG_PORT" >"$WORK/logs/udp-frag.out" 2>&1 ||
    { cat "$WORK/logs/udp-frag.out" >&2; die "udp_frag.py failed"; }
stop_captures "$FRAG_CAP"
ip netns del "$NS"
NS_CREATED=0

# ------------------------------------------------------------ derived ------
log "deriving pcapng, cut, link-layer variants, malformed and junk files"
editcap -F pcapng "$OUT/http.pcap" "$OUT/http.pcapng"
head -c "$("$PY" "$TOOLS/pcaptool.py" cutoffset "$OUT/http.pcap")" "$OUT/http.pcap" >"$OUT/http-cut.pcap"
"$PY" "$TOOLS/pcaptool.py" concat "$OUT/mixed.pcap" "$OUT/icmp.pcap" "$OUT/dns.pcap" "$OUT/ipv6-tcp.pcap"
"$PY" "$TOOLS/pcaptool.py" relink vlan "$OUT/mixed.pcap" "$OUT/vlan.pcap"
"$PY" "$TOOLS/pcaptool.py" relink qinq "$OUT/mixed.pcap" "$OUT/qinq.pcap"
"$PY" "$TOOLS/pcaptool.py" relink raw  "$OUT/mixed.pcap" "$OUT/rawip.pcap"
"$PY" "$TOOLS/pcaptool.py" relink null "$OUT/mixed.pcap" "$OUT/null.pcap"
for v in vlan qinq rawip null; do
    "$PY" "$TOOLS/pcaptool.py" sameip "$OUT/mixed.pcap" "$OUT/$v.pcap" >/dev/null
done
"$PY" "$TOOLS/malformed.py" "$OUT/malformed.pcap"
"$PY" "$TOOLS/pcaptool.py" randombytes "$OUT/not-a-capture.bin" 4096
: >"$OUT/empty.pcap"
"$PY" "$TOOLS/pcaptool.py" badmagic "$OUT/icmp.pcap" "$OUT/bad-magic.pcap"

# ------------------------------------------------------------- checks ------
log "checking the captures with tshark"
check_no_drops
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l | tr -d ' '; }
fields() { tshark -r "$1" -Y "$2" -T fields -e "$3" 2>/dev/null | tr '\n' ' '; }
expect_eq "http requests" "$(fields "$OUT/http.pcap" http.request "http.request.method")" "GET GET POST GET HEAD "
expect_eq "http responses" "$(fields "$OUT/http.pcap" http.response "http.response.code")" "200 200 201 404 200 "
expect_eq "http user agents" "$(fields "$OUT/http.pcap" http.request "http.user_agent")" \
    "Wirewatch-Fixture-KeepAlive/1.0 Wirewatch-Fixture-KeepAlive/1.0 Wirewatch-Fixture-Post/1.0 Wirewatch-Fixture-NotFound/1.0 Wirewatch-Fixture-Head/1.0 "
expect_eq "tls versions" "$(fields "$OUT/tls.pcap" 'tls.handshake.type == 2' tls.handshake.extensions.supported_version | wc -w)" "2"
expect_eq "http tcp streams" "$(count "$OUT/http.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0')" "4"
expect_eq "http.pcapng requests" "$(count "$OUT/http.pcapng" http.request)" "5"
expect_eq "dns queries" "$(fields "$OUT/dns.pcap" 'dns.flags.response == 0' dns.qry.type)" "1 28 15 16 5 1 1 1 "
expect_eq "dns NXDOMAIN" "$(count "$OUT/dns.pcap" 'dns.flags.rcode == 3')" "1"
expect_eq "dns over tcp" "$(count "$OUT/dns.pcap" 'tcp && dns')" "2"
expect_eq "dns-nano = dns" "$(tshark -r "$OUT/dns-nano.pcap" 2>/dev/null | wc -l)" "$(tshark -r "$OUT/dns.pcap" 2>/dev/null | wc -l)"
expect_eq "tls SNI" "$(fields "$OUT/tls.pcap" 'tls.handshake.type == 1' tls.handshake.extensions_server_name)" \
    "tls.$ZONE tls12.$ZONE www.$ZONE "
expect_eq "icmp echo" "$(count "$OUT/icmp.pcap" 'icmp.type == 8 || icmp.type == 0 || icmpv6.type == 128 || icmpv6.type == 129')" "12"
[ "$(count "$OUT/udp-unreach.pcap" 'icmp.type == 3 && icmp.code == 3 && udp')" -ge 2 ] || die "no ICMP port unreachable"
[ "$(count "$OUT/udp-unreach.pcap" 'icmpv6.type == 1 && icmpv6.code == 4 && udp')" -ge 1 ] || die "no ICMPv6 port unreachable"
expect_eq "ipv6 http" "$(count "$OUT/ipv6-tcp.pcap" 'ipv6 && http.request')" "2"
[ "$(count "$OUT/scan-syn.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0')" -ge 200 ] || die "scan has < 200 SYNs"
expect_eq "scan SYN/ACK" "$(count "$OUT/scan-syn.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 1')" "1"
[ "$(count "$OUT/fragments.pcap" 'ip.flags.mf == 1')" -ge 3 ] || die "no IPv4 fragments"
[ "$(count "$OUT/fragments.pcap" 'ipv6.fragment')" -ge 3 ] || die "no IPv6 fragments"
expect_eq "ipv6 dstopts" "$(count "$OUT/fragments.pcap" 'ipv6.dstopts && udp')" "1"
mixed_n=$(tshark -r "$OUT/mixed.pcap" 2>/dev/null | wc -l)
expect_eq "vlan tags" "$(count "$OUT/vlan.pcap" 'vlan.id == 100 && !(vlan.id == 200)')" "$mixed_n"
expect_eq "qinq tags" "$(count "$OUT/qinq.pcap" 'ieee8021ad.id == 200 && vlan.id == 100')" "$mixed_n"
expect_eq "rawip ip" "$(count "$OUT/rawip.pcap" 'ip || ipv6')" "$mixed_n"
expect_eq "null ip" "$(count "$OUT/null.pcap" 'ip || ipv6')" "$mixed_n"
expect_eq "null AF values" "$(tshark -r "$OUT/null.pcap" -T fields -e null.family 2>/dev/null | sort -un | tr '\n' ' ')" "2 24 28 30 "
expect_eq "sll http" "$(count "$OUT/sll.pcap" http.request)" "5"
expect_eq "sll2 dns" "$(count "$OUT/sll2.pcap" 'dns.flags.response == 0')" "8"
expect_eq "snap96 caplen" "$(tshark -r "$OUT/http-snap96.pcap" -T fields -e frame.cap_len 2>/dev/null | sort -n | tail -1)" "96"
if tshark -r "$OUT/http-cut.pcap" >/dev/null 2>&1; then die "tshark read http-cut.pcap without error"; fi
if tshark -r "$OUT/bad-magic.pcap" >/dev/null 2>&1; then die "tshark read bad-magic.pcap without error"; fi

# ------------------------------------------------------------- install -----
FILES=(http.pcap http.pcapng http-snap96.pcap http-cut.pcap dns.pcap dns-nano.pcap tls.pcap icmp.pcap
       udp-unreach.pcap scan-syn.pcap ipv6-tcp.pcap sll.pcap sll2.pcap fragments.pcap mixed.pcap
       vlan.pcap qinq.pcap rawip.pcap null.pcap malformed.pcap not-a-capture.bin empty.pcap bad-magic.pcap)
for f in "${FILES[@]}"; do
    [ -e "$OUT/$f" ] || die "missing $f"
    cp "$OUT/$f" "$HERE/$f"
done
"$PY" "$TOOLS/inventory.py" "$HERE" "${FILES[@]}"
total=$(du -cb "${FILES[@]/#/$HERE/}" | tail -1 | cut -f1)
log "done: ${#FILES[@]} files, $total bytes"
[ "$total" -lt 1048576 ] || die "fixtures total $total bytes >= 1 MiB"
