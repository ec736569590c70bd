#!/usr/bin/env python3
"""Small struct-based pcap (libpcap "classic" format) helper for make-fixtures.sh.

It never synthesises traffic: every sub-command either re-wraps the packets of a
real capture in another link layer (keeping the IP packet bytes and the
timestamps identical) or damages a copy of a real file in one documented way.

Sub-commands:
  relink MODE SRC OUT   MODE is one of
                          vlan  Ethernet + one 802.1Q tag (TPID 0x8100, VID 100)
                          qinq  Ethernet + 802.1ad outer tag (TPID 0x88a8, VID 200)
                                + 802.1Q inner tag (TPID 0x8100, VID 100)
                          raw   LINKTYPE_RAW (101): the bare IPv4/IPv6 packet
                          null  LINKTYPE_NULL (0): 4-byte AF header in the
                                file's (little-endian, host) byte order;
                                AF_INET = 2; IPv6 packets cycle through the
                                AF_INET6 values 24 (NetBSD/OpenBSD/BSD/OS),
                                28 (FreeBSD), 30 (macOS/iOS) so every value
                                appears. Linux's AF_INET6 (10) is NOT used:
                                the tcpdump.org LINKTYPE_NULL definition lists
                                only 24/28/30, and Wireshark/tshark decode a
                                10 as unknown "data", not IPv6.
                        SRC must be an Ethernet (LINKTYPE 1) pcap whose frames
                        carry IPv4 or IPv6 directly (no existing tags).
  concat OUT SRC...     concatenate pcaps with the same link type / precision.
  cutoffset SRC         print the byte offset half-way into the last record's
                        packet data (for `head -c`).
  badmagic SRC OUT      copy SRC with its magic number replaced by 0xDEADBEEF.
  randombytes OUT N     N deterministic pseudo-random bytes (seeded), checked
                        not to start with any pcap/pcapng magic.
  sameip SRC DERIVED    check that DERIVED (any link type above) carries the
                        same IP packets with the same timestamps as SRC.
  info FILE...          print link type, precision and packet count.
"""
import random
import struct
import sys

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8
AF_INET = 2
AF_INET6_VALUES = (24, 28, 30)


class Pcap:
    def __init__(self, endian, magic, version, thiszone, sigfigs, snaplen, linktype, records):
        self.endian = endian          # '<' or '>'
        self.magic = magic            # as read in self.endian order
        self.version = version
        self.thiszone = thiszone
        self.sigfigs = sigfigs
        self.snaplen = snaplen
        self.linktype = linktype
        self.records = records        # list of (ts_sec, ts_frac, orig_len, data)


def read_pcap(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 24:
        raise SystemExit(f"{path}: too short for a pcap header")
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "I", blob, 0)
        if magic in (MAGIC_USEC, MAGIC_NSEC):
            break
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    vmaj, vmin, thiszone, sigfigs, snaplen, linktype = struct.unpack_from(endian + "HHiIII", blob, 4)
    records = []
    off = 24
    while off + 16 <= len(blob):
        ts_sec, ts_frac, incl, orig = struct.unpack_from(endian + "IIII", blob, off)
        data = blob[off + 16: off + 16 + incl]
        if len(data) != incl:
            raise SystemExit(f"{path}: truncated record at offset {off}")
        records.append((ts_sec, ts_frac, orig, data))
        off += 16 + incl
    if off != len(blob):
        raise SystemExit(f"{path}: {len(blob) - off} trailing bytes")
    return Pcap(endian, magic, (vmaj, vmin), thiszone, sigfigs, snaplen, linktype, records)


def write_pcap(path, p, linktype=None, snaplen=None):
    e = p.endian
    out = bytearray()
    out += struct.pack(e + "IHHiIII", p.magic, p.version[0], p.version[1], p.thiszone,
                       p.sigfigs, p.snaplen if snaplen is None else snaplen,
                       p.linktype if linktype is None else linktype)
    for ts_sec, ts_frac, orig, data in p.records:
        out += struct.pack(e + "IIII", ts_sec, ts_frac, len(data), orig)
        out += data
    with open(path, "wb") as f:
        f.write(out)


def split_ethernet(frame):
    if len(frame) < 14:
        raise SystemExit("frame shorter than an Ethernet header")
    (ethertype,) = struct.unpack_from(">H", frame, 12)
    if ethertype not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        raise SystemExit(f"unexpected ethertype 0x{ethertype:04x} (source must be untagged IP)")
    return frame[:12], ethertype, frame[14:]


def tci(vid, pcp=0, dei=0):
    return (pcp << 13) | (dei << 12) | vid


