// Exposition parsing: a real node_exporter 1.5.0 body (bench/data/node_exporter.txt) and a
// generated 10,000-series kube-state-metrics-shaped body.
//
//   Cold   first scrape: every sample is Next + AddLabels + Labels built (what a scrape with an
//          empty cache does).
//   Warm   steady state: Next + a lookup of Series() (raw bytes) in a hash map of the previous
//          scrape's series -> ref, with no label parsing; Value() read.
//   WarmScrapeLoopCache  the same lookup as scrape/scrape_loop.cc does it today:
//          std::unordered_map<std::string, ...>::try_emplace(std::string(Series())).
//   NextOnly  the parser's own floor: Next and Value only.
//
// Counters: MB/s (10^6 bytes of body per second), ns/sample, samples.
#include <absl/container/flat_hash_map.h>
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>

#include "bench/ksm_payload.h"
#include "scrape/parser.h"

namespace petrel::bench {
namespace {

using scrape::EntryType;

const std::string& NodeExporter() {
  static const std::string body = [] {
    std::ifstream in(PETREL_BENCH_DATA "/node_exporter.txt", std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    if (out.str().empty()) std::abort();
    return out.str();
  }();
  return body;
}

const std::string& Ksm() {
  static const std::string body = KubeStateMetricsPayload(10000);
  return body;
}

const std::string& KsmOpenMetrics() {
  static const std::string body = Ksm() + "# EOF\n";
  return body;
}

std::unique_ptr<scrape::Parser> NewParser(const std::string& body, bool openmetrics) {
  return openmetrics ? scrape::NewOpenMetricsParser(body, false) : scrape::NewTextParser(body);
}

void SetCounters(benchmark::State& state, size_t bytes, int64_t samples) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ns/sample"] = benchmark::Counter(
      static_cast<double>(samples) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["samples"] = static_cast<double>(samples);
}

void Cold(benchmark::State& state, const std::string& body, bool openmetrics) {
  int64_t samples = 0;
  LabelsBuilder b;
  for (auto _ : state) {
    samples = 0;
    auto p = NewParser(body, openmetrics);
    for (;;) {
      auto e = p->Next();
      if (!e.ok()) {
        state.SkipWithError(e.status().message().c_str());
        return;
      }
      if (*e == EntryType::kEof) break;
      if (*e != EntryType::kSample) continue;
      ++samples;
      b.Clear();
      p->AddLabels(b);
      Labels labels = b.Build();
      benchmark::DoNotOptimize(labels);
      benchmark::DoNotOptimize(p->Value());
      benchmark::DoNotOptimize(p->Timestamp());
    }
  }
  SetCounters(state, body.size(), samples);
}

// Fills map with Series() -> ref for every sample of body.
template <typename Map>
void Prime(const std::string& body, bool openmetrics, Map& map) {
  auto p = NewParser(body, openmetrics);
  uint64_t ref = 0;
  for (auto e = p->Next(); e.ok() && *e != EntryType::kEof; e = p->Next()) {
    if (*e == EntryType::kSample) map.emplace(std::string(p->Series()), ++ref);
  }
}

void Warm(benchmark::State& state, const std::string& body, bool openmetrics) {
  absl::flat_hash_map<std::string, uint64_t> cache;
  Prime(body, openmetrics, cache);
  int64_t samples = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    samples = 0;
    auto p = NewParser(body, openmetrics);
    for (;;) {
      auto e = p->Next();
      if (!e.ok() || *e == EntryType::kEof) break;
      if (*e != EntryType::kSample) continue;
      ++samples;
      std::string_view key = p->Series();
      auto it = cache.find(absl::string_view(key.data(), key.size()));
      if (it == cache.end()) {
        state.SkipWithError("cache miss");
        return;
      }
      sum += it->second;
      benchmark::DoNotOptimize(p->Value());
      benchmark::DoNotOptimize(p->Timestamp());
    }
  }
  benchmark::DoNotOptimize(sum);
  SetCounters(state, body.size(), samples);
}

void WarmScrapeLoopCache(benchmark::State& state, const std::string& body, bool openmetrics) {
  struct Entry {
    uint64_t ref = 0;
    uint64_t last_iteration = 0;
  };
  std::unordered_map<std::string, Entry> cache;
  {
    absl::flat_hash_map<std::string, uint64_t> refs;
    Prime(body, openmetrics, refs);
    for (auto& [k, v] : refs) cache[k].ref = v;
  }
  int64_t samples = 0;
  uint64_t iteration = 0;
  for (auto _ : state) {
    samples = 0;
    ++iteration;
    auto p = NewParser(body, openmetrics);
    for (;;) {
      auto e = p->Next();
      if (!e.ok() || *e == EntryType::kEof) break;
      if (*e != EntryType::kSample) continue;
      ++samples;
      auto [it, inserted] = cache.try_emplace(std::string(p->Series()));
      it->second.last_iteration = iteration;
      benchmark::DoNotOptimize(it->second.ref);
      benchmark::DoNotOptimize(p->Value());
      benchmark::DoNotOptimize(p->Timestamp());
    }
  }
  SetCounters(state, body.size(), samples);
}

void NextOnly(benchmark::State& state, const std::string& body, bool openmetrics) {
  int64_t samples = 0;
  for (auto _ : state) {
    samples = 0;
    auto p = NewParser(body, openmetrics);
    for (;;) {
      auto e = p->Next();
      if (!e.ok() || *e == EntryType::kEof) break;
      if (*e != EntryType::kSample) continue;
      ++samples;
      benchmark::DoNotOptimize(p->Value());
    }
  }
  SetCounters(state, body.size(), samples);
}

BENCHMARK_CAPTURE(Cold, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(Warm, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(WarmScrapeLoopCache, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(NextOnly, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(Cold, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(Warm, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(WarmScrapeLoopCache, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(NextOnly, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(Cold, ksm_openmetrics, KsmOpenMetrics(), true);
BENCHMARK_CAPTURE(Warm, ksm_openmetrics, KsmOpenMetrics(), true);

}  // namespace
}  // namespace petrel::bench
