// Cross-check with the real Prometheus: promtool's TSDB replays <dir>/wal as its head, so a
// `promtool tsdb dump` of a directory written by Storage proves the format is byte-compatible.
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "wal/reader.h"
#include "wal/records.h"
#include "wal/retention.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

std::string Run(const std::string& cmd, int* exit_code) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The lines of promtool's output, for lookups: searching the whole output once per expected line
// is quadratic, and under TSan (memcmp intercepted) that took over the 120 s test timeout.
std::set<std::string> LinesOf(const std::string& out) {
  std::set<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.insert(out.substr(start, nl - start));
  }
  return lines;
}

// How promtool prints a series: {__name__="x", a="b"}.
std::string PromtoolLabels(const Labels& labels) {
  std::string out = "{";
  for (const auto& l : labels) {
    if (out.size() > 1) out += ", ";
    out += fmt::format("{}=\"{}\"", l.name, l.value);
  }
  return out + "}";
}

// Hex-looking, poorly compressible label values, so records stay large after snappy.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A temp dir on the real disk, removed even when a REQUIRE fails.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/petrel-promtool-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)PosixFs().RemoveAll(path); }
  std::string path;
};

TEST_CASE("promtool tsdb dump reads a WAL written by Storage", "[wal][promtool]") {
  if (::access(kPromtool, X_OK) != 0) {
    WARN("promtool not found at " << kPromtool << "; skipping the Prometheus cross-check");
    return;
  }
  TempDir temp;
  const std::string& dir = temp.path;
  PosixFs fs;

  // Snappy on; segments of 2 pages so the WAL rotates; one commit has a series record larger
  // than a page (FIRST/MIDDLE/LAST fragments).
  const int kSeries = 3000;
  const int64_t t0 = 1700000000000;
  std::vector<std::string> want;
  {
    Registry r;
    auto st = Storage::Open(fs, r, dir, {.segment_bytes = 2 * kPageSize});
    REQUIRE(st.ok());
    auto app = (*st)->NewAppender();
    std::vector<SeriesRef> refs;
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < kSeries; ++i) {
        Labels labels{{"__name__", "petrel_test_metric"},
                      {"instance", fmt::format("{:016x}:9100", Mix(i))},
                      {"job", "node"}};
        const int64_t t = t0 + round * 15000;
        // %g-friendly values; the last round marks every 100th series stale.
        const bool stale = round == 2 && i % 100 == 0;
        const double v = stale ? StaleNaN() : i + round * 0.25;
        auto ref = app->Append(round == 0 ? 0 : refs[i], labels, t, v);
        REQUIRE(ref.ok());
        if (round == 0) refs.push_back(*ref);
        want.push_back(fmt::format("{} {} {}", PromtoolLabels(labels),
                                   stale ? "NaN" : fmt::format("{}", v), t));
      }
      REQUIRE(app->Commit().ok());
    }
    CHECK((*st)->CurrentSegment() > 0);
    REQUIRE((*st)->Close().ok());
  }
  // The first record (series) was compressed and still spans pages: FIRST | snappy.
  auto seg0 = ReadFileToString(fs, dir + "/wal/00000000");
  REQUIRE(seg0.ok());
  REQUIRE(seg0->size() > 2 * kPageSize);
  CHECK(static_cast<uint8_t>((*seg0)[0]) == (2 | 0x08));

  int code = 0;
  const std::string out = Run(fmt::format("{} tsdb dump {} 2>&1", kPromtool, dir), &code);
  INFO("promtool output (first 2000 bytes):\n" << out.substr(0, 2000));
  REQUIRE(code == 0);
  const std::set<std::string> lines = LinesOf(out);
  size_t missing = 0;
  for (const auto& line : want) {
    if (!lines.count(line)) {
      if (missing++ < 5) UNSCOPED_INFO("missing: " << line);
    }
  }
  CHECK(missing == 0);
  CHECK(want.size() == 3 * kSeries);
}

