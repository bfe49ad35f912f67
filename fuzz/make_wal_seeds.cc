// Writes the wal_reader fuzzer's seeds into argv[1]: real segments from SegmentWriter (series
// and samples records, raw and snappy, one record spanning pages; histogram and exemplar
// records), each prefixed with the
// fuzzer's mode byte 0x03 (fix checksums after mutating; replay too), and without the zero
// padding of the last page (the strict reader implies it; smaller seeds fuzz faster).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "test/support/mem_fs.h"
#include "wal/records.h"
#include "wal/segment_writer.h"

using namespace petrel;  // NOLINT

namespace {

std::vector<std::string> Records(int series, int samples_per_series) {
  std::vector<wal::RefSeries> s;
  std::vector<wal::RefSample> x;
  for (int i = 0; i < series; ++i) {
    s.push_back(
        {static_cast<wal::SeriesRef>(i + 1), Labels{{"__name__", "kube_pod_status_phase"},
                                                    {"namespace", "ns-" + std::to_string(i % 7)},
                                                    {"pod", "pod-" + std::to_string(i)},
                                                    {"phase", i % 2 ? "Running" : "Pending"}}});
    for (int j = 0; j < samples_per_series; ++j) {
      x.push_back({static_cast<wal::SeriesRef>(i + 1), 1700000000000 + j * 15000, i * 0.5 + j});
    }
  }
  std::vector<std::string> out(2);
  wal::EncodeSeries(s, &out[0]);
  wal::EncodeSamples(x, &out[1]);
  return out;
}

// One series with an integer, a float and a custom-buckets histogram sample and an exemplar:
// records 7, 8, 10 and 4 after the series record.
std::vector<std::string> NativeRecords() {
  std::vector<wal::RefSeries> s = {{1, Labels{{"__name__", "rpc_seconds"}, {"job", "api"}}}};
  Histogram h;
  h.schema = 3;
  h.zero_threshold = 1e-128;
  h.zero_count = 1;
  h.count = 6;
  h.sum = 2.5;
  h.positive_spans = {{0, 2}, {3, 1}};
  h.positive_buckets = {2, -1, 1};
  h.negative_spans = {{-2, 1}};
  h.negative_buckets = {1};
  FloatHistogram f;
  f.hint = CounterResetHint::kGauge;
  f.schema = -1;
  f.count = 3.5;
  f.zero_count = 0.5;
  f.positive_spans = {{1, 2}};
  f.positive_buckets = {1, 2};
  FloatHistogram c;
  c.schema = kCustomBucketsSchema;
  c.count = 2;
  c.positive_spans = {{0, 2}};
  c.positive_buckets = {1, 1};
  c.custom_values = {0.25, 1};
  std::vector<wal::RefHistogramSample> hs = {{1, 1700000000000, h}};
  std::vector<wal::RefFloatHistogramSample> fs = {{1, 1700000015000, f}};
  std::vector<wal::RefFloatHistogramSample> cs = {{1, 1700000030000, c}};
  std::vector<wal::RefExemplar> ex = {{1, 1700000000000, 0.5, Labels{{"trace_id", "abc"}}}};
  std::vector<std::string> out(5);
  wal::EncodeSeries(s, &out[0]);
  wal::EncodeHistogramSamples(hs, &out[1]);
  wal::EncodeFloatHistogramSamples(fs, &out[2]);
  wal::EncodeFloatHistogramSamples(cs, &out[3]);
  wal::EncodeExemplars(ex, &out[4]);
  return out;
}

bool Write(const std::string& dir, const std::string& name, wal::Compression c, int series,
           int samples, bool native = false) {
  MemFs fs;
  if (!fs.MkdirAll("/w").ok()) return false;
  auto w =
      wal::SegmentWriter::Create(fs, "/w", 0, {.segment_bytes = 1 << 20, .compression = c}, {});
  if (!w.ok()) return false;
  for (const std::string& rec : native ? NativeRecords() : Records(series, samples)) {
    if (!(*w)->Log(rec).ok()) return false;
  }
  // A torn-free tail; the fuzzer cuts and flips on its own.
  if (!(*w)->Close().ok()) return false;
  std::string seg = fs.Contents("/w/00000000");
  seg.erase(seg.find_last_not_of('\0') + 1);
  std::ofstream(dir + "/" + name, std::ios::binary) << '\x03' << seg;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_wal_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  bool ok = Write(dir, "small_raw", wal::Compression::kNone, 3, 2) &&
            Write(dir, "small_snappy", wal::Compression::kSnappy, 20, 3) &&
            Write(dir, "spans_pages", wal::Compression::kNone, 500, 2) &&
            Write(dir, "native_raw", wal::Compression::kNone, 0, 0, /*native=*/true);
  return ok ? 0 : 1;
}
