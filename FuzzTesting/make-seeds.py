#!/usr/bin/env python3
"""Writes the seed inputs of the FuzzFragments and FuzzWire targets (CorpusFragments/, CorpusWire/).

FuzzFragments: 4-byte operations (see Sources/FuzzFragments/main.swift): in order, backwards, duplicated, overlapping
with true and with liar bytes, IPv6 overlap, a time jump. FuzzWire: byte 0 = read size - 1, then length-prefixed
Envelope frames hand-encoded from proto/wirewatch.proto (Hello, a RecordBatch with a flow and a DNS record, an Ack,
a Heartbeat, a frame announcing more than the target's 64 KiB maximum, a cut frame).

Usage: FuzzTesting/make-seeds.py   (python3, no packages)
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def op(v6=False, ident=0, more=True, liar=False, coarse=False, extra=0, offset=0, units=1, seed=0):
    flags = (1 if v6 else 0) | ident << 1 | (8 if more else 0) | (0x10 if liar else 0) | (0x20 if coarse else 0)
    return bytes([flags | extra << 6, offset, units, seed])


TIME_JUMP = bytes([0xC0, 0, 0xFF, 0])

FRAGMENTS = {
    "in-order": op(offset=0, units=2) + op(offset=2, units=2) + op(more=False, offset=4, units=1, extra=3),
    "backwards": op(more=False, offset=4, units=1) + op(offset=2, units=2) + op(offset=0, units=2),
    "duplicates": op(offset=0, units=2) * 6 + op(more=False, offset=2, units=1),
    "overlap-true": op(offset=0, units=3) + op(offset=2, units=3) + op(more=False, offset=5, units=1),
    "overlap-liar": op(offset=0, units=3) + op(offset=1, units=3, liar=True, seed=9) + op(more=False, offset=4, units=1),
    "v6-overlap": op(v6=True, offset=0, units=3) + op(v6=True, offset=2, units=2) + op(v6=True, more=False, offset=4),
    "v6-duplicates": op(v6=True, ident=1, offset=0, units=2) * 3 + op(v6=True, ident=1, more=False, offset=2),
    "many-datagrams": b"".join(op(ident=i % 4, v6=i >= 4, offset=0, units=4) for i in range(8)),
    "large-offset": op(coarse=True, offset=200, units=40) + op(more=False, coarse=True, offset=255, units=47),
    "timeout": op(offset=0, units=2) + TIME_JUMP + TIME_JUMP + TIME_JUMP + op(more=False, offset=2, units=1),
}


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, value):
    """One protobuf field: int -> varint, bytes/str -> length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def frame(envelope):
    return struct.pack(">I", len(envelope)) + envelope


HELLO = field(1, field(1, 1) + field(2, "sensor-1") + field(3, bytes(range(16))) + field(4, "0.1.0") + field(5, "eth0"))
CONN = field(1, bytes([10, 0, 0, 1])) + field(2, 51000) + field(3, bytes([10, 0, 0, 2])) + field(4, 53)
FLOW = (field(1, 1_700_000_000_000_000) + field(2, "CAbc123") + field(3, CONN) + field(4, 17) + field(5, "dns")
        + field(6, 1500) + field(7, 40) + field(8, 120) + field(9, 1) + field(10, 1) + field(11, 68) + field(12, 148)
        + field(13, "SF") + field(14, "Dd") + field(22, "1:abc=") + field(23, 1) + field(24, "idle"))
DNS = (field(1, 1_700_000_000_000_000) + field(2, "CAbc123") + field(3, CONN) + field(4, 17) + field(5, 4660)
       + field(6, "example.com") + field(7, 1) + field(8, 0) + field(9, "93.184.216.34") + field(10, 300))
BATCH = field(3, field(1, 7) + field(2, FLOW) + field(3, DNS))

WIRE = {
    "hello": b"\xff" + frame(HELLO),
    "hello-then-batch": b"\xff" + frame(HELLO) + frame(BATCH),
    "batch-in-pieces": b"\x02" + frame(BATCH),
    "hello-short-boot-id": b"\xff" + frame(field(1, field(1, 1) + field(2, "sensor-1") + field(3, b"\x01\x02"))),
    "ack-heartbeat": b"\xff" + frame(field(4, field(1, 7))) + frame(field(5, b"")),
    "too-large": b"\xff" + struct.pack(">I", 1 << 20) + b"\x00" * 8,
    "cut-frame": b"\xff" + frame(BATCH)[:-5],
    "empty-envelope": b"\xff" + frame(b""),
}

for directory, seeds in (("CorpusFragments", FRAGMENTS), ("CorpusWire", WIRE)):
    path = os.path.join(HERE, directory)
    os.makedirs(path, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(path, name), "wb") as out:
            out.write(data)
    print(f"{directory}: {len(seeds)} seeds")
