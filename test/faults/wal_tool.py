#!/usr/bin/env python3
"""Reads and breaks a WAL segment file on its page/fragment layout (Prometheus's: 32 KiB pages;
a fragment is type (1 byte; 1 full, 2 first, 3 middle, 4 last; 0 padding to the page end),
length (2 bytes BE), CRC32C (4 bytes BE), then the payload; fewer than 7 bytes left in a page are
padding). For the corruption tests, which need to know where a record starts and ends without
trusting petrel's own reader.

  wal_tool.py records SEGMENT          one line per record: start end (byte offsets)
  wal_tool.py corrupt SEGMENT N        flips 8 payload bytes of the record nearest the middle of
                                       the segment (records are numbered from 0; N = -1 picks
                                       the middle one); prints: start_of_record prev_record_end
                                       flipped_offset
  wal_tool.py tear SEGMENT             cuts the file in the middle of its last record; prints:
                                       record_start prev_record_end new_size
"""
import os
import sys

PAGE = 32 * 1024
HEADER = 7


def records(data):
    """[(start, end, first_payload_offset, first_payload_len)] of the complete records."""
    out = []
    pos = 0
    start = None
    first_payload = None
    while pos + HEADER <= len(data):
        left = PAGE - pos % PAGE
        if left < HEADER:
            pos += left
            continue
        typ = data[pos] & 0x07
        if typ == 0:
            pos += left  # the rest of the page is padding
            continue
        n = data[pos + 1] << 8 | data[pos + 2]
        end = pos + HEADER + n
        if end > len(data):
            break  # a torn fragment: not a record
        if typ in (1, 2):
            start = pos
            first_payload = (pos + HEADER, n)
        if typ in (1, 4) and start is not None:
            out.append((start, end) + first_payload)
            start = None
        pos = end
    return out


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = f.read()
    recs = records(data)
    if cmd == "records":
        for r in recs:
            print(r[0], r[1])
        return 0
    if len(recs) < 2:
        raise SystemExit("wal_tool: %s holds %d records, need 2 or more" % (path, len(recs)))
    if cmd == "corrupt":
        i = int(sys.argv[3]) if len(sys.argv) > 3 else -1
        if i < 0:
            i = len(recs) // 2
        if i == 0 or i >= len(recs) - 1:
            raise SystemExit("wal_tool: record %d is not in the middle of %d" % (i, len(recs)))
        start, _, payload, n = recs[i]
        off = payload + min(n // 2, 16)
        flip = bytes(b ^ 0xFF for b in data[off:off + 8])
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(flip)
        print(start, recs[i - 1][1], off)
        return 0
    if cmd == "tear":
        start, end = recs[-1][0], recs[-1][1]
        cut = start + (end - start) // 2
        if cut <= start + HEADER:
            cut = start + HEADER + 1
        os.truncate(path, cut)
        print(start, recs[-2][1], cut)
        return 0
    raise SystemExit("wal_tool: unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main())
