#include "remotewrite/watcher.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "test/support/mem_fs.h"
#include "wal/storage.h"

namespace petrel::remotewrite {
namespace {

// Records what the watcher hands over; takes at most `room` samples per call when room >= 0.
struct RecordingSink : Watcher::Sink {
  std::map<wal::SeriesRef, uint32_t> series;  // ref -> segment tag
  std::vector<wal::RefSample> samples;
  std::vector<uint32_t> resets;
  long room = -1;

  void StoreSeries(std::span<const wal::RefSeries> s, uint32_t segment) override {
    for (const auto& r : s) series[r.ref] = segment;
  }
  void SeriesReset(uint32_t segment) override {
    resets.push_back(segment);
    std::erase_if(series, [segment](const auto& kv) { return kv.second < segment; });
  }
  size_t Append(std::span<const wal::RefSample> s) override {
    size_t n = room < 0 ? s.size() : std::min(s.size(), static_cast<size_t>(room));
    if (room >= 0) room -= static_cast<long>(n);
    samples.insert(samples.end(), s.begin(), s.begin() + static_cast<long>(n));
    return n;
  }
};

struct WalEnv {
  MemFs fs;
  Registry metrics;
  std::unique_ptr<wal::Storage> storage;
  const int64_t start_ms = 1700000000000;

  WalEnv() {
    auto s = wal::Storage::Open(fs, metrics, "/data", {});
    REQUIRE(s.ok());
    storage = std::move(*s);
  }
  void Append(const std::string& name, int64_t t) {
    auto app = storage->NewAppender();
    REQUIRE(app->Append(0, Labels{{"__name__", name}}, t, 1).ok());
    REQUIRE(app->Commit().ok());
  }
};

// Polls until pred holds (bounded); the watcher's segment listing is paced at 100 ms.
template <typename Pred>
bool PollUntil(Watcher& w, Pred pred) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    if (w.Poll(64) == Watcher::Progress::kIdle) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return true;
}

TEST_CASE("watcher keeps what the sink did not take and offers it again", "[remotewrite]") {
  WalEnv env;
  RecordingSink sink;
  Watcher w(env.fs, env.metrics, env.storage->wal_dir(), "c", env.start_ms, sink);
  w.Begin();
  {
    auto app = env.storage->NewAppender();
    for (int i = 0; i < 10; ++i) {
      REQUIRE(
          app->Append(0, Labels{{"__name__", "m" + std::to_string(i)}}, env.start_ms + 1, i).ok());
    }
    REQUIRE(app->Commit().ok());
  }
  sink.room = 4;
  REQUIRE(PollUntil(w, [&] { return sink.samples.size() == 4; }));
  CHECK(w.Poll(64) == Watcher::Progress::kBlocked);
  CHECK(sink.samples.size() == 4);
  sink.room = -1;
  REQUIRE(PollUntil(w, [&] { return sink.samples.size() == 10; }));
  for (int i = 0; i < 10; ++i) CHECK(sink.samples[i].v == i);
  CHECK(sink.series.size() == 10);
}

TEST_CASE("watcher reads a new checkpoint and resets series seen before it", "[remotewrite]") {
  WalEnv env;
  env.Append("gone", env.start_ms + 1);  // segment 0; not in memory after GC at mint below
  env.Append("kept", env.start_ms + 2);
  RecordingSink sink;
  Watcher w(env.fs, env.metrics, env.storage->wal_dir(), "c", env.start_ms, sink,
            std::chrono::milliseconds(0));
  w.Begin();
  REQUIRE(PollUntil(w, [&] { return sink.samples.size() == 2; }));
  REQUIRE(sink.series.size() == 2);

  // Keep "kept" alive across truncations; "gone" gets no sample after mint. Truncate until
  // one folds segments into a checkpoint, letting the watcher follow each new segment.
  int64_t t = env.start_ms + 10;
  const std::string first_segment = env.storage->wal_dir() + "/" + wal::SegmentName(0);
  for (int i = 0; i < 8 && env.fs.Exists(first_segment); ++i) {
    env.Append("kept", ++t);
    REQUIRE(env.storage->Truncate(env.start_ms + 5).ok());
    env.Append("kept", ++t);
    REQUIRE(PollUntil(w, [&] { return w.current_segment() == env.storage->CurrentSegment(); }));
  }
  REQUIRE_FALSE(env.fs.Exists(first_segment));
  REQUIRE(PollUntil(w, [&] { return !sink.resets.empty(); }));
  REQUIRE_FALSE(sink.resets.empty());
  CHECK(sink.series.size() == 1);
  CHECK(PollUntil(w, [&] { return w.current_segment() == env.storage->CurrentSegment(); }));
  // Every "kept" sample arrived once, in order, across the segment changes.
  std::vector<int64_t> ts;
  for (const auto& smp : sink.samples) ts.push_back(smp.t);
  CHECK(std::is_sorted(ts.begin(), ts.end()));
  CHECK(std::adjacent_find(ts.begin(), ts.end()) == ts.end());
  CHECK(ts.back() == t);
}

}  // namespace
}  // namespace petrel::remotewrite

