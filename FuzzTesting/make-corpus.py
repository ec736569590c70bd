#!/usr/bin/env python3
"""Writes the seed corpus of the FuzzPackets target from the test fixtures.

Three kinds of seed, each starting with the selector byte that makes the fuzz target pick a link type
(`LinkType.allCases[(byte & 0x3F) % count]`, in the declaration order of Sources/Packets/LinkType.swift; bit 0x40
is set when the capture's snaplen cut the packets, as in http-snap96.pcap):

- seed-<fixture>-<n>: one packet of a fixture capture (at most MAX_PER_FIXTURE per capture, picked evenly);
- multi-<fixture>-<n>: consecutive packets of a capture (selector | 0x80, each packet behind a 2-byte big-endian
  length): a datagram's fragments, a handshake up to the TLS ServerHello, a query and its response, a SYN scan;
- l7-<name>: application-layer bytes the fixtures lack (chunked HTTP, an upgrade, CONNECT), alone and inside raw
  IPv4/TCP packets of one connection.

Only classic pcap files are read (micro- and nanosecond magic, either byte order); the fixtures' one pcapng file
holds the same packets as http.pcap. Seeds are deduplicated so the corpus stays small.

Usage: FuzzTesting/make-corpus.py [--fixtures DIR] [--out DIR]   (defaults: Tests/Fixtures, FuzzTesting/Corpus)
"""

import argparse
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# LinkType.allCases order -> raw LINKTYPE value; the selector byte is the index.
LINK_TYPES = [0, 1, 12, 14, 108, 101, 113, 228, 229, 276]

# At most this many packets per fixture; picked evenly so that the handshake and the tail of each capture are both in.
MAX_PER_FIXTURE = 12
# Fixtures whose packets are all alike (a SYN scan) contribute fewer seeds.
SMALL_FIXTURES = {"scan-syn.pcap": 4}
# (fixture, first packet index, packet count) of the multi-packet seeds.
SEQUENCES = [
    ("fragments.pcap", 0, 3), ("fragments.pcap", 6, 3), ("fragments.pcap", 12, 3), ("fragments.pcap", 15, 4),
    ("tls.pcap", 0, 7), ("http.pcap", 0, 12), ("dns.pcap", 0, 8), ("dns.pcap", 14, 10), ("ipv6-tcp.pcap", 0, 8),
    ("udp-unreach.pcap", 0, 4), ("icmp.pcap", 0, 6), ("malformed.pcap", 0, 12), ("sll2.pcap", 0, 10),
    ("qinq.pcap", 0, 10), ("null.pcap", 20, 10), ("scan-syn.pcap", 0, 60),
]
RAW_IP = LINK_TYPES.index(101)
SEQUENCE = 0x80
SNAPLEN_CUT = 0x40
# Application-layer messages, request then response, that the fixture captures do not have.
HTTP_EXCHANGES = {
    "chunked": (
        b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"4;ext=1\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
        b"5\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n",
    ),
    "upgrade": (
        b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
    ),
    "connect": (
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01\x00\x05hello",
    ),
    "pipelined": (
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil close",
    ),
}


def read_pcap(path):
    """Yields (linktype, packet bytes, cut by snaplen) from a classic pcap file; stops quietly at a cut record."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic_le = struct.unpack("<I", data[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic_le in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        return
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        if offset + caplen > len(data):
            return
        yield linktype, data[offset:offset + caplen], caplen < wirelen
        offset += caplen


def ipv4_tcp(src, dst, sport, dport, seq, ack, flags, payload):
    """A raw IPv4/TCP packet (checksums left 0: the decoder does not check them)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    return ip + tcp


def http_connection(request, response):
    """A client's request and the server's response as raw IPv4 packets, mid-stream (no handshake)."""
    client, server = [127, 0, 0, 1], [127, 0, 0, 2]
    ack, psh = 0x10, 0x08
    return [
        ipv4_tcp(client, server, 40000, 80, 1000, 5000, ack | psh, request),
        ipv4_tcp(server, client, 80, 40000, 5000, 1000 + len(request), ack | psh, response),
        ipv4_tcp(client, server, 40000, 80, 1000 + len(request), 5000 + len(response), ack | 0x01, b""),
    ]


def multi(selector, packets):
    return bytes([selector | SEQUENCE]) + b"".join(struct.pack("!H", len(p)) + p for p in packets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", default=os.path.join(HERE, "..", "Tests", "Fixtures"))
    parser.add_argument("--out", default=os.path.join(HERE, "Corpus"))
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if name.startswith(("seed-", "multi-", "l7-")):
            os.remove(os.path.join(args.out, name))

    seen = set()
    written = 0
    total = 0

    def write(name, seed):
        nonlocal written, total
        digest = hashlib.sha1(seed).hexdigest()
        if digest in seen:
            return
        seen.add(digest)
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(seed)
        written += 1
        total += len(seed)

    for name in sorted(os.listdir(args.fixtures), key=lambda n: (len(n), n)):
        if not name.endswith(".pcap"):
            continue
        packets = [(LINK_TYPES.index(lt) | (SNAPLEN_CUT if cut else 0), pkt)
                   for lt, pkt, cut in read_pcap(os.path.join(args.fixtures, name)) if lt in LINK_TYPES]
        if not packets:
            continue
        cap = SMALL_FIXTURES.get(name, MAX_PER_FIXTURE)
        step = max(1, len(packets) / cap)
        picked = sorted({int(i * step) for i in range(min(cap, len(packets)))})
        stem = name[:-len(".pcap")]
        for index in picked:
            selector, packet = packets[index]
            write(f"seed-{stem}-{index:03d}", bytes([selector]) + packet)
        for fixture, first, count in SEQUENCES:
            if fixture == name:
                window = packets[first:first + count]
                selector = 0
                for frame_selector, _ in window:
                    selector |= frame_selector
                write(f"multi-{stem}-{first:03d}", multi(selector, [p for _, p in window]))

    for label, (request, response) in sorted(HTTP_EXCHANGES.items()):
        write(f"l7-http-{label}-request", bytes([RAW_IP]) + request)
        write(f"l7-http-{label}-response", bytes([RAW_IP]) + response)
        write(f"l7-http-{label}-connection", multi(RAW_IP, http_connection(request, response)))
    print(f"{written} seeds, {total} bytes in {os.path.relpath(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
