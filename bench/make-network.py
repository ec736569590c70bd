#!/usr/bin/env python3
"""make-network.py: many overlapping, address-rewritten copies of one loopback capture, so that it looks like a network.

    make-network.py BASE.pcap OUT.pcap --copies N [--small OUT_SMALL.pcap] [--small-below 128]
                    [--spread 0.5] [--vlan-every 4]
    make-network.py --stats FILE...

BASE.pcap is a capture from `lo` (Ethernet link type, IPv4 between 127.0.0.0/8 addresses, as bench/sensor.sh's
`net` recipe makes it). OUT.pcap holds N copies of it, merged in time order:

- Copy k is shifted in time by k * SPREAD * (base duration) / (N - 1), so every copy overlaps every other one
  (with the default 0.5, all N are running at once during the second half of copy 0).
- Every IPv4 address a = 127.x.y.z of copy k becomes 10.0.0.0 + k * 2^19 + (x.y.z as a 24-bit number), so each
  original client (the recipe binds each client to an address of its own) and each copy gets distinct addresses:
  the distinct addresses are N times the base's. Copy 0 lives in 10.0.0.0/13, copy 1 in 10.8.0.0/13, ... (copies past
  the 32nd continue into 11.0.0.0/8 and up). Addresses outside 127.0.0.0/8 are mapped the same way from their low
  24 bits.
- The Ethernet addresses (all zero on lo) become 02:00 followed by the frame's new IPv4 source and destination, so
  frames stay valid Ethernet with locally administered unicast addresses.
- The IPv4 header checksum and the TCP/UDP checksum (over the new pseudo-header) are recomputed. On lo the kernel
  leaves TCP/UDP checksums to an offload that never runs, so they are wrong in the base capture and right in
  OUT.pcap. (Not for a fragment, or a packet cut short by the snaplen: those keep theirs.)
- Copies k with k % VLAN_EVERY == VLAN_EVERY - 1 get an 802.1Q tag (TPID 0x8100, VLAN 100 + k, priority 0)
  after the Ethernet addresses; such a frame is 4 bytes longer (at most 1518 bytes, the 802.1Q maximum).
- With --small, the frames of OUT.pcap shorter than SMALL_BELOW bytes on the wire go to OUT_SMALL.pcap as well.

It streams (one reader per copy over the same file, a heap merge by time stamp), so memory grows with the number of
flows (for the statistics), not with the capture. Pure standard library.

Afterwards, and with --stats for any Ethernet pcap, it prints for each output: packets, mean frame (wire bytes),
bidirectional flows (IPv4 5-tuples with both directions as one; ICMP echo keyed by its identifier, other ICMP by type
and code), the most flows open at once (each flow counted as open from its first to its last packet, inclusive), the
distinct IPv4 addresses and the share of 802.1Q-tagged frames; a last line `stats packets=... flows=...` is for
scripts.
"""
import argparse
import array
import heapq
import struct
import sys
import time

PCAP_MAGIC_MICRO = 0xA1B2C3D4
PCAP_MAGIC_NANO = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = b"\x08\x00"
ETHERTYPE_VLAN = b"\x81\x00"  # IEEE 802.1Q tag protocol identifier
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
COPY_STRIDE = 1 << 19  # addresses per copy: the 24 low bits of 127.0.0.0/8 fit when x < 8 (the recipe uses 0-5)
BASE_NETWORK = 10 << 24


def read_header(f, path):
    header = f.read(24)
    if len(header) < 24:
        sys.exit(f"{path}: not a pcap file (too short)")
    for endian in "<>":
        magic, _, _, _, _, snaplen, linktype = struct.unpack(endian + "IHHiIII", header)
        if magic in (PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO):
            if linktype & 0xFFFF != LINKTYPE_ETHERNET:
                sys.exit(f"{path}: link type {linktype}, only Ethernet (1) is supported")
            scale = 1_000_000 if magic == PCAP_MAGIC_MICRO else 1_000_000_000
            return header, endian, scale, snaplen
    sys.exit(f"{path}: not a pcap file (pcapng is not supported; convert with editcap -F pcap)")


