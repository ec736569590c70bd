#!/usr/bin/env bash
# make-detect-dns-fixtures.sh - regenerate the captures of the suspicious-DNS detector's end-to-end tests:
#
#   dns-tunnel.pcap  a tunnel-like client: 72 queries (TXT, NULL, CNAME and A mixed) whose names carry base32 chunks
#                    of a file as two long labels plus a sequence label under t.tunnel.test; dnsmasq forwards that
#                    zone to a small python "tunnel server" on 127.0.0.1:5353 that answers every name with data
#                    (TXT text, NULL bytes, a CNAME, an A), so the responses are NOERROR as a tunnel server's are
#   dns-dga.pcap     a DGA-like client: 40 generated consonant-heavy / hex labels under .com, .net and .info,
#                    every one answered NXDOMAIN, between a few real-looking names that resolve
#   dns-benign.pcap  normal DNS: 36 queries of popular names (A, AAAA, MX, TXT) answered with local records,
#                    3 NXDOMAIN typos and 3 reverse lookups (PTR)
#
# Like make-fixtures.sh: real tools (dig, with its batch mode, against dnsmasq), recorded with tcpdump on the
# loopback interface of a private network namespace that this script creates and deletes. dnsmasq listens on
# 127.0.0.1:53 inside the namespace only and has no upstream server (--no-resolv), so nothing can leave it.
# Every name dnsmasq is not told about is answered locally (--local=/TLD/) with NXDOMAIN.
#
# Run as root:  sudo Tests/Fixtures/make-detect-dns-fixtures.sh
# The generated names come from a seeded generator, so a re-run makes the same queries (ports, ids and timestamps
# differ). Tests compare the detector against the committed files (tshark / the sensor's records), never against
# numbers copied from here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=python3
. "$HERE/netns-lab.sh"
lab_start make-detect-dns-fixtures tcpdump tshark dig:bind9-dnsutils dnsmasq:dnsmasq-base ip:iproute2

# ------------------------------------------------------------ names -------
# Seeded, so the same names every run. Written as dig batch files: one "NAME TYPE" per line.
"$PY" - "$WORK" <<'EOF'
import base64, random, sys
work = sys.argv[1]
rng = random.Random(20261125)

# Tunnel: a "file" cut into 50-character base32 chunks, two chunks a query, plus a sequence label.
data = bytes(rng.randrange(256) for _ in range(72 * 64))
text = base64.b32encode(data).decode().rstrip("=").lower()
types = ["TXT", "NULL", "TXT", "CNAME", "TXT", "NULL", "A", "TXT"]
with open(f"{work}/tunnel.txt", "w") as f:
    for i in range(72):
        chunk = text[i * 100:(i + 1) * 100]
        f.write(f"{i:04x}.{chunk[:50]}.{chunk[50:100]}.t.tunnel.test {types[i % len(types)]}\n")

# DGA: consonant-heavy random labels (12-20 letters, few vowels), a few hex labels, under .com/.net/.info.
consonants = "bcdfghjklmnpqrstvwxz"
vowels = "aeiouy"
names = []
for i in range(40):
    if i % 8 == 7:
        label = "".join(rng.choice("0123456789abcdef") for _ in range(rng.randrange(16, 25)))
    else:
        n = rng.randrange(12, 21)
        label = "".join(rng.choice(vowels) if rng.random() < 0.15 else rng.choice(consonants) for _ in range(n))
    names.append(label + "." + ["com", "net", "info"][i % 3])
with open(f"{work}/dga.txt", "w") as f:
    for i, name in enumerate(names):
        f.write(f"{name} A\n")
        if i % 10 == 9:
            f.write("www.wirewatch-example.com A\n")
EOF

BENIGN_NAMES=(google.com www.google.com www.youtube.com www.facebook.com en.wikipedia.org www.debian.org
    deb.debian.org security.debian.org github.com api.github.com raw.githubusercontent.com fonts.gstatic.com
    fonts.googleapis.com login.microsoftonline.com www.microsoft.com s3.amazonaws.com cdn-123.cloudfront.net
    www.amazon.com www.netflix.com www.bbc.co.uk www.abc.net.au stackoverflow.com www.reddit.com
    www.cloudflare.com www.mozilla.org detectportal.firefox.com www.apple.com www.linkedin.com 1e100.net
    www.wirewatch-example.com)
{
    for n in "${BENIGN_NAMES[@]}"; do echo "$n A"; done
    echo "www.google.com AAAA"
    echo "www.debian.org AAAA"
    echo "google.com MX"
    echo "debian.org MX"
    echo "google.com TXT"
    echo "github.com TXT"
    # typos: NXDOMAIN
    echo "www.gogle.cmo A"
    echo "githbu.com A"
    echo "www.debain.org A"
    # reverse lookups
    echo "1.0.0.127.in-addr.arpa PTR"
    echo "80.0.0.127.in-addr.arpa PTR"
    echo "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa PTR"
} >"$WORK/benign.txt"

