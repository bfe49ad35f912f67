#!/usr/bin/env python3
"""A Kubernetes API server whose framing has the wrong JSON types where the kubernetes
discoverer reads it outside the object decoders: a pod list whose metadata.continue and
metadata.resourceVersion are numbers, and a watch stream with one ERROR event whose code is a
string and whose message is a number. Counts list and watch requests in <stats file> (JSON).
Binds 127.0.0.1 on a free port, written to <port file>. Stops on SIGTERM.

  k8s_bad_api.py <port file> <stats file>
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()  # guards stats
stats = {"list": 0, "watch": 0}

LIST = {"kind": "PodList", "apiVersion": "v1",
        "metadata": {"resourceVersion": 48260, "continue": 7}, "items": []}
ERROR = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "code": "410", "message": 12, "reason": "Expired"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        watch = "watch=" in self.path
        with lock:
            stats["watch" if watch else "list"] += 1
            with open(sys.argv[2] + ".tmp", "w") as f:
                json.dump(stats, f)
            os.rename(sys.argv[2] + ".tmp", sys.argv[2])
        body = (json.dumps(ERROR) + "\n" if watch else json.dumps(LIST)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
