#include "wal/records.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "test/wal/wal_test_util.h"

namespace petrel::wal {
namespace {

using testing::Hex;
using testing::Unhex;

// wal-format.md §9.
const char kSeriesHex[] =
    "01 00 00 00 00 00 00 00 01 02 08 5f 5f 6e 61 6d 65 5f 5f 02 75 70 03 6a 6f 62 04 6e 6f 64 65";
const char kSamplesHex[] =
    "02 00 00 00 00 00 00 00 01 00 00 01 8b cf e5 68 00 00 00 3f f0 00 00 00 00 00 00 02 b0 ea 01 "
    "3f e0 00 00 00 00 00 00";

TEST_CASE("series and samples records match the worked example byte for byte", "[wal]") {
  std::string series;
  std::vector<RefSeries> in_series = {{1, Labels{{"__name__", "up"}, {"job", "node"}}}};
  EncodeSeries(in_series, &series);
  CHECK(Hex(series) == Hex(Unhex(kSeriesHex)));
  CHECK(series.size() == 31);

  std::string samples;
  std::vector<RefSample> in_samples = {{1, 1700000000000, 1.0}, {2, 1700000015000, 0.5}};
  EncodeSamples(in_samples, &samples);
  CHECK(Hex(samples) == Hex(Unhex(kSamplesHex)));
  CHECK(samples.size() == 39);

  std::vector<RefSeries> out_series;
  REQUIRE(DecodeSeries(series, &out_series).ok());
  REQUIRE(out_series.size() == 1);
  CHECK(out_series[0].ref == 1);
  CHECK(out_series[0].labels == in_series[0].labels);

  std::vector<RefSample> out_samples;
  REQUIRE(DecodeSamples(samples, &out_samples).ok());
  REQUIRE(out_samples.size() == 2);
  CHECK(out_samples[1].ref == 2);
  CHECK(out_samples[1].t == 1700000015000);
  CHECK(out_samples[1].v == 0.5);
}

TEST_CASE("EncodeSeriesEntry builds the same record as EncodeSeries", "[wal]") {
  std::vector<RefSeries> in = {{7, Labels{{"a", "1"}}},
                               {1ull << 40, Labels{{"b", "2"}, {"c", "3"}}}};
  std::string whole, parts(1, static_cast<char>(RecordType::kSeries));
  EncodeSeries(in, &whole);
  for (const auto& s : in) EncodeSeriesEntry(s.ref, s.labels, &parts);
  CHECK(whole == parts);
}

TEST_CASE("varints follow Go's encoding/binary", "[wal]") {
  auto uv = [](uint64_t v) {
    std::string out;
    PutUvarint(v, &out);
    return Hex(out);
  };
  auto sv = [](int64_t v) {
    std::string out;
    PutVarint(v, &out);
    return Hex(out);
  };
  CHECK(uv(0) == "00");
  CHECK(uv(127) == "7f");
  CHECK(uv(128) == "80 01");
  CHECK(uv(300) == "ac 02");
  CHECK(uv(std::numeric_limits<uint64_t>::max()) == "ff ff ff ff ff ff ff ff ff 01");
  CHECK(sv(0) == "00");
  CHECK(sv(-1) == "01");
  CHECK(sv(1) == "02");
  CHECK(sv(-64) == "7f");
  CHECK(sv(64) == "80 01");
  CHECK(sv(15000) == "b0 ea 01");
  CHECK(sv(std::numeric_limits<int64_t>::max()) == "fe ff ff ff ff ff ff ff ff 01");
  CHECK(sv(std::numeric_limits<int64_t>::min()) == "ff ff ff ff ff ff ff ff ff 01");

  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1} << 62, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max(), int64_t{-15000}}) {
    std::string buf;
    PutVarint(v, &buf);
    std::string_view in = buf;
    int64_t got = 0;
    REQUIRE(GetVarint(&in, &got));
    CHECK(got == v);
    CHECK(in.empty());
  }

  SECTION("overflow and truncation are rejected") {
    uint64_t v;
    std::string_view eleven = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
    CHECK_FALSE(GetUvarint(&eleven, &v));
    std::string_view ten_big = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02";
    CHECK_FALSE(GetUvarint(&ten_big, &v));
    std::string_view cut = "\x80\x80";
    CHECK_FALSE(GetUvarint(&cut, &v));
    std::string_view empty;
    CHECK_FALSE(GetUvarint(&empty, &v));
  }
}

TEST_CASE("samples round-trip negative deltas, huge refs and special values", "[wal]") {
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  std::vector<RefSample> in = {
      {1000, 5000, 1.5},
      {3, 1000, -2.0},  // both deltas negative
      {huge, std::numeric_limits<int64_t>::max(), StaleNaN()},
      {0, std::numeric_limits<int64_t>::min(), std::numeric_limits<double>::infinity()},
      {1000, -1, -0.0},
  };
  std::string rec;
  EncodeSamples(in, &rec);
  std::vector<RefSample> out;
  REQUIRE(DecodeSamples(rec, &out).ok());
  REQUIRE(out.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    INFO("sample " << i);
    CHECK(out[i].ref == in[i].ref);
    CHECK(out[i].t == in[i].t);
    CHECK(std::bit_cast<uint64_t>(out[i].v) == std::bit_cast<uint64_t>(in[i].v));
  }
  CHECK(IsStaleNaN(out[2].v));
}