# ----------------------------------------------------------- server -------
TUNNEL_PORT=5353
# The tunnel zone's authoritative server: answers any query with data of the asked type (stdlib only).
start_tunnel_server() {
    cat >"$WORK/tunnel_server.py" <<'EOF'
import socket, struct, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", int(sys.argv[1])))
seq = 0
while True:
    query, peer = sock.recvfrom(4096)
    if len(query) < 12:
        continue
    ident, flags, qd = struct.unpack("!HHH", query[:6])
    pos = 12
    while pos < len(query) and query[pos] != 0:
        pos += 1 + query[pos]
    question = query[12:pos + 5]
    qtype = struct.unpack("!H", query[pos + 1:pos + 3])[0]
    seq += 1
    payload = ("ack%04d" % seq).encode() * 8
    if qtype == 16:    # TXT: one character-string
        rdata = bytes([len(payload)]) + payload
    elif qtype == 10:  # NULL: raw bytes
        rdata = payload
    elif qtype == 5:   # CNAME: a name under the zone
        rdata = b"".join(bytes([len(l)]) + l for l in [b"r%04d" % seq, b"t", b"tunnel", b"test"]) + b"\0"
    else:              # A
        qtype = 1
        rdata = bytes([127, 0, 0, 53])
    answer = struct.pack("!HHHIH", 0xC00C, qtype, 1, 0, len(rdata)) + rdata
    header = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100), 1, 1, 0, 0)
    sock.sendto(header + question + answer, peer)
EOF
    ip netns exec "$NS" "$PY" "$WORK/tunnel_server.py" "$TUNNEL_PORT" >"$WORK/tunnel.out" 2>"$WORK/tunnel.err" &
    PIDS+=($!)
}
# Local records for the benign names; everything else under these TLDs is NXDOMAIN (answered locally).
ARGS=(--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-daemon --log-queries
    --log-facility=- --pid-file= --listen-address=127.0.0.1 --bind-interfaces --port=53
    --local=/com/ --local=/net/ --local=/org/ --local=/info/ --local=/uk/ --local=/au/ --local=/cmo/
    --local=/in-addr.arpa/ --local=/ip6.arpa/
    --server=/t.tunnel.test/127.0.0.1#$TUNNEL_PORT
    --ptr-record=1.0.0.127.in-addr.arpa,localhost --ptr-record=80.0.0.127.in-addr.arpa,www.wirewatch-example.com
    --ptr-record=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa,localhost
    --mx-host=google.com,smtp.google.com,10 --mx-host=debian.org,mailly.debian.org,10
    --txt-record=google.com,"v=spf1 include:_spf.google.com ~all" --txt-record=github.com,"v=spf1 -all")
start_tunnel_server
i=0
for n in "${BENIGN_NAMES[@]}" smtp.google.com mailly.debian.org; do
    i=$((i + 1))
    ARGS+=(--host-record="$n,127.0.1.$i,fd00::$i")
done
ip netns exec "$NS" dnsmasq "${ARGS[@]}" >"$WORK/dnsmasq.out" 2>"$WORK/dnsmasq.err" &
PIDS+=($!)
for i in $(seq 1 50); do
    ns dig @127.0.0.1 +short +tries=1 +time=1 github.com A 2>/dev/null | grep -q '^127\.0\.1\.' &&
        ns dig @127.0.0.1 +short +tries=1 +time=1 ready.t.tunnel.test A 2>/dev/null | grep -q '^127\.0\.0\.53$' &&
        break
    [ "$i" = 50 ] && { cat "$WORK/dnsmasq.err" >&2; die "dnsmasq did not answer"; }
    sleep 0.1
done

# ---------------------------------------------------------- captures ------
capture() { # out batchfile
    local out=$1 batch=$2
    ip netns exec "$NS" tcpdump -U -i lo -w "$out" "udp port 53" 2>"$out.err" &
    local cap=$!
    PIDS+=("$cap")
    for i in $(seq 1 100); do grep -q "listening on" "$out.err" && break; sleep 0.05; done
    sleep 0.3
    ns dig @127.0.0.1 +tries=1 +time=2 +noall +comments -f "$batch" >"$out.dig"
    sleep 1.6    # > tcpdump's buffer timeout: the last packets reach the file
    kill -INT "$cap"
    wait "$cap" 2>/dev/null || true
    grep -q '^0 packets dropped by kernel' "$out.err" || die "tcpdump dropped packets for $out"
}
say "capturing dns-tunnel.pcap, dns-dga.pcap, dns-benign.pcap"
capture "$WORK/dns-tunnel.pcap" "$WORK/tunnel.txt"
capture "$WORK/dns-dga.pcap" "$WORK/dga.txt"
capture "$WORK/dns-benign.pcap" "$WORK/benign.txt"

# ------------------------------------------------------------ checks ------
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l | tr -d ' '; }
check() { [ "$2" = "$3" ] || die "$1: got '$2', expected '$3'"; }
check "tunnel queries" "$(count "$WORK/dns-tunnel.pcap" 'dns.flags.response == 0')" 72
check "tunnel answers" "$(count "$WORK/dns-tunnel.pcap" 'dns.flags.response == 1 && dns.flags.rcode == 0')" 72
check "dga queries" "$(count "$WORK/dns-dga.pcap" 'dns.flags.response == 0')" 44
check "dga NXDOMAIN" "$(count "$WORK/dns-dga.pcap" 'dns.flags.rcode == 3')" 40
check "benign queries" "$(count "$WORK/dns-benign.pcap" 'dns.flags.response == 0')" 42
check "benign NXDOMAIN" "$(count "$WORK/dns-benign.pcap" 'dns.flags.rcode == 3')" 3
check "benign PTR answers" "$(count "$WORK/dns-benign.pcap" 'dns.flags.response == 1 && dns.resp.type == 12')" 3

for f in dns-tunnel.pcap dns-dga.pcap dns-benign.pcap; do
    cp "$WORK/$f" "$HERE/$f"
    say "$f: $(stat -c %s "$HERE/$f") bytes"
done
