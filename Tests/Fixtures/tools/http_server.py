#!/usr/bin/env python3
"""Python http.server (SimpleHTTPRequestHandler) speaking HTTP/1.1 with
keep-alive, plus a POST handler that reads the body and answers 201.

Used by make-fixtures.sh on loopback only:
  http_server.py --bind 127.0.0.1 --port 18080 --directory DIR
  http_server.py --bind ::1       --port 18086 --directory DIR
"""
import argparse
import functools
import http.server
import json
import socket


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: several requests per connection
    server_version = "WirewatchFixture/1.0"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(length) if length > 0 else b""
        reply = json.dumps({"path": self.path, "received_bytes": len(body)}).encode()
        self.send_response(201, "Created")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, fmt, *args):  # keep the generator's output quiet
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--directory", required=True)
    args = ap.parse_args()

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
        allow_reuse_address = True

    handler = functools.partial(Handler, directory=args.directory)
    with Server((args.bind, args.port), handler) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()
