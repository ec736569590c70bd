#!/usr/bin/env python3
"""Run INSIDE the private network namespace that make-fixtures.sh creates
(its lo has MTU 1500). Sends real UDP datagrams through the kernel:

  * 3000-byte UDP datagram to 127.0.0.1:PORT -> the kernel emits IPv4 fragments
  * 3000-byte UDP datagram to [::1]:PORT     -> the kernel emits IPv6 packets
                                                with a Fragment extension header
  * 64-byte UDP datagram to [::1]:PORT with the IPV6_DSTOPTS sticky option set
    -> one IPv6 packet carrying a Destination Options extension header (PadN)

Listening sockets on both addresses receive everything, proving the kernel
reassembled the fragments; the script exits non-zero if anything is missing.
"""
import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 18099
BIG = 3000
SMALL = 64
# Linux <linux/in.h> / <linux/in6.h> values; Python's socket module lacks some.
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IPV6_MTU_DISCOVER = getattr(socket, "IPV6_MTU_DISCOVER", 23)
PMTUDISC_DONT = 0
IPV6_DSTOPTS = getattr(socket, "IPV6_DSTOPTS", 59)


def main():
    rx4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx4.bind(("127.0.0.1", PORT))
    rx6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    rx6.bind(("::1", PORT))
    for s in (rx4, rx6):
        s.settimeout(3)

    tx4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Let the kernel fragment locally (no DF bit).
    tx4.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_DONT)
    tx4.sendto(bytes((i * 7) & 0xFF for i in range(BIG)), ("127.0.0.1", PORT))

    tx6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    tx6.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, PMTUDISC_DONT)
    tx6.sendto(bytes((i * 11) & 0xFF for i in range(BIG)), ("::1", PORT))

    tx6o = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    # Destination Options header: next header (filled by kernel), length 0
    # (= 8 bytes), one PadN option (type 1) of 4 zero bytes.
    tx6o.setsockopt(socket.IPPROTO_IPV6, IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    tx6o.sendto(b"wirewatch-dstopts".ljust(SMALL, b"."), ("::1", PORT))

    got4, _ = rx4.recvfrom(65535)
    got6a, _ = rx6.recvfrom(65535)
    got6b, _ = rx6.recvfrom(65535)
    sizes = sorted([len(got6a), len(got6b)])
    print(f"received v4={len(got4)} v6={sizes}")
    if len(got4) != BIG or sizes != [SMALL, BIG]:
        sys.exit(1)


if __name__ == "__main__":
    main()
