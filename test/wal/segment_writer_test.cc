#include "wal/segment_writer.h"

#include <catch2/catch.hpp>

#include "test/support/mem_fs.h"
#include "test/wal/wal_test_util.h"
#include "wal/crc32c.h"
#include "wal/records.h"

namespace petrel::wal {
namespace {

using testing::Hex;
using testing::Pseudo;
using testing::ReadAll;
using testing::Unhex;

constexpr uint64_t kPage = kPageSize;

struct Fixture {
  MemFs fs;
  Registry registry;
  WriterMetrics metrics = WriterMetrics::Register(registry);
  Fixture() { REQUIRE(fs.MkdirAll("/wal").ok()); }

  std::unique_ptr<SegmentWriter> Writer(uint64_t segment_bytes, bool snappy, uint32_t index = 0) {
    auto w =
        SegmentWriter::Create(fs, "/wal", index,
                              {.segment_bytes = segment_bytes,
                               .compression = snappy ? Compression::kSnappy : Compression::kNone},
                              metrics);
    REQUIRE(w.ok());
    return std::move(*w);
  }
  std::string Segment(uint32_t index) { return fs.Contents("/wal/" + SegmentName(index)); }
};

struct Fragment {
  uint8_t type;
  uint16_t len;
  uint32_t crc;
};

Fragment HeaderAt(const std::string& file, uint64_t off) {
  REQUIRE(off + 7 <= file.size());
  auto b = [&](uint64_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(file[off + i]));
  };
  return {static_cast<uint8_t>(b(0)), static_cast<uint16_t>(b(1) << 8 | b(2)),
          b(3) << 24 | b(4) << 16 | b(5) << 8 | b(6)};
}

TEST_CASE("segment bytes match the worked example (compression off)", "[wal]") {
  Fixture f;
  auto w = f.Writer(128 << 20, false);
  std::string series, samples;
  std::vector<RefSeries> s = {{1, Labels{{"__name__", "up"}, {"job", "node"}}}};
  std::vector<RefSample> v = {{1, 1700000000000, 1.0}, {2, 1700000015000, 0.5}};
  EncodeSeries(s, &series);
  EncodeSamples(v, &samples);
  std::string_view records[] = {series, samples};
  const uint64_t syncs = f.fs.SyncCount();
  REQUIRE(w->Log(records).ok());

  const std::string file = f.Segment(0);
  REQUIRE(file.size() == 84);  // flushed, not padded
  CHECK(Hex(file.substr(0, 7)) == "01 00 1f 8b c1 a2 47");
  CHECK(file.substr(7, 31) == series);
  CHECK(Hex(file.substr(38, 7)) == "01 00 27 b9 a7 f9 f5");
  CHECK(file.substr(45, 39) == samples);
  CHECK(f.fs.SyncCount() == syncs);  // no fsync per commit
  CHECK(f.metrics.record_part_writes->Value() == 2);
  CHECK(f.metrics.record_parts_bytes->Value() == 84);
  CHECK(f.metrics.page_flushes->Value() == 1);
  CHECK(f.metrics.completed_pages->Value() == 0);

  REQUIRE(w->Close().ok());
  const std::string closed = f.Segment(0);
  REQUIRE(closed.size() == kPage);
  CHECK(closed.substr(0, 84) == file);
  CHECK(closed.substr(84) == std::string(kPage - 84, '\0'));
  CHECK(f.fs.SyncCount() == syncs + 1);
  CHECK(f.metrics.completed_pages->Value() == 1);
  CHECK(w->Log("more").code() == Code::kIo);
}

TEST_CASE("a record larger than a page is split FIRST/MIDDLE/LAST", "[wal]") {
  Fixture f;
  auto w = f.Writer(1 << 20, false);
  const std::string rec = Pseudo(70000, 1);
  REQUIRE(w->Log("x").ok());  // 8 bytes, so fragments do not start page-aligned
  REQUIRE(w->Log(rec).ok());
  const std::string file = f.Segment(0);

  Fragment first = HeaderAt(file, 8);
  CHECK(first.type == 2);
  CHECK(first.len == kPage - 8 - 7);
  CHECK(first.crc == Crc32c(std::string_view(rec).substr(0, first.len)));
  Fragment middle = HeaderAt(file, kPage);
  CHECK(middle.type == 3);
  CHECK(middle.len == kPage - 7);
  Fragment last = HeaderAt(file, 2 * kPage);
  CHECK(last.type == 4);
  CHECK(size_t{first.len} + middle.len + last.len == rec.size());
  CHECK(file.size() == 2 * kPage + 7 + last.len);
  CHECK(f.metrics.completed_pages->Value() == 2);

  auto got = ReadAll(f.fs, "/wal");
  REQUIRE(got.status.ok());
  REQUIRE(got.records.size() == 2);
  CHECK(got.records[1] == rec);
}

TEST_CASE("exactly 7 bytes left in a page take an empty FIRST fragment", "[wal]") {
  Fixture f;
  auto w = f.Writer(1 << 20, false);
  const std::string a = Pseudo(kPage - 7 - 7, 2);  // leaves exactly 7 bytes in page 0
  const std::string b = Pseudo(10, 3);
  REQUIRE(w->Log(a).ok());
  CHECK(f.fs.FileSize("/wal/00000000") == kPage - 7);
  REQUIRE(w->Log(b).ok());
  const std::string file = f.Segment(0);
  CHECK(Hex(file.substr(kPage - 7, 7)) == "02 00 00 00 00 00 00");  // FIRST, N=0, crc(empty)=0
  Fragment last = HeaderAt(file, kPage);
  CHECK(last.type == 4);
  CHECK(last.len == 10);
  auto got = ReadAll(f.fs, "/wal");
  REQUIRE(got.status.ok());
  REQUIRE(got.records.size() == 2);
  CHECK(got.records[1] == b);
}

TEST_CASE("fewer than 7 bytes left in a page are zero-filled", "[wal]") {
  Fixture f;
  auto w = f.Writer(1 << 20, false);
  const std::string a = Pseudo(kPage - 7 - 3, 4);  // leaves 3 bytes
  REQUIRE(w->Log(a).ok());
  const std::string file = f.Segment(0);
  REQUIRE(file.size() == kPage);
  CHECK(file.substr(kPage - 3) == std::string(3, '\0'));
  CHECK(f.metrics.completed_pages->Value() == 1);
  REQUIRE(w->Log("b").ok());
  CHECK(HeaderAt(f.Segment(0), kPage).type == 1);
}

TEST_CASE("an empty record is one empty FULL fragment", "[wal]") {
  Fixture f;
  auto w = f.Writer(1 << 20, true);
  REQUIRE(w->Log("").ok());
  CHECK(Hex(f.Segment(0)) == "01 00 00 00 00 00 00");
  auto got = ReadAll(f.fs, "/wal");
  REQUIRE(got.status.ok());
  REQUIRE(got.records.size() == 1);
  CHECK(got.records[0].empty());
}

TEST_CASE("records never span segments", "[wal]") {
  Fixture f;
  auto w = f.Writer(2 * kPage, false);
  std::vector<std::string> recs;
  for (uint32_t i = 0; i < 4; ++i) recs.push_back(Pseudo(20000, 10 + i));
  for (int i = 0; i < 3; ++i) REQUIRE(w->Log(recs[i]).ok());
  CHECK(w->segment() == 0);
  const uint64_t syncs = f.fs.SyncCount();
  REQUIRE(w->Log(recs[3]).ok());  // 5501 bytes of capacity left: rotate first
  CHECK(w->segment() == 1);
  CHECK(f.metrics.segment_current->Value() == 1);
  CHECK(f.fs.FileSize("/wal/00000000") == 2 * kPage);  // padded on rotation
  CHECK(f.fs.SyncCount() == syncs + 1);                // and fsynced

  SECTION("each segment holds whole records") {
    std::string rec;
    auto r0 = SegmentReader::Open(f.fs, "/wal", 0, SegmentReader::Mode::kStrict);
    REQUIRE(r0.ok());
    for (int i = 0; i < 3; ++i) {
      auto more = (*r0)->Next(&rec);
      REQUIRE(more.ok());
      REQUIRE(*more);
      CHECK(rec == recs[i]);
    }
    auto end = (*r0)->Next(&rec);
    REQUIRE(end.ok());
    CHECK_FALSE(*end);
    auto r1 = SegmentReader::Open(f.fs, "/wal", 1, SegmentReader::Mode::kStrict);
    REQUIRE(r1.ok());
    auto more = (*r1)->Next(&rec);
    REQUIRE(more.ok());
    REQUIRE(*more);
    CHECK(rec == recs[3]);
  }
  SECTION("the rotated segment survives a crash") {
    f.fs.DropUnsynced();
    CHECK(f.fs.FileSize("/wal/00000000") == 2 * kPage);
    CHECK(f.fs.FileSize("/wal/00000001") == 0);
  }
  SECTION("a record bigger than a segment grows the segment it starts in") {
    const std::string big = Pseudo(5 * kPage, 99);
    REQUIRE(w->Log(big).ok());  // segment 1 is not empty: rotate, then grow segment 2
    CHECK(w->segment() == 2);
    CHECK(f.fs.FileSize("/wal/00000002") > 5 * kPage);
    REQUIRE(w->Log("after").ok());  // segment 2 is over capacity: rotate again
    CHECK(w->segment() == 3);
    auto got = ReadAll(f.fs, "/wal");
    REQUIRE(got.status.ok());
    REQUIRE(got.records.size() == 6);
    CHECK(got.records[4] == big);
  }
}

TEST_CASE("snappy output is kept only when strictly smaller", "[wal]") {
  Fixture f;
  auto w = f.Writer(1 << 20, true);
  const std::string compressible(1000, 'a');
  const std::string random = Pseudo(200, 5);
  REQUIRE(w->Log(compressible).ok());
  const std::string file = f.Segment(0);
  Fragment a = HeaderAt(file, 0);
  CHECK(a.type == (1 | 0x08));
  CHECK(a.len < compressible.size());
  CHECK(f.metrics.bytes_saved_snappy->Value() == compressible.size() - a.len);

  REQUIRE(w->Log(random).ok());
  Fragment b = HeaderAt(f.Segment(0), 7 + a.len);
  CHECK(b.type == 1);
  CHECK(b.len == random.size());

  auto got = ReadAll(f.fs, "/wal");
  REQUIRE(got.status.ok());
  REQUIRE(got.records.size() == 2);
  CHECK(got.records[0] == compressible);
  CHECK(got.records[1] == random);
}

TEST_CASE("a failed write leaves no trace and writing goes on", "[wal]") {
  Fixture f;
  auto w = f.Writer(1 << 20, false);
  REQUIRE(w->Log("first").ok());
  f.fs.FailWrites(true);
  CHECK(w->Log("lost").code() == Code::kIo);
  CHECK(f.metrics.writes_failed->Value() == 1);
  CHECK(w->segment_offset() == 12);
  f.fs.FailWrites(false);
  REQUIRE(w->Log("second").ok());
  auto got = ReadAll(f.fs, "/wal");
  REQUIRE(got.status.ok());
  CHECK(got.records == std::vector<std::string>{"first", "second"});
}

TEST_CASE("a segment is never appended to", "[wal]") {
  Fixture f;
  f.fs.SetContents("/wal/00000003", "old");
  auto w = SegmentWriter::Create(
      f.fs, "/wal", 3, {.segment_bytes = kPage, .compression = Compression::kNone}, f.metrics);
  CHECK(w.status().code() == Code::kIo);
  auto bad = SegmentWriter::Create(
      f.fs, "/wal", 4, {.segment_bytes = kPage + 1, .compression = Compression::kNone}, f.metrics);
  CHECK(bad.status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

TEST_CASE("zstd records are written when smaller and read back", "[wal]") {
  if (!CompressionSupported(Compression::kZstd)) {
    WARN("built without libzstd; skipping");
    return;
  }
  MemFs fs;
  Registry registry;
  auto metrics = WriterMetrics::Register(registry);
  REQUIRE(fs.MkdirAll("/wal").ok());
  auto w = SegmentWriter::Create(
      fs, "/wal", 0, {.segment_bytes = 1 << 20, .compression = Compression::kZstd}, metrics);
  REQUIRE(w.ok());
  const std::string compressible(3 * kPageSize, 'z');
  const std::string random = testing::Pseudo(100, 1);
  REQUIRE((*w)->Log(compressible).ok());
  REQUIRE((*w)->Log(random).ok());
  const std::string file = fs.Contents("/wal/00000000");
  CHECK(static_cast<uint8_t>(file[0]) == (1 | 0x10));
  CHECK(metrics.bytes_saved_zstd->Value() > 0);
  CHECK(metrics.bytes_saved_snappy->Value() == 0);
  auto got = testing::ReadAll(fs, "/wal");
  REQUIRE(got.status.ok());
  CHECK(got.records == std::vector<std::string>{compressible, random});

  SECTION("a damaged zstd frame is corruption") {
    // Rewrite the frame's magic number with a valid CRC so only decompression can fail.
    std::string bad = file;
    const uint16_t len =
        static_cast<uint16_t>(static_cast<uint8_t>(bad[1]) << 8 | static_cast<uint8_t>(bad[2]));
    bad[7] = 0;
    const uint32_t crc = Crc32c(std::string_view(bad).substr(7, len));
    for (int i = 0; i < 4; ++i) bad[3 + i] = static_cast<char>(crc >> (24 - 8 * i));
    fs.SetContents("/wal/00000000", bad);
    auto broken = testing::ReadAll(fs, "/wal");
    CHECK(broken.records.empty());
    CHECK_THAT(broken.status.message(),
               Catch::Matchers::Contains("segment 00000000 offset 0: zstd decompression failed"));
  }
}

}  // namespace
}  // namespace petrel::wal
