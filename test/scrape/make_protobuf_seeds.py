#!/usr/bin/env python3
"""Writes seed payloads of the delimited protobuf exposition format to
test/scrape/protobuf_corpus/ (for a fuzzer of scrape::NewProtobufParser): every metric type,
native integer/float/gauge histograms, exemplars, packed and unpacked fields, and a few broken
ones. Encoded with the helpers of test/integration/native_histogram_target.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import native_histogram_target as t  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "protobuf_corpus")


def metric(*fields):
    return b"".join(fields)


def seeds():
    lbl = t.label("a", "b")
    ts = t.f_bytes(3, t.f_varint(1, 1700000000) + t.f_varint(2, 5))
    ex = t.f_bytes(2, t.label("trace_id", "x") + t.f_double(2, 1.5) + ts)
    yield "counter", t.family("c_total", "help", 0, [lbl + t.f_bytes(3, t.f_double(1, 3) + ex)])
    yield "gauge_ts", t.family("g", "", 1, [lbl + t.f_bytes(2, t.f_double(1, -1)) +
                                           t.f_varint(6, 1700000000123)])
    summary = t.f_varint(1, 4) + t.f_double(2, 2.5) + t.f_bytes(
        3, t.f_double(1, 0.5) + t.f_double(2, 0.1))
    yield "summary", t.family("s", "", 2, [t.f_bytes(4, summary)])
    yield "untyped", t.family("u", "", 3, [t.f_bytes(5, t.f_double(1, 7))])
    classic = t.f_varint(1, 3) + t.f_double(2, 1) + t.f_bytes(
        3, t.f_varint(1, 2) + t.f_double(2, 0.5) + t.f_bytes(3, t.label("trace_id", "y") +
                                                             t.f_double(2, 0.2)))
    yield "classic_histogram", t.family("h", "", 4, [t.f_bytes(7, classic)])
    yield "native_histogram", t.family("n", "", 4, [lbl + t.f_bytes(7, t.histogram(1700000000000))])
    yield "native_gauge_histogram", t.family("n", "", 5, [t.f_bytes(7, t.histogram(0))])
    fl = (t.f_double(4, 5.5) + t.f_double(2, 1) + t.f_sint(5, -2) + t.f_double(8, 0.5) +
          t.f_bytes(12, t.f_sint(1, 3) + t.f_varint(2, 2)) + t.f_double(14, 2) + t.f_double(14, 3))
    yield "float_histogram_unpacked", t.family("f", "", 4, [t.f_bytes(7, fl)])
    yield "target_body", t.body(1700000000000)
    yield "truncated", t.body(0)[:-3]
    yield "bad_spans", t.family("b", "", 4, [t.f_bytes(7, t.f_varint(1, 1) + t.f_bytes(
        12, t.f_sint(1, 0) + t.f_varint(2, 3)) + t.f_sint(13, 1))])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, payload in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(payload)


if __name__ == "__main__":
    main()
