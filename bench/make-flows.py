#!/usr/bin/env python3
"""make-flows.py OUT.pcap N [HOSTS [START GAP_US [FLOWS]]]: a capture of N one-packet UDP flows (load for the transport
benchmark), or of N packets spread round-robin over FLOWS flows (the per-flow cost benchmark compares the two).

Each flow is one Ethernet/IPv4/UDP packet from one of HOSTS client addresses 127.X.Y.Z (default: every flow from
its own address) to 127.0.0.1:9000, source ports chosen so every 5-tuple differs (loopback addresses, written to
a file; nothing is sent), GAP_US microseconds apart (default 10) from epoch second START (default 1,700,000,000).
Deterministic: the same arguments give the same bytes.
"""
import struct
import sys


def checksum(header: bytes) -> int:
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main() -> None:
    out, count = sys.argv[1], int(sys.argv[2])
    hosts = int(sys.argv[3]) if len(sys.argv) > 3 else count
    start_seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 1_700_000_000
    gap = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    flows = int(sys.argv[6]) if len(sys.argv) > 6 else count
    payload = b"wirewatch-bench!" * 2
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        start = start_seconds * 1_000_000
        for n in range(count):
            i = n % flows
            h = i % hosts
            src = bytes([127, 1 + (h >> 16) % 250, (h >> 8) & 0xFF, h & 0xFF])
            sport = 1024 + ((i // hosts) * 7919 + h) % 60000
            udp = struct.pack("!HHHH", sport, 9000, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0, src, bytes([127, 0, 0, 1]))
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            frame = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp
            ts = start + n * gap
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
