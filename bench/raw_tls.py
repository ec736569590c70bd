#!/usr/bin/env python3
"""raw_tls.py PKI_DIR SENSOR BYTES: raw TLS throughput on 127.0.0.1 with Wirewatch's certificates.

A server thread (the collector's certificate, client certificate required against the CA) reads and discards;
the client (the sensor's certificate) sends BYTES in 1 MiB writes. Prints MB/s of application data, measured
from the first byte sent to the last byte received. This is the ceiling any protocol on this link can reach.
"""
import socket
import ssl
import sys
import threading
import time

pki, sensor, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(f"{pki}/collector.pem", f"{pki}/collector-key.pem")
server_ctx.load_verify_locations(f"{pki}/ca.pem")
server_ctx.verify_mode = ssl.CERT_REQUIRED
client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client_ctx.load_cert_chain(f"{pki}/sensors/{sensor}.pem", f"{pki}/sensors/{sensor}-key.pem")
client_ctx.load_verify_locations(f"{pki}/ca.pem")

listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]
done = {}


def serve() -> None:
    conn, _ = listener.accept()
    with server_ctx.wrap_socket(conn, server_side=True) as tls:
        buffer = bytearray(1 << 20)
        received = 0
        while received < total:
            n = tls.recv_into(buffer)
            if n == 0:
                break
            received += n
        done["end"] = time.perf_counter()
        done["received"] = received


thread = threading.Thread(target=serve)
thread.start()
with socket.create_connection(("127.0.0.1", port)) as raw:
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        chunk = b"\0" * (1 << 20)
        start = time.perf_counter()
        sent = 0
        while sent < total:
            tls.sendall(chunk)
            sent += len(chunk)
        thread.join()
print(f"{done['received'] / (done['end'] - start) / 1e6:.0f} MB/s raw TLS ({ssl.OPENSSL_VERSION}, "
      f"{done['received']} bytes)")
