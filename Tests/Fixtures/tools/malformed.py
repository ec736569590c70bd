#!/usr/bin/env python3
"""Write malformed.pcap: hand-crafted (struct-built, deterministic) Ethernet
frames, one defect each. Checksums are correct wherever the defect allows, so
each packet is wrong in exactly the one documented way.

Usage: malformed.py OUT.pcap [--table]   (--table prints the packet list as
Markdown for the README)

Addresses are loopback only (127.0.0.1, ::1); MACs are 00:00:00:00:00:00 as on
Linux lo; timestamps are 1700000000 + packet index seconds.
"""
import struct
import sys

SRC4 = bytes([127, 0, 0, 1])
DST4 = bytes([127, 0, 0, 1])
SRC6 = bytes(15) + b"\x01"
DST6 = bytes(15) + b"\x01"
BASE_TS = 1_700_000_000


def csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(ethertype, payload):
    return bytes(12) + struct.pack("!H", ethertype) + payload


def ipv4(proto, payload, ihl=5, total_len=None, version=4, ident=0x5757, ttl=64):
    if total_len is None:
        total_len = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total_len, ident, 0x4000,
                      ttl, proto, 0, SRC4, DST4)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(nh, payload, plen=None):
    if plen is None:
        plen = len(payload)
    return struct.pack("!IHBB16s16s", 6 << 28, plen, nh, 64, SRC6, DST6) + payload


def pseudo4(proto, length):
    return SRC4 + DST4 + struct.pack("!BBH", 0, proto, length)


def pseudo6(nh, length):
    return SRC6 + DST6 + struct.pack("!IxxxB", length, nh)


def udp4(sport, dport, payload, length=None, checksum=True):
    real = 8 + len(payload)
    if length is None:
        length = real
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if checksum:
        c = csum(pseudo4(17, real) + seg) or 0xFFFF
        seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return seg


