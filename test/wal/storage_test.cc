#include "wal/storage.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <thread>

#include "test/support/mem_fs.h"
#include "test/wal/wal_test_util.h"
#include "wal/crc32c.h"
#include "wal/records.h"
#include "wal/segment_writer.h"

namespace petrel::wal {
namespace {

using Catch::Matchers::Contains;
using testing::ReadAll;

constexpr uint64_t kPage = kPageSize;

Labels Series(int i) {
  return Labels{{"__name__", "metric_" + std::to_string(i % 7)},
                {"instance", "host-" + std::to_string(i)}};
}

std::unique_ptr<Storage> MustOpen(Fs& fs, Registry& r, Options options = {}) {
  auto s = Storage::Open(fs, r, "/data", options);
  REQUIRE(s.ok());
  return std::move(*s);
}

// Every series and sample in the WAL, in file order.
struct Decoded {
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  std::vector<RecordType> types;
  Status status;
};

Decoded DecodeWal(Fs& fs, const std::string& wal_dir = "/data/wal") {
  Decoded out;
  auto got = ReadAll(fs, wal_dir);
  out.status = got.status;
  for (const auto& rec : got.records) {
    out.types.push_back(TypeOf(rec));
    if (TypeOf(rec) == RecordType::kSeries) REQUIRE(DecodeSeries(rec, &out.series).ok());
    if (TypeOf(rec) == RecordType::kSamples) REQUIRE(DecodeSamples(rec, &out.samples).ok());
  }
  return out;
}

TEST_CASE("commit writes one series record then one samples record", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r, {.compression = Compression::kNone});
  CHECK(st->wal_dir() == "/data/wal");
  CHECK(st->CurrentSegment() == 0);
  uint64_t seen = 0;
  auto app = st->NewAppender();
  auto a = app->Append(0, Series(1), 1000, 1.5);
  auto b = app->Append(0, Series(2), 1000, StaleNaN());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == 1);
  CHECK(*b == 2);
  CHECK(fs.FileSize("/data/wal/00000000") == 0);  // nothing before Commit
  REQUIRE(app->Commit().ok());
  CHECK(st->notifier().WaitFor(&seen, std::chrono::milliseconds(0), {}));

  // Known ref: labels are not needed.
  auto again = app->Append(*a, Labels{}, 2000, 2.5);
  REQUIRE(again.ok());
  CHECK(*again == 1);
  REQUIRE(app->Commit().ok());

  auto d = DecodeWal(fs);
  REQUIRE(d.status.ok());
  CHECK(d.types ==
        std::vector<RecordType>{RecordType::kSeries, RecordType::kSamples, RecordType::kSamples});
  REQUIRE(d.series.size() == 2);
  CHECK(d.series[0].ref == 1);
  CHECK(d.series[0].labels == Series(1));
  CHECK(d.series[1].labels == Series(2));
  REQUIRE(d.samples.size() == 3);
  CHECK(d.samples[0].t == 1000);
  CHECK(d.samples[0].v == 1.5);
  CHECK(IsStaleNaN(d.samples[1].v));
  CHECK(d.samples[2].ref == 1);
  CHECK(d.samples[2].t == 2000);
  CHECK(st->ActiveSeries() == 2);

  const std::string text = r.Render();
  CHECK_THAT(text, Contains("prometheus_agent_active_series 2"));
  CHECK_THAT(text, Contains("prometheus_agent_samples_appended_total{type=\"float\"} 3"));
  CHECK_THAT(text, Contains("prometheus_tsdb_wal_segment_current 0"));
  CHECK_THAT(text, Contains("prometheus_tsdb_wal_storage_size_bytes " +
                            std::to_string(fs.FileSize("/data/wal/00000000"))));
  CHECK_THAT(text, Contains("prometheus_tsdb_wal_record_part_writes_total 3"));
  CHECK_THAT(text, Contains("prometheus_agent_data_replay_duration_seconds"));
}

