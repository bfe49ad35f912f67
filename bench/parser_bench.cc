// Exposition parsing: a real node_exporter 1.5.0 body (bench/data/node_exporter.txt) and a
// generated 10,000-series kube-state-metrics-shaped body.
//
//   Cold   first scrape: every sample is Next + AddLabels + Labels built (what a scrape with an
//          empty cache does before it reaches the WAL).
//   Warm   steady state, the real thing: ScrapeLoop::Process of the same body again (parse,
//          scrape cache, staleness sweep, report series, metadata), with an appender that
//          does nothing (the WAL's own cost is in wal_bench.cc).
//   WarmHashOnly  the parser's warm path with a plain hash lookup per sample (absl
//          flat_hash_map behind KnownSeries), as when a target shuffles its series each time.
//   ColdScrapeLoop  a first scrape through a fresh ScrapeLoop (target labels merged, series
//          cached), same do-nothing appender.
//   NextOnly  the parser's full parse of every line: Next and Value only.
//   ProtoCold / ProtoWarm  Cold and Warm for the delimited protobuf format: the ksm body
//          re-encoded as MetricFamily messages, and 1,000 native histograms of ~24 buckets
//          (Warm with scrape_native_histograms: true).
//
// Counters: MB/s (10^6 bytes of body per second), ns/sample, samples.
#include <absl/container/flat_hash_map.h>
#include <benchmark/benchmark.h>

#include <bit>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "bench/ksm_payload.h"
#include "common/metrics.h"
#include "scrape/parser.h"
#include "scrape/scrape_loop.h"

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

// A minimal protobuf writer for the payloads below (wire format: varint, fixed64, length-
// delimited).
struct Pb {
  std::string bytes;
  Pb& Raw(uint64_t v) {
    for (; v >= 0x80; v >>= 7) bytes.push_back(static_cast<char>((v & 0x7f) | 0x80));
    bytes.push_back(static_cast<char>(v));
    return *this;
  }
  Pb& U(int field, uint64_t v) { return Raw(static_cast<uint64_t>(field) << 3).Raw(v); }
  Pb& S(int field, int64_t v) {
    return U(field, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  Pb& D(int field, double v) {
    Raw(static_cast<uint64_t>(field) << 3 | 1);
    const uint64_t bits = std::bit_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(bits >> (8 * i)));
    return *this;
  }
  Pb& Str(int field, std::string_view v) {
    Raw(static_cast<uint64_t>(field) << 3 | 2).Raw(v.size());
    bytes.append(v);
    return *this;
  }
};

void AppendDelimited(const Pb& family, std::string* out) {
  Pb len;
  len.Raw(family.bytes.size());
  *out += len.bytes;
  *out += family.bytes;
}

// The ksm text body as MetricFamily messages: one family per run of samples of one name,
// typed as the TYPE line says for counters and gauges, untyped otherwise.
const std::string& KsmProtobuf() {
  static const std::string body = [] {
    std::string out;
    std::map<std::string, int, std::less<>> types;
    auto p = scrape::NewTextParser(Ksm());
    Pb family;
    std::string name;
    LabelsBuilder b;
    auto flush = [&] {
      if (!name.empty()) AppendDelimited(family, &out);
      family = Pb();
    };
    for (auto e = p->Next(); e.ok() && *e != EntryType::kEof; e = p->Next()) {
      if (*e == EntryType::kType) {
        const auto t = p->Type();
        types[std::string(p->Family())] = t == scrape::MetricType::kCounter ? 0
                                          : t == scrape::MetricType::kGauge ? 1
                                                                            : 3;
      }
      if (*e != EntryType::kSample) continue;
      b.Clear();
      p->AddLabels(b);
      const Labels labels = b.Build();
      const std::string_view n = labels.Get(kMetricName);
      if (n != name) {
        flush();
        name = n;
        auto it = types.find(n);
        const int type = it == types.end() ? 3 : it->second;
        family.Str(1, name).Str(2, "help text").U(3, type);
      }
      Pb metric;
      for (const Label& l : labels) {
        if (l.name != kMetricName) metric.Str(1, Pb().Str(1, l.name).Str(2, l.value).bytes);
      }
      auto it = types.find(name);
      const int type = it == types.end() ? 3 : it->second;
      metric.Str(type == 0 ? 3 : type == 1 ? 2 : 5, Pb().D(1, p->Value()).bytes);
      family.Str(4, metric.bytes);
    }
    flush();
    return out;
  }();
  return body;
}

// 1,000 native histograms (schema 3, zero bucket, three spans, 24 buckets), 10 per family.
const std::string& NativeHistogramsProtobuf() {
  static const std::string body = [] {
    std::string out;
    for (int f = 0; f < 100; ++f) {
      Pb family;
      family.Str(1, "http_request_duration_seconds_" + std::to_string(f))
          .Str(2, "Latency.")
          .U(3, 4);
      for (int m = 0; m < 10; ++m) {
        Pb h;
        h.U(1, 412).D(2, 123.5).S(5, 3).D(6, 1e-128).U(7, 4);  // 408 in buckets + 4 zero
        for (auto [offset, length] : {std::pair{-10, 8}, {2, 8}, {5, 8}}) {
          h.Str(12, Pb().S(1, offset).U(2, length).bytes);
        }
        Pb deltas;
        for (int i = 0; i < 24; ++i) deltas.Raw((i % 3 == 0 ? 2u : 1u) << 1);  // +2 / +1
        h.Str(13, deltas.bytes);
        Pb metric;
        metric.Str(1, Pb().Str(1, "code").Str(2, std::to_string(200 + m)).bytes);
        metric.Str(1, Pb().Str(1, "handler").Str(2, "/api/v1/query").bytes);
        metric.Str(7, h.bytes);
        family.Str(4, metric.bytes);
      }
      AppendDelimited(family, &out);
    }
    return out;
  }();
  return body;
}

constexpr const char* kProtobufType =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
    "encoding=delimited";

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

class HashKnown final : public scrape::KnownSeries {
 public:
  void* Find(std::string_view series) override {
    auto it = map.find(absl::string_view(series.data(), series.size()));
    return it == map.end() ? nullptr : &it->second;
  }
  absl::flat_hash_map<std::string, uint64_t> map;
};

void WarmHashOnly(benchmark::State& state, const std::string& body, bool openmetrics) {
  HashKnown known;
  Prime(body, openmetrics, known.map);
  int64_t samples = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    samples = 0;
    auto p = NewParser(body, openmetrics);
    p->SetKnownSeries(&known);
    for (;;) {
      auto e = p->Next();
      if (!e.ok() || *e == EntryType::kEof) break;
      if (*e != EntryType::kSample) continue;
      ++samples;
      const auto* ref = static_cast<const uint64_t*>(p->KnownEntry());
      if (ref == nullptr) {
        state.SkipWithError("cache miss");
        return;
      }
      sum += *ref;
      benchmark::DoNotOptimize(p->Value());
      benchmark::DoNotOptimize(p->Timestamp());
    }
  }
  benchmark::DoNotOptimize(sum);
  SetCounters(state, body.size(), samples);
}

