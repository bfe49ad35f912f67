// Histogram and exemplar records against bytes written out by hand from Prometheus's
// tsdb/record encoding (wal-format.md §5.6, §5.8), not only round trips through our encoder.
#include <catch2/catch.hpp>
#include <limits>

#include "test/wal/wal_test_util.h"
#include "wal/records.h"

namespace petrel::wal {
namespace {

using testing::Hex;
using testing::Unhex;

// Two integer histograms. The first: ref 5, t 1700000000000, not a counter reset, schema 1,
// zero threshold 0.001, zero count 2, count 10, sum 18.5, positive spans {0,2} {1,1} with
// buckets 2 3 2 (deltas 2 1 -1), negative span {0,1} with bucket 1. The second: ref 7,
// t +15000, gauge, schema -4, everything else zero or empty.
const char kHistogramsHex[] =
    "07"
    " 00 00 00 00 00 00 00 05"  // base ref 5
    " 00 00 01 8b cf e5 68 00"  // base t 1700000000000
    " 00 00"                    // dref 0, dt 0
    " 02"                       // hint: not a counter reset
    " 02"                       // schema 1 (zig-zag)
    " 3f 50 62 4d d2 f1 a9 fc"  // zero threshold 0.001
    " 02 0a"                    // zero count 2, count 10
    " 40 32 80 00 00 00 00 00"  // sum 18.5
    " 02 00 02 02 01"           // 2 positive spans: {0,2} {1,1}
    " 01 00 01"                 // 1 negative span: {0,1}
    " 03 04 02 01"              // 3 positive deltas: 2 1 -1
    " 01 02"                    // 1 negative delta: 1
    " 04 b0 ea 01"              // dref +2, dt +15000
    " 03 07"                    // gauge, schema -4
    " 00 00 00 00 00 00 00 00"  // zero threshold 0
    " 00 00"                    // zero count, count
    " 00 00 00 00 00 00 00 00"  // sum 0
    " 00 00 00 00";             // no spans, no buckets

// Custom buckets (NHCB): ref 1, t 1000, count 3, sum 1.5, span {0,2}, buckets 1 2 (deltas 1 1),
// one bound 0.5.
const char kCustomHex[] =
    "09"
    " 00 00 00 00 00 00 00 01 00 00 00 00 00 00 03 e8 00 00"
    " 00 69"                        // hint unknown, schema -53
    " 00 00 00 00 00 00 00 00"      // zero threshold
    " 00 03"                        // zero count 0, count 3
    " 3f f8 00 00 00 00 00 00"      // sum 1.5
    " 01 00 02 00"                  // span {0,2}; no negative spans
    " 02 02 02 00"                  // deltas 1 1; no negative buckets
    " 01 3f e0 00 00 00 00 00 00";  // custom values: 0.5

// Float histogram: ref 5, t 1700000000000, schema 0, zero count 1, count 3, sum 2.5,
// span {1,1} with bucket 2.
const char kFloatHex[] =
    "08"
    " 00 00 00 00 00 00 00 05 00 00 01 8b cf e5 68 00 00 00"
    " 00 00"                       // hint, schema 0
    " 00 00 00 00 00 00 00 00"     // zero threshold
    " 3f f0 00 00 00 00 00 00"     // zero count 1
    " 40 08 00 00 00 00 00 00"     // count 3
    " 40 04 00 00 00 00 00 00"     // sum 2.5
    " 01 02 01 00"                 // span {1,1}; no negative spans
    " 01 40 00 00 00 00 00 00 00"  // bucket 2.0
    " 00";                         // no negative buckets

// Exemplars: (ref 3, t 1700000000000, 0.25, {trace_id="abc"}), (ref 2, t +1, 1.0, {}).
const char kExemplarsHex[] =
    "04"
    " 00 00 00 00 00 00 00 03 00 00 01 8b cf e5 68 00"
    " 00 00 3f d0 00 00 00 00 00 00"
    " 01 08 74 72 61 63 65 5f 69 64 03 61 62 63"
    " 01 02 3f f0 00 00 00 00 00 00 00";

std::vector<RefHistogramSample> Histograms() {
  RefHistogramSample a;
  a.ref = 5;
  a.t = 1700000000000;
  a.h.hint = CounterResetHint::kNotCounterReset;
  a.h.schema = 1;
  a.h.zero_threshold = 0.001;
  a.h.zero_count = 2;
  a.h.count = 10;
  a.h.sum = 18.5;
  a.h.positive_spans = {{0, 2}, {1, 1}};
  a.h.negative_spans = {{0, 1}};
  a.h.positive_buckets = {2, 1, -1};
  a.h.negative_buckets = {1};
  RefHistogramSample b;
  b.ref = 7;
  b.t = 1700000015000;
  b.h.hint = CounterResetHint::kGauge;
  b.h.schema = -4;
  return {a, b};
}

RefHistogramSample Custom() {
  RefHistogramSample c;
  c.ref = 1;
  c.t = 1000;
  c.h.schema = kCustomBucketsSchema;
  c.h.count = 3;
  c.h.sum = 1.5;
  c.h.positive_spans = {{0, 2}};
  c.h.positive_buckets = {1, 1};
  c.h.custom_values = {0.5};
  return c;
}

RefFloatHistogramSample Float() {
  RefFloatHistogramSample f;
  f.ref = 5;
  f.t = 1700000000000;
  f.fh.zero_count = 1;
  f.fh.count = 3;
  f.fh.sum = 2.5;
  f.fh.positive_spans = {{1, 1}};
  f.fh.positive_buckets = {2.0};
  return f;
}

std::vector<RefExemplar> Exemplars() {
  return {{3, 1700000000000, 0.25, Labels{{"trace_id", "abc"}}}, {2, 1700000000001, 1.0, {}}};
}

TEST_CASE("histogram records match hand-written bytes", "[wal][histogram]") {
  SECTION("integer histograms (type 7)") {
    std::string rec;
    EncodeHistogramSamples(Histograms(), &rec);
    CHECK(Hex(rec) == Hex(Unhex(kHistogramsHex)));
    std::vector<RefHistogramSample> out;
    REQUIRE(DecodeHistogramSamples(Unhex(kHistogramsHex), &out).ok());
    REQUIRE(out.size() == 2);
    const auto want = Histograms();
    for (size_t i = 0; i < 2; ++i) {
      CHECK(out[i].ref == want[i].ref);
      CHECK(out[i].t == want[i].t);
      CHECK(out[i].h == want[i].h);
    }
  }
  SECTION("custom buckets (type 9)") {
    std::string rec;
    std::vector<RefHistogramSample> in = {Custom()};
    EncodeHistogramSamples(in, &rec);
    CHECK(Hex(rec) == Hex(Unhex(kCustomHex)));
    std::vector<RefHistogramSample> out;
    REQUIRE(DecodeHistogramSamples(Unhex(kCustomHex), &out).ok());
    REQUIRE(out.size() == 1);
    CHECK(out[0].h == Custom().h);
  }
  SECTION("float histograms (type 8) and custom-bucket floats (type 10)") {
    std::string rec;
    std::vector<RefFloatHistogramSample> in = {Float()};
    EncodeFloatHistogramSamples(in, &rec);
    CHECK(Hex(rec) == Hex(Unhex(kFloatHex)));
    std::vector<RefFloatHistogramSample> out;
    REQUIRE(DecodeFloatHistogramSamples(Unhex(kFloatHex), &out).ok());
    REQUIRE(out.size() == 1);
    CHECK(out[0].fh == Float().fh);

    in[0].fh.schema = kCustomBucketsSchema;
    in[0].fh.custom_values = {1.0};
    rec.clear();
    EncodeFloatHistogramSamples(in, &rec);
    CHECK(TypeOf(rec) == RecordType::kCustomBucketsFloatHistogramSamples);
    // Same bytes with schema -53 (0x69) and the custom values block at the end.
    std::string want = Unhex(kFloatHex);
    want[0] = 0x0a;
    want[1 + 16 + 2 + 1] = 0x69;
    want += Unhex("01 3f f0 00 00 00 00 00 00");
    CHECK(Hex(rec) == Hex(want));
    out.clear();
    REQUIRE(DecodeFloatHistogramSamples(rec, &out).ok());
    REQUIRE(out.size() == 1);
    CHECK(out[0].fh == in[0].fh);
  }
  SECTION("empty records are the type byte alone") {
    std::string rec;
    EncodeHistogramSamples({}, &rec);
    EncodeFloatHistogramSamples({}, &rec);
    EncodeExemplars({}, &rec);
    CHECK(Hex(rec) == "07 08 04");
    std::vector<RefHistogramSample> out;
    CHECK(DecodeHistogramSamples("\x07", &out).ok());
    CHECK(DecodeHistogramSamples("\x09", &out).ok());
    CHECK(out.empty());
  }
}

TEST_CASE("exemplar records match hand-written bytes", "[wal][exemplar]") {
  std::string rec;
  EncodeExemplars(Exemplars(), &rec);
  CHECK(Hex(rec) == Hex(Unhex(kExemplarsHex)));
  std::vector<RefExemplar> out;
  REQUIRE(DecodeExemplars(Unhex(kExemplarsHex), &out).ok());
  REQUIRE(out.size() == 2);
  const auto want = Exemplars();
  for (size_t i = 0; i < 2; ++i) {
    CHECK(out[i].ref == want[i].ref);
    CHECK(out[i].t == want[i].t);
    CHECK(out[i].v == want[i].v);
    CHECK(out[i].labels == want[i].labels);
  }
}

// Every cut of a good record either fails with kCorruption or, when it falls exactly between
// two entries, reads the entries before it.
template <typename Decode>
void CheckEveryCut(const std::string& good, size_t full, Decode decode) {
  for (size_t n = 1; n < good.size(); ++n) {
    INFO("cut to " << n << " of " << good.size());
    size_t got = 0;
    Status s = decode(good.substr(0, n), &got);
    if (s.ok()) {
      CHECK(got < full);
    } else {
      CHECK(s.code() == Code::kCorruption);
      CHECK_FALSE(s.message().empty());
    }
  }
}

TEST_CASE("histogram and exemplar decoders reject truncated and malformed records",
          "[wal][histogram]") {
  auto histograms = [](std::string_view rec, size_t* n) {
    std::vector<RefHistogramSample> out;
    Status s = DecodeHistogramSamples(rec, &out);
    *n = out.size();
    return s;
  };
  auto floats = [](std::string_view rec, size_t* n) {
    std::vector<RefFloatHistogramSample> out;
    Status s = DecodeFloatHistogramSamples(rec, &out);
    *n = out.size();
    return s;
  };
  auto exemplars = [](std::string_view rec, size_t* n) {
    std::vector<RefExemplar> out;
    Status s = DecodeExemplars(rec, &out);
    *n = out.size();
    return s;
  };
  CheckEveryCut(Unhex(kHistogramsHex), 2, histograms);
  CheckEveryCut(Unhex(kCustomHex), 1, histograms);
  CheckEveryCut(Unhex(kFloatHex), 1, floats);
  CheckEveryCut(Unhex(kExemplarsHex), 2, exemplars);

  size_t n = 0;
  SECTION("a cut inside the first body names the field") {
    Status s = histograms(Unhex(kHistogramsHex).substr(0, 1 + 16 + 2 + 5), &n);
    CHECK(s.code() == Code::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("histogram 1") && Catch::Contains("zero threshold"));
  }
  SECTION("wrong record types") {
    CHECK(histograms(Unhex(kFloatHex), &n).code() == Code::kCorruption);
    CHECK(floats(Unhex(kHistogramsHex), &n).code() == Code::kCorruption);
    CHECK(exemplars(Unhex(kHistogramsHex), &n).code() == Code::kCorruption);
    CHECK(histograms("", &n).code() == Code::kCorruption);
  }
  SECTION("a huge bucket count fails without allocating it") {
    // Positive bucket count 2^40 with a few bytes left.
    std::string rec = Unhex(kCustomHex).substr(0, 1 + 16 + 2 + 2 + 8 + 2 + 8 + 4);
    rec += Unhex("80 80 80 80 80 20 02 02");
    CHECK(histograms(rec, &n).code() == Code::kCorruption);
    std::string spans = Unhex(kCustomHex).substr(0, 1 + 16 + 2 + 2 + 8 + 2 + 8);
    spans += Unhex("ff ff ff ff 0f 00 02");
    CHECK(histograms(spans, &n).code() == Code::kCorruption);
  }
  SECTION("a span length above 32 bits") {
    std::string rec = Unhex(kCustomHex).substr(0, 1 + 16 + 2 + 2 + 8 + 2 + 8);
    rec += Unhex("01 00 80 80 80 80 10 00 02 02 02 00 01 3f e0 00 00 00 00 00 00");
    CHECK(histograms(rec, &n).code() == Code::kCorruption);
  }
  SECTION("spans that do not match the bucket count") {
    std::string rec = Unhex(kCustomHex);
    rec[1 + 16 + 2 + 2 + 8 + 2 + 8 + 2] = 0x03;  // span {0,3} over 2 buckets
    Status s = histograms(rec, &n);
    CHECK(s.code() == Code::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("spans cover 3+0 buckets, record has 2+0"));
  }
  SECTION("trailing garbage") {
    CHECK(exemplars(Unhex(kExemplarsHex) + "\x01", &n).code() == Code::kCorruption);
    CHECK(floats(Unhex(kFloatHex) + "\x01", &n).code() == Code::kCorruption);
  }
  SECTION("an exemplar label count larger than the record") {
    std::string rec = Unhex(kExemplarsHex);
    rec[1 + 16 + 2 + 8] = 0x7f;
    CHECK(exemplars(rec, &n).code() == Code::kCorruption);
  }
}

TEST_CASE("histograms with unknown schemas are skipped, schemas above 8 reduced",
          "[wal][histogram]") {
  // Schema 10 (zig-zag 0x14): positive spans {1,4} {0,1}, absolute counts 1 2 3 4 5 (deltas
  // 1 1 1 1 1); negative span {-2,1} with count 1. At schema 8 the index i goes to
  // ((i-1) >> 2) + 1: 1..4 -> 1, 5 -> 2, -2 -> 0.
  std::string body =
      " 00 14 00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 00 00 00"
      " 02 02 04 00 01 01 03 01 05 02 02 02 02 02 01 02";
  std::string rec = Unhex("07 00 00 00 00 00 00 00 09 00 00 00 00 00 00 00 64 00 00" + body);
  std::vector<RefHistogramSample> out;
  REQUIRE(DecodeHistogramSamples(rec, &out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].h.schema == 8);
  CHECK(out[0].h.positive_spans == std::vector<HistogramSpan>{{1, 2}});
  CHECK(out[0].h.positive_buckets == std::vector<int64_t>{10, -5});
  CHECK(out[0].h.negative_spans == std::vector<HistogramSpan>{{0, 1}});
  CHECK(out[0].h.negative_buckets == std::vector<int64_t>{1});
  CHECK(out[0].h.count == 16);

  // The same with schema 53 (zig-zag 0x6a) and -10 (0x13): both skipped, the record still reads.
  for (const char* schema : {"6a", "13"}) {
    std::string skipped = rec;
    skipped[1 + 16 + 2 + 1] = static_cast<char>(std::stoi(schema, nullptr, 16));
    out.clear();
    INFO("schema byte " << schema);
    REQUIRE(DecodeHistogramSamples(skipped, &out).ok());
    CHECK(out.empty());
  }
  // -9 is known (kept as is).
  std::string minus9 = rec;
  minus9[1 + 16 + 2 + 1] = 0x11;
  out.clear();
  REQUIRE(DecodeHistogramSamples(minus9, &out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].h.schema == -9);
}

TEST_CASE("histogram records round-trip extreme values", "[wal][histogram]") {
  RefHistogramSample a = Histograms()[0];
  a.ref = std::numeric_limits<uint64_t>::max();
  a.t = std::numeric_limits<int64_t>::min();
  a.h.count = std::numeric_limits<uint64_t>::max();
  a.h.positive_buckets = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                          0};
  a.h.positive_spans = {{std::numeric_limits<int32_t>::min(), 1}, {0, 2}};
  RefHistogramSample b = Histograms()[1];
  b.ref = 0;
  b.t = std::numeric_limits<int64_t>::max();
  std::vector<RefHistogramSample> in = {a, b};
  std::string rec;
  EncodeHistogramSamples(in, &rec);
  std::vector<RefHistogramSample> out;
  REQUIRE(DecodeHistogramSamples(rec, &out).ok());
  REQUIRE(out.size() == 2);
  CHECK(out[0].ref == a.ref);
  CHECK(out[0].t == a.t);
  CHECK(out[0].h == a.h);
  CHECK(out[1].ref == 0);
  CHECK(out[1].t == b.t);
}

// Whatever a decoder accepts, encoding gives a record it accepts again, and that re-encodes to
// the same bytes (bytes, not values: NaN sums compare unequal).
template <typename T, typename Decode, typename Encode>
void CheckRoundTrip(std::string_view rec, Decode decode, Encode encode) {
  std::vector<T> got;
  if (!decode(rec, &got).ok()) return;
  std::string once, twice;
  encode(std::span<const T>(got), &once);
  std::vector<T> again;
  REQUIRE(decode(once, &again).ok());
  REQUIRE(again.size() == got.size());
  encode(std::span<const T>(again), &twice);
  REQUIRE(Hex(once) == Hex(twice));
}

TEST_CASE("decoders survive every single-byte corruption of the hand-written records",
          "[wal][histogram]") {
  for (const char* hex : {kHistogramsHex, kCustomHex, kFloatHex, kExemplarsHex}) {
    const std::string good = Unhex(hex);
    for (size_t i = 0; i < good.size(); ++i) {
      for (uint8_t mask : {0x01, 0x40, 0x80, 0xff}) {
        std::string rec = good;
        rec[i] = static_cast<char>(rec[i] ^ mask);
        INFO("record " << Hex(good.substr(0, 1)) << " byte " << i << " xor " << int{mask});
        CheckRoundTrip<RefHistogramSample>(rec, DecodeHistogramSamples, EncodeHistogramSamples);
        CheckRoundTrip<RefFloatHistogramSample>(rec, DecodeFloatHistogramSamples,
                                                EncodeFloatHistogramSamples);
        CheckRoundTrip<RefExemplar>(rec, DecodeExemplars, EncodeExemplars);
      }
    }
  }
}

}  // namespace
}  // namespace petrel::wal