TEST_CASE("append rejects invalid and out-of-order samples", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  CHECK(app->Append(0, Labels{}, 1, 1).status().code() == Code::kInvalidArgument);
  CHECK(app->Append(77, Labels{}, 1, 1).status().code() == Code::kInvalidArgument);
#ifdef NDEBUG  // FromSorted asserts on duplicates in debug builds
  auto dup = Labels::FromSorted({{"a", "1"}, {"a", "2"}});
  CHECK(app->Append(0, dup, 1, 1).status().code() == Code::kInvalidArgument);
#endif
  auto ref = app->Append(0, Series(1), 100, 1);
  REQUIRE(ref.ok());
  REQUIRE(app->Commit().ok());
  auto equal = app->Append(*ref, Series(1), 100, 2);
  CHECK(equal.status().code() == Code::kInvalidArgument);
  CHECK_THAT(equal.status().message(), Contains("out of order"));
  CHECK(app->Append(0, Series(1), 99, 2).status().code() == Code::kInvalidArgument);
  CHECK(app->Append(*ref, Series(1), 101, 2).ok());
  REQUIRE(app->Commit().ok());
  CHECK_THAT(r.Render(), Contains("prometheus_agent_out_of_order_samples_total 2"));
  CHECK(DecodeWal(fs).samples.size() == 2);
}

TEST_CASE("rollback drops samples but still logs new series", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  REQUIRE(app->Append(0, Series(1), 100, 1).ok());
  app->Rollback();
  REQUIRE(app->Commit().ok());  // empty batch: writes nothing
  auto d = DecodeWal(fs);
  REQUIRE(d.status.ok());
  CHECK(d.series.size() == 1);
  CHECK(d.samples.empty());
  CHECK(d.types.size() == 1);
  CHECK(app->Append(0, Series(1), 100, 1).ok());  // the rolled-back timestamp is still free
}

TEST_CASE("a series created by one appender is logged by whichever commits first", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto a = st->NewAppender();
  auto b = st->NewAppender();
  auto ra = a->Append(0, Series(1), 100, 1);
  auto rb = b->Append(0, Series(1), 200, 2);
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(*ra == *rb);
  REQUIRE(b->Commit().ok());
  REQUIRE(a->Commit().ok());
  auto d = DecodeWal(fs);
  CHECK(d.types ==
        std::vector<RecordType>{RecordType::kSeries, RecordType::kSamples, RecordType::kSamples});
  CHECK(d.series.size() == 1);
}

TEST_CASE("replay restores refs and last timestamps", "[wal]") {
  MemFs fs;
  SeriesRef ref7 = 0;
  {
    Registry r;
    auto st = MustOpen(fs, r);
    auto app = st->NewAppender();
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 10; ++i) {
        auto ref = app->Append(0, Series(i), 1000 * (round + 1) + i, i);
        REQUIRE(ref.ok());
        if (i == 7) ref7 = *ref;
      }
      REQUIRE(app->Commit().ok());
    }
    REQUIRE(st->Close().ok());
  }
  Registry r;
  auto st = MustOpen(fs, r);
  CHECK(st->replay_status().ok());
  CHECK(st->ActiveSeries() == 10);
  CHECK(st->CurrentSegment() == 1);  // never appends to segment 0
  CHECK_THAT(r.Render(), Contains("prometheus_agent_active_series 10"));
  auto app = st->NewAppender();
  auto same = app->Append(0, Series(7), 3007, 0);
  CHECK(same.status().code() == Code::kInvalidArgument);  // t == last replayed timestamp
  auto later = app->Append(0, Series(7), 3008, 0);
  REQUIRE(later.ok());
  CHECK(*later == ref7);
  auto fresh = app->Append(0, Series(10), 1, 0);
  REQUIRE(fresh.ok());
  CHECK(*fresh == 11);
  REQUIRE(app->Commit().ok());
}