def records(path):
    """Yields (timestamp in the file's units, wire length, frame bytes) for each packet of `path`."""
    with open(path, "rb", buffering=1 << 20) as f:
        _, endian, scale, _ = read_header(f, path)
        read = f.read
        unpack = struct.Struct(endian + "IIII").unpack
        while True:
            h = read(16)
            if len(h) < 16:
                return
            sec, frac, incl, orig = unpack(h)
            data = read(incl)
            if len(data) < incl:
                return  # cut mid-packet: keep what came before
            yield sec * scale + frac, orig, data


class Stats:
    """Counts what the capture looks like; fed one output frame at a time."""

    def __init__(self):
        self.packets = 0
        self.wire_bytes = 0
        self.vlan = 0
        self.first = {}
        self.last = {}
        self.addresses = set()

    def add(self, ts, orig, frame):
        """Counts one frame, decoding what it needs (the --stats path)."""
        offset = 12
        tagged = frame[12:14] == ETHERTYPE_VLAN
        if tagged:
            offset = 16
        if frame[offset : offset + 2] != ETHERTYPE_IPV4 or len(frame) < offset + 22:
            self.count(ts, orig, tagged, None, None, None)
            return
        ip = offset + 2
        src = frame[ip + 12 : ip + 16]
        dst = frame[ip + 16 : ip + 20]
        self.count(ts, orig, tagged, src, dst, flow_key(frame, ip, src, dst))

    def count(self, ts, orig, tagged, src, dst, key):
        """Counts one frame: its IPv4 addresses (None if it has none) and flow key (None if it has none)."""
        self.packets += 1
        self.wire_bytes += orig
        if tagged:
            self.vlan += 1
        if src is not None:
            self.addresses.add(src)
            self.addresses.add(dst)
        if key is not None:
            if key not in self.first:
                self.first[key] = ts
            self.last[key] = ts

    def summary(self):
        firsts = sorted(self.first.values())
        lasts = sorted(self.last.values())
        n = len(firsts)
        i = j = now_open = most = 0
        while i < n:  # [first, last] inclusive: at a tie, a flow starting counts before one ending
            if firsts[i] <= lasts[j]:
                now_open += 1
                i += 1
                if now_open > most:
                    most = now_open
            else:
                now_open -= 1
                j += 1
        return {
            "packets": self.packets,
            "mean_frame": round(self.wire_bytes / self.packets) if self.packets else 0,
            "flows": n,
            "max_open": most,
            "addresses": len(self.addresses),
            "vlan_share": round(100 * self.vlan / self.packets, 1) if self.packets else 0.0,
        }


def flow_key(frame, ip, src, dst):
    """Direction-free flow key of an IPv4 frame whose IP header starts at `ip`; None for a non-first fragment."""
    if (frame[ip + 6] & 0x1F) or frame[ip + 7]:
        return None
    proto = frame[ip + 9]
    tags = flow_tags(frame, proto, ip + (frame[ip] & 0x0F) * 4)
    return make_key(proto, src + tags[0], dst + tags[1])


def flow_tags(frame, proto, l4):
    """What tells flows between the same two addresses apart, on each side: the ports for TCP and UDP; ICMP echo
    request (8) and reply (0) are one flow per identifier, other ICMP messages one per type and code."""
    if proto == PROTO_TCP or proto == PROTO_UDP:
        return frame[l4 : l4 + 2], frame[l4 + 2 : l4 + 4]
    if proto == PROTO_ICMP:
        kind = frame[l4 : l4 + 1]
        tag = frame[l4 + 4 : l4 + 6] if kind in (b"\x00", b"\x08") else frame[l4 : l4 + 2]
        return tag, tag
    return b"", b""


def make_key(proto, a, b):
    return bytes((proto,)) + (a + b if a <= b else b + a)


def print_summary(path, s):
    print(
        f"{path}: {s['packets']:,} packets, mean frame {s['mean_frame']} B, {s['flows']:,} bidirectional flows, "
        f"at most {s['max_open']:,} open at once, {s['addresses']:,} distinct addresses, "
        f"{s['vlan_share']}% 802.1Q-tagged"
    )
    print("stats " + " ".join(f"{k}={v}" for k, v in s.items()))
    sys.stdout.flush()