// Hands out refs and drops the samples.
class NullAppender final : public wal::Appender {
 public:
  explicit NullAppender(wal::SeriesRef* next) : next_(*next) {}
  Result<wal::SeriesRef> Append(wal::SeriesRef ref, const Labels& labels, int64_t t,
                                double v) override {
    return ref != 0 ? ref : ++next_;
  }
  Result<wal::SeriesRef> AppendHistogram(wal::SeriesRef ref, const Labels& labels, int64_t t,
                                         const Histogram* h, const FloatHistogram* fh) override {
    return ref != 0 ? ref : ++next_;
  }
  Status AppendExemplar(wal::SeriesRef ref, int64_t t, double v, const Labels& l) override {
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Rollback() override {}

 private:
  wal::SeriesRef& next_;
};

struct LoopFixture {
  explicit LoopFixture(const std::string& body, bool openmetrics) : metrics(registry) {
    fetch.content_type =
        openmetrics ? "application/openmetrics-text; version=1.0.0" : "text/plain; version=0.0.4";
    fetch.body = body;
    fetch.timestamp_ms = 1'700'000'000'000;
    target.job = "kube-state-metrics";
    target.url = "http://10.0.0.1:8080/metrics";
    target.labels = Labels{{"job", "kube-state-metrics"}, {"instance", "10.0.0.1:8080"}};
  }
  std::unique_ptr<scrape::ScrapeLoop> NewLoop() {
    return std::make_unique<scrape::ScrapeLoop>(
        target, [this] { return std::make_unique<NullAppender>(&next_ref); }, metrics);
  }
  bool Scrape(scrape::ScrapeLoop& loop) {
    fetch.timestamp_ms += 15'000;
    return loop.Process(fetch).ok();
  }
  Registry registry;
  scrape::ScrapeMetrics metrics;
  scrape::Target target;
  scrape::FetchResult fetch;
  wal::SeriesRef next_ref = 0;
};

int64_t CountSamples(const std::string& body, bool openmetrics) {
  int64_t samples = 0;
  auto p = NewParser(body, openmetrics);
  for (auto e = p->Next(); e.ok() && *e != EntryType::kEof; e = p->Next()) {
    samples += *e == EntryType::kSample;
  }
  return samples;
}

void Warm(benchmark::State& state, const std::string& body, bool openmetrics) {
  LoopFixture f(body, openmetrics);
  auto loop = f.NewLoop();
  if (!f.Scrape(*loop)) {  // the first scrape fills the cache
    state.SkipWithError("scrape failed");
    return;
  }
  for (auto _ : state) {
    if (!f.Scrape(*loop)) {
      state.SkipWithError("scrape failed");
      return;
    }
  }
  SetCounters(state, body.size(), CountSamples(body, openmetrics));
}

void ColdScrapeLoop(benchmark::State& state, const std::string& body, bool openmetrics) {
  LoopFixture f(body, openmetrics);
  for (auto _ : state) {
    state.PauseTiming();
    auto loop = f.NewLoop();
    state.ResumeTiming();
    if (!f.Scrape(*loop)) {
      state.SkipWithError("scrape failed");
      return;
    }
    state.PauseTiming();
    loop.reset();  // freeing 10,000 cache entries is not the first scrape's cost
    state.ResumeTiming();
  }
  SetCounters(state, body.size(), CountSamples(body, openmetrics));
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

// Next, then AddLabels and the value (or histogram) of every sample.
void ProtoCold(benchmark::State& state, const std::string& body) {
  int64_t samples = 0;
  LabelsBuilder b;
  for (auto _ : state) {
    samples = 0;
    auto p = scrape::NewProtobufParser(body);
    for (;;) {
      auto e = p->Next();
      if (!e.ok()) {
        state.SkipWithError(e.status().message().c_str());
        return;
      }
      if (*e == EntryType::kEof) break;
      if (*e != EntryType::kSample && *e != EntryType::kHistogram) continue;
      ++samples;
      b.Clear();
      p->AddLabels(b);
      Labels labels = b.Build();
      benchmark::DoNotOptimize(labels);
      if (*e == EntryType::kSample) benchmark::DoNotOptimize(p->Value());
      benchmark::DoNotOptimize(p->IntHistogram());
    }
  }
  SetCounters(state, body.size(), samples);
}

void ProtoWarm(benchmark::State& state, const std::string& body) {
  LoopFixture f(body, false);
  f.fetch.content_type = kProtobufType;
  auto job = std::make_shared<config::ScrapeConfig>();
  job->job_name = f.target.job;
  job->scrape_native_histograms = true;
  f.target.job_config = job;
  auto loop = f.NewLoop();
  if (!f.Scrape(*loop)) {
    state.SkipWithError("scrape failed");
    return;
  }
  for (auto _ : state) {
    if (!f.Scrape(*loop)) {
      state.SkipWithError("scrape failed");
      return;
    }
  }
  int64_t samples = 0;
  auto p = scrape::NewProtobufParser(body);
  for (auto e = p->Next(); e.ok() && *e != EntryType::kEof; e = p->Next()) {
    samples += *e == EntryType::kSample || *e == EntryType::kHistogram;
  }
  SetCounters(state, body.size(), samples);
}

BENCHMARK_CAPTURE(ProtoCold, ksm_proto, KsmProtobuf());
BENCHMARK_CAPTURE(ProtoWarm, ksm_proto, KsmProtobuf());
BENCHMARK_CAPTURE(ProtoCold, native_histograms, NativeHistogramsProtobuf());
BENCHMARK_CAPTURE(ProtoWarm, native_histograms, NativeHistogramsProtobuf());
BENCHMARK_CAPTURE(Cold, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(Warm, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(WarmHashOnly, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(ColdScrapeLoop, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(NextOnly, ksm_text, Ksm(), false);
BENCHMARK_CAPTURE(Cold, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(Warm, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(WarmHashOnly, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(NextOnly, node_exporter, NodeExporter(), false);
BENCHMARK_CAPTURE(Cold, ksm_openmetrics, KsmOpenMetrics(), true);
BENCHMARK_CAPTURE(Warm, ksm_openmetrics, KsmOpenMetrics(), true);
BENCHMARK_CAPTURE(WarmHashOnly, ksm_openmetrics, KsmOpenMetrics(), true);

}  // namespace
}  // namespace petrel::bench
