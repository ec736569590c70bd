#!/usr/bin/env python3
"""big-frames.py COLLECTOR PKI_DIR SENSORS CONNECTIONS FRAMES RECORDS [OPTION ...]: the collector's peak memory
under big frames.

Starts COLLECTOR (a wirewatch-collector binary, with the OPTIONs) on 127.0.0.1 with a fresh database, then opens
CONNECTIONS mutual-TLS connections, the i-th as the i-th of the comma-separated SENSORS (round robin; one session per
sensor name), each sending Hello and then FRAMES batch frames of RECORDS small
flow records each, as fast as the collector reads them, and waits for every Ack. Prints the collector's peak
resident memory (VmHWM), the frame size and the time taken: what the collector's in-flight byte budgets bound.
"""
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

collector, pki, sensors = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
connections, frames, records = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
extra = sys.argv[7:]


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def number(number_: int, value: int) -> bytes:
    return varint(number_ << 3) + varint(value)


def flow(index: int) -> bytes:
    conn = field(1, bytes([10, 0, index >> 8 & 255, index & 255])) + number(2, 40000 + index % 20000)
    conn += field(3, bytes([10, 1, 0, 1])) + number(4, 443)
    return number(1, 1_700_000_000_000_000 + index) + field(2, b"C%015d" % index) + field(3, conn) + number(4, 6)


body = b"".join(field(2, flow(i)) for i in range(records))


def batch_frame(sequence: int) -> bytes:
    envelope = field(3, number(1, sequence) + body)
    return struct.pack(">I", len(envelope)) + envelope


def hello_frame(sensor: str) -> bytes:
    hello = number(1, 1) + field(2, sensor.encode()) + field(3, os.urandom(16))
    envelope = field(1, hello)
    return struct.pack(">I", len(envelope)) + envelope


def read_frame(tls: ssl.SSLSocket) -> bytes:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = tls.recv(count - len(data))
            if not chunk:
                raise EOFError("collector closed the connection")
            data += chunk
        return data

    (length,) = struct.unpack(">I", exactly(4))
    return exactly(length)


work = tempfile.mkdtemp()
process = subprocess.Popen(
    [collector, "--listen", "127.0.0.1:0", "--tls-ca", f"{pki}/ca.pem", "--tls-cert", f"{pki}/collector.pem",
     "--tls-key", f"{pki}/collector-key.pem", "--db", f"{work}/big.db", "--durability", "normal",
     "--alerts", "none", *extra],
    stdout=subprocess.PIPE, stderr=open(f"{work}/collector.log", "w"), text=True)
port = int(re.search(r":(\d+)$", process.stdout.readline().strip()).group(1))
errors = []


def run(sensor: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(f"{pki}/sensors/{sensor}.pem", f"{pki}/sensors/{sensor}-key.pem")
    context.load_verify_locations(f"{pki}/ca.pem")
    try:
        with context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as tls:
            tls.sendall(hello_frame(sensor))
            read_frame(tls)  # HelloAck
            sender = threading.Thread(target=lambda: [tls.sendall(batch_frame(s)) for s in range(1, frames + 1)])
            sender.start()
            acked = 0
            while acked < frames:
                envelope = read_frame(tls)
                if envelope[:1] == b"\x32":  # Error
                    raise RuntimeError(f"collector refused: {envelope!r}"[:200])
                if envelope[:1] == b"\x22":  # Ack
                    acked += 1
            sender.join()
    except Exception as error:  # noqa: BLE001 - reported below
        errors.append(str(error))


started = time.monotonic()
threads = [threading.Thread(target=run, args=(sensors[i % len(sensors)],)) for i in range(connections)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
seconds = time.monotonic() - started
peak = re.search(r"VmHWM:\s+(\d+) kB", open(f"/proc/{process.pid}/status").read()).group(1)
process.terminate()
process.wait()
print(f"{connections} connections x {frames} frames of {records} records ({len(batch_frame(1)) / 2**20:.1f} MiB each):"
      f" collector peak RSS {int(peak) // 1024} MiB, {seconds:.1f} s, errors: {errors or 'none'}")