def udp6(sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo6(17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp4(sport, dport, payload, flags=0x18, doff=5, header_len=20, seq=1000, ack=2000):
    opts = bytes(header_len - 20)
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0, 0) + opts + payload
    c = csum(pseudo4(6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def icmp4(icmp_type, code, body):
    msg = struct.pack("!BBHI", icmp_type, code, 0, 0) + body
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def icmp6(icmp_type, code, body):
    msg = struct.pack("!BBHI", icmp_type, code, 0, 0) + body
    c = csum(pseudo6(58, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def dns_header(ident, flags, qd, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def qname(*labels):
    return b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\x00"


def client_hello(sni=b"evil.wirewatch.test", sni_len_override=None, ext_len_override=None):
    name_len = len(sni) if sni_len_override is None else sni_len_override
    server_name = struct.pack("!BH", 0, name_len) + sni
    sni_ext_data = struct.pack("!H", len(server_name)) + server_name
    ext = struct.pack("!HH", 0x0000, len(sni_ext_data)) + sni_ext_data
    ext_len = len(ext) if ext_len_override is None else ext_len_override
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01"
            + b"\x01\x00" + struct.pack("!H", ext_len) + ext)
    return body


def handshake(msg_type, body, length=None):
    n = len(body) if length is None else length
    return struct.pack("!B", msg_type) + n.to_bytes(3, "big") + body


def tls_record(content_type, payload, length=None):
    n = len(payload) if length is None else length
    return struct.pack("!BHH", content_type, 0x0301, n) + payload


def build():
    """Returns a list of (name, requested_by_brief, description, frame, orig_len or None)."""
    pkts = []

    def add(name, requested, desc, frame, orig_len=None):
        pkts.append((name, requested, desc, frame, orig_len))

    dns_ok = dns_header(0x1234, 0x0100, 1) + qname("www", "wirewatch", "test") + struct.pack("!HH", 1, 1)

    # --- IPv4 -------------------------------------------------------------
    add("ipv4_ihl_below_minimum", True,
        "IPv4 IHL=3 (12 bytes) < minimum 5 (RFC 791); otherwise a normal UDP/53 query",
        eth(0x0800, ipv4(17, udp4(40001, 53, dns_ok), ihl=3)))
    add("ipv4_ihl_past_packet", False,
        "IPv4 IHL=15 (60-byte header) but the whole packet is 28 bytes",
        eth(0x0800, ipv4(17, udp4(40002, 9, b""), ihl=15)))
    add("ipv4_total_length_exceeds_captured", True,
        "IPv4 total length 1500 but only 48 bytes of IP on the wire (caplen == len)",
        eth(0x0800, ipv4(17, udp4(40003, 9, b"wirewatch-short-udp!"), total_len=1500)))
    add("ipv4_total_length_below_header", False,
        "IPv4 total length 12, less than the 20-byte header",
        eth(0x0800, ipv4(17, udp4(40004, 9, b"x"), total_len=12)))
    add("ipv4_version_not_4", False,
        "EtherType 0x0800 but IP version nibble is 6",
        eth(0x0800, ipv4(17, udp4(40005, 9, b"x"), version=6)))

    # --- TCP ---------------------------------------------------------------
    add("tcp_data_offset_below_5", True,
        "TCP data offset 4 (16 bytes) < minimum 5 (RFC 9293)",
        eth(0x0800, ipv4(6, tcp4(40010, 80, b"GET / HTTP/1.1\r\n\r\n", doff=4))))
    add("tcp_data_offset_past_segment", False,
        "TCP data offset 15 (60 bytes) but the segment is 20 bytes",
        eth(0x0800, ipv4(6, tcp4(40011, 80, b"", doff=15, flags=0x02))))
    add("tcp_header_truncated", False,
        "IPv4 protocol 6 with only 10 bytes of TCP header",
        eth(0x0800, ipv4(6, struct.pack("!HHIH", 40012, 80, 1, 0x5002))))

    # --- DNS (UDP/53) ----------------------------------------------------------
    loop_self = dns_header(0x2001, 0x0100, 1) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    add("dns_pointer_loop_self", True,
        "DNS question name is a compression pointer to itself (offset 12 -> 12)",
        eth(0x0800, ipv4(17, udp4(40020, 53, loop_self))))
    loop_two = dns_header(0x2002, 0x0100, 1) + b"\xc0\x0e\xc0\x0c" + struct.pack("!HH", 1, 1)
    add("dns_pointer_loop_two", True,
        "DNS names point at each other: offset 12 -> 14 -> 12 -> ...",
        eth(0x0800, ipv4(17, udp4(40021, 53, loop_two))))
    fwd = (dns_header(0x2003, 0x0100, 2) + b"\xc0\x12" + struct.pack("!HH", 1, 1)
           + qname("fwd", "wirewatch", "test") + struct.pack("!HH", 1, 1))
    add("dns_forward_pointer", True,
        "DNS question 1 name is a pointer forward to question 2 (offset 12 -> 18); "
        "RFC 1035 4.1.4 says pointers refer to a PRIOR occurrence",
        eth(0x0800, ipv4(17, udp4(40022, 53, fwd))))
    past_end = dns_header(0x2004, 0x0100, 1) + b"\xc0\xff" + struct.pack("!HH", 1, 1)
    add("dns_pointer_past_end", False,
        "DNS compression pointer to offset 255, past the end of the 18-byte message",
        eth(0x0800, ipv4(17, udp4(40023, 53, past_end))))
    long_name = dns_header(0x2005, 0x0100, 1) + b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00" \
        + struct.pack("!HH", 1, 1)
    add("dns_name_over_255", False,
        "DNS name of five 63-byte labels (321 bytes on the wire) > 255 (RFC 1035 2.3.4)",
        eth(0x0800, ipv4(17, udp4(40024, 53, long_name))))
    add("dns_truncated_header", False,
        "UDP/53 payload of 7 bytes, shorter than the 12-byte DNS header",
        eth(0x0800, ipv4(17, udp4(40025, 53, dns_ok[:7]))))

    # --- TLS (TCP/443) -------------------------------------------------------
    ch = client_hello()
    add("tls_record_length_exceeds_segment", True,
        "TLS record header says 16384 bytes, the segment carries a whole "
        f"{len(handshake(1, ch))}-byte ClientHello and nothing more",
        eth(0x0800, ipv4(6, tcp4(40030, 443, tls_record(22, handshake(1, ch), length=16384)))))
    add("tls_handshake_length_exceeds_record", True,
        "TLS record length is honest but the handshake header claims 65535 bytes of ClientHello",
        eth(0x0800, ipv4(6, tcp4(40031, 443, tls_record(22, handshake(1, ch, length=65535))))))
    add("tls_sni_length_lies", True,
        "record, handshake and extension lengths honest; SNI host_name length says 200, 19 bytes follow",
        eth(0x0800, ipv4(6, tcp4(40032, 443, tls_record(22, handshake(1, client_hello(sni_len_override=200)))))))
    add("tls_extensions_length_lies", True,
        "ClientHello extensions block length says 1024, 24 bytes follow",
        eth(0x0800, ipv4(6, tcp4(40033, 443, tls_record(22, handshake(1, client_hello(ext_len_override=1024)))))))
    add("tls_record_length_over_max", False,
        "TLS record length 0xFFFF > 2^14+2048 (RFC 8446 5.2) with 8 bytes following",
        eth(0x0800, ipv4(6, tcp4(40034, 443, tls_record(23, bytes(8), length=0xFFFF)))))

    # --- HTTP (TCP/80) -------------------------------------------------------
    long_uri = b"/" + b"A" * 20000
    req = b"GET " + long_uri + b" HTTP/1.1\r\nHost: long.wirewatch.test\r\nUser-Agent: Wirewatch-Fixture-Overlong/1.0\r\n\r\n"
    add("http_overlong_request_line", True,
        f"HTTP request line of {len(long_uri) + 13} bytes (> 8 KiB / 16 KiB server limits) in one segment",
        eth(0x0800, ipv4(6, tcp4(40040, 80, req))))
    add("http_header_no_crlf", False,
        "HTTP request whose header block never ends (no CRLF at all, 300 bytes)",
        eth(0x0800, ipv4(6, tcp4(40041, 80, b"GET /" + b"b" * 295))))

    # --- UDP ---------------------------------------------------------------
    add("udp_length_zero", True,
        "IPv4 UDP length field 0 (only legal for IPv6 jumbograms, RFC 2675)",
        eth(0x0800, ipv4(17, udp4(40050, 9, b"zero-length-udp", length=0, checksum=False))))
    add("udp_length_below_header", False,
        "UDP length 4 < 8-byte header",
        eth(0x0800, ipv4(17, udp4(40051, 9, b"short", length=4, checksum=False))))
    add("udp_length_exceeds_ip_payload", False,
        "UDP length 512 but the IP payload is 16 bytes",
        eth(0x0800, ipv4(17, udp4(40052, 9, b"8 bytes!", length=512, checksum=False))))

    # --- ICMP / ICMPv6 errors -----------------------------------------------------
    inner = ipv4(17, udp4(40060, 5999, b"probe"))
    add("icmp_unreach_embedded_ip_truncated", True,
        "ICMP port unreachable embedding only 12 bytes of the offending IPv4 header",
        eth(0x0800, ipv4(1, icmp4(3, 3, inner[:12]))))
    add("icmp_unreach_embedded_udp_truncated", True,
        "ICMP port unreachable embedding a full IPv4 header + 4 of the 8 UDP header bytes",
        eth(0x0800, ipv4(1, icmp4(3, 3, inner[:24]))))
    bad_inner = bytes([0x4F]) + inner[1:28]
    add("icmp_unreach_embedded_ihl_lies", False,
        "ICMP port unreachable whose embedded IPv4 header claims IHL=15 but only 28 bytes are embedded",
        eth(0x0800, ipv4(1, icmp4(3, 3, bad_inner))))
    inner6 = ipv6(17, udp4(40061, 5999, b"probe"))
    add("icmpv6_unreach_embedded_ipv6_truncated", True,
        "ICMPv6 port unreachable (1/4) embedding only 20 of the 40 IPv6 header bytes",
        eth(0x86DD, ipv6(58, icmp6(1, 4, inner6[:20]))))

    # --- IPv6 ---------------------------------------------------------------
    add("ipv6_payload_length_exceeds_captured", False,
        "IPv6 payload length 1000, 16 bytes present (caplen == len)",
        eth(0x86DD, ipv6(17, udp6(40070, 9, b"v6-short"), plen=1000)))
    add("ipv6_ext_header_past_end", False,
        "IPv6 Hop-by-Hop header with Hdr Ext Len 10 (88 bytes) but 8 bytes present",
        eth(0x86DD, ipv6(0, bytes([17, 10, 1, 4, 0, 0, 0, 0]))))
    add("ipv6_header_truncated", False,
        "EtherType 0x86DD with 30 of the 40 IPv6 header bytes",
        eth(0x86DD, ipv6(17, b"")[:30]))

    # --- Ethernet -------------------------------------------------------------
    add("ethernet_truncated", False,
        "10-byte frame, shorter than the 14-byte Ethernet header",
        bytes(10))
    add("vlan_tag_truncated", False,
        "EtherType 0x8100 followed by only 2 bytes of the 4-byte 802.1Q tag",
        bytes(12) + b"\x81\x00\x00\x64")
    return pkts


def write(path, pkts):
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i, (_, _, _, frame, orig) in enumerate(pkts):
        out += struct.pack("<IIII", BASE_TS + i, 0, len(frame), orig if orig is not None else len(frame))
        out += frame
    with open(path, "wb") as f:
        f.write(out)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    pkts = build()
    write(sys.argv[1], pkts)
    if "--table" in sys.argv:
        print("| # | name | asked for | defect |")
        print("|---|------|-----------|--------|")
        for i, (name, req, desc, frame, _) in enumerate(pkts, start=1):
            print(f"| {i} | `{name}` | {'yes' if req else 'extra'} | {desc} ({len(frame)} B) |")


if __name__ == "__main__":
    main()