TEST_CASE("promtool tsdb dump reads a checkpoint written by Truncate", "[wal][promtool]") {
  if (::access(kPromtool, X_OK) != 0) {
    WARN("promtool not found at " << kPromtool << "; skipping the Prometheus cross-check");
    return;
  }
  TempDir temp;
  const std::string& dir = temp.path;
  PosixFs fs;

  const int kSeries = 5000;
  const int64_t t0 = 1700000000000;
  const int64_t mint = t0 + 3 * 15000;
  std::vector<std::string> want;  // every sample at or after mint must survive truncation
  {
    Registry r;
    auto st = Storage::Open(fs, r, dir, {.segment_bytes = kPageSize});
    REQUIRE(st.ok());
    auto app = (*st)->NewAppender();
    for (int round = 0; round < 8; ++round) {
      const int64_t t = t0 + round * 15000;
      for (int i = 0; i < kSeries; ++i) {
        // Series 0..99 stop after round 1, so truncation drops them.
        if (i < 100 && round > 1) continue;
        Labels labels{{"__name__", "petrel_ckpt_metric"},
                      {"instance", fmt::format("{:016x}:9100", Mix(i))}};
        const bool stale = round == 7 && i % 100 == 1;
        const double v = stale ? StaleNaN() : i + round * 0.5;
        REQUIRE(app->Append(0, labels, t, v).ok());
        if (t >= mint) {
          want.push_back(fmt::format("{} {} {}", PromtoolLabels(labels),
                                     stale ? "NaN" : fmt::format("{}", v), t));
        }
      }
      REQUIRE(app->Commit().ok());
      if (round == 5) REQUIRE((*st)->Truncate(mint).ok());
    }
    REQUIRE((*st)->Close().ok());
  }
  auto checkpoint = LastCheckpoint(fs, dir + "/wal");
  REQUIRE(checkpoint.ok());
  REQUIRE(*checkpoint > 0);
  CHECK_FALSE(fs.Exists(dir + "/wal/00000000"));

  int code = 0;
  const std::string out = Run(fmt::format("{} tsdb dump {} 2>&1", kPromtool, dir), &code);
  INFO("promtool output (first 2000 bytes):\n" << out.substr(0, 2000));
  REQUIRE(code == 0);
  const std::set<std::string> lines = LinesOf(out);
  size_t missing = 0;
  for (const auto& line : want) {
    if (!lines.count(line) && missing++ < 5) {
      UNSCOPED_INFO("missing: " << line);
    }
  }
  CHECK(missing == 0);
  CHECK(want.size() == 5 * (kSeries - 100));
}

TEST_CASE("promtool dump after a retention cycle shows exactly the samples kept",
          "[wal][promtool][retention]") {
  if (::access(kPromtool, X_OK) != 0) {
    WARN("promtool not found at " << kPromtool << "; skipping the Prometheus cross-check");
    return;
  }
  TempDir temp;
  PosixFs fs;
  const int kSeries = 2000;
  const int64_t t0 = 1700000000000;
  FakeClock clock(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(t0 + 14 * 15000)));
  // The endpoint still needs segment 6 and has not sent t0 + 4 scrapes: mint = that - 15 s.
  const int64_t oldest_unsent = t0 + 4 * 15000;
  const int64_t mint = oldest_unsent - 15000;
  std::vector<std::pair<std::string, uint32_t>> appended;  // dump line, segment
  uint32_t first_left = 0;
  {
    Registry r;
    auto st = Storage::Open(fs, r, temp.path,
                            {.segment_bytes = kPageSize, .compression = Compression::kNone});
    REQUIRE(st.ok());
    auto app = (*st)->NewAppender();
    auto scrape = [&](int round) {
      const int64_t t = t0 + round * 15000;
      std::vector<std::string> lines;
      for (int i = 0; i < kSeries; ++i) {
        Labels labels{{"__name__", "petrel_retention_metric"},
                      {"instance", fmt::format("{:016x}:9100", Mix(i))}};
        REQUIRE(app->Append(0, labels, t, i + round).ok());
        lines.push_back(fmt::format("{} {} {}", PromtoolLabels(labels), i + round, t));
      }
      REQUIRE(app->Commit().ok());
      for (auto& l : lines) appended.emplace_back(std::move(l), (*st)->CurrentSegment());
    };
    for (int round = 0; round < 12; ++round) scrape(round);
    REQUIRE((*st)->CurrentSegment() >= 11);
    std::vector<EndpointNeed> needs = {{"lagging", 6, oldest_unsent}};
    RetentionLoop loop(**st, clock, r, {.min_time = std::chrono::seconds(15)},
                       [&needs] { return needs; });
    REQUIRE(loop.RunTruncation().ok());
    auto segments = ListSegments(fs, temp.path + "/wal");
    REQUIRE(segments.ok());
    first_left = segments->front();
    CHECK(first_left == 6);  // bounded by the endpoint, not by the two-thirds rule
    for (int round = 12; round < 14; ++round) scrape(round);
    REQUIRE((*st)->Close().ok());
  }
  REQUIRE(fs.Exists(temp.path + "/wal/checkpoint.00000005"));
  std::set<std::string> want;
  size_t below_mint = 0;
  for (const auto& [line, segment] : appended) {
    const int64_t t = std::stoll(line.substr(line.rfind(' ') + 1));
    if (segment >= first_left || t >= mint) {
      want.insert(line);
    } else {
      ++below_mint;
    }
  }
  REQUIRE(below_mint > 0);  // the checkpoint really dropped something

  int code = 0;
  const std::string out = Run(fmt::format("{} tsdb dump {} 2>&1", kPromtool, temp.path), &code);
  INFO("promtool output (first 2000 bytes):\n" << out.substr(0, 2000));
  REQUIRE(code == 0);
  std::set<std::string> got;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = out.substr(start, nl - start);
    if (line.find("petrel_retention_metric") != std::string::npos) got.insert(std::move(line));
  }
  CHECK(got.size() == want.size());
  size_t missing = 0, extra = 0;
  for (const auto& l : want) {
    if (!got.count(l) && missing++ < 5) UNSCOPED_INFO("missing: " << l);
  }
  for (const auto& l : got) {
    if (!want.count(l) && extra++ < 5) UNSCOPED_INFO("extra: " << l);
  }
  CHECK(missing == 0);
  CHECK(extra == 0);
}

