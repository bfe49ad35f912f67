#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "test/support/mem_fs.h"
#include "test/wal/wal_test_util.h"
#include "wal/checkpoint.h"
#include "wal/records.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

using Catch::Matchers::Contains;

constexpr uint64_t kPage = kPageSize;
const Labels kActive{{"__name__", "active"}, {"job", "x"}};
const Labels kStale{{"__name__", "gone"}, {"job", "x"}};

struct Content {
  std::map<SeriesRef, Labels> series;
  std::vector<RefSample> samples;
};

Content Read(Fs& fs, const std::string& dir) {
  Content out;
  auto got = testing::ReadAll(fs, dir);
  REQUIRE(got.status.ok());
  for (const auto& rec : got.records) {
    if (TypeOf(rec) == RecordType::kSeries) {
      std::vector<RefSeries> s;
      REQUIRE(DecodeSeries(rec, &s).ok());
      for (auto& x : s) out.series[x.ref] = x.labels;
    } else {
      REQUIRE(DecodeSamples(rec, &out.samples).ok());
    }
  }
  return out;
}

// Commits one sample per series per step; the stale series stops at stale_until.
void Fill(Storage& st, int64_t from, int64_t to, int64_t stale_until) {
  auto app = st.NewAppender();
  for (int64_t t = from; t < to; ++t) {
    REQUIRE(app->Append(0, kActive, t, static_cast<double>(t)).ok());
    if (t < stale_until) REQUIRE(app->Append(0, kStale, t, static_cast<double>(t)).ok());
    // Padding series make the segments fill faster.
    const Labels pad{{"__name__", "pad"}, {"i", std::to_string(t)}, {"x", std::string(200, 'x')}};
    REQUIRE(app->Append(0, pad, t, 0).ok());
    REQUIRE(app->Commit().ok());
  }
}

TEST_CASE("truncate drops old series and folds old segments into a checkpoint", "[wal]") {
  MemFs fs;
  Registry r;
  auto opened =
      Storage::Open(fs, r, "/data", {.segment_bytes = kPage, .compression = Compression::kNone});
  REQUIRE(opened.ok());
  Storage& st = **opened;
  Fill(st, 1, 1000, 100);
  const uint32_t current = st.CurrentSegment();
  REQUIRE(current >= 7);
  const uint32_t last = (current - 1) * 2 / 3;

  // Samples before 500 are dropped from the checkpoint; pad series older than 500 are GC'd.
  REQUIRE(st.Truncate(500).ok());
  CHECK(st.CurrentSegment() == current + 1);
  CHECK(st.ActiveSeries() == 1 + 500);  // active + pad series 500..999
  CHECK_THAT(r.Render(), Contains("prometheus_agent_checkpoint_creations_total 1"));
  const std::string ckpt = "/data/wal/" + CheckpointName(last);
  REQUIRE(fs.IsDir(ckpt));
  for (uint32_t i = 0; i <= last; ++i) CHECK_FALSE(fs.Exists("/data/wal/" + SegmentName(i)));
  CHECK(fs.Exists("/data/wal/" + SegmentName(last + 1)));
  auto segments = ListSegments(fs, "/data/wal");
  REQUIRE(segments.ok());
  CHECK(segments->front() == last + 1);

  Content c = Read(fs, ckpt);
  for (const auto& s : c.samples) REQUIRE(s.t >= 500);
  std::set<std::string> names;
  for (const auto& [ref, labels] : c.series) names.insert(std::string(labels.Get("__name__")));
  CHECK(names.count("active") == 1);
  // GC'd in this cycle: kept in the checkpoint until it covers the segment they were dropped in.
  CHECK(names.count("gone") == 1);

  SECTION("replay from the checkpoint") {
    REQUIRE(st.Close().ok());
    Registry r2;
    auto again = Storage::Open(fs, r2, "/data", {.segment_bytes = kPage});
    REQUIRE(again.ok());
    CHECK((*again)->replay_status().ok());
    auto app = (*again)->NewAppender();
    CHECK(app->Append(0, kActive, 999, 0).status().code() == Code::kInvalidArgument);
    CHECK(app->Append(0, kActive, 1000, 0).ok());
  }
  SECTION("the next cycle replaces the checkpoint and forgets the dropped series") {
    Fill(st, 1000, 3000, 0);
    REQUIRE(st.Truncate(2500).ok());
    auto ckpts = LastCheckpoint(fs, "/data/wal");
    REQUIRE(ckpts.ok());
    CHECK(*ckpts > last);
    CHECK_FALSE(fs.Exists(ckpt));  // older checkpoints are deleted
    Content c2 = Read(fs, "/data/wal/" + CheckpointName(static_cast<uint32_t>(*ckpts)));
    for (const auto& [ref, labels] : c2.series) CHECK(labels != kStale);
    // Pad series 500..2499 were dropped in this cycle; those of the first cycle are forgotten.
    CHECK_THAT(r.Render(), Contains("prometheus_agent_deleted_series 2000"));
  }
  SECTION("a dropped series comes back under a new ref") {
    auto app = st.NewAppender();
    auto ref = app->Append(0, kStale, 5000, 1);
    REQUIRE(ref.ok());
    CHECK(*ref > 1000);
  }
}

