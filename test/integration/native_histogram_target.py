#!/usr/bin/env python3
"""A scrape target serving one native histogram (and a counter with an exemplar) in the
delimited protobuf exposition format, encoded here from the wire-format spec.

usage: native_histogram_target.py <port-file> <accept-log>
Binds 127.0.0.1 on a free port, writes the port to <port-file>, appends each request's Accept
header to <accept-log>. Prints the expected histogram_quantile(0.9) on stdout first.
"""
import http.server
import struct
import sys
import time

# The served histogram: schema 0 (bucket i covers (2^(i-1), 2^i]), zero bucket of width 0.001
# with 1 observation, positive buckets 1..5.
SCHEMA = 0
ZERO_THRESHOLD = 0.001
ZERO_COUNT = 1
OFFSET = 1
COUNTS = [3, 5, 10, 7, 2]
SUM = 150.5
COUNT = ZERO_COUNT + sum(COUNTS)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def tag(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return tag(field, 0) + varint(v)


def f_sint(field, v):
    return tag(field, 0) + varint(zigzag(v) & 0xFFFFFFFFFFFFFFFF)


def f_double(field, v):
    return tag(field, 1) + struct.pack("<d", v)


def f_bytes(field, b):
    return tag(field, 2) + varint(len(b)) + b


def label(name, value):
    return f_bytes(1, f_bytes(1, name.encode()) + f_bytes(2, value.encode()))


def histogram(now_ms):
    h = f_varint(1, COUNT) + f_double(2, SUM) + f_sint(5, SCHEMA)
    h += f_double(6, ZERO_THRESHOLD) + f_varint(7, ZERO_COUNT)
    h += f_bytes(12, f_sint(1, OFFSET) + f_varint(2, len(COUNTS)))
    prev = 0
    deltas = b""
    for c in COUNTS:
        deltas += varint(zigzag(c - prev))
        prev = c
    h += f_bytes(13, deltas)  # packed sint64
    # One exemplar, stamped with the time of the request (Timestamp: seconds, nanos).
    h += f_bytes(16, label("trace_id", "abc123") + f_double(2, 12.0) +
                 f_bytes(3, f_varint(1, now_ms // 1000) + f_varint(2, now_ms % 1000 * 1000000)))
    return h


def family(name, help_text, mtype, metrics):
    f = f_bytes(1, name.encode()) + f_bytes(2, help_text.encode()) + f_varint(3, mtype)
    for m in metrics:
        f += f_bytes(4, m)
    return varint(len(f)) + f


def body(now_ms):
    hist_metric = label("path", "/api") + f_bytes(7, histogram(now_ms))
    counter_metric = label("path", "/api") + f_bytes(3, f_double(1, 42.0))
    return (family("request_duration_seconds", "Request latency.", 4, [hist_metric]) +
            family("requests_total", "Requests.", 0, [counter_metric]))


def expected_quantile(q):
    """histogram_quantile as Prometheus 2.42 computes it for a native histogram: walk the
    buckets in order (zero bucket first here), then interpolate linearly in the bucket that
    reaches the rank; the zero bucket's lower bound is 0 when there are no negative buckets."""
    buckets = [(0.0, ZERO_THRESHOLD, ZERO_COUNT)]
    for i, c in enumerate(COUNTS):
        idx = OFFSET + i
        base = 2.0 ** (2.0 ** -SCHEMA)
        buckets.append((base ** (idx - 1), base ** idx, c))
    rank = q * COUNT
    count = 0.0
    for lower, upper, c in buckets:
        count += c
        if count >= rank:
            break
    rank -= count - c
    return lower + (upper - lower) * (rank / c)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        payload = body(int(time.time() * 1000))
        with open(sys.argv[2], "a") as log:
            log.write(self.headers.get("Accept", "") + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.google.protobuf; "
                         "proto=io.prometheus.client.MetricFamily; encoding=delimited")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(repr(expected_quantile(0.9)), flush=True)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
