#!/usr/bin/env python3
"""Exact sample accounting for the fault tests: what petrel's WAL holds (promtool tsdb dump)
against what a receiver holds (Prometheus query API, VictoriaMetrics export API).

A sample is (sorted label set, timestamp in ms). Stale markers (NaN) are left out on every side:
a receiver's query API never returns them.

  samples.py compare --dump F [--prom PORT | --vm PORT] [--job farm] [--drop-name REGEX]
                     [--range-s N] [--show N]
prints one line of counts as JSON: expected, received, missing, extra, duplicates (VM keeps
duplicates, Prometheus drops them), value_mismatch; and exits 0 when missing == extra ==
value_mismatch == duplicates == 0. With --refused-prom PORT (a receiver holding exactly the batches
the main receiver refused), the samples missing at the main receiver must be exactly those: it
adds refused, missing_not_refused and refused_not_missing, and passes when both are 0. With
--absent the dump holds samples that must NOT be at the receiver: passes when none is.
  samples.py dump --dump F [--job farm]   prints the number of non-stale samples in the dump.
  samples.py count --prom PORT [--job farm]  prints the number of samples the receiver holds
(count_over_time per metric name: cheap where the exact set would be millions of samples).
"""
import argparse
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request

LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def key(labels):
    return tuple(sorted(labels.items()))


def read_dump(path, job, drop_name, where):
    """promtool tsdb dump lines: {a="b", c="d"} <value> <timestamp ms>."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith("{"):
                continue
            close = line.rindex("}")
            labels = dict(LABEL.findall(line[1:close]))
            value, ts = line[close + 1:].split()
            if job and labels.get("job") != job:
                continue
            if any(labels.get(k) != v for k, v in where):
                continue
            if drop_name and re.fullmatch(drop_name, labels.get("__name__", "")):
                continue
            v = float(value)
            if math.isnan(v):
                continue
            out[(key(labels), int(ts))] = v
    return out


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read().decode()


def selector(job, where):
    return "{" + ",".join('%s="%s"' % kv for kv in [("job", job)] + where) + "}"


def read_prom(port, job, where, range_s, saved=None):
    if saved:
        with open(saved) as f:
            body = json.load(f)
    else:
        q = '%s[%ds]' % (selector(job, where), range_s)
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            port, urllib.parse.urlencode({"query": q, "time": "%.3f" % (time.time() + 1)}))
        body = json.loads(get(url))
    if body.get("status") != "success":
        raise SystemExit("prometheus query failed: %s" % body)
    out, dups = {}, 0
    for series in body["data"]["result"]:
        k = key(series["metric"])
        for ts, v in series.get("values", []):
            t = int(round(float(ts) * 1000))
            if (k, t) in out:
                dups += 1
            out[(k, t)] = float(v)
    return out, dups


def count_prom(port, job, range_s):
    base = "http://127.0.0.1:%d/api/v1/" % port
    names = json.loads(get(base + "label/__name__/values?" + urllib.parse.urlencode(
        {"match[]": '{job="%s"}' % job})))["data"]
    total = 0
    for name in names:
        q = 'sum(count_over_time({__name__="%s",job="%s"}[%ds]))' % (name, job, range_s)
        body = json.loads(get(base + "query?" + urllib.parse.urlencode(
            {"query": q, "time": "%.3f" % (time.time() + 1)})))
        if body.get("status") != "success":
            raise SystemExit("prometheus query failed: %s" % body)
        for r in body["data"]["result"]:
            total += int(float(r["value"][1]))
    return total


def read_vm(port, job, where):
    get("http://127.0.0.1:%d/internal/force_flush" % port)
    url = "http://127.0.0.1:%d/api/v1/export?%s" % (
        port, urllib.parse.urlencode({"match[]": selector(job, where), "reduce_mem_usage": "1"}))
    out, dups = {}, 0
    for line in get(url).splitlines():
        if not line.strip():
            continue
        series = json.loads(line)
        k = key(series["metric"])
        for t, v in zip(series["timestamps"], series["values"]):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if (k, t) in out:
                dups += 1
            out[(k, int(t))] = float(v)
    return out, dups


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["compare", "dump", "count"])
    ap.add_argument("--dump")
    ap.add_argument("--prom", type=int)
    ap.add_argument("--vm", type=int)
    ap.add_argument("--prom-json", help="a saved Prometheus query answer (matrix) instead")
    ap.add_argument("--job", default="farm")
    ap.add_argument("--drop-name", default="")
    ap.add_argument("--range-s", type=int, default=3600)
    ap.add_argument("--show", type=int, default=5)
    ap.add_argument("--where", action="append", default=[],
                    help="k=v: only series with this label, on both sides")
    ap.add_argument("--allow-extra", action="store_true")
    ap.add_argument("--absent", action="store_true",
                    help="the dump's samples must all be absent at the receiver")
    ap.add_argument("--refused-prom", type=int,
                    help="a Prometheus holding the refused batches: the documented loss")
    a = ap.parse_args()
    where = [tuple(w.split("=", 1)) for w in a.where]
    if a.cmd == "count":
        print(count_prom(a.prom, a.job, a.range_s))
        return 0
    want = read_dump(a.dump, a.job, a.drop_name, where)
    if a.cmd == "dump":
        print(len(want))
        return 0
    if a.prom or a.prom_json:
        got, dups = read_prom(a.prom, a.job, where, a.range_s, a.prom_json)
    else:
        got, dups = read_vm(a.vm, a.job, where)
    if a.absent:
        present = [k for k in want if k in got]
        print(json.dumps({"expected": len(want), "present": len(present)}))
        for k in sorted(present, key=lambda x: x[1])[: a.show]:
            print("  present: %s @%d" % (dict(k[0]), k[1]), file=sys.stderr)
        return 1 if present else 0
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    mismatch = [k for k in want if k in got and not (got[k] == want[k])]
    res = {"expected": len(want), "received": len(got), "missing": len(missing),
           "extra": len(extra), "duplicates": dups, "value_mismatch": len(mismatch),
           "series_expected": len({k for k, _ in want}), "series_received": len({k for k, _ in got})}
    lost_ok = False
    if a.refused_prom:
        refused, _ = read_prom(a.refused_prom, a.job, where, a.range_s)
        res["refused"] = len(refused)
        res["missing_not_refused"] = len(set(missing) - set(refused))
        res["refused_not_missing"] = len(set(refused) - set(missing))
        lost_ok = res["missing_not_refused"] == 0 and res["refused_not_missing"] == 0
    if missing:
        ts = sorted(t for _, t in missing)
        res["missing_ts_range_ms"] = [ts[0], ts[-1]]
    print(json.dumps(res))
    shown = [] if lost_ok else missing  # the refused samples are the expected loss
    for name, ks in (("missing", shown), ("extra", [] if a.allow_extra else extra),
                     ("value_mismatch", mismatch)):
        for k in sorted(ks, key=lambda x: x[1])[: a.show]:
            print("  %s: %s @%d" % (name, dict(k[0]), k[1]), file=sys.stderr)
    bad = (missing and not lost_ok) or mismatch or dups or (extra and not a.allow_extra)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
