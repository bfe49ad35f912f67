// The scrape loop with native histograms and exemplars: what reaches the appender.
#include <catch2/catch.hpp>

#include "scrape/scrape_loop.h"
#include "test/scrape/fake_wal.h"
#include "test/scrape/proto_builder.h"
#include "wal/records.h"

namespace petrel::scrape {
namespace {

using testing::FakeAppender;
using testing::FakeWal;
using namespace testing::pb;  // NOLINT

constexpr const char* kProtobuf =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
    "encoding=delimited";

struct Fixture {
  explicit Fixture(std::function<void(config::ScrapeConfig&)> configure = nullptr)
      : loop(
            MakeTarget(configure), [this] { return std::make_unique<FakeAppender>(wal); },
            metrics) {}
  static Target MakeTarget(const std::function<void(config::ScrapeConfig&)>& configure) {
    auto job = std::make_shared<config::ScrapeConfig>();
    job->job_name = "app";
    job->scrape_native_histograms = true;
    if (configure) configure(*job);
    Target t;
    t.job = "app";
    t.url = "http://127.0.0.1:8080/metrics";
    t.labels = Labels{{"job", "app"}, {"instance", "127.0.0.1:8080"}};
    t.interval = std::chrono::seconds(15);
    t.timeout = std::chrono::seconds(10);
    t.job_config = std::move(job);
    return t;
  }
  Status Scrape(int64_t t, std::string body, const char* content_type = kProtobuf) {
    FetchResult r;
    r.timestamp_ms = t;
    r.content_type = content_type;
    r.body = std::move(body);
    return loop.Process(r);
  }
  const FakeWal::Sample* Float(std::string_view name, int64_t t) {
    for (const auto& s : wal.committed) {
      if (s.labels.Get("__name__") == name && s.t == t) return &s;
    }
    return nullptr;
  }
  Registry registry;
  ScrapeMetrics metrics{registry};
  FakeWal wal;
  ScrapeLoop loop;
};

// Schema 0, positive buckets 1..4 (counts 1, 2, 3, 4), zero bucket 1.
Pb Native(uint64_t zero_count = 1) {
  Pb h = Pb().U(1, 10 + zero_count).D(2, 25).S(5, 0).D(6, 0.001).U(7, zero_count);
  h.Msg(12, Span(1, 4));
  for (int64_t d : {1, 1, 1, 1}) h.S(13, d);
  return h;
}

std::string HistogramBody(const Pb& histogram, bool with_gauge = true) {
  std::vector<Pb> families = {Family("lat_seconds", 4, {Pb().Msg(7, histogram)})};
  if (with_gauge) families.push_back(Family("g", 1, {Pb().Msg(2, Pb().D(1, 1))}));
  return Body(families);
}

TEST_CASE("native histograms reach AppendHistogram, use the scrape cache, go stale as floats",
          "[scrape][histogram]") {
  Fixture f;
  REQUIRE(f.Scrape(1000, HistogramBody(Native())).ok());
  REQUIRE(f.wal.histograms.size() == 1);
  const auto& first = f.wal.histograms[0];
  CHECK(first.labels ==
        Labels{{"__name__", "lat_seconds"}, {"job", "app"}, {"instance", "127.0.0.1:8080"}});
  CHECK(first.t == 1000);
  REQUIRE(first.h);
  CHECK(first.h->count == 11);
  CHECK(first.h->zero_count == 1);
  CHECK(first.h->positive_spans == std::vector<HistogramSpan>{{1, 4}});
  CHECK(first.h->positive_buckets == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(f.Float("scrape_samples_scraped", 1000)->v == 2);
  CHECK(f.Float("scrape_series_added", 1000)->v == 2);
  const int lookups = f.wal.label_lookups;

  REQUIRE(f.Scrape(2000, HistogramBody(Native(2))).ok());
  REQUIRE(f.wal.histograms.size() == 2);
  CHECK(f.wal.histograms[1].h->zero_count == 2);
  CHECK(f.wal.label_lookups == lookups);  // cached refs, for the histogram too
  CHECK(f.Float("scrape_series_added", 2000)->v == 0);

  REQUIRE(f.Scrape(3000, Body({Family("g", 1, {Pb().Msg(2, Pb().D(1, 1))})})).ok());
  const auto* stale = f.Float("lat_seconds", 3000);
  REQUIRE(stale != nullptr);
  CHECK(wal::IsStaleNaN(stale->v));
  CHECK(f.wal.histograms.size() == 2);
}

TEST_CASE("scrape_native_histograms false ingests the classic series", "[scrape][histogram]") {
  Fixture f([](config::ScrapeConfig& c) { c.scrape_native_histograms = false; });
  REQUIRE(f.Scrape(1000, HistogramBody(Native())).ok());
  CHECK(f.wal.histograms.empty());
  REQUIRE(f.Float("lat_seconds_count", 1000) != nullptr);
  CHECK(f.Float("lat_seconds_count", 1000)->v == 11);
  CHECK(f.Float("lat_seconds_sum", 1000)->v == 25);
  CHECK(f.Float("lat_seconds_bucket", 1000)->labels.Get("le") == "+Inf");
}

TEST_CASE("always_scrape_classic_histograms keeps both representations", "[scrape][histogram]") {
  Fixture f([](config::ScrapeConfig& c) { c.always_scrape_classic_histograms = true; });
  Pb h = Native();
  h.Msg(3, Pb().U(1, 5).D(2, 1));
  REQUIRE(f.Scrape(1000, HistogramBody(h, false)).ok());
  CHECK(f.wal.histograms.size() == 1);
  CHECK(f.Float("lat_seconds_count", 1000) != nullptr);
  CHECK(f.Float("scrape_samples_scraped", 1000)->v == 5);  // native, _count, _sum, 2 buckets
}

TEST_CASE("native_histogram_bucket_limit reduces the resolution, then fails the scrape",
          "[scrape][histogram]") {
  SECTION("reduced to fit") {
    Fixture f([](config::ScrapeConfig& c) { c.native_histogram_bucket_limit = 2; });
    REQUIRE(f.Scrape(1000, HistogramBody(Native())).ok());
    REQUIRE(f.wal.histograms.size() == 1);
    const Histogram& h = *f.wal.histograms[0].h;
    // Schema 0 buckets 1,2 | 3,4 merge into schema -1 buckets 1 and 2.
    CHECK(h.schema == -1);
    CHECK(h.positive_spans == std::vector<HistogramSpan>{{1, 2}});
    CHECK(h.positive_buckets == std::vector<int64_t>{3, 4});  // counts 3 and 7
    CHECK(f.metrics.exceeded_bucket_limit->Value() == 0);
  }
  SECTION("cannot fit at the lowest resolution") {
    Fixture f([](config::ScrapeConfig& c) { c.native_histogram_bucket_limit = 1; });
    Pb h = Pb().U(1, 2).S(5, -4).Msg(12, Span(0, 1)).Msg(12, Span(3, 1)).S(13, 1).S(13, 0);
    Status s = f.Scrape(1000, HistogramBody(h));
    CHECK(s.message() == "histogram bucket limit exceeded");
    CHECK(f.wal.histograms.empty());
    CHECK(f.Float("g", 1000) == nullptr);  // the whole scrape is dropped
    CHECK(f.Float("up", 1000)->v == 0);
    CHECK(f.Float("scrape_samples_scraped", 1000)->v == 2);
    CHECK(f.metrics.exceeded_bucket_limit->Value() == 1);
  }
}

TEST_CASE("native_histogram_min_bucket_factor caps the schema", "[scrape][histogram]") {
  // factor 1.1: floor(-log2(log2(1.1))) == 2.
  Fixture f([](config::ScrapeConfig& c) { c.native_histogram_min_bucket_factor = 1.1; });
  Pb h = Pb().U(1, 2).S(5, 3).Msg(12, Span(1, 2)).S(13, 1).S(13, 0);
  REQUIRE(f.Scrape(1000, HistogramBody(h)).ok());
  REQUIRE(f.wal.histograms.size() == 1);
  CHECK(f.wal.histograms[0].h->schema == 2);
  CHECK(f.wal.histograms[0].h->positive_spans == std::vector<HistogramSpan>{{1, 1}});
  CHECK(f.wal.histograms[0].h->positive_buckets == std::vector<int64_t>{2});
}

TEST_CASE("exemplars: the scrape's timestamp when missing, an unchanged one appended once",
          "[scrape][exemplar]") {
  Fixture f;
  const char* om = "application/openmetrics-text; version=1.0.0";
  SECTION("OpenMetrics text") {
    REQUIRE(f.Scrape(1000, "# TYPE a counter\na_total 1 # {trace_id=\"x\"} 0.5\n# EOF\n", om).ok());
    REQUIRE(f.Scrape(2000, "# TYPE a counter\na_total 2 # {trace_id=\"x\"} 0.5\n# EOF\n", om).ok());
    REQUIRE(f.wal.exemplars.size() == 2);  // no timestamp: each gets its scrape's
    CHECK(f.wal.exemplars[0].t == 1000);
    CHECK(f.wal.exemplars[1].t == 2000);
    CHECK(f.wal.exemplars[0].series.Get("__name__") == "a_total");
    CHECK(f.wal.exemplars[0].labels == Labels{{"trace_id", "x"}});
    CHECK(f.wal.exemplars[0].v == 0.5);

    const char* with_ts = "# TYPE a counter\na_total 3 # {trace_id=\"y\"} 1 1.5\n# EOF\n";
    REQUIRE(f.Scrape(3000, with_ts, om).ok());
    REQUIRE(
        f.Scrape(4000, "# TYPE a counter\na_total 4 # {trace_id=\"y\"} 1 1.5\n# EOF\n", om).ok());
    REQUIRE(f.wal.exemplars.size() == 3);  // the same exemplar again is not appended
    CHECK(f.wal.exemplars[2].t == 1500);
    REQUIRE(
        f.Scrape(5000, "# TYPE a counter\na_total 5 # {trace_id=\"y\"} 2 1.5\n# EOF\n", om).ok());
    CHECK(f.wal.exemplars.size() == 4);  // a new value is
  }
  SECTION("protobuf counters and native histograms") {
    Pb counter = Pb().Msg(3, Pb().D(1, 7).Msg(2, ExemplarMsg("c", 1)));
    Pb h = Native();
    h.Msg(16, ExemplarMsg("h1", 0.2, Timestamp(1, 0)));
    h.Msg(16, ExemplarMsg("h0", 0.1, Timestamp(0, 500000000)));
    h.Msg(16, ExemplarMsg("none", 0.3));  // dropped: no timestamp
    std::string body =
        Body({Family("c_total", 0, {counter}), Family("lat_seconds", 4, {Pb().Msg(7, h)})});
    REQUIRE(f.Scrape(1000, body).ok());
    REQUIRE(f.wal.exemplars.size() == 3);
    CHECK(f.wal.exemplars[0].series.Get("__name__") == "c_total");
    CHECK(f.wal.exemplars[0].t == 1000);
    // A histogram's exemplars in timestamp order.
    CHECK(f.wal.exemplars[1].labels == Labels{{"trace_id", "h0"}});
    CHECK(f.wal.exemplars[1].t == 500);
    CHECK(f.wal.exemplars[2].t == 1000);
    REQUIRE(f.Scrape(2000, body).ok());
    // The counter's is new (stamped 2000). Only an exemplar equal to the series' last one is
    // skipped, as in Prometheus's agent appender: h0 differs from h1 (the last), and then h1
    // from h0, so a histogram's several exemplars are appended again.
    REQUIRE(f.wal.exemplars.size() == 6);
    CHECK(f.wal.exemplars[3].t == 2000);
  }
}

}  // namespace
}  // namespace petrel::scrape