TEST_CASE("replay maps a duplicate label set onto the first ref", "[wal]") {
  MemFs fs;
  std::string rec;
  std::vector<RefSeries> series = {{5, Series(1)}, {9, Series(1)}};
  std::vector<RefSample> samples = {{9, 500, 1}};
  {
    Registry r;
    auto st = MustOpen(fs, r);
    REQUIRE(st->Close().ok());
  }
  // Write the records through a storage-less writer path: reuse segment 1 as a raw WAL.
  fs.SetContents("/data/wal/00000001", "");
  {
    std::string s, v;
    EncodeSeries(series, &s);
    EncodeSamples(samples, &v);
    auto frag = [](const std::string& payload) {
      std::string out(1, '\x01');
      out.push_back(static_cast<char>(payload.size() >> 8));
      out.push_back(static_cast<char>(payload.size()));
      uint32_t crc = Crc32c(payload);
      for (int sh = 24; sh >= 0; sh -= 8) out.push_back(static_cast<char>(crc >> sh));
      return out + payload;
    };
    fs.SetContents("/data/wal/00000001", frag(s) + frag(v));
  }
  Registry r;
  auto st = MustOpen(fs, r);
  REQUIRE(st->replay_status().ok());
  CHECK(st->ActiveSeries() == 1);
  auto app = st->NewAppender();
  auto old = app->Append(0, Series(1), 500, 0);
  CHECK(old.status().code() == Code::kInvalidArgument);  // ref 9's sample counted for ref 5
  auto ok = app->Append(0, Series(1), 501, 0);
  REQUIRE(ok.ok());
  CHECK(*ok == 5);
  CHECK(*app->Append(0, Series(2), 1, 0) == 10);
  // Ref 9 is remembered so checkpoints keep its series record while its samples may remain.
  CHECK_THAT(r.Render(), Contains("prometheus_agent_deleted_series 1"));
}

TEST_CASE("a crash loses only what was not fsynced", "[wal]") {
  MemFs fs;
  {
    Registry r;
    // One page per segment: every segment that fills up is rotated, so fsynced.
    auto st = MustOpen(fs, r, {.segment_bytes = kPage, .compression = Compression::kNone});
    auto app = st->NewAppender();
    for (int i = 0; st->CurrentSegment() < 2; ++i) {
      REQUIRE(i < 10000);
      REQUIRE(app->Append(0, Series(i), 1000, i).ok());
      REQUIRE(app->Commit().ok());
    }
    REQUIRE(fs.FileSize("/data/wal/00000002") > 0);
    fs.Crash();  // lose unsynced bytes; the dying process's Close() writes nothing
    CHECK(fs.FileSize("/data/wal/00000002") == 0);
  }
  auto before = DecodeWal(fs);
  REQUIRE(before.status.ok());
  Registry r;
  auto st = MustOpen(fs, r);
  CHECK(st->replay_status().ok());
  CHECK(st->ActiveSeries() == before.series.size());
  CHECK(st->ActiveSeries() > 100);
  CHECK(st->CurrentSegment() == 3);
}

// Writes `n` single-sample commits into segments of one page; returns the number of segments.
uint32_t FillSegments(MemFs& fs, int n) {
  Registry r;
  auto st = MustOpen(fs, r, {.segment_bytes = kPage, .compression = Compression::kNone});
  auto app = st->NewAppender();
  for (int i = 0; i < n; ++i) {
    REQUIRE(app->Append(0, Series(i), 1000 + i, i + 0.1).ok());
    REQUIRE(app->Commit().ok());
  }
  REQUIRE(st->Close().ok());
  return st->CurrentSegment() + 1;
}