namespace petrel::remotewrite {
namespace {

// Takes histograms and exemplars one per call at most (a full shard each time), and notes the
// order of BeginRecord/Read calls.
struct NativeSink : Watcher::Sink {
  std::vector<int64_t> samples, histograms, float_histograms, exemplars;  // timestamps
  std::vector<std::string> events;
  void StoreSeries(std::span<const wal::RefSeries>, uint32_t) override {}
  void SeriesReset(uint32_t) override {}
  void BeginRecord(WalPosition) override { events.push_back("begin"); }
  void Read(WalPosition) override { events.push_back("read"); }
  size_t Append(std::span<const wal::RefSample> s) override {
    for (const auto& x : s) samples.push_back(x.t);
    return s.size();
  }
  size_t AppendHistograms(std::span<const wal::RefHistogramSample> h) override {
    histograms.push_back(h[0].t);
    CHECK(h[0].h.count == 2);
    return 1;
  }
  size_t AppendFloatHistograms(std::span<const wal::RefFloatHistogramSample> h) override {
    float_histograms.push_back(h[0].t);
    CHECK(h[0].fh.count == 1.5);
    return 1;
  }
  size_t AppendExemplars(std::span<const wal::RefExemplar> e) override {
    exemplars.push_back(e[0].t);
    CHECK(e[0].labels == Labels{{"trace_id", "x"}});
    return 1;
  }
};

void WriteNativeRecords(WalEnv& env, int64_t t) {
  Histogram h;
  h.count = 2;
  h.zero_count = 2;
  FloatHistogram fh;
  fh.count = 1.5;
  fh.zero_count = 1.5;
  auto app = env.storage->NewAppender();
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    auto ref = app->Append(0, Labels{{"__name__", "c" + n}}, t, 1);
    REQUIRE(ref.ok());
    REQUIRE(app->AppendExemplar(*ref, t, 1, Labels{{"trace_id", "x"}}).ok());
    REQUIRE(app->AppendHistogram(0, Labels{{"__name__", "h" + n}}, t, &h, nullptr).ok());
    REQUIRE(app->AppendHistogram(0, Labels{{"__name__", "f" + n}}, t, nullptr, &fh).ok());
  }
  REQUIRE(app->Commit().ok());
}

TEST_CASE("watcher forwards histograms and exemplars only when asked, a record at a time",
          "[remotewrite]") {
  WalEnv env;
  const bool forward = GENERATE(false, true);
  NativeSink sink;
  Watcher w(env.fs, env.metrics, "/data/wal", "q", env.start_ms, sink);
  w.Forward(forward, forward);
  w.Begin();
  WriteNativeRecords(env, env.start_ms + 1);
  // Series, Samples, HistogramSamples, FloatHistogramSamples, Exemplars: 5 records.
  REQUIRE(PollUntil(
      w, [&] { return std::count(sink.events.begin(), sink.events.end(), "read") >= 5; }));
  CHECK(sink.samples.size() == 3);
  if (!forward) {
    CHECK(sink.histograms.empty());
    CHECK(sink.float_histograms.empty());
    CHECK(sink.exemplars.empty());
    return;
  }
  // One item taken per call: each record was offered again until all of it was taken, and no
  // Read came before that.
  CHECK(sink.histograms.size() == 3);
  CHECK(sink.float_histograms.size() == 3);
  CHECK(sink.exemplars.size() == 3);
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.insert(want.end(), {"begin", "read"});
  CHECK(sink.events == want);
}

}  // namespace
}  // namespace petrel::remotewrite
