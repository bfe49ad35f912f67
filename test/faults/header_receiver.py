#!/usr/bin/env python3
"""A remote-write receiver that only records what arrives: for every POST one JSON line in the
log file with the path, the request headers and the body size; answers 204. Binds 127.0.0.1 on
a free port and writes the port to <port file>. Stops on SIGTERM.

  header_receiver.py <port file> <log file>
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                "bytes": n}) + "\n")
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