TEST_CASE("replay repairs a corrupt segment and the agent starts", "[wal]") {
  MemFs fs;
  const uint32_t segments = FillSegments(fs, 1200);
  REQUIRE(segments >= 4);
  auto all = DecodeWal(fs);
  REQUIRE(all.status.ok());

  SECTION("flipped byte in the middle segment") {
    // Find the record boundary to corrupt: flip a byte inside segment 1's 10th record.
    const std::string seg1 = fs.Contents("/data/wal/00000001");
    uint64_t off = 0;
    for (int i = 0; i < 10; ++i)
      off += 7 + ((uint8_t(seg1[off + 1]) << 8) | uint8_t(seg1[off + 2]));
    REQUIRE(fs.FlipByte("/data/wal/00000001", off + 7 + 3));

    Registry r;
    auto st = MustOpen(fs, r);
    CHECK(st->replay_status().code() == Code::kCorruption);
    CHECK_THAT(st->replay_status().message(),
               Contains("segment 00000001 offset " + std::to_string(off) + ": checksum mismatch"));
    CHECK_FALSE(fs.Exists("/data/wal/00000003"));   // later segments are dropped
    CHECK(fs.FileSize("/data/wal/00000002") == 0);  // a fresh segment after the repaired one
    CHECK(st->CurrentSegment() == 2);
    CHECK(fs.FileSize("/data/wal/00000001") % kPage == 0);

    auto app = st->NewAppender();
    REQUIRE(app->Append(0, Series(5000), 1, 1).ok());
    REQUIRE(app->Commit().ok());
    REQUIRE(st->Close().ok());

    auto after = DecodeWal(fs);
    REQUIRE(after.status.ok());  // the repaired WAL reads cleanly
    CHECK(after.series.size() < all.series.size());
    CHECK(after.series.size() > all.series.size() / segments);
    Registry r2;
    auto again = MustOpen(fs, r2);
    CHECK(again->replay_status().ok());
    CHECK(again->ActiveSeries() == after.series.size());
  }
  SECTION("torn tail of the last segment") {
    // Cut the zero padding and 12 bytes of the last (samples) record, as a crash would.
    const std::string last = "/data/wal/" + SegmentName(segments - 1);
    const std::string content = fs.Contents(last);
    uint64_t end = 0;
    while (end + 7 <= content.size() && content[end] != 0) {
      end += 7 + ((uint8_t(content[end + 1]) << 8) | uint8_t(content[end + 2]));
    }
    REQUIRE(fs.Truncate(last, end - 12).ok());
    Registry r;
    auto st = MustOpen(fs, r);
    CHECK(st->replay_status().code() == Code::kCorruption);
    CHECK_THAT(st->replay_status().message(), Contains("segment " + SegmentName(segments - 1)));
    CHECK(st->ActiveSeries() == all.series.size());  // the last series record survived
    CHECK(st->CurrentSegment() == segments);
    auto app = st->NewAppender();
    CHECK(app->Append(0, Series(1198), 1000 + 1198, 0).status().code() == Code::kInvalidArgument);
    CHECK(app->Append(0, Series(1199), 1000 + 1199, 0).ok());  // its sample was cut off
  }
  SECTION("a record type the agent does not replay") {
    // Metadata (type 6) makes a Prometheus agent repair the WAL; so does Petrel.
    std::string seg(7, '\0');
    seg[0] = 1;
    seg[2] = 1;
    std::string payload = "\x06";
    uint32_t crc = Crc32c(payload);
    for (int i = 0; i < 4; ++i) seg[3 + i] = static_cast<char>(crc >> (24 - 8 * i));
    fs.SetContents("/data/wal/" + SegmentName(segments), seg + payload);
    Registry r;
    auto st = MustOpen(fs, r);
    CHECK_THAT(st->replay_status().message(), Contains("invalid record type 6"));
    CHECK(st->ActiveSeries() == all.series.size());
  }
}

TEST_CASE("open fails on a gap between segments", "[wal]") {
  MemFs fs;
  fs.SetContents("/data/wal/00000000", "");
  fs.SetContents("/data/wal/00000002", "");
  Registry r;
  auto st = Storage::Open(fs, r, "/data", {});
  CHECK(st.status().code() == Code::kCorruption);
  auto bad = Storage::Open(fs, r, "/other", {.segment_bytes = 1000});
  CHECK(bad.status().code() == Code::kInvalidArgument);
}