// What Debian's promtool 2.42 does with native histograms and exemplars in a WAL (found by
// trying): it replays HistogramSamples (7) and FloatHistogramSamples (8) into its head, but its
// dump prints float samples only and stops at a series' first histogram, so a series whose first
// sample is a histogram prints nothing at all, not even its later floats. The custom-buckets
// types (9, 10) are newer than 2.42, which skips them: a later float of such a series prints.
// Exemplar records are read and not printed. Every float sample still dumps exactly.
TEST_CASE("promtool tsdb dump reads a WAL with histogram and exemplar records",
          "[wal][promtool][histogram]") {
  if (::access(kPromtool, X_OK) != 0) {
    WARN("promtool not found at " << kPromtool << "; skipping the Prometheus cross-check");
    return;
  }
  TempDir temp;
  PosixFs fs;
  const int64_t t0 = 1700000000000;
  Histogram h;  // schema 0: zero bucket 1, buckets 1 and 2 at indexes 0 and 1
  h.zero_threshold = 1e-128;
  h.zero_count = 1;
  h.count = 4;
  h.sum = 3.5;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {1, 1};
  Histogram custom;
  custom.schema = kCustomBucketsSchema;
  custom.count = 3;
  custom.sum = 1;
  custom.positive_spans = {{0, 2}};
  custom.positive_buckets = {1, 1};
  custom.custom_values = {0.5};
  FloatHistogram fh;
  fh.schema = 1;
  fh.count = 2.5;
  fh.sum = 4;
  fh.positive_spans = {{0, 1}};
  fh.positive_buckets = {2.5};
  FloatHistogram fcustom = fh;
  fcustom.schema = kCustomBucketsSchema;
  fcustom.custom_values = {1};

  // Each "then_float" series has a histogram of one kind at t0 and floats after it.
  struct Kind {
    const char* name;
    const Histogram* h;
    const FloatHistogram* fh;
    bool dumped_by_242;  // whether 2.42 skips the record, so the later floats print
  };
  const Kind kinds[] = {{"integer", &h, nullptr, false},
                        {"float", nullptr, &fh, false},
                        {"custom", &custom, nullptr, true},
                        {"float_custom", nullptr, &fcustom, true}};
  std::set<std::string> want;
  {
    Registry r;
    auto st = Storage::Open(fs, r, temp.path, {.segment_bytes = 2 * kPageSize});
    REQUIRE(st.ok());
    auto app = (*st)->NewAppender();
    for (int round = 0; round < 40; ++round) {
      const int64_t t = t0 + round * 15000;
      for (int i = 0; i < 200; ++i) {
        Labels labels{{"__name__", "petrel_float"},
                      {"instance", fmt::format("{:016x}:9100", Mix(i))}};
        auto ref = app->Append(0, labels, t, i + round * 0.5);
        REQUIRE(ref.ok());
        want.insert(fmt::format("{} {} {}", PromtoolLabels(labels), i + round * 0.5, t));
        if (i % 10 == 0) {
          REQUIRE(
              app->AppendExemplar(*ref, t - 5, i, Labels{{"trace_id", fmt::format("{}", i)}}).ok());
        }
      }
      for (const Kind& k : kinds) {
        REQUIRE(app->AppendHistogram(0, Labels{{"__name__", "petrel_hist"}, {"kind", k.name}}, t,
                                     k.h, k.fh)
                    .ok());
        Labels mixed{{"__name__", "petrel_then_float"}, {"kind", k.name}};
        if (round == 0) {
          REQUIRE(app->AppendHistogram(0, mixed, t, k.h, k.fh).ok());
        } else {
          REQUIRE(app->Append(0, mixed, t, round).ok());
          if (k.dumped_by_242)
            want.insert(fmt::format("{} {} {}", PromtoolLabels(mixed), round, t));
        }
      }
      REQUIRE(app->Commit().ok());
    }
    CHECK((*st)->CurrentSegment() > 0);  // records in several segments
    REQUIRE((*st)->Close().ok());
  }
  int code = 0;
  const std::string out = Run(fmt::format("{} tsdb dump {} 2>&1", kPromtool, temp.path), &code);
  INFO("promtool output (first 2000 bytes):\n" << out.substr(0, 2000));
  REQUIRE(code == 0);
  std::set<std::string> got;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    got.insert(out.substr(start, nl - start));
  }
  size_t missing = 0, extra = 0;
  for (const auto& l : want) {
    if (!got.count(l) && missing++ < 5) UNSCOPED_INFO("missing: " << l);
  }
  for (const auto& l : got) {
    if (!want.count(l) && extra++ < 5) UNSCOPED_INFO("extra: " << l);
  }
  CHECK(missing == 0);
  CHECK(extra == 0);
  CHECK(want.size() == 40 * 200 + 2 * 39);
}

}  // namespace
}  // namespace petrel::wal
