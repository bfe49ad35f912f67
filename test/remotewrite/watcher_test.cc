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