TEST_CASE("a failed commit is counted and its series are logged later", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  REQUIRE(app->Append(0, Series(1), 100, 1).ok());
  fs.FailWrites(true);
  CHECK(app->Commit().code() == Code::kIo);
  fs.FailWrites(false);
  CHECK_THAT(r.Render(), Contains("prometheus_tsdb_wal_writes_failed_total 1"));
  REQUIRE(app->Append(0, Series(1), 100, 1).ok());  // lost sample: its timestamp is free again
  REQUIRE(app->Commit().ok());
  auto d = DecodeWal(fs);
  REQUIRE(d.status.ok());
  CHECK(d.series.size() == 1);
  CHECK(d.samples.size() == 1);
}

TEST_CASE("concurrent appenders keep every series record before its samples", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r, {.segment_bytes = 4 * kPage});
  std::vector<std::thread> threads;
  std::atomic<int> failed_commits{0};  // Catch2 assertions are not thread-safe
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&st, &failed_commits, t] {
      auto app = st->NewAppender();
      for (int batch = 0; batch < 50; ++batch) {
        for (int i = 0; i < 20; ++i) {
          // Overlapping label sets across threads: the same series may be created by any.
          auto ref = app->Append(0, Series(i + batch), 1000 * batch + 10 * t + i, t);
          (void)ref;  // out of order across threads is expected and fine
        }
        if (!app->Commit().ok()) ++failed_commits;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failed_commits == 0);
  REQUIRE(st->Close().ok());
  auto got = ReadAll(fs, "/data/wal");
  REQUIRE(got.status.ok());
  std::set<SeriesRef> known;
  size_t samples = 0;
  for (const auto& rec : got.records) {
    if (TypeOf(rec) == RecordType::kSeries) {
      std::vector<RefSeries> s;
      REQUIRE(DecodeSeries(rec, &s).ok());
      for (const auto& x : s) CHECK(known.insert(x.ref).second);  // logged once
    } else {
      std::vector<RefSample> s;
      REQUIRE(DecodeSamples(rec, &s).ok());
      for (const auto& x : s) REQUIRE(known.count(x.ref) == 1);
      samples += s.size();
    }
  }
  CHECK(known.size() == st->ActiveSeries());
  CHECK(known.size() == 69);
  CHECK(samples > 0);
}

std::string TempDir() {
  char tmpl[] = "/tmp/petrel-wal-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  REQUIRE(d != nullptr);
  return d;
}