def relink(mode, src, out):
    p = read_pcap(src)
    if p.linktype != LINKTYPE_ETHERNET:
        raise SystemExit(f"{src}: link type {p.linktype}, expected Ethernet (1)")
    e = p.endian
    new = []
    v6_index = 0
    for ts_sec, ts_frac, orig, data in p.records:
        macs, ethertype, ip = split_ethernet(data)
        if mode == "vlan":
            extra = struct.pack(">HH", TPID_8021Q, tci(100))
            frame = macs + extra + struct.pack(">H", ethertype) + ip
            delta = len(extra)
        elif mode == "qinq":
            extra = struct.pack(">HHHH", TPID_8021AD, tci(200), TPID_8021Q, tci(100))
            frame = macs + extra + struct.pack(">H", ethertype) + ip
            delta = len(extra)
        elif mode == "raw":
            frame = ip
            delta = -14
        elif mode == "null":
            if ethertype == ETHERTYPE_IPV4:
                af = AF_INET
            else:
                af = AF_INET6_VALUES[v6_index % len(AF_INET6_VALUES)]
                v6_index += 1
            # DLT_NULL: the AF value is in the byte order of the host that wrote
            # the file, which is the byte order of the file header.
            frame = struct.pack(e + "I", af) + ip
            delta = 4 - 14
        else:
            raise SystemExit(f"unknown mode {mode}")
        new.append((ts_sec, ts_frac, orig + delta, frame))
    linktype = {"vlan": LINKTYPE_ETHERNET, "qinq": LINKTYPE_ETHERNET,
                "raw": LINKTYPE_RAW, "null": LINKTYPE_NULL}[mode]
    p.records = new
    write_pcap(out, p, linktype=linktype)


def concat(out, srcs):
    first = None
    records = []
    for s in srcs:
        p = read_pcap(s)
        if first is None:
            first = p
        elif (p.linktype, p.magic, p.endian) != (first.linktype, first.magic, first.endian):
            raise SystemExit(f"{s}: link type / precision differs from {srcs[0]}")
        records += p.records
    first.records = records
    write_pcap(out, first, snaplen=max(read_pcap(s).snaplen for s in srcs))


def cutoffset(src):
    p = read_pcap(src)
    if not p.records:
        raise SystemExit(f"{src}: no records")
    total = 24 + sum(16 + len(r[3]) for r in p.records)
    last_len = len(p.records[-1][3])
    # Keep the 16-byte record header and half of the packet bytes.
    print(total - last_len + last_len // 2)


def badmagic(src, out):
    with open(src, "rb") as f:
        blob = bytearray(f.read())
    blob[0:4] = struct.pack("<I", 0xDEADBEEF)
    with open(out, "wb") as f:
        f.write(blob)


def randombytes(out, n):
    rng = random.Random(0x57495245)  # "WIRE"
    data = bytes(rng.getrandbits(8) for _ in range(n))
    known = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
             b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"}
    if data[:4] in known:
        raise SystemExit("seeded bytes start with a capture magic; change the seed")
    with open(out, "wb") as f:
        f.write(data)


def ip_bytes(linktype, frame, endian):
    if linktype == LINKTYPE_RAW:
        return frame
    if linktype == LINKTYPE_NULL:
        (af,) = struct.unpack_from(endian + "I", frame, 0)
        if af != AF_INET and af not in AF_INET6_VALUES:
            raise SystemExit(f"unexpected AF value {af}")
        return frame[4:]
    if linktype == LINKTYPE_ETHERNET:
        off = 12
        while True:
            (t,) = struct.unpack_from(">H", frame, off)
            if t in (TPID_8021Q, TPID_8021AD):
                off += 4
                continue
            if t not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
                raise SystemExit(f"unexpected ethertype 0x{t:04x}")
            return frame[off + 2:]
    raise SystemExit(f"unsupported link type {linktype}")


def sameip(src, derived):
    a, b = read_pcap(src), read_pcap(derived)
    if len(a.records) != len(b.records):
        raise SystemExit(f"{derived}: {len(b.records)} packets, {src} has {len(a.records)}")
    for i, (ra, rb) in enumerate(zip(a.records, b.records), start=1):
        if ra[:2] != rb[:2]:
            raise SystemExit(f"{derived}: packet {i} timestamp differs")
        if ip_bytes(a.linktype, ra[3], a.endian) != ip_bytes(b.linktype, rb[3], b.endian):
            raise SystemExit(f"{derived}: packet {i} IP bytes differ")
        if ra[2] - len(ra[3]) != rb[2] - len(rb[3]):
            raise SystemExit(f"{derived}: packet {i} original length not shifted consistently")
    print(f"{derived}: {len(b.records)} packets, IP bytes and timestamps identical to {src}")


def info(paths):
    for path in paths:
        p = read_pcap(path)
        prec = "nsec" if p.magic == MAGIC_NSEC else "usec"
        print(f"{path}\tlinktype={p.linktype}\t{prec}\tsnaplen={p.snaplen}\tpackets={len(p.records)}")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "relink" and len(argv) == 5:
        relink(argv[2], argv[3], argv[4])
    elif cmd == "concat" and len(argv) >= 4:
        concat(argv[2], argv[3:])
    elif cmd == "cutoffset" and len(argv) == 3:
        cutoffset(argv[2])
    elif cmd == "badmagic" and len(argv) == 4:
        badmagic(argv[2], argv[3])
    elif cmd == "randombytes" and len(argv) == 4:
        randombytes(argv[2], int(argv[3]))
    elif cmd == "sameip" and len(argv) == 4:
        sameip(argv[2], argv[3])
    elif cmd == "info":
        info(argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