class AddressMap:
    """Per copy: original IPv4 address -> (new address, the new address's one's-complement sum modulo 0xFFFF)."""

    def __init__(self, copy):
        self.base = BASE_NETWORK + copy * COPY_STRIDE
        self.cache = {}

    def get(self, address):
        entry = self.cache.get(address)
        if entry is None:
            new = self.base + (int.from_bytes(address, "big") & 0xFFFFFF)
            entry = (new.to_bytes(4, "big"), new % 0xFFFF)
            self.cache[address] = entry
        return entry


# One's-complement sums. The one's-complement sum of a string of 16-bit words (RFC 1071) is the string read as one
# big-endian number modulo 0xFFFF (because 2^16 = 1 modulo 0xFFFF), which Python computes in C; sums of parts add
# modulo 0xFFFF. The checksum of a sum r of data that is not all zero (never so for an IPv4 header or a TCP/UDP
# pseudo-header) is ~r, where a sum of 0 modulo 0xFFFF stands for 0xFFFF ("negative zero"): (0xFFFF - r) % 0xFFFF.


def ones_sum(data):
    if len(data) % 2:
        data += b"\x00"
    return int.from_bytes(data, "big") % 0xFFFF


class Base:
    """What every copy of a base packet shares, computed once (a pass over the base before the copies are merged):
    the one's-complement sums of its IPv4 header and TCP/UDP segment without the addresses (the only part that
    differs between copies) and where the TCP/UDP checksum is."""

    NONE = -1

    def __init__(self, path):
        self.ip_sum = array.array("l")  # header sum, checksum and addresses left out; NONE: not IPv4, kept as is
        self.l4_sum = array.array("l")  # segment + protocol + length, checksum left out; NONE: keeps its checksum
        self.l4_at = array.array("l")  # offset of the TCP/UDP checksum in the frame
        self.first = self.last = None
        for ts, _, frame in records(path):
            if self.first is None:
                self.first = ts
            self.last = ts
            ip_sum = l4_sum = self.NONE
            at = 0
            if frame[12:14] == ETHERTYPE_IPV4 and len(frame) >= 34:
                ihl = (frame[14] & 0x0F) * 4
                if ihl >= 20 and len(frame) >= 14 + ihl:
                    ip_sum = (ones_sum(frame[14:24]) + ones_sum(frame[34 : 14 + ihl])) % 0xFFFF
                    proto = frame[23]
                    end = 14 + (frame[16] << 8 | frame[17])
                    # Only a whole, unfragmented segment can be summed; anything else keeps its checksum.
                    if (proto == PROTO_TCP or proto == PROTO_UDP) and not (frame[20] & 0x3F or frame[21]):
                        at = 14 + ihl + (16 if proto == PROTO_TCP else 6)
                        udp_none = proto == PROTO_UDP and frame[at : at + 2] == b"\x00\x00"  # 0: none (RFC 768)
                        if end <= len(frame) and end >= at + 2 and not udp_none:
                            segment = frame[14 + ihl : at] + frame[at + 2 : end]
                            l4_sum = (ones_sum(segment) + proto + (end - 14 - ihl)) % 0xFFFF
            self.ip_sum.append(ip_sum)
            self.l4_sum.append(l4_sum)
            self.l4_at.append(at)


def copy_records(path, k, shift):
    """records(path) of copy k: (time stamp shifted, copy, wire length, frame, index in the base)."""
    offset = k * shift
    for index, (ts, orig, frame) in enumerate(records(path)):
        yield ts + offset, k, orig, frame, index


