// The fsync policy (--storage.agent.wal-fsync-interval) and recovery from a torn or corrupt
// tail, against MemFs's crash model: a crash keeps exactly the bytes that were fsynced.
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "test/support/mem_fs.h"
#include "test/wal/wal_test_util.h"
#include "wal/reader.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

using Catch::Matchers::Contains;
using namespace std::chrono_literals;

const Labels kUp{{"__name__", "up"}, {"job", "node"}};

std::unique_ptr<Storage> MustOpen(MemFs& fs, Registry& r, std::chrono::milliseconds fsync) {
  auto s =
      Storage::Open(fs, r, "/data", {.compression = Compression::kNone, .fsync_interval = fsync});
  REQUIRE(s.ok());
  return std::move(*s);
}

void Commit(Storage& st, int64_t t) {
  auto app = st.NewAppender();
  REQUIRE(app->Append(0, kUp, t, 1).ok());
  REQUIRE(app->Commit().ok());
}

// After a restart: is a sample at t accepted (true) or already there (out of order)?
bool Accepts(Storage& st, int64_t t) {
  auto app = st.NewAppender();
  auto got = app->Append(0, kUp, t, 1);
  app->Rollback();
  return got.ok();
}

double Value(Registry& r, const std::string& series) {
  const std::string text = r.Render();
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST_CASE("fsync interval 0 syncs every commit: a power loss loses nothing", "[wal][durability]") {
  MemFs fs;
  {
    Registry r;
    auto st = MustOpen(fs, r, 0ms);
    for (int64_t t = 1; t <= 10; ++t) Commit(*st, t);
    fs.Crash();
  }
  Registry r;
  auto st = MustOpen(fs, r, 0ms);
  CHECK(st->replay_status().ok());
  CHECK_FALSE(Accepts(*st, 10));  // the last commit survived
  CHECK(Accepts(*st, 11));
}

TEST_CASE("with an fsync interval, a power loss loses at most the unsynced commits",
          "[wal][durability]") {
  MemFs fs;
  {
    Registry r;
    auto st = MustOpen(fs, r, 1h);  // the background fsync will not come in this test
    for (int64_t t = 1; t <= 5; ++t) Commit(*st, t);
    SECTION("power loss before the fsync: the commits are gone") {
      fs.Crash();
      Registry r2;
      auto again = MustOpen(fs, r2, 1h);
      CHECK(again->ActiveSeries() == 0);
      CHECK(Accepts(*again, 1));
    }
    SECTION("power loss after Sync (what the interval thread calls): nothing is lost") {
      const uint64_t syncs = fs.SyncCount();
      REQUIRE(st->Sync().ok());
      CHECK(fs.SyncCount() == syncs + 1);
      REQUIRE(st->Sync().ok());  // nothing new: no second fsync
      CHECK(fs.SyncCount() == syncs + 1);
      Commit(*st, 6);  // unsynced again
      fs.Crash();
      Registry r2;
      auto again = MustOpen(fs, r2, 1h);
      CHECK_FALSE(Accepts(*again, 5));
      CHECK(Accepts(*again, 6));  // only the commit after the fsync was lost
    }
    SECTION("a process crash (no power loss) loses nothing: the bytes are in the file") {
      Commit(*st, 6);
      // kill -9: no Close, no fsync; the OS still has every appended byte. Reopen while the
      // dead process's handles linger.
      Registry r2;
      auto again = MustOpen(fs, r2, 1h);
      CHECK_FALSE(Accepts(*again, 6));
    }
  }
}

TEST_CASE("the fsync-interval thread syncs the active segment", "[wal][durability]") {
  MemFs fs;
  {
    Registry r;
    auto st = MustOpen(fs, r, 5ms);
    const uint64_t syncs = fs.SyncCount();
    Commit(*st, 1);
    bool synced = false;
    for (int i = 0; i < 2000 && !synced; ++i) {  // up to 20 s
      synced = fs.SyncCount() > syncs;
      if (!synced) std::this_thread::sleep_for(10ms);
    }
    REQUIRE(synced);
    fs.Crash();
    CHECK_THAT(r.Render(), Contains("prometheus_tsdb_wal_fsync_duration_seconds_count"));
  }
  Registry r;
  auto st = MustOpen(fs, r, 5ms);
  CHECK_FALSE(Accepts(*st, 1));
}

// Start offsets of the fragments in a segment (stops at padding).
std::vector<uint64_t> RecordStarts(const std::string& seg) {
  std::vector<uint64_t> starts;
  uint64_t off = 0;
  while (off + 7 <= seg.size() && seg[off] != 0) {
    starts.push_back(off);
    off += 7 + ((uint8_t(seg[off + 1]) << 8) | uint8_t(seg[off + 2]));
  }
  return starts;
}

TEST_CASE("a torn tail is cut at the last good record and counted", "[wal][durability]") {
  MemFs fs;
  {
    Registry r;
    auto st = MustOpen(fs, r, 0ms);
    for (int64_t t = 1; t <= 4; ++t) Commit(*st, t);
  }  // Close pads the segment
  const std::string path = "/data/wal/00000000";
  const auto starts = RecordStarts(fs.Contents(path));
  REQUIRE(starts.size() == 5);  // one series record, four samples records
  const uint64_t last = starts.back();
  REQUIRE(fs.Truncate(path, last + 9).ok());  // a crash mid-write of the last record

  Registry r;
  auto st = MustOpen(fs, r, 0ms);
  CHECK(st->replay_status().code() == Code::kCorruption);
  CHECK_THAT(st->replay_status().message(),
             Contains("segment 00000000 offset " + std::to_string(last)));
  CHECK(Value(r, "prometheus_agent_corruptions_total") == 1);
  CHECK(Value(r, "petrel_wal_repair_dropped_bytes_total") == 9);
  CHECK(fs.FileSize(path) == kPageSize);  // cut, then padded
  CHECK_FALSE(Accepts(*st, 3));
  CHECK(Accepts(*st, 4));  // the torn commit is gone, the ones before stay

  SECTION("the next open finds a clean WAL") {
    REQUIRE(st->Close().ok());
    Registry r2;
    auto again = MustOpen(fs, r2, 0ms);
    CHECK(again->replay_status().ok());
    CHECK(Value(r2, "prometheus_agent_corruptions_total") == 0);
  }
}

TEST_CASE("a corrupt record mid-segment names segment and offset, later data is cut",
          "[wal][durability]") {
  MemFs fs;
  {
    Registry r;
    auto st = MustOpen(fs, r, 0ms);
    for (int64_t t = 1; t <= 6; ++t) Commit(*st, t);
  }
  {
    Registry r;  // a second segment after the restart
    auto st = MustOpen(fs, r, 0ms);
    Commit(*st, 7);
  }
  const std::string path = "/data/wal/00000000";
  const auto starts = RecordStarts(fs.Contents(path));
  REQUIRE(starts.size() == 7);
  REQUIRE(fs.FlipByte(path, starts[3] + 7 + 2));  // the samples record of t=3
  const uint64_t size0 = fs.FileSize(path);
  const uint64_t size1 = fs.FileSize("/data/wal/00000001");

  Registry r;
  auto st = MustOpen(fs, r, 0ms);
  CHECK_THAT(
      st->replay_status().message(),
      Contains("segment 00000000 offset " + std::to_string(starts[3]) + ": checksum mismatch"));
  CHECK(Value(r, "prometheus_agent_corruptions_total") == 1);
  CHECK(Value(r, "petrel_wal_repair_dropped_bytes_total") ==
        static_cast<double>(size0 - starts[3] + size1));
  CHECK(st->CurrentSegment() == 1);  // segment 1 was deleted and started afresh
  CHECK(fs.FileSize("/data/wal/00000001") == 0);
  CHECK_FALSE(Accepts(*st, 2));
  CHECK(Accepts(*st, 3));
}

TEST_CASE("a corrupt segment to fold fails the truncation, counted, nothing deleted",
          "[wal][durability]") {
  MemFs fs;
  Registry r;
  auto opened = Storage::Open(
      fs, r, "/data",
      {.segment_bytes = kPageSize, .compression = Compression::kNone, .fsync_interval = 0ms});
  REQUIRE(opened.ok());
  Storage& st = **opened;
  auto app = st.NewAppender();
  for (int i = 0; st.CurrentSegment() < 6; ++i) {
    REQUIRE(i < 100000);
    REQUIRE(app->Append(0, Labels{{"__name__", "m"}, {"i", std::to_string(i)}}, 10, 1).ok());
    REQUIRE(app->Commit().ok());
  }
  REQUIRE(fs.FlipByte("/data/wal/00000001", 100));
  Status s = st.Truncate(0);
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(), Contains("segment 00000001"));
  CHECK(Value(r, "prometheus_agent_corruptions_total") == 1);
  CHECK(Value(r, "prometheus_tsdb_wal_truncations_failed_total") == 1);
  CHECK(Value(r, "prometheus_agent_checkpoint_creations_failed_total") == 1);
  CHECK(fs.Exists("/data/wal/00000000"));
  CHECK_FALSE(fs.Exists("/data/wal/checkpoint.00000003"));
}