TEST_CASE("stale marker has Prometheus's bit pattern", "[wal]") {
  CHECK(std::bit_cast<uint64_t>(StaleNaN()) == 0x7ff0000000000002ull);
  CHECK(std::isnan(StaleNaN()));
  CHECK(IsStaleNaN(StaleNaN()));
  CHECK_FALSE(IsStaleNaN(std::numeric_limits<double>::quiet_NaN()));
  std::string rec;
  std::vector<RefSample> in = {{1, 0, StaleNaN()}};
  EncodeSamples(in, &rec);
  CHECK(Hex(rec.substr(rec.size() - 8)) == "7f f0 00 00 00 00 00 02");
}

TEST_CASE("record types and names", "[wal]") {
  CHECK(TypeOf("") == RecordType::kUnknown);
  CHECK(TypeOf("\x01") == RecordType::kSeries);
  CHECK(TypeOf("\x02rest") == RecordType::kSamples);
  CHECK(TypeOf("\x0d") == RecordType::kFloatHistogramSamplesV2);
  CHECK(TypeOf("\x0e") == RecordType::kUnknown);
  CHECK(TypeOf(std::string(1, '\0')) == RecordType::kUnknown);
  CHECK(std::string(TypeName(RecordType::kSeries)) == "series");
  CHECK(std::string(TypeName(RecordType::kSamples)) == "samples");
  CHECK(std::string(TypeName(RecordType::kSamplesV2)) == "samples_v2");
  CHECK(std::string(TypeName(RecordType::kMmapMarkers)) == "mmapmarkers");
  CHECK(std::string(TypeName(RecordType::kCustomBucketsFloatHistogramSamples)) ==
        "custom_buckets_float_histogram_samples");
  CHECK(std::string(TypeName(RecordType::kUnknown)) == "unknown");
}

TEST_CASE("an empty samples record is valid", "[wal]") {
  std::string rec;
  EncodeSamples({}, &rec);
  CHECK(rec == "\x02");
  std::vector<RefSample> out;
  CHECK(DecodeSamples(rec, &out).ok());
  CHECK(out.empty());
}

TEST_CASE("decoders reject malformed records with kCorruption", "[wal]") {
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  const std::string good_series = Unhex(kSeriesHex);
  const std::string good_samples = Unhex(kSamplesHex);

  SECTION("wrong type byte") {
    CHECK(DecodeSeries(good_samples, &series).code() == Code::kCorruption);
    CHECK(DecodeSamples(good_series, &samples).code() == Code::kCorruption);
    CHECK(DecodeSamples("", &samples).code() == Code::kCorruption);
  }
  SECTION("every truncation of a series record") {
    for (size_t n = 2; n < good_series.size(); ++n) {
      INFO("cut to " << n);
      series.clear();
      Status s = DecodeSeries(good_series.substr(0, n), &series);
      CHECK(s.code() == Code::kCorruption);
      CHECK_FALSE(s.message().empty());
    }
  }
  SECTION("every truncation of a samples record") {
    // Cutting right after the header or after the first sample leaves a valid record (with no
    // sample, as Prometheus's decoder also reads it, or one).
    const size_t one_sample = 1 + 16 + 2 + 8;
    for (size_t n = 2; n < good_samples.size(); ++n) {
      if (n == 17 || n == one_sample) continue;
      INFO("cut to " << n);
      CHECK(DecodeSamples(good_samples.substr(0, n), &samples).code() == Code::kCorruption);
    }
    samples.clear();
    CHECK(DecodeSamples(good_samples.substr(0, one_sample), &samples).ok());
    CHECK(samples.size() == 1);
  }
  SECTION("label count larger than the record") {
    std::string rec = good_series;
    rec[9] = 0x7f;
    CHECK(DecodeSeries(rec, &series).code() == Code::kCorruption);
  }
  SECTION("trailing garbage after a sample") {
    CHECK(DecodeSamples(good_samples + "\x01", &samples).code() == Code::kCorruption);
  }
}

TEST_CASE("unsorted labels on disk are normalized, not trusted", "[wal]") {
  // job before __name__, and a duplicate name: sorted, last one wins.
  std::string rec =
      Unhex("01 00 00 00 00 00 00 00 05 03 03 6a 6f 62 01 61 01 61 01 78 01 61 01 62");
  std::vector<RefSeries> out;
  REQUIRE(DecodeSeries(rec, &out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].labels == (Labels{{"a", "b"}, {"job", "a"}}));
}

}  // namespace
}  // namespace petrel::wal
