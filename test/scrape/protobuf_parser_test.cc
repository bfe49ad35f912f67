// The protobuf parser on payloads encoded here from the wire-format spec (varints, zigzag,
// fixed64, length-delimited fields), not through petrel's code; one case cross-checks against
// libprotobuf's encoder.
#include <fmt/format.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "metrics.pb.h"
#include "scrape/parser.h"
#include "test/scrape/proto_builder.h"

namespace petrel::scrape {
namespace {

using namespace testing::pb;  // NOLINT

struct Entry {
  EntryType type = EntryType::kEof;
  std::string labels;  // Labels::ToString()
  double value = 0;
  std::optional<int64_t> timestamp;
  std::optional<Histogram> h;
  std::optional<FloatHistogram> fh;
  std::vector<Exemplar> exemplars;
  std::string family, text;
};

Result<std::vector<Entry>> ParseAll(std::string_view body, ProtobufOptions o = {}) {
  auto p = NewProtobufParser(body, o);
  std::vector<Entry> out;
  for (;;) {
    auto e = p->Next();
    if (!e.ok()) return e.status();
    if (*e == EntryType::kEof) return out;
    Entry x;
    x.type = *e;
    if (*e == EntryType::kSample || *e == EntryType::kHistogram) {
      LabelsBuilder b;
      p->AddLabels(b);
      x.labels = b.Build().ToString();
      x.timestamp = p->Timestamp();
      if (*e == EntryType::kSample) x.value = p->Value();
      if (p->IntHistogram() != nullptr) x.h = *p->IntHistogram();
      if (p->FloatHistogramValue() != nullptr) x.fh = *p->FloatHistogramValue();
      Exemplar ex;
      for (size_t i = 0; p->GetExemplarAt(i, &ex); ++i) x.exemplars.push_back(ex);
    } else {
      x.family = p->Family();
      x.text = p->Text();
    }
    out.push_back(std::move(x));
  }
}

std::vector<Entry> Samples(const std::vector<Entry>& all) {
  std::vector<Entry> out;
  for (const auto& e : all) {
    if (e.type == EntryType::kSample || e.type == EntryType::kHistogram) out.push_back(e);
  }
  return out;
}

std::string ErrorOf(std::string_view body, ProtobufOptions o = {}) {
  auto r = ParseAll(body, o);
  return r.ok() ? "" : r.status().message();
}

TEST_CASE("protobuf: counters, gauges and untyped with metadata, labels and timestamps",
          "[scrape][protobuf]") {
  Pb counter;
  counter.Msg(1, LabelPair("path", "/a")).Msg(1, LabelPair("code", "200"));
  counter.Msg(3, Pb().D(1, 17).Msg(2, ExemplarMsg("abc", 0.5, Timestamp(1700000000, 250000000))));
  Pb gauge = Pb().Msg(2, Pb().D(1, -3.5)).U(6, 1700000000123);
  Pb untyped = Pb().Msg(1, LabelPair("empty", "")).Msg(5, Pb().D(1, 42));
  std::string body = Body({
      Family("http_requests_total", 0, {counter}, "Requests.", ""),
      Family("empty_family", 1, {}),
      Family("temperature_celsius", 1, {gauge}, "", "celsius"),
      Family("thing", 3, {untyped}),
  });
  auto r = ParseAll(body);
  REQUIRE(r.ok());
  const auto& all = *r;
  REQUIRE(all.size() == 10);
  CHECK(all[0].type == EntryType::kHelp);
  CHECK(all[0].family == "http_requests_total");
  CHECK(all[0].text == "Requests.");
  CHECK(all[1].type == EntryType::kType);
  CHECK(all[2].labels == R"(http_requests_total{code="200", path="/a"})");
  CHECK(all[2].value == 17);
  CHECK_FALSE(all[2].timestamp);
  REQUIRE(all[2].exemplars.size() == 1);
  CHECK(all[2].exemplars[0].labels.ToString() == R"({trace_id="abc"})");
  CHECK(all[2].exemplars[0].value == 0.5);
  CHECK(all[2].exemplars[0].timestamp == 1700000000250);
  // The empty family yields nothing; the gauge has HELP (empty), UNIT, TYPE.
  CHECK(all[3].type == EntryType::kHelp);
  CHECK(all[3].family == "temperature_celsius");
  CHECK(all[4].type == EntryType::kUnit);
  CHECK(all[4].text == "celsius");
  CHECK(all[5].type == EntryType::kType);
  CHECK(all[6].labels == "temperature_celsius{}");
  CHECK(all[6].value == -3.5);
  CHECK(all[6].timestamp == 1700000000123);
  CHECK(all[9].labels == "thing{}");  // the empty-valued label is dropped
  CHECK(all[9].value == 42);
}

TEST_CASE("protobuf: any NaN value is the canonical NaN, never a stale marker",
          "[scrape][protobuf]") {
  // Found by the protobuf fuzzer: a double field holds any bit pattern, Prometheus's stale
  // marker (0x7ff0000000000002) included, which must not reach the WAL as a staleness signal.
  for (uint64_t bits : {0x7ff0000000000002ull, 0xffffffffffffffffull, 0x7ff8000000000000ull}) {
    Pb gauge = Pb().Msg(2, Pb().D(1, std::bit_cast<double>(bits)));
    auto r = ParseAll(Body({Family("g", 1, {gauge})}));
    REQUIRE(r.ok());
    REQUIRE(r->size() == 3);  // HELP, TYPE, the sample
    CHECK(r->back().labels == "g{}");
    CHECK(std::bit_cast<uint64_t>(r->back().value) == 0x7ff8000000000001ull);
  }
}

TEST_CASE("protobuf: Series() is the same whatever the label order", "[scrape][protobuf]") {
  auto series = [](const std::vector<Pb>& labels) {
    Pb m;
    for (const Pb& l : labels) m.Msg(1, l);
    m.Msg(2, Pb().D(1, 1));
    std::string body = Body({Family("g", 1, {m})});
    auto p = NewProtobufParser(body);
    while (true) {
      auto e = p->Next();
      REQUIRE(e.ok());
      if (*e == EntryType::kSample) return std::string(p->Series());
    }
  };
  CHECK(series({LabelPair("a", "1"), LabelPair("b", "2")}) ==
        series({LabelPair("b", "2"), LabelPair("a", "1")}));
  CHECK(series({LabelPair("a", "1"), LabelPair("b", "2")}) !=
        series({LabelPair("a", "1"), LabelPair("b", "3")}));
}

TEST_CASE("protobuf: a summary gives _count, _sum and quantile series", "[scrape][protobuf]") {
  Pb summary = Pb().U(1, 10).D(2, 4.5);
  summary.Msg(3, Pb().D(1, 0.5).D(2, 0.3)).Msg(3, Pb().D(1, 1).D(2, 0.9));
  std::string body = Body({Family("rpc_seconds", 2, {Pb().Msg(4, summary)})});
  auto r = ParseAll(body);
  REQUIRE(r.ok());
  auto s = Samples(*r);
  REQUIRE(s.size() == 4);
  CHECK(s[0].labels == "rpc_seconds_count{}");
  CHECK(s[0].value == 10);
  CHECK(s[1].labels == "rpc_seconds_sum{}");
  CHECK(s[1].value == 4.5);
  CHECK(s[2].labels == R"(rpc_seconds{quantile="0.5"})");
  CHECK(s[2].value == 0.3);
  CHECK(s[3].labels == R"(rpc_seconds{quantile="1.0"})");
}

Pb ClassicHistogram(bool with_inf) {
  Pb h = Pb().U(1, 7).D(2, 12.5);
  h.Msg(3, Pb().U(1, 2).D(2, 0.1).Msg(3, ExemplarMsg("b1", 0.05)));
  h.Msg(3, Pb().U(1, 5).D(2, 1));
  if (with_inf) h.Msg(3, Pb().U(1, 7).D(2, INFINITY));
  return h;
}

TEST_CASE("protobuf: a classic histogram gives _count, _sum and _bucket series",
          "[scrape][protobuf]") {
  for (bool with_inf : {false, true}) {
    std::string body = Body({Family("lat", 4, {Pb().Msg(7, ClassicHistogram(with_inf))})});
    auto r = ParseAll(body);
    REQUIRE(r.ok());
    auto s = Samples(*r);
    REQUIRE(s.size() == 5);
    CHECK(s[0].labels == "lat_count{}");
    CHECK(s[0].value == 7);
    CHECK(s[1].labels == "lat_sum{}");
    CHECK(s[2].labels == R"(lat_bucket{le="0.1"})");
    CHECK(s[2].value == 2);
    REQUIRE(s[2].exemplars.size() == 1);  // a classic bucket's exemplar, without a timestamp
    CHECK_FALSE(s[2].exemplars[0].timestamp);
    CHECK(s[3].labels == R"(lat_bucket{le="1.0"})");
    CHECK(s[3].exemplars.empty());
    CHECK(s[4].labels == R"(lat_bucket{le="+Inf"})");  // added when missing
    CHECK(s[4].value == 7);
  }
}

// A native histogram: schema 1, zero bucket, positive buckets at 0,1 and 3,4 (one span with an
// empty bucket between, so compaction splits it), one negative bucket.
Pb NativeHistogram() {
  Pb h = Pb().U(1, 12).D(2, 3.25).S(5, 1).D(6, 0.001).U(7, 2);
  h.Msg(12, Span(0, 5));
  for (int64_t d : {1, 1, -2, 3, -1}) h.S(13, d);  // counts 1, 2, 0, 3, 2
  h.Msg(9, Span(-1, 1)).S(10, 2);
  h.Msg(16, ExemplarMsg("with-ts", 1.5, Timestamp(1700000001, 0)));
  h.Msg(16, ExemplarMsg("no-ts", 2.5));
  return h;
}

TEST_CASE("protobuf: a native histogram is one entry, compacted as Prometheus does",
          "[scrape][protobuf]") {
  std::string body = Body({Family("req_seconds", 4, {Pb().Msg(7, NativeHistogram())})});
  auto r = ParseAll(body);
  REQUIRE(r.ok());
  auto s = Samples(*r);
  REQUIRE(s.size() == 1);
  CHECK(s[0].type == EntryType::kHistogram);
  CHECK(s[0].labels == "req_seconds{}");
  REQUIRE(s[0].h);
  CHECK_FALSE(s[0].fh);
  const Histogram& h = *s[0].h;
  CHECK(h.schema == 1);
  CHECK(h.count == 12);
  CHECK(h.sum == 3.25);
  CHECK(h.zero_threshold == 0.001);
  CHECK(h.zero_count == 2);
  CHECK(h.hint == CounterResetHint::kUnknown);
  CHECK(h.positive_spans == std::vector<HistogramSpan>{{0, 2}, {1, 2}});
  CHECK(h.positive_buckets == std::vector<int64_t>{1, 1, 1, -1});  // 1, 2, 3, 2
  CHECK(h.negative_spans == std::vector<HistogramSpan>{{-1, 1}});
  CHECK(h.negative_buckets == std::vector<int64_t>{2});
  // Only the exemplar with a timestamp.
  REQUIRE(s[0].exemplars.size() == 1);
  CHECK(s[0].exemplars[0].labels.Get("trace_id") == "with-ts");
  CHECK(s[0].exemplars[0].timestamp == 1700000001000);
}

TEST_CASE("protobuf: packed and unpacked repeated fields decode the same", "[scrape][protobuf]") {
  Pb unpacked = Pb().U(1, 3).S(5, 0).Msg(12, Span(2, 2)).S(13, 1).S(13, 1);
  Pb packed_deltas;
  packed_deltas.Raw(2).Raw(2);  // zigzag(1) == 2, twice
  Pb packed = Pb().U(1, 3).S(5, 0).Msg(12, Span(2, 2)).Str(13, packed_deltas.bytes);
  auto a = ParseAll(Body({Family("h", 4, {Pb().Msg(7, unpacked)})}));
  auto b = ParseAll(Body({Family("h", 4, {Pb().Msg(7, packed)})}));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(Samples(*a)[0].h);
  CHECK(*Samples(*a)[0].h == *Samples(*b)[0].h);
  CHECK(Samples(*a)[0].h->positive_buckets == std::vector<int64_t>{1, 1});
}

TEST_CASE("protobuf: float and gauge histograms", "[scrape][protobuf]") {
  Pb h = Pb().D(4, 5.5).D(2, 10).S(5, 0).D(8, 0.5).Msg(12, Span(1, 2));
  Pb counts;
  for (double c : {2.0, 3.0}) {
    uint64_t bits = std::bit_cast<uint64_t>(c);
    for (int i = 0; i < 8; ++i) counts.bytes.push_back(static_cast<char>(bits >> (8 * i)));
  }
  h.Str(14, counts.bytes);
  auto r = ParseAll(Body({Family("queue", 5, {Pb().Msg(7, h)})}));
  REQUIRE(r.ok());
  auto s = Samples(*r);
  REQUIRE(s.size() == 1);
  REQUIRE(s[0].fh);
  CHECK(s[0].fh->count == 5.5);
  CHECK(s[0].fh->zero_count == 0.5);
  CHECK(s[0].fh->hint == CounterResetHint::kGauge);
  CHECK(s[0].fh->positive_spans == std::vector<HistogramSpan>{{1, 2}});
  CHECK(s[0].fh->positive_buckets == std::vector<double>{2, 3});
}

TEST_CASE("protobuf: native histograms as classic series, or both", "[scrape][protobuf]") {
  Pb both = NativeHistogram();
  both.Msg(3, Pb().U(1, 4).D(2, 1).Msg(3, ExemplarMsg("bucket", 0.7, Timestamp(1700000002, 0))));
  std::string body = Body({Family("x", 4, {Pb().Msg(7, both)})});
  SECTION("scrape_native_histograms off: the classic series") {
    auto r = ParseAll(body, {.native_histograms = false});
    REQUIRE(r.ok());
    auto s = Samples(*r);
    REQUIRE(s.size() == 4);
    CHECK(s[0].labels == "x_count{}");
    CHECK(s[2].labels == R"(x_bucket{le="1.0"})");
    CHECK(s[3].labels == R"(x_bucket{le="+Inf"})");
  }
  SECTION("a native-only histogram as classic: just +Inf") {
    auto r = ParseAll(Body({Family("y", 4, {Pb().Msg(7, NativeHistogram())})}),
                      {.native_histograms = false});
    REQUIRE(r.ok());
    auto s = Samples(*r);
    REQUIRE(s.size() == 3);
    CHECK(s[2].labels == R"(y_bucket{le="+Inf"})");
    CHECK(s[2].value == 12);
  }
  SECTION("always_scrape_classic_histograms: native first, then classic") {
    auto r = ParseAll(body, {.native_histograms = true, .keep_classic = true});
    REQUIRE(r.ok());
    auto s = Samples(*r);
    REQUIRE(s.size() == 5);
    CHECK(s[0].type == EntryType::kHistogram);
    CHECK(s[1].labels == "x_count{}");
    CHECK(s[4].labels == R"(x_bucket{le="+Inf"})");
  }
  SECTION("without the classic buckets kept, only the native histogram") {
    auto r = ParseAll(body, {.native_histograms = true, .keep_classic = false});
    REQUIRE(r.ok());
    CHECK(Samples(*r).size() == 1);
  }
}

TEST_CASE("protobuf: the native histogram's exemplars fall back to the buckets'",
          "[scrape][protobuf]") {
  Pb h = Pb().U(1, 3).S(5, 0).Msg(12, Span(0, 1)).S(13, 3);
  h.Msg(3, Pb().U(1, 3).D(2, 1).Msg(3, ExemplarMsg("a", 0.7, Timestamp(1700000002, 5000000))));
  h.Msg(3, Pb().U(1, 3).D(2, 2).Msg(3, ExemplarMsg("b", 1.7)));  // no timestamp: dropped
  auto r = ParseAll(Body({Family("z", 4, {Pb().Msg(7, h)})}));
  REQUIRE(r.ok());
  auto s = Samples(*r);
  REQUIRE(s[0].exemplars.size() == 1);
  CHECK(s[0].exemplars[0].labels.Get("trace_id") == "a");
  CHECK(s[0].exemplars[0].timestamp == 1700000002005);
}

TEST_CASE("protobuf: malformed input is an error that names the byte offset",
          "[scrape][protobuf]") {
  const std::string good = Body({Family("g", 1, {Pb().Msg(2, Pb().D(1, 1))})});
  SECTION("truncated length varint") {
    CHECK(ErrorOf("\x80") == "protobuf: offset 0: truncated varint");
  }
  SECTION("family length past the end") {
    CHECK(ErrorOf(good.substr(0, good.size() - 1)) ==
          fmt::format("protobuf: offset 0: MetricFamily length {} past the end of the body ({} "
                      "bytes left)",
                      good.size() - 1, good.size() - 2));
  }
  SECTION("wrong wire type") {
    std::string body = Body({Pb().U(1, 5)});  // name as a varint
    CHECK(ErrorOf(body) == "protobuf: offset 1: field 1 has wire type 0, want 2");
  }
  SECTION("a sub-message length past its parent's end") {
    Pb f = Pb().Str(1, "g").U(3, 1);
    f.Tag(4, 2).Raw(50);  // metric claims 50 bytes
    std::string body = Body({f});
    CHECK(ErrorOf(body) ==
          "protobuf: offset 7: field 4: length 50 past the end of its message (0 bytes left)");
  }
  SECTION("bucket counts that do not match the spans") {
    Pb h = Pb().U(1, 3).S(5, 0).Msg(12, Span(0, 3)).S(13, 1).S(13, 1);
    std::string body = Body({Family("h", 4, {Pb().Msg(7, h)})});
    std::string e = ErrorOf(body);
    CHECK(e == "protobuf: offset 8: histogram h: positive spans need 3 buckets, have 2 buckets");
  }
  SECTION("more observations in buckets than count") {
    Pb h = Pb().U(1, 1).S(5, 0).Msg(12, Span(0, 1)).S(13, 5);
    CHECK(ErrorOf(Body({Family("h", 4, {Pb().Msg(7, h)})})) ==
          "protobuf: offset 8: histogram h: 5 observations found in buckets, but the Count "
          "field is 1");
  }
  SECTION("fewer observations in buckets than count, and sum is not NaN") {
    Pb h = Pb().U(1, 4).D(2, 1.5).S(5, 0).Msg(12, Span(0, 2)).S(13, 1).S(13, 1);
    CHECK(ErrorOf(Body({Family("h", 4, {Pb().Msg(7, h)})})) ==
          "protobuf: offset 8: histogram h: 3 observations found in buckets, but the Count "
          "field is 4");
    // A NaN sum means NaN observations, which no bucket counts: then count may be larger.
    Pb with_nan = Pb().U(1, 4).D(2, std::nan("")).S(5, 0).Msg(12, Span(0, 2)).S(13, 1).S(13, 1);
    CHECK(ErrorOf(Body({Family("h", 4, {Pb().Msg(7, with_nan)})})) == "");
  }
  SECTION("negative bucket count") {
    Pb h = Pb().U(1, 1).S(5, 0).Msg(12, Span(0, 2)).S(13, 1).S(13, -2);
    CHECK(ErrorOf(Body({Family("h", 4, {Pb().Msg(7, h)})})) ==
          "protobuf: offset 8: histogram h: bucket number 2 has observation count of -1");
  }
  SECTION("unknown type, bad unit, duplicate labels") {
    CHECK(ErrorOf(Body({Family("g", 9, {Pb().Msg(2, Pb().D(1, 1))})})) ==
          "protobuf: offset 0: unknown metric type 9 for metric \"g\"");
    CHECK(ErrorOf(Body({Family("g_bytes", 1, {Pb().Msg(2, Pb())}, "", "seconds")})) ==
          "protobuf: offset 0: unit \"seconds\" not a suffix of metric \"g_bytes\"");
    CHECK(ErrorOf(Body({Family("c_seconds_total", 0, {Pb().Msg(3, Pb())}, "", "seconds")})) == "");
    Pb m = Pb().Msg(1, LabelPair("a", "1")).Msg(1, LabelPair("a", "2"));
    CHECK(ErrorOf(Body({Family("g", 1, {m})})) ==
          "protobuf: offset 8: metric g: duplicate label name \"a\"");
  }
}

TEST_CASE("protobuf: every truncation and bit flip of a payload is handled without crashing",
          "[scrape][protobuf]") {
  Pb counter = Pb().Msg(1, LabelPair("a", "b")).Msg(3, Pb().D(1, 1).Msg(2, ExemplarMsg("t", 1)));
  const std::string body = Body({
      Family("c_total", 0, {counter}, "help"),
      Family("h", 4, {Pb().Msg(7, NativeHistogram()), Pb().Msg(7, ClassicHistogram(true))}),
      Family("s", 2, {Pb().Msg(4, Pb().U(1, 1).Msg(3, Pb().D(1, 0.5).D(2, 1)))}),
  });
  REQUIRE(ParseAll(body, {.native_histograms = true, .keep_classic = true}).ok());
  int errors = 0;
  for (size_t n = 0; n < body.size(); ++n) {
    if (!ParseAll(body.substr(0, n)).ok()) ++errors;
  }
  CHECK(errors > 0);
  for (size_t i = 0; i < body.size(); ++i) {
    for (int bit : {0, 3, 7}) {
      std::string flipped = body;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      (void)ParseAll(flipped, {.native_histograms = true, .keep_classic = true});
    }
  }
}

TEST_CASE("protobuf: a payload encoded by libprotobuf parses to the same series",
          "[scrape][protobuf]") {
  io::prometheus::client::MetricFamily mf;
  mf.set_name("rpc_duration_seconds");
  mf.set_help("RPC latency.");
  mf.set_type(io::prometheus::client::HISTOGRAM);
  auto* m = mf.add_metric();
  auto* l = m->add_label();
  l->set_name("service");
  l->set_value("api");
  auto* h = m->mutable_histogram();
  h->set_sample_count(8);
  h->set_sample_sum(1.5);
  h->set_schema(3);
  h->set_zero_threshold(1e-128);
  h->set_zero_count(1);
  auto* span = h->add_positive_span();
  span->set_offset(-2);
  span->set_length(3);
  for (int64_t d : {2, 0, 1}) h->add_positive_delta(d);  // 2, 2, 3 (packed by proto3)
  std::string msg;
  REQUIRE(mf.SerializeToString(&msg));
  Pb body;
  body.Raw(msg.size());
  body.bytes += msg;
  auto r = ParseAll(body.bytes);
  INFO(r.status().message());
  REQUIRE(r.ok());
  auto s = Samples(*r);
  REQUIRE(s.size() == 1);
  CHECK(s[0].labels == R"(rpc_duration_seconds{service="api"})");
  REQUIRE(s[0].h);
  CHECK(s[0].h->schema == 3);
  CHECK(s[0].h->count == 8);
  CHECK(s[0].h->zero_count == 1);
  CHECK(s[0].h->positive_spans == std::vector<HistogramSpan>{{-2, 3}});
  CHECK(s[0].h->positive_buckets == std::vector<int64_t>{2, 0, 1});
}

TEST_CASE("protobuf: the fuzz seed corpus parses as expected", "[scrape][protobuf]") {
  // test/scrape/make_protobuf_seeds.py writes these; the broken ones must fail cleanly.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(PETREL_PROTOBUF_CORPUS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    const std::string name = entry.path().filename().string();
    INFO(name);
    const bool broken = name == "truncated" || name == "bad_spans";
    CHECK(ParseAll(body.str(), {.native_histograms = true, .keep_classic = true}).ok() != broken);
    ++files;
  }
  CHECK(files == 11);
}

}  // namespace
}  // namespace petrel::scrape
