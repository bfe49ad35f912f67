// The WAL appender with native histograms and exemplars: validation, the shared per-series
// timestamp order, the record order of a commit, replay, segment stats and checkpoints.
#include <algorithm>
#include <catch2/catch.hpp>

#include "test/support/mem_fs.h"
#include "test/wal/wal_test_util.h"
#include "wal/records.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

using Catch::Matchers::Contains;
using testing::ReadAll;

Labels Named(const std::string& name) { return Labels{{"__name__", name}, {"job", "j"}}; }

std::unique_ptr<Storage> MustOpen(Fs& fs, Registry& r) {
  auto s = Storage::Open(fs, r, "/data", {.compression = Compression::kSnappy});
  REQUIRE(s.ok());
  return std::move(*s);
}

// Schema 0, buckets 1 and 2 at indexes 0 and 1 (deltas 1 1), zero bucket 1: count 4.
Histogram Exponential() {
  Histogram h;
  h.hint = CounterResetHint::kNotCounterReset;
  h.zero_threshold = 1e-128;
  h.zero_count = 1;
  h.count = 4;
  h.sum = 3.5;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {1, 1};
  return h;
}

Histogram CustomBuckets() {
  Histogram h;
  h.schema = kCustomBucketsSchema;
  h.count = 3;
  h.sum = 1;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {1, 1};
  h.custom_values = {0.5};
  return h;
}

FloatHistogram Float(int32_t schema) {
  FloatHistogram fh;
  fh.schema = schema;
  fh.count = 2.5;
  fh.sum = 4;
  fh.positive_spans = {{0, 1}};
  fh.positive_buckets = {2.5};
  if (schema == kCustomBucketsSchema) fh.custom_values = {1, 2};
  return fh;
}

struct Wal {
  std::vector<RecordType> types;
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  std::vector<RefHistogramSample> histograms;
  std::vector<RefFloatHistogramSample> floats;
  std::vector<RefExemplar> exemplars;
};

Wal Decode(Fs& fs, const std::string& dir = "/data/wal") {
  Wal w;
  auto got = ReadAll(fs, dir);
  REQUIRE(got.status.ok());
  for (const auto& rec : got.records) {
    w.types.push_back(TypeOf(rec));
    switch (TypeOf(rec)) {
      case RecordType::kSeries:
        REQUIRE(DecodeSeries(rec, &w.series).ok());
        break;
      case RecordType::kSamples:
        REQUIRE(DecodeSamples(rec, &w.samples).ok());
        break;
      case RecordType::kHistogramSamples:
      case RecordType::kCustomBucketsHistogramSamples:
        REQUIRE(DecodeHistogramSamples(rec, &w.histograms).ok());
        break;
      case RecordType::kFloatHistogramSamples:
      case RecordType::kCustomBucketsFloatHistogramSamples:
        REQUIRE(DecodeFloatHistogramSamples(rec, &w.floats).ok());
        break;
      case RecordType::kExemplars:
        REQUIRE(DecodeExemplars(rec, &w.exemplars).ok());
        break;
      default:
        FAIL("unexpected record type " << static_cast<int>(TypeOf(rec)));
    }
  }
  return w;
}

