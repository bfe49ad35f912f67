// Remote-write request encoding (remotewrite/encoder.h) of kube-state-metrics-shaped series:
// one request of max_samples_per_send (2000) samples, labels encoded once per series and cached
// (as the queue does per series ref), then snappy.
//   Request         AddSample x2000 + SnappyCompress; ns/sample, bytes/sample (raw, snappy).
//   EncodeLabels    the per-series cost paid once when a series is first sent.
//   RequestV2       the same 2000 samples as one RW 2.0 Request (symbols table, label refs,
//                   and each series' metadata: type and help from the payload's HELP/TYPE
//                   lines); compare its bytes/sample with Request's for the wire-size cost.
//   Histogram[V2]   2000 native histograms (schema 3, 2 spans, 12 buckets), RW 1.0 vs 2.0.
//   Request[V2]Interned  the same with the labels as the queue's SeriesCache keeps them: pair
//                   ids into a LabelPairTable (a few pair copies per sample instead of one blob;
//                   for 2.0 each pair's symbols are looked up once per request).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/ksm_payload.h"
#include "remotewrite/encoder.h"
#include "scrape/parser.h"

namespace petrel::bench {
namespace {

constexpr int kPerRequest = 2000;

struct Ksm {
  std::vector<Labels> labels;
  std::vector<remotewrite::MetricMetadata> families;
  std::vector<size_t> family_of;  // per series: index into families
};

const Ksm& KsmSeries() {
  static const Ksm ksm = [] {
    std::string body = KubeStateMetricsPayload(10000);
    Ksm out;
    auto p = scrape::NewTextParser(body);
    LabelsBuilder b;
    for (auto e = p->Next(); e.ok() && *e != scrape::EntryType::kEof; e = p->Next()) {
      if (*e == scrape::EntryType::kHelp) {
        out.families.push_back({remotewrite::MetricMetadata::Type::kGauge, std::string(p->Family()),
                                std::string(p->Text()), ""});
      }
      if (*e == scrape::EntryType::kType && !out.families.empty()) {
        out.families.back().type = p->Type() == scrape::MetricType::kCounter
                                       ? remotewrite::MetricMetadata::Type::kCounter
                                       : remotewrite::MetricMetadata::Type::kGauge;
      }
      if (*e != scrape::EntryType::kSample) continue;
      b.Clear();
      p->AddLabels(b);
      b.Set("job", "kube-state-metrics");
      b.Set("instance", "10.0.3.17:8080");
      out.labels.push_back(b.Build());
      out.family_of.push_back(out.families.empty() ? 0 : out.families.size() - 1);
    }
    if (out.families.empty()) out.families.emplace_back();
    return out;
  }();
  return ksm;
}

const std::vector<Labels>& KsmLabels() { return KsmSeries().labels; }

// raw_bytes and snappy_bytes: summed over all iterations (the requests cover different parts of
// the payload, so one request alone is not representative).
void WireCounters(benchmark::State& state, size_t raw_bytes, size_t snappy_bytes) {
  state.counters["ns/sample"] =
      benchmark::Counter(kPerRequest * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                 benchmark::Counter::kInvert);
  const double samples = static_cast<double>(state.iterations()) * kPerRequest;
  state.counters["raw_B/sample"] = static_cast<double>(raw_bytes) / samples;
  state.counters["snappy_B/sample"] = static_cast<double>(snappy_bytes) / samples;
}

void BM_RemoteWriteRequest(benchmark::State& state) {
  const std::vector<Labels>& all = KsmLabels();
  std::vector<std::string> encoded(all.size());
  for (size_t i = 0; i < all.size(); ++i) remotewrite::EncodeLabels(all[i], &encoded[i]);
  remotewrite::RequestEncoder enc;
  std::string compressed_buf;
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
    const std::string_view compressed = remotewrite::SnappyCompress(enc.bytes(), &compressed_buf);
    raw_bytes += enc.bytes().size();
    snappy_bytes += compressed.size();
    benchmark::DoNotOptimize(compressed.data());
  }
  WireCounters(state, raw_bytes, snappy_bytes);
}
BENCHMARK(BM_RemoteWriteRequest);

void BM_RemoteWriteRequestV2(benchmark::State& state) {
  const Ksm& ksm = KsmSeries();
  std::vector<std::string> encoded(ksm.labels.size());
  for (size_t i = 0; i < ksm.labels.size(); ++i) {
    remotewrite::EncodeLabels(ksm.labels[i], &encoded[i]);
  }
  remotewrite::V2RequestEncoder enc;
  std::string compressed_buf;
  size_t offset = 0, raw_bytes = 0, snappy_bytes = 0;
  int64_t t = 1700000000000;
  for (auto _ : state) {
    enc.Reset();
    t += 15000;
    for (int i = 0; i < kPerRequest; ++i) {
      size_t k = (offset + i) % encoded.size();
      enc.AddSample(encoded[k], &ksm.families[ksm.family_of[k]], t, static_cast<double>(k % 7));
    }
    offset = (offset + kPerRequest) % encoded.size();
    std::string_view bytes = enc.bytes();
    const std::string_view compressed = remotewrite::SnappyCompress(bytes, &compressed_buf);
    raw_bytes += bytes.size();
    snappy_bytes += compressed.size();
    benchmark::DoNotOptimize(compressed.data());
  }
  WireCounters(state, raw_bytes, snappy_bytes);
}
BENCHMARK(BM_RemoteWriteRequestV2);

// The KSM series as the SeriesCache keeps them: pair ids into one table.
struct InternedKsm {
  remotewrite::LabelPairTable table;
  std::vector<std::string> ids;
  std::vector<uint32_t> encoded_size;
  remotewrite::PairedLabels at(size_t k) const { return {&table, ids[k], encoded_size[k]}; }
};

const InternedKsm& KsmInterned() {
  static const InternedKsm interned = [] {
    InternedKsm out;
    for (const Labels& ls : KsmLabels()) {
      std::string& ids = out.ids.emplace_back();
      uint32_t size = 0;
      for (const Label& l : ls) {
        const uint32_t id = out.table.Ref(l.name, l.value);
        remotewrite::AppendPairId(id, &ids);
        size += static_cast<uint32_t>(out.table.encoded(id).size());
      }
      out.encoded_size.push_back(size);
    }
    return out;
  }();
  return interned;
}

template <bool kV2>
void BM_RemoteWriteRequestInterned(benchmark::State& state) {
  const Ksm& ksm = KsmSeries();
  const InternedKsm& interned = KsmInterned();
  remotewrite::RequestEncoder v1;
  remotewrite::V2RequestEncoder v2;
  std::string compressed_buf;
  size_t offset = 0, raw_bytes = 0, snappy_bytes = 0;
  int64_t t = 1700000000000;
  for (auto _ : state) {
    v1.Reset();
    v2.Reset();
    t += 15000;
    for (int i = 0; i < kPerRequest; ++i) {
      size_t k = (offset + i) % interned.ids.size();
      if constexpr (kV2) {
        v2.AddSample(interned.at(k), &ksm.families[ksm.family_of[k]], t,
                     static_cast<double>(k % 7));
      } else {
        v1.AddSample(interned.at(k), t, static_cast<double>(k % 7));
      }
    }
    offset = (offset + kPerRequest) % interned.ids.size();
    std::string_view bytes = kV2 ? v2.bytes() : v1.bytes();
    const std::string_view compressed = remotewrite::SnappyCompress(bytes, &compressed_buf);
    raw_bytes += bytes.size();
    snappy_bytes += compressed.size();
    benchmark::DoNotOptimize(compressed.data());
  }
  WireCounters(state, raw_bytes, snappy_bytes);
}
BENCHMARK_TEMPLATE(BM_RemoteWriteRequestInterned, false)->Name("BM_RemoteWriteRequestInterned");
BENCHMARK_TEMPLATE(BM_RemoteWriteRequestInterned, true)->Name("BM_RemoteWriteRequestV2Interned");

// A latency histogram as a scrape of a busy service gives it: 12 populated buckets in 2 spans.
Histogram BenchHistogram(int64_t seed) {
  Histogram h;
  h.schema = 3;
  h.zero_threshold = 1e-128;
  h.count = 1000 + static_cast<uint64_t>(seed);
  h.sum = 123.25 + static_cast<double>(seed);
  h.positive_spans = {{-4, 8}, {2, 4}};
  for (int i = 0; i < 12; ++i) h.positive_buckets.push_back((i * 7 + seed) % 11 - 5);
  h.hint = CounterResetHint::kNotCounterReset;
  return h;
}

template <bool kV2>
void BM_RemoteWriteHistograms(benchmark::State& state) {
  const Ksm& ksm = KsmSeries();
  std::vector<std::string> encoded(ksm.labels.size());
  std::vector<remotewrite::EncodedHistogram> hists(64);
  for (size_t i = 0; i < ksm.labels.size(); ++i) {
    remotewrite::EncodeLabels(ksm.labels[i], &encoded[i]);
  }
  for (size_t i = 0; i < hists.size(); ++i) {
    remotewrite::EncodeHistogram(BenchHistogram(static_cast<int64_t>(i)), &hists[i]);
  }
  const remotewrite::MetricMetadata meta{remotewrite::MetricMetadata::Type::kHistogram,
                                         "http_request_duration_seconds",
                                         "Latency of HTTP requests.", "seconds"};
  remotewrite::RequestEncoder v1;
  remotewrite::V2RequestEncoder v2;
  std::string compressed_buf;
  size_t offset = 0, raw_bytes = 0, snappy_bytes = 0;
  int64_t t = 1700000000000;
  for (auto _ : state) {
    v1.Reset();
    v2.Reset();
    t += 15000;
    for (int i = 0; i < kPerRequest; ++i) {
      size_t k = (offset + i) % encoded.size();
      const auto& h = hists[k % hists.size()];
      if constexpr (kV2) {
        v2.AddHistogram(encoded[k], &meta, t, h);
      } else {
        v1.AddHistogram(encoded[k], t, h);
      }
    }
    offset = (offset + kPerRequest) % encoded.size();
    std::string_view bytes = kV2 ? v2.bytes() : v1.bytes();
    const std::string_view compressed = remotewrite::SnappyCompress(bytes, &compressed_buf);
    raw_bytes += bytes.size();
    snappy_bytes += compressed.size();
    benchmark::DoNotOptimize(compressed.data());
  }
  WireCounters(state, raw_bytes, snappy_bytes);
}
BENCHMARK_TEMPLATE(BM_RemoteWriteHistograms, false)->Name("BM_RemoteWriteHistograms");
BENCHMARK_TEMPLATE(BM_RemoteWriteHistograms, true)->Name("BM_RemoteWriteHistogramsV2");

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
