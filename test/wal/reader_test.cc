#include "wal/reader.h"

#include <catch2/catch.hpp>

#include "test/support/mem_fs.h"
#include "test/wal/wal_test_util.h"
#include "wal/crc32c.h"
#include "wal/segment_writer.h"

namespace petrel::wal {
namespace {

using Catch::Matchers::Contains;
using testing::Pseudo;
using testing::ReadAll;

constexpr uint64_t kPage = kPageSize;

std::unique_ptr<SegmentWriter> NewWriter(MemFs& fs, const std::string& dir, uint32_t index = 0,
                                         bool snappy = false) {
  REQUIRE(fs.MkdirAll(dir).ok());
  auto w = SegmentWriter::Create(
      fs, dir, index,
      {.segment_bytes = 1 << 20, .compression = snappy ? Compression::kSnappy : Compression::kNone},
      {});
  REQUIRE(w.ok());
  return std::move(*w);
}

TEST_CASE("ListSegments sorts numeric names and rejects gaps", "[wal]") {
  MemFs fs;
  SECTION("missing dir") { CHECK(ListSegments(fs, "/nope").status().code() == Code::kNotFound); }
  SECTION("non-numeric names are ignored") {
    for (const char* name :
         {"00000002", "00000001", "checkpoint.00000000", "00000003.repair", "lock", "000003"}) {
      fs.SetContents(std::string("/wal/") + name, "");
    }
    REQUIRE(fs.MkdirAll("/wal/checkpoint.00000001").ok());
    auto got = ListSegments(fs, "/wal");
    REQUIRE(got.ok());
    CHECK(*got == std::vector<uint32_t>{1, 2, 3});
  }
  SECTION("a gap is corruption") {
    fs.SetContents("/wal/00000001", "");
    fs.SetContents("/wal/00000003", "");
    auto got = ListSegments(fs, "/wal");
    CHECK(got.status().code() == Code::kCorruption);
    CHECK_THAT(got.status().message(), Contains("segments are not sequential"));
  }
  CHECK(SegmentName(42) == "00000042");
}

TEST_CASE("strict reader reports where a segment is broken", "[wal]") {
  MemFs fs;
  auto w = NewWriter(fs, "/wal");
  const std::vector<std::string> recs = {Pseudo(100, 1), Pseudo(200, 2), Pseudo(300, 3)};
  for (const auto& r : recs) REQUIRE(w->Log(r).ok());
  const std::string path = "/wal/00000000";

  SECTION("intact: a short last page reads as padding") {
    auto got = ReadAll(fs, "/wal");
    REQUIRE(got.status.ok());
    CHECK(got.records == recs);
  }
  SECTION("torn tail") {
    REQUIRE(fs.TruncateBy(path, 3));
    auto got = ReadAll(fs, "/wal");
    CHECK(got.records.size() == 2);
    CHECK(got.status.code() == Code::kCorruption);
    CHECK_THAT(got.status.message(), Contains("segment 00000000 offset 314"));
  }
  SECTION("flipped payload byte") {
    REQUIRE(fs.FlipByte(path, 107 + 7 + 50));  // inside record 2's payload
    auto got = ReadAll(fs, "/wal");
    CHECK(got.records.size() == 1);
    CHECK(got.status.code() == Code::kCorruption);
    CHECK_THAT(got.status.message(), Contains("segment 00000000 offset 107: checksum mismatch"));
  }
  SECTION("flipped length byte") {
    REQUIRE(fs.FlipByte(path, 107 + 1));  // length becomes > 32761
    auto got = ReadAll(fs, "/wal");
    CHECK(got.records.size() == 1);
    CHECK_THAT(got.status.message(), Contains("offset 107: invalid fragment size"));
  }
  SECTION("non-zero byte in padding") {
    REQUIRE(w->Close().ok());
    REQUIRE(fs.SetByte(path, kPage - 1, 1));
    auto got = ReadAll(fs, "/wal");
    CHECK(got.records.size() == 3);
    CHECK_THAT(got.status.message(), Contains("non-zero byte in padded page"));
  }
  SECTION("errors are sticky") {
    REQUIRE(fs.FlipByte(path, 10));
    auto r = SegmentReader::Open(fs, "/wal", 0, SegmentReader::Mode::kStrict);
    REQUIRE(r.ok());
    std::string rec;
    CHECK((*r)->Next(&rec).status().code() == Code::kCorruption);
    CHECK((*r)->Next(&rec).status().code() == Code::kCorruption);
  }
}

TEST_CASE("strict reader: a record cut at a page boundary is torn", "[wal]") {
  MemFs fs;
  auto w = NewWriter(fs, "/wal");
  REQUIRE(w->Log("small").ok());
  REQUIRE(w->Log(Pseudo(2 * kPage, 7)).ok());
  REQUIRE(fs.Truncate("/wal/00000000", 2 * kPage).ok());  // FIRST and MIDDLE, no LAST
  auto got = ReadAll(fs, "/wal");
  CHECK(got.records.size() == 1);
  CHECK(got.status.code() == Code::kCorruption);
  CHECK_THAT(got.status.message(), Contains("segment 00000000 offset 12: last record is torn"));
}

TEST_CASE("strict reader rejects invalid fragment sequences", "[wal]") {
  MemFs fs;
  auto frag = [](uint8_t type, std::string_view payload) {
    std::string out(1, static_cast<char>(type));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size()));
    uint32_t crc = Crc32c(payload);
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(crc >> s));
    out.append(payload);
    return out;
  };
  SECTION("LAST with no FIRST") {
    fs.SetContents("/wal/00000000", frag(1, "ok") + frag(4, "tail"));
    auto got = ReadAll(fs, "/wal");
    CHECK(got.records == std::vector<std::string>{"ok"});
    CHECK_THAT(got.status.message(), Contains("offset 9: unexpected last fragment with no record"));
  }
  SECTION("FULL inside a record") {
    fs.SetContents("/wal/00000000", frag(2, "he") + frag(1, "x"));
    CHECK_THAT(ReadAll(fs, "/wal").status.message(),
               Contains("offset 9: unexpected full fragment inside a record"));
  }
  SECTION("unknown fragment kind") {
    fs.SetContents("/wal/00000000", frag(5, "x"));
    CHECK_THAT(ReadAll(fs, "/wal").status.message(), Contains("invalid fragment type 5"));
  }
  SECTION("FIRST MIDDLE LAST") {
    fs.SetContents("/wal/00000000", frag(2, "a") + frag(3, "b") + frag(4, "c"));
    auto got = ReadAll(fs, "/wal");
    REQUIRE(got.status.ok());
    CHECK(got.records == std::vector<std::string>{"abc"});
  }
  SECTION("bad snappy data") {
    fs.SetContents("/wal/00000000", frag(1 | 0x08, "\xff\xff\xff\xff\xff"));
    CHECK_THAT(ReadAll(fs, "/wal").status.message(), Contains("snappy"));
  }
}

