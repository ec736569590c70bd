#!/usr/bin/env python3
"""make-flood.py OUT.pcap [SOURCES] - a capture of SOURCES distinct sources each sending one TCP SYN to
127.0.0.1:80 (a flood of first contacts, the worst case for per-source detector state). Addresses are
127.x.y.z, one per source; written as a file only, no traffic is sent."""
import struct
import sys

out = sys.argv[1]
sources = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    dst = bytes([127, 0, 0, 1])
    start = 1_800_000_000
    for i in range(sources):
        n = i + 2  # skip 127.0.0.0 and 127.0.0.1
        src = bytes([127, (n >> 16) & 255, (n >> 8) & 255, n & 255])
        tcp = struct.pack("!HHIIBBHHH", 40000 + (i % 20000), 80, i, 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        frame = b"\0" * 12 + b"\x08\x00" + ip + tcp
        # 10,000 SYNs a second: a million sources over 100 s of packet time.
        ts = start + i / 10_000
        sec = int(ts)
        f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
        f.write(frame)
