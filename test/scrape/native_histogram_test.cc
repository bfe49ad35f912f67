// Validation and resolution reduction of scraped native histograms (scrape/native_histogram.h).
#include "scrape/native_histogram.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

namespace petrel::scrape {
namespace {

constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();

// Positive buckets 1 and 2 (deltas 1, 1: counts 1 and 2), so 3 observations in buckets.
Histogram ThreeInBuckets(uint64_t count, double sum) {
  Histogram h;
  h.schema = 0;
  h.count = count;
  h.sum = sum;
  h.positive_spans = {{1, 2}};
  h.positive_buckets = {1, 1};
  return h;
}

TEST_CASE("an integer histogram's buckets must add up to its count unless sum is NaN",
          "[scrape][histogram]") {
  const double nan = std::nan("");
  CHECK(ValidateHistogram(ThreeInBuckets(3, 1.5)).empty());
  CHECK(ValidateHistogram(ThreeInBuckets(4, 1.5)) ==
        "3 observations found in buckets, but the Count field is 4");
  CHECK(ValidateHistogram(ThreeInBuckets(2, 1.5)) ==
        "3 observations found in buckets, but the Count field is 2");
  SECTION("the zero bucket counts too") {
    Histogram h = ThreeInBuckets(4, 1.5);
    h.zero_count = 1;
    CHECK(ValidateHistogram(h).empty());
    h.zero_count = 2;
    CHECK(ValidateHistogram(h) == "5 observations found in buckets, but the Count field is 4");
  }
  SECTION("NaN observations are counted in no bucket") {
    CHECK(ValidateHistogram(ThreeInBuckets(4, nan)).empty());
    CHECK(ValidateHistogram(ThreeInBuckets(3, nan)).empty());
    CHECK(ValidateHistogram(ThreeInBuckets(2, nan)) ==
          "3 observations found in buckets, but the Count field is 2");
  }
}

TEST_CASE("a float histogram's count is not compared with its buckets, as upstream",
          "[scrape][histogram]") {
  FloatHistogram h;
  h.schema = 0;
  h.positive_spans = {{1, 2}};
  h.positive_buckets = {1, 2};
  for (double count : {3.0, 4.0, 2.0}) {
    h.count = count;
    CHECK(ValidateHistogram(h).empty());
  }
  h.positive_buckets = {1, -2};
  CHECK(ValidateHistogram(h) == "bucket number 2 has observation count of -2");
}

TEST_CASE("schema 52 reduces to 8 with indexes past int32 and a shift of 44",
          "[scrape][histogram]") {
  // Absolute indexes -2^31, -2^31+1, 1 and 2^31+1 (past int32). Shifted by 44 the first two
  // land in bucket 0, the others in bucket 1.
  const std::vector<HistogramSpan> spans = {{kMin32, 2}, {kMax32, 1}, {kMax32, 1}};
  SECTION("integer") {
    Histogram h;
    h.schema = 52;
    h.count = 20;
    h.sum = 1;
    h.positive_spans = spans;
    h.positive_buckets = {1, 1, 1, 1};  // counts 1, 2, 3, 4
    h.negative_spans = spans;
    h.negative_buckets = {1, 1, 1, 1};
    REQUIRE(ValidateHistogram(h).empty());
    ReduceResolution(h, 8);
    CHECK(h.schema == 8);
    CHECK(h.positive_spans == std::vector<HistogramSpan>{{0, 2}});
    CHECK(h.positive_buckets == std::vector<int64_t>{3, 4});  // counts 3 and 7
    CHECK(h.negative_spans == std::vector<HistogramSpan>{{0, 2}});
    CHECK(h.negative_buckets == std::vector<int64_t>{3, 4});
    CHECK(ValidateHistogram(h).empty());
  }
  SECTION("float") {
    FloatHistogram h;
    h.schema = 52;
    h.count = 10;
    h.positive_spans = spans;
    h.positive_buckets = {1, 2, 3, 4};
    ReduceResolution(h, 8);
    CHECK(h.schema == 8);
    CHECK(h.positive_spans == std::vector<HistogramSpan>{{0, 2}});
    CHECK(h.positive_buckets == std::vector<double>{3, 7});
  }
  SECTION("down to the lowest schema, a shift of 56") {
    Histogram h;
    h.schema = 52;
    h.count = 10;
    h.positive_spans = spans;
    h.positive_buckets = {1, 1, 1, 1};
    ReduceResolution(h, kExponentialSchemaMin);
    CHECK(h.schema == -4);
    CHECK(h.positive_spans == std::vector<HistogramSpan>{{0, 2}});
    CHECK(h.positive_buckets == std::vector<int64_t>{3, 4});
  }
}

TEST_CASE("merging buckets whose counts add up past 2^63 wraps as Go does", "[scrape][histogram]") {
  Histogram h;
  h.schema = 1;
  h.count = 3ull << 62;
  h.positive_spans = {{1, 3}};
  h.positive_buckets = {int64_t{1} << 62, 0, 0};  // three buckets of 2^62
  REQUIRE(ValidateHistogram(h).empty());
  ReduceResolution(h, 0);  // buckets 1, 2 -> 1 and 3 -> 2
  CHECK(h.positive_spans == std::vector<HistogramSpan>{{1, 2}});
  // 2^63 does not fit int64: stored as Go stores it, wrapped to -2^63; then 2^62 - 2^63.
  CHECK(h.positive_buckets ==
        std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -(int64_t{1} << 62)});
}

}  // namespace
}  // namespace petrel::scrape
