#!/usr/bin/env python3
"""A fault-injecting remote-write proxy in front of a real receiver. Each request body seen for
the first time takes the next fault of the schedule (then every new body passes once the
schedule is used up); a body seen before (a retry) is always forwarded, so a fault hits each
batch at most once and the run makes progress. One JSON line per request in the log file:
  {"n", "t", "sha1", "bytes", "mode", "first", "upstream"}
The faults:
  ok             forward, answer with the receiver's status
  500            answer 500, forward nothing
  429            answer 429 with Retry-After: <retry-after> seconds, forward nothing
  400            forward the body to the drop receiver instead (so the test can count exactly
                 what was refused) and answer 400; a sender must not send it again
  slow           forward, then answer only after <slow> seconds (beyond remote_timeout)
  reset          read the request, forward nothing, close the connection with a TCP RST
  truncate       forward, then answer 200 with a body shorter than its Content-Length, close
  truncate_head  forward, then send half a status line and close
Binds 127.0.0.1 on a free port and writes it to <port file>. Stops on SIGTERM.

  fault_proxy.py <port file> <log file> <upstream url> <drop url> <schedule: mode,mode,...>
                 [--slow S] [--retry-after S]
"""
import argparse
import hashlib
import json
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = {"ok", "500", "429", "400", "slow", "reset", "truncate", "truncate_head"}
FORWARDED_HEADERS = ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version",
                     "User-Agent")

ap = argparse.ArgumentParser()
ap.add_argument("port_file")
ap.add_argument("log_file")
ap.add_argument("upstream")
ap.add_argument("drop")
ap.add_argument("schedule")
ap.add_argument("--slow", type=float, default=3.0)
ap.add_argument("--retry-after", type=int, default=2)
args = ap.parse_args()
schedule = [m for m in args.schedule.split(",") if m]
for m in schedule:
    if m not in MODES:
        raise SystemExit("fault_proxy: unknown mode %r in the schedule (known: %s)" %
                         (m, ", ".join(sorted(MODES))))

lock = threading.Lock()  # guards seen, next_fault, count and the log file
seen = set()
next_fault = 0
count = 0


def forward(url, body, headers):
    req = urllib.request.Request(url, data=body, method="POST")
    for h in FORWARDED_HEADERS:
        if headers.get(h):
            req.add_header(h, headers[h])
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global next_fault, count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        digest = hashlib.sha1(body).hexdigest()
        with lock:
            first = digest not in seen
            seen.add(digest)
            mode = "ok"
            if first and next_fault < len(schedule):
                mode = schedule[next_fault]
                next_fault += 1
            count += 1
            n = count
        upstream = None
        if mode in ("ok", "slow", "truncate", "truncate_head"):
            upstream, _ = forward(args.upstream, body, self.headers)
        elif mode == "400":
            upstream, _ = forward(args.drop, body, self.headers)
        # Logged before answering: once the sender sees the answer, the line is there.
        with lock, open(args.log_file, "a") as f:
            f.write(json.dumps({"n": n, "t": time.time(), "sha1": digest, "bytes": len(body),
                                "mode": mode, "first": first, "upstream": upstream}) + "\n")
        if mode in ("ok", "slow"):
            if mode == "slow":
                time.sleep(args.slow)
            self.answer(upstream if upstream else 502, b"")
        elif mode == "500":
            self.answer(500, b"injected server error\n")
        elif mode == "429":
            self.answer(429, b"injected rate limit\n", {"Retry-After": str(args.retry_after)})
        elif mode == "400":
            self.answer(400, b"injected bad request: this batch is refused\n")
        elif mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
        elif mode == "truncate":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            self.close_connection = True
        elif mode == "truncate_head":
            self.wfile.write(b"HTTP/1.1 2")
            self.close_connection = True

    def answer(self, status, body, headers=None):
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the sender gave up (slow): expected

    def log_message(self, *a):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a sender closing a slow connection is part of the test


server = Server(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
