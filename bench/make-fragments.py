#!/usr/bin/env python3
"""Writes the three captures of bench/fragments.sh (classic pcap, Ethernet, 1514-byte frames):

  duplicates.pcap   COUNT copies of one first fragment (1480 data bytes, More Fragments) and then its last fragment:
                    the flood of issue 12, finding 2 (every copy used to be kept and rescanned);
  overlapping.pcap  COUNT fragments of 1480 bytes in datagrams of 100 each, every one starting 8 bytes after the
                    previous, so each overlaps the bytes held and adds 8 new ones (content differs per fragment);
  ordinary.pcap     COUNT unfragmented UDP packets of the same size over 1,000 flows.

Usage: bench/make-fragments.py OUT_DIR [COUNT]   (python3, no packages)
"""

import os
import struct
import sys

DATA = 1480  # 1500-byte MTU - 20-byte IPv4 header


def ipv4(ident, flags_offset, payload, src=0x0A000001, dst=0x0A000002, proto=17):
    header = struct.pack(">BBHHHBBHII", 0x45, 0, 20 + len(payload), ident, flags_offset, 64, proto, 0, src, dst)
    return header + payload


def ethernet(packet):
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + packet


def write(path, frames):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            ts = 1_700_000_000 + i // 1000  # 1,000 packets a second: the whole run stays inside the 60 s timeout
            out.write(struct.pack("<IIII", ts, (i % 1000) * 1000, len(frame), len(frame)) + frame)


def udp(sport, dport, size):
    return struct.pack(">HHHH", sport, dport, size, 0) + bytes(size - 8)


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 40_000
    os.makedirs(out, exist_ok=True)
    datagram = udp(5000, 53, DATA + 100)  # a first fragment of 1480 bytes and a last one of 100
    first = ethernet(ipv4(1, 0x2000, datagram[:DATA]))
    last = ethernet(ipv4(1, DATA // 8, datagram[DATA:]))
    write(os.path.join(out, "duplicates.pcap"), [first] * (count - 1) + [last])

    def overlapping():
        for i in range(count):
            ident, step = 1000 + i // 100, i % 100
            data = bytes([i & 0xFF]) * DATA
            yield ethernet(ipv4(ident, 0x2000 | step, data))

    write(os.path.join(out, "overlapping.pcap"), overlapping())
    write(
        os.path.join(out, "ordinary.pcap"),
        (ethernet(ipv4(0, 0x4000, udp(10000 + i % 1000, 53, DATA))) for i in range(count)),
    )


if __name__ == "__main__":
    main()