TEST_CASE("a commit writes series, samples, histograms by kind, then exemplars",
          "[wal][histogram]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  // Appended in an order unlike the records', kinds interleaved.
  const Histogram h = Exponential(), c = CustomBuckets();
  const FloatHistogram fc = Float(kCustomBucketsSchema), fe = Float(2);
  auto ex1 = app->AppendHistogram(0, Named("ex"), 1000, &h, nullptr);
  REQUIRE(ex1.ok());
  REQUIRE(app->AppendHistogram(0, Named("fcustom"), 1000, nullptr, &fc).ok());
  REQUIRE(app->AppendHistogram(0, Named("custom"), 1000, &c, nullptr).ok());
  auto up = app->Append(0, Named("up"), 1000, 1);
  REQUIRE(up.ok());
  REQUIRE(app->AppendHistogram(0, Named("fexp"), 1000, nullptr, &fe).ok());
  REQUIRE(app->AppendExemplar(*ex1, 990, 0.7, Labels{{"trace_id", "t1"}}).ok());
  REQUIRE(app->AppendExemplar(*up, 995, 1, Labels{}).ok());
  REQUIRE(app->Commit().ok());

  Wal w = Decode(fs);
  CHECK(w.types == std::vector<RecordType>{
                       RecordType::kSeries, RecordType::kSamples, RecordType::kHistogramSamples,
                       RecordType::kCustomBucketsHistogramSamples,
                       RecordType::kFloatHistogramSamples,
                       RecordType::kCustomBucketsFloatHistogramSamples, RecordType::kExemplars});
  CHECK(w.series.size() == 5);
  REQUIRE(w.histograms.size() == 2);
  CHECK(w.histograms[0].ref == *ex1);
  CHECK(w.histograms[0].h == h);
  CHECK(w.histograms[1].h == c);
  REQUIRE(w.floats.size() == 2);
  CHECK(w.floats[0].fh == fe);
  CHECK(w.floats[1].fh == fc);
  REQUIRE(w.exemplars.size() == 2);
  CHECK(w.exemplars[0].ref == *ex1);
  CHECK(w.exemplars[0].t == 990);
  CHECK(w.exemplars[0].labels == Labels{{"trace_id", "t1"}});

  const std::string text = r.Render();
  CHECK_THAT(text, Contains("prometheus_agent_samples_appended_total{type=\"float\"} 1\n"));
  CHECK_THAT(text, Contains("prometheus_agent_samples_appended_total{type=\"histogram\"} 4\n"));
  CHECK_THAT(text, Contains("prometheus_agent_exemplars_appended_total 2\n"));
  // Segment stats count histograms as samples (retention reports what a dropped segment held).
  CHECK(st->Segments().back().samples == 5);

  SECTION("only the kinds present are written") {
    auto app2 = st->NewAppender();
    REQUIRE(app2->AppendHistogram(*ex1, Labels{}, 2000, &h, nullptr).ok());
    REQUIRE(app2->Commit().ok());
    Wal w2 = Decode(fs);
    CHECK(w2.types.back() == RecordType::kHistogramSamples);
    CHECK(w2.types.size() == w.types.size() + 1);
  }
}

TEST_CASE("floats and histograms share one timestamp order per series", "[wal][histogram]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  const Histogram h = Exponential();
  auto ref = app->Append(0, Named("m"), 1000, 1);
  REQUIRE(ref.ok());
  REQUIRE(app->Commit().ok());
  CHECK(app->AppendHistogram(*ref, Labels{}, 1000, &h, nullptr).status().code() ==
        Code::kInvalidArgument);
  REQUIRE(app->AppendHistogram(*ref, Labels{}, 2000, &h, nullptr).ok());
  REQUIRE(app->Commit().ok());
  CHECK(app->Append(*ref, Labels{}, 2000, 5).status().code() == Code::kInvalidArgument);
  CHECK(app->Append(*ref, Labels{}, 2001, 5).ok());
  CHECK_THAT(r.Render(), Contains("prometheus_agent_out_of_order_samples_total 2\n"));
}

