#!/usr/bin/env bash
# tshark-reference.sh [--all] FILE...
#
# Prints, for humans, what tshark says about each capture: the TCP and UDP
# conversation tables and one line per DNS / HTTP / TLS ClientHello packet
# with the fields the Wirewatch sensor also extracts. The Swift tests run the
# same tshark commands themselves (see README.md, "Comparing with tshark");
# nothing here is stored as expected output.
#
#   --all   also print the IPv4 / IPv6 conversation tables and one line per
#           packet (addresses, ports, protocol) for every frame.
#
# Example:  Tests/Fixtures/tshark-reference.sh Tests/Fixtures/dns.pcap
set -u

ALL=0
if [ "${1:-}" = "--all" ]; then ALL=1; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [--all] FILE..." >&2; exit 2; }
command -v tshark >/dev/null || { echo "tshark not installed (apt-get install tshark)" >&2; exit 2; }

# Fields the sensor's decoders produce. Checked against `tshark -G fields`
# because field names change between Wireshark releases (ssl.* became tls.*
# in 3.0); these all exist in TShark 4.0.
APP_FIELDS=(dns.id dns.flags.response dns.qry.name dns.qry.type dns.flags.rcode
            http.request.method http.host http.request.uri http.user_agent http.response.code
            tls.handshake.type tls.handshake.extensions_server_name tls.handshake.extensions_alpn_str)
PKT_FIELDS=(frame.number frame.len frame.cap_len ip.src ip.dst ipv6.src ipv6.dst ip.proto ipv6.nxt
            tcp.srcport tcp.dstport udp.srcport udp.dstport icmp.type icmp.code icmpv6.type icmpv6.code)

known=$(tshark -G fields 2>/dev/null | cut -f3)
fields_args() {
    local f
    for f in "$@"; do
        if grep -qxF "$f" <<<"$known"; then
            printf -- '-e\n%s\n' "$f"
        else
            echo "warning: this tshark has no field $f; skipped" >&2
        fi
    done
}
mapfile -t APP_ARGS < <(fields_args frame.number "${APP_FIELDS[@]}")
mapfile -t PKT_ARGS < <(fields_args "${PKT_FIELDS[@]}")

echo "# $(tshark --version 2>/dev/null | head -1)"
for f in "$@"; do
    echo
    echo "################ $f"
    echo "# tshark -r $f -q -z conv,tcp -z conv,udp"
    tshark -r "$f" -q -z conv,tcp -z conv,udp 2>&1 | grep -v '^Running as user'
    if [ "$ALL" = 1 ]; then
        echo "# tshark -r $f -q -z conv,ip -z conv,ipv6"
        tshark -r "$f" -q -z conv,ip -z conv,ipv6 2>&1 | grep -v '^Running as user'
    fi
    echo "# DNS / HTTP / TLS ClientHello fields (tab separated; first occurrence of each field)"
    tshark -r "$f" -Y 'dns || http.request || http.response || tls.handshake.type == 1' \
        -T fields -E header=y -E separator=/t -E occurrence=f "${APP_ARGS[@]}" 2>&1 |
        grep -v '^Running as user'
    if [ "$ALL" = 1 ]; then
        echo "# per-packet summary (outer headers: first occurrence)"
        tshark -r "$f" -T fields -E header=y -E separator=/t -E occurrence=f "${PKT_ARGS[@]}" 2>&1 |
            grep -v '^Running as user'
    fi
done
