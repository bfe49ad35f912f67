#!/usr/bin/env python3
"""Scrape targets that misbehave, one path each, on 127.0.0.1 (a free port, written to
<port file>). Stops on SIGTERM.
  /hang          reads the request and never answers (the connection stays open)
  /garbage       200 with a body that is no exposition format
  /huge          200 with 100 MiB of valid metric lines, close-delimited (no Content-Length,
                 so only a body size limit can stop a reader)
  /churn/<n>     200 with n series whose names change on every scrape of that path
Counts what it served in <stats file> (JSON: requests per path, bytes sent by /huge).

  bad_targets.py <port file> <stats file>
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE_BYTES = 100 << 20
LINE = b"huge_metric_with_a_longish_name{shard=\"%07d\",zone=\"edge-eu-west-1\"} 1\n"
CHUNK = b"".join(LINE % i for i in range(16384))  # about 1.2 MiB

lock = threading.Lock()  # guards stats and churn
stats = {"requests": {}, "huge_bytes_sent": 0}
churn = {}


def save():
    with open(sys.argv[2] + ".tmp", "w") as f:
        json.dump(stats, f)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        kind = self.path.split("/")[1]
        with lock:
            stats["requests"][kind] = stats["requests"].get(kind, 0) + 1
            save()
        if kind == "hang":
            # Never answer; the scraper's timeout closes the connection.
            while self.rfile.read(1):
                pass
            self.close_connection = True
        elif kind == "garbage":
            self.send_body(b"<html><body>this is { not metrics ]]\n\x7f\x01\xff 42 x y z\n\x00")
        elif kind == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            try:
                while sent < HUGE_BYTES:
                    part = CHUNK[:HUGE_BYTES - sent]
                    self.wfile.write(part)
                    sent += len(part)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the reader hit its limit
            with lock:
                stats["huge_bytes_sent"] += sent
                save()
            self.close_connection = True
        elif kind == "churn":
            n = int(self.path.split("/")[2])
            with lock:
                gen = churn.get(n, 0)
                churn[n] = gen + 1
            body = "".join("churn_g%d_s%d{n=\"%d\"} %d\n" % (gen, i, n, i) for i in range(n))
            self.send_body(body.encode())
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def send_body(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


server = Server(("127.0.0.1", 0), Handler)
with lock:
    save()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