def build(args):
    with open(args.base, "rb") as f:
        header, endian, scale, _ = read_header(f, args.base)
    started = time.monotonic()
    base = Base(args.base)
    if base.first is None:
        sys.exit(f"{args.base}: no packets")
    n = args.copies
    shift = int((base.last - base.first) * args.spread / (n - 1)) if n > 1 else 0
    maps = [AddressMap(k) for k in range(n)]
    tags = [
        (ETHERTYPE_VLAN + struct.pack("!H", (100 + k) & 0x0FFF)) if (k % args.vlan_every == args.vlan_every - 1) else b""
        for k in range(n)
    ]
    record = struct.Struct(endian + "IIII").pack
    # The output header: the base's, its snaplen raised by the 4 bytes a tag adds.
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack(endian + "IHHiIII", header)
    out_header = struct.pack(endian + "IHHiIII", magic, major, minor, zone, sigfigs, snaplen + 4, linktype)

    stats = Stats()
    small_stats = Stats()
    out = open(args.out, "wb", buffering=1 << 20)
    out.write(out_header)
    small = None
    if args.small:
        small = open(args.small, "wb", buffering=1 << 20)
        small.write(out_header)
    below = args.small_below
    write = out.write
    ip_sums, l4_sums, l4_ats = base.ip_sum, base.l4_sum, base.l4_at
    NONE = Base.NONE
    mac_prefix = b"\x02\x00"
    for ts, k, orig, frame, i in heapq.merge(*(copy_records(args.base, k, shift) for k in range(n))):
        tag = tags[k]
        ip_sum = ip_sums[i]
        if ip_sum == NONE:
            frame = frame[:12] + tag + frame[12:] if tag else frame
            src = dst = key = None
        else:
            amap = maps[k]
            src, src_sum = amap.get(frame[26:30])
            dst, dst_sum = amap.get(frame[30:34])
            addresses = src_sum + dst_sum
            ip_check = ((0xFFFF - (ip_sum + addresses) % 0xFFFF) % 0xFFFF).to_bytes(2, "big")
            l4_sum = l4_sums[i]
            if l4_sum == NONE:
                parts = [mac_prefix, dst, mac_prefix, src, tag, frame[12:24], ip_check, src, dst, frame[34:]]
            else:
                at = l4_ats[i]
                check = (0xFFFF - (l4_sum + addresses) % 0xFFFF) % 0xFFFF
                if check == 0 and frame[23] == PROTO_UDP:
                    check = 0xFFFF  # RFC 768: a computed 0 is sent as all ones (0 means "no checksum")
                parts = [mac_prefix, dst, mac_prefix, src, tag, frame[12:24], ip_check, src, dst, frame[34:at],
                         check.to_bytes(2, "big"), frame[at + 2 :]]
            frame = b"".join(parts)
            ip = 18 if tag else 14
            if (frame[ip + 6] & 0x1F) or frame[ip + 7]:
                key = None
            else:
                proto = frame[ip + 9]
                a, b = flow_tags(frame, proto, ip + (frame[ip] & 0x0F) * 4)
                key = make_key(proto, src + a, dst + b)
        if tag:
            orig += 4
        head = record(ts // scale, ts % scale, len(frame), orig)
        write(head)
        write(frame)
        stats.count(ts, orig, tag, src, dst, key)
        if small is not None and orig < below:
            small.write(head)
            small.write(frame)
            small_stats.count(ts, orig, tag, src, dst, key)
    out.close()
    if small is not None:
        small.close()
    print(
        f"{n} copies of {args.base}, each shifted {shift / scale:.3f} s after the one before, "
        f"{sum(1 for t in tags if t)} tagged; {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    print_summary(args.out, stats.summary())
    if small is not None:
        print_summary(args.small, small_stats.summary())


def stats_only(paths):
    for path in paths:
        s = Stats()
        for ts, orig, frame in records(path):
            s.add(ts, orig, frame)
        print_summary(path, s.summary())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stats", action="store_true", help="only print the statistics of each FILE")
    p.add_argument("paths", nargs="+", metavar="FILE")
    p.add_argument("--copies", type=int, default=8)
    p.add_argument("--small", help="also write the frames shorter than --small-below bytes here")
    p.add_argument("--small-below", type=int, default=128)
    p.add_argument("--spread", type=float, default=0.5, help="copy starts spread over this share of the base")
    p.add_argument("--vlan-every", type=int, default=4, help="every Nth copy is 802.1Q-tagged (0: none)")
    args = p.parse_args()
    if args.stats:
        stats_only(args.paths)
        return
    if len(args.paths) != 2:
        p.error("give BASE.pcap and OUT.pcap (or --stats FILE...)")
    args.base, args.out = args.paths
    if args.copies < 1 or args.copies > 64:
        p.error("--copies must be 1 to 64")
    if not 0 <= args.spread < 1:
        p.error("--spread must be at least 0 and less than 1 (copies must overlap)")
    if args.vlan_every <= 0:
        args.vlan_every = args.copies + 1  # never
    build(args)


if __name__ == "__main__":
    main()