TEST_CASE("invalid histograms are rejected with the reason", "[wal][histogram]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  auto rejects = [&](const Histogram& h, const char* why) {
    INFO(why);
    auto got = app->AppendHistogram(0, Named("bad"), 1000, &h, nullptr);
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().code() == Code::kInvalidArgument);
    CHECK_THAT(got.status().message(), Contains(why));
  };
  Histogram h = Exponential();
  h.positive_buckets = {1, 1, 1};
  rejects(h, "positive spans need 2 buckets, have 3");
  h = Exponential();
  h.positive_buckets = {1, -2};
  rejects(h, "positive bucket 2 has observation count of -1");
  h = Exponential();
  h.count = 5;
  rejects(h, "count 5 differs from the 4 observations");
  h.sum = std::numeric_limits<double>::quiet_NaN();  // NaN observations are in no bucket
  CHECK(app->AppendHistogram(0, Named("nan"), 1000, &h, nullptr).ok());
  h = Exponential();
  h.schema = 9;
  rejects(h, "schema 9 is not between -4 and 8");
  h = Exponential();
  h.positive_spans = {{0, 1}, {-1, 1}};
  rejects(h, "positive span 2 has negative offset -1");
  h = Exponential();
  h.custom_values = {1};
  rejects(h, "an exponential schema must not have custom bounds");
  h = CustomBuckets();
  h.custom_values = {};
  rejects(h, "0 custom bounds cannot cover spans reaching bucket 2");
  h = CustomBuckets();
  h.custom_values = {2, 1};
  h.positive_spans = {{0, 1}};
  h.positive_buckets = {3};
  rejects(h, "strictly increasing");
  h = CustomBuckets();
  h.zero_count = 1;
  h.count = 4;
  rejects(h, "zero count of 0");

  FloatHistogram fh = Float(0);
  fh.positive_buckets = {-1};
  auto f = app->AppendHistogram(0, Named("badf"), 1000, nullptr, &fh);
  CHECK(f.status().code() == Code::kInvalidArgument);
  CHECK(app->AppendHistogram(0, Named("none"), 1000, nullptr, nullptr).status().code() ==
        Code::kInvalidArgument);
  REQUIRE(app->Commit().ok());
  Wal w = Decode(fs);
  CHECK(w.histograms.size() == 1);  // the NaN-sum one
}

TEST_CASE("exemplar checks: unknown ref, label length, exact repeats", "[wal][exemplar]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  CHECK_THAT(app->AppendExemplar(42, 1, 1, Labels{}).message(), Contains("unknown series ref"));
  auto ref = app->Append(0, Named("m"), 1000, 1);
  REQUIRE(ref.ok());

  // 128 characters in names and values is the limit; "é" is one character in two bytes.
  std::string value(128 - 8 - 1, 'x');
  value += "\xc3\xa9";
  REQUIRE(app->AppendExemplar(*ref, 1000, 1, Labels{{"trace_id", value}}).ok());
  Status too_long = app->AppendExemplar(*ref, 1000, 1, Labels{{"trace_id", value + "y"}});
  CHECK(too_long.code() == Code::kInvalidArgument);
  CHECK_THAT(too_long.message(), Contains("129 UTF-8 characters"));
  REQUIRE(app->Commit().ok());

  // The same exemplar scraped again is dropped silently; a changed one is kept.
  REQUIRE(app->Append(*ref, Labels{}, 2000, 1).ok());
  REQUIRE(app->AppendExemplar(*ref, 1000, 1, Labels{{"trace_id", value}}).ok());
  REQUIRE(app->AppendExemplar(*ref, 1000, 2, Labels{{"trace_id", value}}).ok());
  REQUIRE(app->Commit().ok());
  Wal w = Decode(fs);
  REQUIRE(w.exemplars.size() == 2);
  CHECK(w.exemplars[1].v == 2);
  CHECK_THAT(r.Render(), Contains("prometheus_agent_exemplars_appended_total 2\n"));

  SECTION("a rolled-back exemplar is not taken for a repeat") {
    REQUIRE(app->AppendExemplar(*ref, 3000, 3, Labels{}).ok());
    app->Rollback();
    REQUIRE(app->AppendExemplar(*ref, 3000, 3, Labels{}).ok());
    REQUIRE(app->Commit().ok());
    CHECK(Decode(fs).exemplars.size() == 3);
  }
}

