// WAL appends on a real disk (a temp dir under the build tree, PosixFs): one Commit per scrape of
// 10,000 samples, as the scrape loop does.
//   AppendCommit_cached_refs   steady state: Append(ref) with the scrape cache's refs.
//   AppendCommit_new_series    first scrape: Append(0, labels) creates 10,000 series (and the
//                              Series record) per commit.
//   AppendCommit_histograms    1,000 native histograms and 100 exemplars per commit.
// Wall time (UseRealTime): the write syscalls are part of the cost.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/metrics.h"
#include "wal/storage.h"

namespace petrel::bench {
namespace {

constexpr int kBatch = 10000;

std::vector<Labels> MakeSeries(int n, int generation) {
  std::vector<Labels> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    out.push_back(
        Labels{{"__name__", "kube_pod_status_phase"},
               {"namespace", "ns-" + std::to_string(i % 12)},
               {"pod", "api-7d9f8b6c5-" + std::to_string(generation) + "-" + std::to_string(i)},
               {"uid", "0f1e2d3c-4b5a-4968-a7b6-" + std::to_string(1000000 + i)},
               {"phase", "Running"}});
  }
  return out;
}

struct TempDir {
  TempDir() {
    path = (std::filesystem::current_path() / ("petrel_wal_bench_" + std::to_string(getpid())))
               .string();
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

void SetCounters(benchmark::State& state, int64_t samples_per_iter) {
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples_per_iter),
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ns/sample"] = benchmark::Counter(
      static_cast<double>(samples_per_iter) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_WalAppendCommit_cached_refs(benchmark::State& state) {
  TempDir dir;
  PosixFs fs;
  Registry registry;
  auto storage = wal::Storage::Open(fs, registry, dir.path, {});
  if (!storage.ok()) return state.SkipWithError(storage.status().message().c_str());
  std::vector<Labels> series = MakeSeries(kBatch, 0);
  std::vector<wal::SeriesRef> refs(kBatch);
  int64_t t = 1700000000000;
  {
    auto app = (*storage)->NewAppender();
    for (int i = 0; i < kBatch; ++i) refs[i] = *app->Append(0, series[i], t, 1);
    if (!app->Commit().ok()) return state.SkipWithError("commit");
  }
  for (auto _ : state) {
    t += 15000;
    auto app = (*storage)->NewAppender();
    for (int i = 0; i < kBatch; ++i) {
      auto r = app->Append(refs[i], Labels(), t, static_cast<double>(i));
      benchmark::DoNotOptimize(r);
    }
    if (!app->Commit().ok()) return state.SkipWithError("commit");
  }
  SetCounters(state, kBatch);
  (void)(*storage)->Close();
}
BENCHMARK(BM_WalAppendCommit_cached_refs)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_WalAppendCommit_new_series(benchmark::State& state) {
  TempDir dir;
  PosixFs fs;
  Registry registry;
  auto storage = wal::Storage::Open(fs, registry, dir.path, {});
  if (!storage.ok()) return state.SkipWithError(storage.status().message().c_str());
  int generation = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Labels> series = MakeSeries(kBatch, ++generation);
    state.ResumeTiming();
    auto app = (*storage)->NewAppender();
    for (int i = 0; i < kBatch; ++i) {
      auto r = app->Append(0, series[i], 1700000000000, 1);
      benchmark::DoNotOptimize(r);
    }
    if (!app->Commit().ok()) return state.SkipWithError("commit");
  }
  SetCounters(state, kBatch);
  (void)(*storage)->Close();
}
// Fixed iterations: every iteration adds 10,000 series to the store.
BENCHMARK(BM_WalAppendCommit_new_series)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(30)
    ->UseRealTime();

// Native histograms: 1,000 per commit (schema 3, two spans, 20 buckets each, a counter moving
// every scrape), cached refs, with an exemplar on every tenth series.
constexpr int kHistograms = 1000;

void BM_WalAppendCommit_histograms(benchmark::State& state) {
  TempDir dir;
  PosixFs fs;
  Registry registry;
  auto storage = wal::Storage::Open(fs, registry, dir.path, {});
  if (!storage.ok()) return state.SkipWithError(storage.status().message().c_str());
  std::vector<Labels> series = MakeSeries(kHistograms, 0);
  std::vector<wal::SeriesRef> refs(kHistograms, 0);
  Histogram h;
  h.schema = 3;
  h.zero_threshold = 1e-128;
  h.positive_spans = {{-2, 12}, {3, 8}};
  h.positive_buckets.assign(20, 1);
  const Labels exemplar{{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}};
  int64_t t = 1700000000000;
  for (auto _ : state) {
    t += 15000;
    h.positive_buckets[0] += 1;  // one more observation per scrape in the first bucket
    uint64_t count = 0, bucket = 0;
    for (int64_t d : h.positive_buckets) count += bucket += static_cast<uint64_t>(d);
    h.count = count;
    h.sum = static_cast<double>(count) * 0.25;
    auto app = (*storage)->NewAppender();
    for (int i = 0; i < kHistograms; ++i) {
      auto r = app->AppendHistogram(refs[i], series[i], t, &h, nullptr);
      if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
      refs[i] = *r;
      if (i % 10 == 0 && !app->AppendExemplar(*r, t - 1, 0.3, exemplar).ok()) {
        return state.SkipWithError("exemplar");
      }
    }
    if (!app->Commit().ok()) return state.SkipWithError("commit");
  }
  SetCounters(state, kHistograms);
  (void)(*storage)->Close();
}
BENCHMARK(BM_WalAppendCommit_histograms)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace petrel::bench