// The newest sample of kUp that replay restored (the first t Append accepts, minus one).
int64_t LastReplayed(Storage& st, int64_t lo, int64_t hi) {
  while (lo < hi) {  // smallest t in [lo, hi] that is accepted
    const int64_t mid = lo + (hi - lo) / 2;
    if (Accepts(st, mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo - 1;
}

TEST_CASE("crash loop: every restart replays all synced commits, torn tails included",
          "[wal][durability]") {
  MemFs fs;
  std::mt19937_64 rng(20261122);
  int64_t next_t = 1;   // every commit writes kUp at next_t++
  int64_t durable = 0;  // newest t that an fsync or a rotation made durable
  int repaired = 0;
  for (int iteration = 0; iteration < 50; ++iteration) {
    INFO("iteration " << iteration);
    Registry r;
    auto opened = Storage::Open(fs, r, "/data",
                                {.segment_bytes = 2 * kPageSize,
                                 .compression = Compression::kSnappy,
                                 .fsync_interval = 1h});
    REQUIRE(opened.ok());
    Storage& st = **opened;
    if (!st.replay_status().ok()) ++repaired;
    const int64_t replayed = LastReplayed(st, 1, next_t);
    CHECK(replayed >= durable);  // nothing synced was lost
    CHECK(replayed < next_t);    // nothing invented
    next_t = std::max(next_t, replayed + 1);

    const int commits = static_cast<int>(rng() % 300);
    for (int c = 0; c < commits; ++c) {
      auto app = st.NewAppender();
      REQUIRE(app->Append(0, kUp, next_t, static_cast<double>(rng() % 1000)).ok());
      // Filler series so segments rotate now and then.
      for (int k = 0; k < 5; ++k) {
        REQUIRE(app->Append(0, Labels{{"__name__", "filler"}, {"k", std::to_string(k)}}, next_t,
                            static_cast<double>(rng()))
                    .ok());
      }
      const uint32_t segment_before = st.CurrentSegment();
      REQUIRE(app->Commit().ok());
      // A rotation fsyncs the closed segment, i.e. everything before this commit.
      if (st.CurrentSegment() != segment_before) durable = std::max(durable, next_t - 1);
      ++next_t;
      if (rng() % 50 == 0) {
        REQUIRE(st.Sync().ok());
        durable = next_t - 1;
      }
    }
    // Power loss: the synced bytes survive, plus some prefix of the unsynced tail of the
    // active segment (the disk may have written part of it), which can tear a record.
    const std::string active = "/data/wal/" + SegmentName(st.CurrentSegment());
    const std::string before = fs.Contents(active);
    fs.Crash();
    const std::string after = fs.Contents(active);
    REQUIRE(before.compare(0, after.size(), after) == 0);
    if (before.size() > after.size() && rng() % 2 == 0) {
      const size_t keep = after.size() + rng() % (before.size() - after.size());
      fs.SetContents(active, before.substr(0, keep));
    }
  }
  CHECK(repaired > 0);  // the torn-tail path was exercised
  Registry r;
  auto last = Storage::Open(fs, r, "/data", {.fsync_interval = 0ms});
  REQUIRE(last.ok());
  REQUIRE((*last)->Close().ok());
  CHECK(testing::ReadAll(fs, "/data/wal").status.ok());
}

}  // namespace
}  // namespace petrel::wal