TEST_CASE("replay restores last timestamps from histogram records", "[wal][histogram]") {
  MemFs fs;
  SeriesRef h_ref = 0, f_ref = 0;
  {
    Registry r;
    auto st = MustOpen(fs, r);
    auto app = st->NewAppender();
    const Histogram c = CustomBuckets();
    const FloatHistogram f = Float(1);
    h_ref = *app->AppendHistogram(0, Named("h"), 5000, &c, nullptr);
    f_ref = *app->AppendHistogram(0, Named("f"), 6000, nullptr, &f);
    REQUIRE(app->AppendExemplar(h_ref, 5000, 1, Labels{{"a", "b"}}).ok());
    REQUIRE(app->Commit().ok());
    REQUIRE(st->Close().ok());
  }
  Registry r;
  auto st = MustOpen(fs, r);
  REQUIRE(st->replay_status().ok());
  CHECK(st->ActiveSeries() == 2);
  auto segments = st->Segments();
  REQUIRE(segments.size() == 2);
  CHECK(segments[0].samples == 2);
  CHECK(segments[0].max_ts == 6000);
  auto app = st->NewAppender();
  CHECK(app->Append(0, Named("h"), 5000, 1).status().code() == Code::kInvalidArgument);
  CHECK(app->Append(0, Named("f"), 6000, 1).status().code() == Code::kInvalidArgument);
  CHECK(*app->Append(0, Named("f"), 6001, 1) == f_ref);
}

TEST_CASE("a checkpoint keeps histograms and exemplars at or after mint", "[wal][histogram]") {
  MemFs fs;
  Registry r;
  auto st = MustOpen(fs, r);
  auto app = st->NewAppender();
  const Histogram h = Exponential(), c = CustomBuckets();
  const FloatHistogram f = Float(0);
  // Segments 0..3, one commit each at t = 1000, 2000, 3000, 4000 (a truncation with up to three
  // segments only rotates).
  SeriesRef ref = 0, fref = 0, cref = 0;
  for (int i = 1; i <= 4; ++i) {
    const int64_t t = i * 1000;
    ref = *app->AppendHistogram(ref, Named("h"), t, &h, nullptr);
    cref = *app->AppendHistogram(cref, Named("c"), t, &c, nullptr);
    fref = *app->AppendHistogram(fref, Named("f"), t, nullptr, &f);
    REQUIRE(app->AppendExemplar(ref, t, static_cast<double>(i), Labels{}).ok());
    REQUIRE(app->Commit().ok());
    if (i < 4) REQUIRE(st->Truncate(0).ok());
  }
  REQUIRE(st->CurrentSegment() == 3);
  // Folds segments 0 and 1 into checkpoint.00000001 with mint 2000: the t = 1000 items go.
  REQUIRE(st->Truncate(2000).ok());
  CHECK(fs.IsDir("/data/wal/checkpoint.00000001"));
  auto names = fs.List("/data/wal");
  REQUIRE(names.ok());
  std::string cp;
  for (const auto& n : *names) {
    if (n.starts_with("checkpoint.")) cp = "/data/wal/" + n;
  }
  REQUIRE_FALSE(cp.empty());
  Wal w = Decode(fs, cp);
  CHECK(w.series.size() == 3);
  std::vector<int64_t> ts;
  for (const auto& x : w.histograms) ts.push_back(x.t);
  CHECK(ts == std::vector<int64_t>{2000, 2000});
  CHECK(w.histograms.size() == w.floats.size() * 2);
  CHECK(w.floats.size() == 1);
  for (const auto& x : w.floats) CHECK(x.t >= 2000);
  for (const auto& x : w.exemplars) CHECK(x.t >= 2000);
  CHECK(w.exemplars.size() == w.floats.size());
  // Each kind keeps its record type.
  CHECK(std::count(w.types.begin(), w.types.end(), RecordType::kCustomBucketsHistogramSamples) > 0);
  for (const auto& x : w.histograms) {
    CHECK((x.ref == cref ? x.h == c : x.h == h));
  }
}

}  // namespace
}  // namespace petrel::wal