TEST_CASE("storage round-trips on a real disk", "[wal]") {
  PosixFs fs;
  const std::string dir = TempDir();
  {
    Registry r;
    auto st = Storage::Open(fs, r, dir, {.segment_bytes = 2 * kPage});
    REQUIRE(st.ok());
    auto app = (*st)->NewAppender();
    for (int i = 0; i < 500; ++i) REQUIRE(app->Append(0, Series(i), 1000 + i, i).ok());
    REQUIRE(app->Commit().ok());
    REQUIRE((*st)->Close().ok());
  }
  Registry r;
  auto st = Storage::Open(fs, r, dir, {.segment_bytes = 2 * kPage});
  REQUIRE(st.ok());
  CHECK((*st)->replay_status().ok());
  CHECK((*st)->ActiveSeries() == 500);
  auto d = DecodeWal(fs, dir + "/wal");
  CHECK(d.status.ok());
  CHECK(d.samples.size() == 500);
  REQUIRE((*st)->Close().ok());
  REQUIRE(fs.RemoveAll(dir).ok());
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

TEST_CASE("replay starts from the newest checkpoint", "[wal]") {
  MemFs fs;
  Registry scratch;
  auto metrics = WriterMetrics::Register(scratch);
  auto write = [&](const std::string& dir, uint32_t index, std::vector<std::string> records) {
    REQUIRE(fs.MkdirAll(dir).ok());
    auto w = SegmentWriter::Create(fs, dir, index, {.segment_bytes = 1 << 20}, metrics);
    REQUIRE(w.ok());
    for (const auto& r : records) REQUIRE((*w)->Log(r).ok());
    REQUIRE((*w)->Close().ok());
  };
  auto series = [](std::vector<RefSeries> s) {
    std::string out;
    EncodeSeries(s, &out);
    return out;
  };
  auto samples = [](std::vector<RefSample> s) {
    std::string out;
    EncodeSamples(s, &out);
    return out;
  };
  // checkpoint.00000002 holds series 3 and 8 with their last timestamps; segment 2 is covered
  // by it (and holds a series that must not come back); segment 3 follows.
  write("/data/wal/checkpoint.00000001", 0, {series({{3, Series(3)}})});
  write("/data/wal/checkpoint.00000002", 0,
        {series({{3, Series(3)}, {8, Series(8)}}), samples({{3, 500, 0}, {8, 800, 0}})});
  REQUIRE(fs.MkdirAll("/data/wal/checkpoint.00000003.tmp").ok());
  write("/data/wal", 2, {series({{99, Series(99)}})});
  write("/data/wal", 3, {series({{9, Series(9)}}), samples({{8, 900, 1}, {9, 950, 1}})});

  Registry r;
  auto st = MustOpen(fs, r);
  REQUIRE(st->replay_status().ok());
  CHECK(st->ActiveSeries() == 3);
  CHECK(st->CurrentSegment() == 4);
  auto app = st->NewAppender();
  CHECK(app->Append(0, Series(3), 500, 0).status().code() == Code::kInvalidArgument);
  CHECK(app->Append(0, Series(8), 900, 0).status().code() == Code::kInvalidArgument);
  auto ref8 = app->Append(0, Series(8), 901, 0);
  REQUIRE(ref8.ok());
  CHECK(*ref8 == 8);
  auto fresh = app->Append(0, Series(99), 1, 0);
  REQUIRE(fresh.ok());
  CHECK(*fresh == 10);  // segment 2 was skipped, so ref 99 is unknown

  SECTION("a checkpoint without later segments") {
    REQUIRE(st->Close().ok());
    for (uint32_t i = 2; i <= 4; ++i) REQUIRE(fs.Remove("/data/wal/" + SegmentName(i)).ok());
    Registry r2;
    auto again = MustOpen(fs, r2);
    CHECK(again->CurrentSegment() == 3);
    CHECK(again->ActiveSeries() == 2);
  }
  SECTION("a corrupt checkpoint is a hard error") {
    REQUIRE(st->Close().ok());
    REQUIRE(fs.FlipByte("/data/wal/checkpoint.00000002/00000000", 10));
    Registry r2;
    auto again = Storage::Open(fs, r2, "/data", {});
    CHECK(again.status().code() == Code::kCorruption);
    CHECK_THAT(again.status().message(), Contains("checkpoint.00000002"));
  }
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

// Reads every record from segment `index` onward the way remote write tails the WAL: a live
// reader on the newest segment; when a newer segment shows up, finish the current one first.
class Tailer {
 public:
  Tailer(Fs& fs, std::string wal_dir) : fs_(fs), dir_(std::move(wal_dir)) {}

  // Reads what is there now; returns false on an error (recorded in status).
  bool Poll() {
    std::string rec;
    for (int guard = 0; guard < 100000; ++guard) {
      if (!reader_) {
        auto r = SegmentReader::Open(fs_, dir_, index_, SegmentReader::Mode::kLive);
        if (!r.ok()) return r.status().code() == Code::kNotFound;  // not created yet
        reader_ = std::move(*r);
      }
      auto more = reader_->Next(&rec);
      if (!more.ok()) {
        status = more.status();
        return false;
      }
      if (*more) {
        Apply(rec);
        continue;
      }
      // At the end of what is written. Move on only if a newer segment exists, after reading
      // this one once more: the writer may have finished it before starting the next.
      if (!fs_.Exists(JoinPath(dir_, SegmentName(index_ + 1)))) return true;
      for (;;) {
        auto last = reader_->Next(&rec);
        if (!last.ok()) {
          status = last.status();
          return false;
        }
        if (!*last) break;
        Apply(rec);
      }
      reader_.reset();
      ++index_;
    }
    return true;
  }

  std::set<SeriesRef> series;
  size_t samples = 0;
  size_t samples_before_series = 0;
  Status status;

 private:
  void Apply(const std::string& rec) {
    if (TypeOf(rec) == RecordType::kSeries) {
      std::vector<RefSeries> s;
      REQUIRE(DecodeSeries(rec, &s).ok());
      for (const auto& x : s) series.insert(x.ref);
    } else {
      std::vector<RefSample> s;
      REQUIRE(DecodeSamples(rec, &s).ok());
      for (const auto& x : s) samples_before_series += series.count(x.ref) == 0;
      samples += s.size();
    }
  }

  Fs& fs_;
  const std::string dir_;
  uint32_t index_ = 0;
  std::unique_ptr<SegmentReader> reader_;
};

TEST_CASE("a live tailer follows commits across segment rotations", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r, {.segment_bytes = kPage, .compression = Compression::kNone});
  Tailer tail(fs, st->wal_dir());
  auto app = st->NewAppender();
  uint64_t seen = 0;
  for (int batch = 0; batch < 200; ++batch) {
    for (int i = 0; i < 10; ++i) REQUIRE(app->Append(0, Series(batch * 10 + i), batch, i).ok());
    REQUIRE(app->Commit().ok());
    REQUIRE(st->notifier().WaitFor(&seen, std::chrono::milliseconds(0), {}));
    REQUIRE(tail.Poll());
    REQUIRE(tail.samples == static_cast<size_t>(batch + 1) * 10);  // visible right after Commit
  }
  CHECK(st->CurrentSegment() >= 3);
  CHECK(tail.series.size() == 2000);
  CHECK(tail.samples_before_series == 0);
}

TEST_CASE("a live tailer on a real disk keeps up with a concurrent writer", "[wal]") {
  PosixFs fs;
  char tmpl[] = "/tmp/petrel-wal-live-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  Registry r;
  auto opened =
      Storage::Open(fs, r, dir, {.segment_bytes = kPage, .compression = Compression::kNone});
  REQUIRE(opened.ok());
  Storage& st = **opened;
  constexpr int kBatches = 300;
  constexpr int kPerBatch = 20;
  std::atomic<int> failed{0};
  std::thread writer([&] {
    auto app = st.NewAppender();
    for (int batch = 0; batch < kBatches; ++batch) {
      for (int i = 0; i < kPerBatch; ++i) {
        if (!app->Append(0, Series(i + batch), 1000 + batch, i).ok()) ++failed;
      }
      if (!app->Commit().ok()) ++failed;
    }
  });
  Tailer tail(fs, st.wal_dir());
  uint64_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (tail.samples < size_t{kBatches} * kPerBatch &&
         std::chrono::steady_clock::now() < deadline) {
    st.notifier().WaitFor(&seen, std::chrono::milliseconds(50), {});
    if (!tail.Poll()) break;
  }
  writer.join();
  CHECK(failed == 0);
  CHECK(tail.status.ok());
  CHECK(tail.samples == size_t{kBatches} * kPerBatch);
  CHECK(tail.samples_before_series == 0);
  CHECK(st.CurrentSegment() > 1);
  REQUIRE(st.Close().ok());
  REQUIRE(fs.RemoveAll(dir).ok());
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

// The WAL's series records, raw.
std::vector<std::string> SeriesRecords(Fs& fs) {
  std::vector<std::string> out;
  for (auto& rec : ReadAll(fs, "/data/wal").records) {
    if (TypeOf(rec) == RecordType::kSeries) out.push_back(std::move(rec));
  }
  return out;
}

TEST_CASE("a logged series is found by its labels again under the same ref", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r, {.compression = Compression::kNone});
  auto a = st->NewAppender();
  auto first = a->Append(0, Series(1), 100, 1);
  REQUIRE(first.ok());
  REQUIRE(a->Commit().ok());
  // A new appender has no ref: the labels alone must find the series.
  auto b = st->NewAppender();
  auto again = b->Append(0, Series(1), 200, 2);
  REQUIRE(again.ok());
  CHECK(*again == *first);
  CHECK(b->Append(0, Series(1), 100, 3).status().code() == Code::kInvalidArgument);  // its last_ts
  REQUIRE(b->Commit().ok());
  CHECK(st->ActiveSeries() == 1);
  // One Series record, byte for byte what a record of these labels encodes to.
  std::string want;
  const std::vector<RefSeries> series = {{*first, Series(1)}};
  EncodeSeries(series, &want);
  CHECK(SeriesRecords(fs) == std::vector<std::string>{want});
}

TEST_CASE("a rolled-back series whose record failed is logged later with its labels", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r, {.compression = Compression::kNone});
  auto app = st->NewAppender();
  auto r1 = app->Append(0, Series(1), 100, 1);
  auto r2 = app->Append(0, Series(2), 100, 2);
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  fs.FailWrites(true);
  app->Rollback();  // its Series record cannot be written
  fs.FailWrites(false);
  CHECK(SeriesRecords(fs).empty());

  SECTION("found again by its labels") {
    auto again = app->Append(0, Series(1), 100, 1);
    REQUIRE(again.ok());
    CHECK(*again == *r1);
    REQUIRE(app->Commit().ok());
    std::string want;
    const std::vector<RefSeries> series = {{*r1, Series(1)}};
    EncodeSeries(series, &want);
    CHECK(SeriesRecords(fs) == std::vector<std::string>{want});
  }
  SECTION("appended to by its ref") {
    REQUIRE(app->Append(*r2, Labels{}, 100, 2).ok());
    REQUIRE(app->Commit().ok());
    std::string want;
    const std::vector<RefSeries> series = {{*r2, Series(2)}};
    EncodeSeries(series, &want);
    CHECK(SeriesRecords(fs) == std::vector<std::string>{want});
  }
  SECTION("logged by a later batch that did not create it") {
    auto again = app->Append(0, Series(2), 100, 2);
    REQUIRE(again.ok());
    CHECK(*again == *r2);
    app->Rollback();  // created_ is empty: this batch did not create it, so nothing is logged
    CHECK(SeriesRecords(fs).empty());
    REQUIRE(app->Append(*r1, Labels{}, 100, 1).ok());
    REQUIRE(app->Append(*r2, Labels{}, 100, 2).ok());
    REQUIRE(app->Commit().ok());
    std::string want;
    const std::vector<RefSeries> series = {{*r1, Series(1)}, {*r2, Series(2)}};
    EncodeSeries(series, &want);
    CHECK(SeriesRecords(fs) == std::vector<std::string>{want});
  }
  // Whatever was logged replays to the same refs.
  REQUIRE(st->Close().ok());
  Registry r2_registry;
  auto reopened = MustOpen(fs, r2_registry);
  REQUIRE(reopened->replay_status().ok());
}

TEST_CASE("an unlogged series dropped by GC is logged by a batch still holding it", "[wal]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r, {.compression = Compression::kNone});
  auto app = st->NewAppender();
  auto ref = app->Append(0, Series(1), 100, 1);
  REQUIRE(ref.ok());
  // Two GC cycles pass before the batch commits: the series is unlinked (spared once) but not
  // freed, and its labels must still reach the WAL.
  REQUIRE(st->Truncate(1000).ok());
  REQUIRE(st->Truncate(1000).ok());
  CHECK(st->ActiveSeries() == 0);
  REQUIRE(app->Commit().ok());
  std::string want;
  const std::vector<RefSeries> series = {{*ref, Series(1)}};
  EncodeSeries(series, &want);
  CHECK(SeriesRecords(fs) == std::vector<std::string>{want});
}

}  // namespace
}  // namespace petrel::wal