TEST_CASE("truncate with few segments only rotates", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = Storage::Open(fs, r, "/data", {});
  REQUIRE(st.ok());
  Fill(**st, 1, 10, 5);
  REQUIRE((*st)->Truncate(7).ok());
  CHECK((*st)->CurrentSegment() == 1);
  CHECK((*st)->ActiveSeries() == 1 + 3);  // active + pad 7..9
  CHECK(*LastCheckpoint(fs, "/data/wal") == -1);
}

TEST_CASE("a corrupt segment fails the checkpoint and deletes nothing", "[wal]") {
  MemFs fs;
  Registry r;
  auto opened =
      Storage::Open(fs, r, "/data", {.segment_bytes = kPage, .compression = Compression::kNone});
  REQUIRE(opened.ok());
  Fill(**opened, 1, 1000, 0);
  REQUIRE(fs.FlipByte("/data/wal/00000001", 100));
  Status s = (*opened)->Truncate(10);
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(), Contains("segment 00000001"));
  CHECK(fs.Exists("/data/wal/00000000"));
  CHECK(*LastCheckpoint(fs, "/data/wal") == -1);
  auto names = fs.List("/data/wal");
  REQUIRE(names.ok());
  for (const auto& n : *names) CHECK_FALSE(n.ends_with(".tmp"));
  CHECK_THAT(r.Render(), Contains("prometheus_agent_checkpoint_creations_failed_total 1"));
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

TEST_CASE("truncate runs while appenders commit", "[wal]") {
  MemFs fs;
  Registry r;
  auto opened =
      Storage::Open(fs, r, "/data", {.segment_bytes = kPage, .compression = Compression::kNone});
  REQUIRE(opened.ok());
  Storage& st = **opened;
  constexpr int kBatches = 600;
  std::atomic<int> progress{0};
  std::atomic<int> failed{0};
  std::thread writer([&] {
    auto app = st.NewAppender();
    for (int batch = 0; batch < kBatches; ++batch) {
      for (int i = 0; i < 20; ++i) {
        // Series i stops receiving samples after batch 30 * i: truncation drops it.
        if (batch > 30 * i + 30) continue;
        Labels l{{"__name__", "m"}, {"i", std::to_string(i)}, {"pad", std::string(100, 'p')}};
        if (!app->Append(0, l, batch, i).ok()) ++failed;
      }
      if (!app->Commit().ok()) ++failed;
      progress = batch + 1;
    }
  });
  int truncations = 0;
  uint64_t seen = 0;
  for (int round = 1; round <= 5; ++round) {
    for (int spins = 0; progress < round * 100 && spins < 100000; ++spins) {
      st.notifier().WaitFor(&seen, std::chrono::milliseconds(10), {});
    }
    CHECK(st.Truncate(progress - 60).ok());
    ++truncations;
  }
  writer.join();
  CHECK(failed == 0);
  CHECK(truncations == 5);
  REQUIRE(st.Close().ok());

  // Every sample left in the checkpoint and segments follows its series record.
  auto checkpoint = LastCheckpoint(fs, "/data/wal");
  REQUIRE(checkpoint.ok());
  CHECK(*checkpoint >= 0);
  std::set<SeriesRef> known;
  size_t samples = 0;
  auto check = [&](const std::string& dir) {
    auto got = testing::ReadAll(fs, dir);
    REQUIRE(got.status.ok());
    for (const auto& rec : got.records) {
      if (TypeOf(rec) == RecordType::kSeries) {
        std::vector<RefSeries> s;
        REQUIRE(DecodeSeries(rec, &s).ok());
        for (const auto& x : s) known.insert(x.ref);
      } else {
        std::vector<RefSample> s;
        REQUIRE(DecodeSamples(rec, &s).ok());
        for (const auto& x : s) REQUIRE(known.count(x.ref) == 1);
        samples += s.size();
      }
    }
  };
  if (*checkpoint >= 0) check("/data/wal/" + CheckpointName(static_cast<uint32_t>(*checkpoint)));
  auto segments = ListSegments(fs, "/data/wal");
  REQUIRE(segments.ok());
  // ReadAll reads every segment of a dir; read the live ones one by one instead.
  for (uint32_t index : *segments) {
    if (*checkpoint >= 0 && index <= *checkpoint) continue;
    auto reader = SegmentReader::Open(fs, "/data/wal", index, SegmentReader::Mode::kStrict);
    REQUIRE(reader.ok());
    std::string rec;
    for (;;) {
      auto more = (*reader)->Next(&rec);
      REQUIRE(more.ok());
      if (!*more) break;
      std::vector<RefSeries> s;
      std::vector<RefSample> v;
      if (TypeOf(rec) == RecordType::kSeries) {
        REQUIRE(DecodeSeries(rec, &s).ok());
        for (const auto& x : s) known.insert(x.ref);
      } else {
        REQUIRE(DecodeSamples(rec, &v).ok());
        for (const auto& x : v) REQUIRE(known.count(x.ref) == 1);
        samples += v.size();
      }
    }
  }
  CHECK(samples > 0);
  Registry r2;
  auto again = Storage::Open(fs, r2, "/data", {.segment_bytes = kPage});
  REQUIRE(again.ok());
  CHECK((*again)->replay_status().ok());
  CHECK((*again)->ActiveSeries() >= 1);
}

}  // namespace
}  // namespace petrel::wal
