// Remote-write request encoding (remotewrite/encoder.h) of kube-state-metrics-shaped series:
// one request of max_samples_per_send (2000) samples, labels encoded once per series and cached
// (as the queue does per series ref), then snappy.
//   Request         AddSample x2000 + SnappyCompress; ns/sample, bytes/sample (raw, snappy).
//   EncodeLabels    the per-series cost paid once when a series is first sent.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/ksm_payload.h"
#include "remotewrite/encoder.h"
#include "scrape/parser.h"

namespace petrel::bench {
namespace {

constexpr int kPerRequest = 2000;

const std::vector<Labels>& KsmLabels() {
  static const std::vector<Labels> labels = [] {
    std::string body = KubeStateMetricsPayload(10000);
    std::vector<Labels> out;
    auto p = scrape::NewTextParser(body);
    LabelsBuilder b;
    for (auto e = p->Next(); e.ok() && *e != scrape::EntryType::kEof; e = p->Next()) {
      if (*e != scrape::EntryType::kSample) continue;
      b.Clear();
      p->AddLabels(b);
      b.Set("job", "kube-state-metrics");
      b.Set("instance", "10.0.3.17:8080");
      out.push_back(b.Build());
    }
    return out;
  }();
  return labels;
}

void BM_RemoteWriteRequest(benchmark::State& state) {
  const std::vector<Labels>& all = KsmLabels();
  std::vector<std::string> encoded(all.size());
  for (size_t i = 0; i < all.size(); ++i) remotewrite::EncodeLabels(all[i], &encoded[i]);
  remotewrite::RequestEncoder enc;
  std::string compressed;
  size_t offset = 0, raw_bytes = 0, snappy_bytes = 0;
  int64_t t = 1700000000000;
  for (auto _ : state) {
    enc.Reset();
    t += 15000;
    for (int i = 0; i < kPerRequest; ++i) {
      size_t k = (offset + i) % encoded.size();
      enc.AddSample(encoded[k], t, static_cast<double>(k % 7));
    }
    offset = (offset + kPerRequest) % encoded.size();
    remotewrite::SnappyCompress(enc.bytes(), &compressed);
    raw_bytes = enc.bytes().size();
    snappy_bytes = compressed.size();
    benchmark::DoNotOptimize(compressed.data());
  }
  state.counters["ns/sample"] =
      benchmark::Counter(kPerRequest * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                 benchmark::Counter::kInvert);
  state.counters["raw_B/sample"] = static_cast<double>(raw_bytes) / kPerRequest;
  state.counters["snappy_B/sample"] = static_cast<double>(snappy_bytes) / kPerRequest;
}
BENCHMARK(BM_RemoteWriteRequest);

void BM_RemoteWriteEncodeLabels(benchmark::State& state) {
  const std::vector<Labels>& all = KsmLabels();
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    remotewrite::EncodeLabels(all[i], &out);
    benchmark::DoNotOptimize(out.data());
    i = (i + 1) % all.size();
  }
}
BENCHMARK(BM_RemoteWriteEncodeLabels);

}  // namespace
}  // namespace petrel::bench