TEST_CASE("live reader sees a record once both halves are written", "[wal]") {
  MemFs fs;
  // Produce the bytes of two records in a scratch segment, then feed them piecewise.
  auto w = NewWriter(fs, "/scratch", 0, true);
  const std::string small(500, 'x');
  const std::string big = Pseudo(kPage + 1000, 9);  // FIRST + LAST
  REQUIRE(w->Log(small).ok());
  REQUIRE(w->Log(big).ok());
  const std::string bytes = fs.Contents("/scratch/00000000");
  const size_t small_end = bytes.size() - (7 + big.size() + 7);  // small is compressed

  REQUIRE(fs.MkdirAll("/wal").ok());
  auto file = fs.OpenForAppend("/wal/00000000");
  REQUIRE(file.ok());
  auto r = SegmentReader::Open(fs, "/wal", 0, SegmentReader::Mode::kLive);
  REQUIRE(r.ok());
  std::string rec;
  auto next = [&] {
    auto more = (*r)->Next(&rec);
    REQUIRE(more.ok());
    return *more;
  };

  CHECK_FALSE(next());  // empty file
  REQUIRE((*file)->Append(std::string_view(bytes).substr(0, small_end / 2)).ok());
  CHECK_FALSE(next());
  CHECK((*r)->offset() == 0);
  REQUIRE((*file)
              ->Append(std::string_view(bytes).substr(small_end / 2, small_end - small_end / 2))
              .ok());
  REQUIRE(next());
  CHECK(rec == small);
  CHECK((*r)->offset() == small_end);
  CHECK_FALSE(next());

  // The big record: first half (FIRST complete, LAST partial), then the rest.
  const size_t half = small_end + (bytes.size() - small_end) * 3 / 4;
  REQUIRE((*file)->Append(std::string_view(bytes).substr(small_end, half - small_end)).ok());
  CHECK_FALSE(next());
  CHECK_FALSE(next());
  REQUIRE((*file)->Append(std::string_view(bytes).substr(half)).ok());
  REQUIRE(next());
  CHECK(rec == big);
  CHECK_FALSE(next());

  SECTION("corruption is still an error while tailing") {
    REQUIRE((*file)->Append(std::string("\x01\x00\x02\x00\x00\x00\x00zz", 9)).ok());
    auto more = (*r)->Next(&rec);
    CHECK(more.status().code() == Code::kCorruption);
    CHECK_THAT(more.status().message(), Contains("checksum mismatch"));
  }
  SECTION("padding written on rotation is skipped") {
    REQUIRE((*file)->Append(std::string(kPage - bytes.size() % kPage, '\0')).ok());
    CHECK_FALSE(next());
    REQUIRE((*file)->Append(std::string_view(bytes).substr(0, small_end)).ok());
    REQUIRE(next());
    CHECK(rec == small);
  }
}

TEST_CASE("live reader tails a segment while the writer appends", "[wal]") {
  MemFs fs;
  auto w = NewWriter(fs, "/wal");
  auto r = SegmentReader::Open(fs, "/wal", 0, SegmentReader::Mode::kLive);
  REQUIRE(r.ok());
  std::string rec;
  for (uint32_t i = 0; i < 20; ++i) {
    const std::string want = Pseudo(1000 + i * 3000, i);
    REQUIRE(w->Log(want).ok());
    auto more = (*r)->Next(&rec);
    REQUIRE(more.ok());
    REQUIRE(*more);
    CHECK(rec == want);
    more = (*r)->Next(&rec);
    REQUIRE(more.ok());
    CHECK_FALSE(*more);
  }
}

}  // namespace
}  // namespace petrel::wal
