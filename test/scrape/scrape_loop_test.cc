#include "scrape/scrape_loop.h"

#include <fmt/format.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "config/relabel.h"
#include "test/scrape/fake_wal.h"
#include "test/support/mem_fs.h"
#include "wal/records.h"
#include "wal/storage.h"

namespace petrel::scrape {
namespace {

using testing::FakeAppender;
using testing::FakeWal;

Target NodeTarget() {
  Target t;
  t.job = "node";
  t.url = "http://127.0.0.1:9100/metrics";
  t.labels = Labels{{"job", "node"}, {"instance", "127.0.0.1:9100"}};
  t.interval = std::chrono::seconds(15);
  t.timeout = std::chrono::seconds(10);
  return t;
}

FetchResult Body(int64_t t, std::string_view body) {
  FetchResult r;
  r.timestamp_ms = t;
  r.content_type = "text/plain; version=0.0.4";
  r.body = body;
  r.duration = std::chrono::milliseconds(3);
  return r;
}

std::vector<FakeWal::Sample> At(const FakeWal& wal, int64_t t) {
  std::vector<FakeWal::Sample> out;
  for (const auto& s : wal.committed) {
    if (s.t == t) out.push_back(s);
  }
  return out;
}

const FakeWal::Sample* Find(const std::vector<FakeWal::Sample>& samples, std::string_view name,
                            std::string_view label = "", std::string_view value = "") {
  for (const auto& s : samples) {
    if (s.labels.Get("__name__") == name && (label.empty() || s.labels.Get(label) == value)) {
      return &s;
    }
  }
  return nullptr;
}

struct Fixture {
  explicit Fixture(std::shared_ptr<const config::ScrapeConfig> job = nullptr)
      : loop(
            WithJob(std::move(job)), [this] { return std::make_unique<FakeAppender>(wal); },
            metrics) {}
  static Target WithJob(std::shared_ptr<const config::ScrapeConfig> job) {
    Target t = NodeTarget();
    t.job_config = std::move(job);
    return t;
  }
  Registry registry;
  ScrapeMetrics metrics{registry};
  FakeWal wal;
  ScrapeLoop loop;
};

std::shared_ptr<config::ScrapeConfig> JobConfig() {
  auto job = std::make_shared<config::ScrapeConfig>();
  job->job_name = "node";
  return job;
}

TEST_CASE("a scrape appends samples with target labels and the automatic series", "[scrape]") {
  Fixture f;
  const char* body = "# TYPE a counter\na{x=\"1\"} 5\nb 2.5\n";
  REQUIRE(f.loop.Process(Body(1000, body)).ok());
  auto s = At(f.wal, 1000);
  REQUIRE(s.size() == 2 + 5);
  const auto* a = Find(s, "a");
  REQUIRE(a != nullptr);
  CHECK(a->labels ==
        Labels{{"__name__", "a"}, {"x", "1"}, {"job", "node"}, {"instance", "127.0.0.1:9100"}});
  CHECK(a->v == 5);
  CHECK(Find(s, "up")->v == 1);
  CHECK(Find(s, "up")->labels.Get("job") == "node");
  CHECK(Find(s, "scrape_samples_scraped")->v == 2);
  CHECK(Find(s, "scrape_samples_post_metric_relabeling")->v == 2);
  CHECK(Find(s, "scrape_series_added")->v == 2);
  CHECK(Find(s, "scrape_duration_seconds")->v == Approx(0.003));
  CHECK(f.loop.health().up);
}

TEST_CASE("the scrape cache skips label parsing for unchanged series", "[scrape]") {
  Fixture f;
  const char* body = "a{x=\"1\"} 5\nb 2.5\n";
  REQUIRE(f.loop.Process(Body(1000, body)).ok());
  int lookups = f.wal.label_lookups;
  REQUIRE(f.loop.Process(Body(2000, body)).ok());
  CHECK(f.wal.label_lookups == lookups);  // every series and auto series reused its ref
  CHECK(Find(At(f.wal, 2000), "scrape_series_added")->v == 0);
}

TEST_CASE("a series that vanished gets a stale marker at the next scrape", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\nb 2\n")).ok());
  REQUIRE(f.loop.Process(Body(2000, "a 1\n")).ok());
  auto s = At(f.wal, 2000);
  const auto* b = Find(s, "b");
  REQUIRE(b != nullptr);
  CHECK(wal::IsStaleNaN(b->v));
  CHECK_FALSE(wal::IsStaleNaN(Find(s, "a")->v));
  // Only once: at the third scrape b is forgotten.
  REQUIRE(f.loop.Process(Body(3000, "a 1\n")).ok());
  CHECK(Find(At(f.wal, 3000), "b") == nullptr);
}

TEST_CASE("a payload that fails to parse fails the whole scrape", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\nb 2\n")).ok());
  Status s = f.loop.Process(Body(2000, "a 1\nb{ 2\n"));
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("line 2"));
  auto got = At(f.wal, 2000);
  CHECK(Find(got, "up")->v == 0);
  // Nothing from the failed payload, and both earlier series marked stale.
  CHECK(wal::IsStaleNaN(Find(got, "a")->v));
  CHECK(wal::IsStaleNaN(Find(got, "b")->v));
  CHECK(f.wal.rollbacks == 1);
  CHECK_FALSE(f.loop.health().up);
  CHECK_THAT(f.loop.health().last_error, Catch::Contains("line 2"));
}

TEST_CASE("a sample the WAL rejects other than as out of order fails the scrape, naming it",
          "[scrape]") {
  Fixture f;
  bool cached = false;
  SECTION("a new series") {}
  SECTION("a series with a cached ref") {
    REQUIRE(f.loop.Process(Body(500, "a 1\nb 2\n")).ok());
    cached = true;
  }
  f.wal.reject_name = "b";
  Status s = f.loop.Process(Body(1000, "a 1\nb 2\nc 3\n"));
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message() ==
        "series b{instance=\"127.0.0.1:9100\", job=\"node\"}: invalid native histogram: "
        "rejected by the test");
  auto got = At(f.wal, 1000);
  CHECK(Find(got, "up")->v == 0);
  // Rolled back: no sample of the scrape; the series of the one before are marked stale.
  if (cached) {
    CHECK(wal::IsStaleNaN(Find(got, "a")->v));
  } else {
    CHECK(Find(got, "a") == nullptr);
  }
  CHECK(Find(got, "c") == nullptr);
  CHECK(f.wal.rollbacks == 1);
  CHECK(f.metrics.out_of_order->Value() == 0);
  CHECK_FALSE(f.loop.health().up);
  CHECK(f.loop.health().last_error == s.message());
}

TEST_CASE("an out-of-order sample is counted and skipped, the scrape stands", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1 900\nb 2\n")).ok());
  REQUIRE(f.loop.Process(Body(2000, "a 2 900\nb 3\n")).ok());
  CHECK(f.metrics.out_of_order->Value() == 1);
  auto got = At(f.wal, 2000);
  CHECK(Find(got, "up")->v == 1);
  CHECK(Find(got, "b")->v == 3);
  CHECK(f.wal.rollbacks == 0);
}

TEST_CASE("the WAL's out-of-order rejection is the one the scrape loop counts", "[scrape]") {
  // The real appender, so its message and the loop's test for it cannot drift apart.
  MemFs fs;
  Registry registry;
  auto storage = wal::Storage::Open(fs, registry, "/data", {.fsync_interval = {}});
  REQUIRE(storage.ok());
  ScrapeMetrics metrics(registry);
  ScrapeLoop loop(
      NodeTarget(), [&] { return (*storage)->NewAppender(); }, metrics);
  REQUIRE(loop.Process(Body(1000, "a 1 900\nb 2\n")).ok());
  REQUIRE(loop.Process(Body(2000, "a 2 900\nb 3\n")).ok());
  CHECK(metrics.out_of_order->Value() == 1);
  CHECK(loop.health().up);
  REQUIRE((*storage)->Close().ok());
}

TEST_CASE("a failed fetch reports up=0 and marks the previous series stale", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\n")).ok());
  FetchResult r = Body(2000, "");
  r.status = Status::Unavailable("server returned HTTP status 500");
  CHECK_FALSE(f.loop.Process(r).ok());
  auto got = At(f.wal, 2000);
  CHECK(Find(got, "up")->v == 0);
  CHECK(wal::IsStaleNaN(Find(got, "a")->v));
  CHECK(Find(got, "scrape_samples_scraped")->v == 0);
}

TEST_CASE("target labels win, clashing scraped labels become exported_*", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "m{job=\"app\",exported_job=\"x\",instance=\"i\"} 1\n")).ok());
  auto got = At(f.wal, 1000);
  const auto* m = Find(got, "m");
  REQUIRE(m != nullptr);
  CHECK(m->labels.Get("job") == "node");
  CHECK(m->labels.Get("exported_job") == "x");
  CHECK(m->labels.Get("exported_exported_job") == "app");
  CHECK(m->labels.Get("exported_instance") == "i");
}

TEST_CASE("explicit timestamps are honoured and parsed NaN cannot forge a stale marker",
          "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(5000, "a 1 4000\nb NaN\n")).ok());
  CHECK(At(f.wal, 4000).size() == 1);
  auto got = At(f.wal, 5000);
  const auto* b = Find(got, "b");
  REQUIRE(b != nullptr);
  CHECK(std::isnan(b->v));
  CHECK_FALSE(wal::IsStaleNaN(b->v));
  CHECK(std::bit_cast<uint64_t>(b->v) == 0x7ff8000000000001ull);
}

TEST_CASE("a duplicate series in one payload keeps the first sample", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\na 2\n")).ok());
  auto got = At(f.wal, 1000);
  int n = 0;
  for (const auto& s : got) n += s.labels.Get("__name__") == "a";
  CHECK(n == 1);
  CHECK(Find(got, "a")->v == 1);
  CHECK(f.metrics.duplicate_timestamp->Value() == 1);
}

TEST_CASE("MarkAllStale marks every series and the automatic ones", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\n")).ok());
  f.loop.MarkAllStale(9000);
  auto got = At(f.wal, 9000);
  CHECK(got.size() == 1 + 5);
  for (const auto& s : got) CHECK(wal::IsStaleNaN(s.v));
}

TEST_CASE("honor_labels keeps scraped labels, honor_timestamps false ignores timestamps",
          "[scrape]") {
  auto job = JobConfig();
  job->honor_labels = true;
  job->honor_timestamps = false;
  Fixture f(job);
  REQUIRE(f.loop.Process(Body(5000, "m{job=\"app\"} 1 4000\n")).ok());
  auto got = At(f.wal, 5000);
  const auto* m = Find(got, "m");
  REQUIRE(m != nullptr);
  CHECK(m->labels.Get("job") == "app");
  CHECK(m->labels.Get("instance") == "127.0.0.1:9100");
  CHECK_FALSE(m->labels.Has("exported_job"));
}

TEST_CASE("metric_relabel_configs drop and rewrite series, counted post relabeling", "[scrape]") {
  auto job = JobConfig();
  config::RelabelConfig drop;
  drop.action = config::RelabelAction::kDrop;
  drop.source_labels = {"__name__"};
  drop.regex = *config::Regex::Compile("go_.*");
  config::RelabelConfig rename;
  rename.source_labels = {"__name__"};
  rename.regex = *config::Regex::Compile("node_(.*)");
  rename.target_label = "__name__";
  rename.replacement = "host_$1";
  job->metric_relabel_configs = {drop, rename};
  Fixture f(job);
  const char* body = "go_goroutines 7\nnode_load1 0.5\nup_like 1\n";
  REQUIRE(f.loop.Process(Body(1000, body)).ok());
  auto got = At(f.wal, 1000);
  CHECK(Find(got, "go_goroutines") == nullptr);
  CHECK(Find(got, "host_load1") != nullptr);
  CHECK(Find(got, "scrape_samples_scraped")->v == 3);
  CHECK(Find(got, "scrape_samples_post_metric_relabeling")->v == 2);
  // Dropped series stay cached as dropped: no label parsing the next time.
  int lookups = f.wal.label_lookups;
  REQUIRE(f.loop.Process(Body(2000, body)).ok());
  CHECK(f.wal.label_lookups == lookups);
  CHECK(Find(At(f.wal, 2000), "go_goroutines") == nullptr);
}

TEST_CASE("sample_limit and label limits fail the whole scrape", "[scrape]") {
  SECTION("sample_limit") {
    auto job = JobConfig();
    job->limits.sample_limit = 2;
    Fixture f(job);
    Status s = f.loop.Process(Body(1000, "a 1\nb 2\nc 3\n"));
    CHECK_THAT(s.message(), Catch::Contains("sample_limit"));
    auto got = At(f.wal, 1000);
    CHECK(Find(got, "a") == nullptr);
    CHECK(Find(got, "up")->v == 0);
    CHECK(Find(got, "scrape_samples_scraped")->v == 3);
    CHECK(f.metrics.exceeded_sample_limit->Value() == 1);
  }
  SECTION("label_value_length_limit") {
    auto job = JobConfig();
    job->limits.label_value_length_limit = 4;
    Fixture f(job);
    Status s = f.loop.Process(Body(1000, "a{x=\"toolong\"} 1\n"));
    CHECK_THAT(s.message(), Catch::Contains("label_value_length_limit"));
    CHECK(Find(At(f.wal, 1000), "a") == nullptr);
  }
  SECTION("label_limit") {
    auto job = JobConfig();
    job->limits.label_limit = 3;  // __name__, instance, job + one more is too many
    Fixture f(job);
    CHECK_FALSE(f.loop.Process(Body(1000, "a{x=\"1\"} 1\n")).ok());
    CHECK(f.metrics.exceeded_label_limits->Value() == 1);
  }
}

TEST_CASE("track_timestamps_staleness marks series with explicit timestamps", "[scrape]") {
  auto job = JobConfig();
  job->track_timestamps_staleness = true;
  Fixture f(job);
  REQUIRE(f.loop.Process(Body(1000, "a 1 900\nb 1\n")).ok());
  REQUIRE(f.loop.Process(Body(2000, "b 1\n")).ok());
  const auto got = At(f.wal, 2000);
  const auto* a = Find(got, "a");
  REQUIRE(a != nullptr);
  CHECK(wal::IsStaleNaN(a->v));
}

TEST_CASE("the warm path follows series that move, come and go between scrapes", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\nb{x=\"1\"} 2\nc 3\ne 9 500\n")).ok());
  int lookups = f.wal.label_lookups;
  REQUIRE(f.loop.Process(Body(2000, "c 4\nd 5\na 6\ne 8 600\n")).ok());
  CHECK(f.wal.label_lookups == lookups + 1);  // only d is new
  auto got = At(f.wal, 2000);
  CHECK(Find(got, "a")->v == 6);
  CHECK(Find(got, "c")->v == 4);
  CHECK(Find(got, "d")->v == 5);
  CHECK(wal::IsStaleNaN(Find(got, "b")->v));
  CHECK(Find(At(f.wal, 600), "e")->v == 8);
  REQUIRE(f.loop.Process(Body(3000, "c 7\nd 7\na 7\n")).ok());
  CHECK(At(f.wal, 3000).size() == 3 + 5);  // three samples and the automatic series
}

TEST_CASE("a cached series whose ref the WAL forgot is appended by its labels", "[scrape]") {
  Fixture f;
  const char* body =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 2\nm{x=\"q\\\"1\",y=\"\"} 5\n";
  REQUIRE(f.loop.Process(Body(1000, body)).ok());
  {
    std::lock_guard lock(f.wal.mu);
    f.wal.labels.clear();  // every ref unknown: appends must go through labels again
    f.wal.refs.clear();
  }
  REQUIRE(f.loop.Process(Body(2000, body)).ok());
  auto got = At(f.wal, 2000);
  REQUIRE(Find(got, "h_bucket", "le", "1.0") != nullptr);
  const auto* m = Find(got, "m");
  REQUIRE(m != nullptr);
  CHECK(m->labels ==
        Labels{{"__name__", "m"}, {"x", "q\"1"}, {"job", "node"}, {"instance", "127.0.0.1:9100"}});
}

TEST_CASE("a cached series on a malformed line still fails the scrape at that line", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, "a 1\nb{x=\"1\"} 2\n")).ok());
  SECTION("bad value") {
    Status s = f.loop.Process(Body(2000, "a 1\nb{x=\"1\"} x\n"));
    CHECK_THAT(s.message(), Catch::Contains("line 2"));
  }
  SECTION("negative timestamp") {
    Status s = f.loop.Process(Body(2000, "a 1\nb{x=\"1\"} 1 -5\n"));
    CHECK_THAT(s.message(), Catch::Contains("line 2"));
  }
  SECTION("OpenMetrics after text: keys the text parser accepted are checked again") {
    REQUIRE(f.loop.Process(Body(2000, "a {x=\"1\"} 1\n")).ok());
    FetchResult om = Body(3000, "a {x=\"1\"} 1\n# EOF\n");
    om.content_type = "application/openmetrics-text; version=1.0.0";
    CHECK_FALSE(f.loop.Process(om).ok());
  }
}

TEST_CASE("metadata per family arrives, changes and vanishes with the target", "[scrape]") {
  Fixture f;
  struct Meta {
    MetricType type;
    std::string help, unit;
    bool operator==(const Meta&) const = default;
  };
  auto metadata = [&f] {
    std::map<std::string, Meta> out;
    f.loop.ForEachMetadata([&out](std::string_view family, MetricType type, std::string_view help,
                                  std::string_view unit) {
      out[std::string(family)] = {type, std::string(help), std::string(unit)};
    });
    return out;
  };
  REQUIRE(f.loop
              .Process(Body(1000,
                            "# HELP a Requests.\n# TYPE a counter\na 1\n"
                            "# TYPE b gauge\nb 2\n# comment\n"))
              .ok());
  auto m = metadata();
  REQUIRE(m.size() == 2);
  CHECK(m["a"] == Meta{MetricType::kCounter, "Requests.", ""});
  CHECK(m["b"] == Meta{MetricType::kGauge, "", ""});

  FetchResult om = Body(2000,
                        "# TYPE a counter\n# HELP a All requests.\n# UNIT a seconds\n"
                        "a_total 2\n# TYPE b gauge\nb 2\n# EOF\n");
  om.content_type = "application/openmetrics-text; version=1.0.0";
  REQUIRE(f.loop.Process(om).ok());
  m = metadata();
  CHECK(m["a"] == Meta{MetricType::kCounter, "All requests.", "seconds"});

  // A family gone from the body is kept for 10 more scrapes, as in Prometheus.
  for (int i = 0; i < 10; ++i)
    REQUIRE(f.loop.Process(Body(3000 + i, "# TYPE b gauge\nb 2\n")).ok());
  CHECK(metadata().count("a") == 1);
  REQUIRE(f.loop.Process(Body(4000, "# TYPE b gauge\nb 2\n")).ok());
  m = metadata();
  CHECK(m.count("a") == 0);
  CHECK(m.count("b") == 1);

  f.loop.MarkAllStale(5000);  // the target went away
  CHECK(metadata().empty());
}

// n lines "<prefix>_<i>{k=\"<i>\"} <value>" from first on.
std::string Lines(std::string_view prefix, int first, int n, int value) {
  std::string out;
  for (int i = first; i < first + n; ++i) {
    out += fmt::format("{}_{}{{k=\"{}\"}} {}\n", prefix, i, i, value);
  }
  return out;
}

// The names of the stale markers at t.
std::multiset<std::string> StaleAt(const FakeWal& wal, int64_t t) {
  std::multiset<std::string> out;
  for (const auto& s : At(wal, t)) {
    if (wal::IsStaleNaN(s.v)) out.insert(std::string(s.labels.Get("__name__")));
  }
  return out;
}

TEST_CASE("churn: series that come and go get stale markers exactly when they vanish", "[scrape]") {
  Fixture f;
  // Each scrape keeps 200 series, brings 60 new ones and drops the previous scrape's 60, so
  // entries are erased (shifting others) and inserted (moving others) every time.
  for (int k = 0; k < 8; ++k) {
    const int64_t t = 1000 * (k + 1);
    const int lookups = f.wal.label_lookups;
    std::string body =
        Lines("keep", 0, 100, k) + Lines("churn", 1000 * k, 60, k) + Lines("keep", 100, 100, k);
    REQUIRE(f.loop.Process(Body(t, body)).ok());
    auto got = At(f.wal, t);
    CHECK(Find(got, "scrape_series_added")->v == (k == 0 ? 260 : 60));
    CHECK(f.wal.label_lookups - lookups == (k == 0 ? 265 : 60));  // new series only
    std::multiset<std::string> want;
    if (k > 0) {
      for (int i = 1000 * (k - 1); i < 1000 * (k - 1) + 60; ++i) {
        want.insert(fmt::format("churn_{}", i));
      }
    }
    CHECK(StaleAt(f.wal, t) == want);
    CHECK(Find(got, "keep_150")->v == k);
  }
  // A failed scrape marks exactly the last scrape's series.
  FetchResult failed = Body(20000, "");
  failed.status = Status::Unavailable("server returned HTTP status 500");
  CHECK_FALSE(f.loop.Process(failed).ok());
  CHECK(StaleAt(f.wal, 20000).size() == 260);
}

TEST_CASE("the scrape cache grows past several rehashes and shrinks back", "[scrape]") {
  Fixture f;
  REQUIRE(f.loop.Process(Body(1000, Lines("m", 0, 50, 1))).ok());
  // New series amid known ones: the table grows while the last scrape's order is in use.
  REQUIRE(f.loop
              .Process(Body(2000,
                            Lines("m", 0, 25, 2) + Lines("m", 50, 5000, 2) + Lines("m", 25, 25, 2)))
              .ok());
  CHECK(Find(At(f.wal, 2000), "scrape_series_added")->v == 5000);
  CHECK(StaleAt(f.wal, 2000).empty());
  const int lookups = f.wal.label_lookups;
  const std::string all = Lines("m", 0, 5050, 3);
  REQUIRE(f.loop.Process(Body(3000, all)).ok());
  CHECK(f.wal.label_lookups == lookups);  // every series found, in a new order
  auto got = At(f.wal, 3000);
  CHECK(got.size() == 5050 + 5);
  CHECK(Find(got, "m_4000")->v == 3);
  // Most series vanish: each is marked once, and the rest stay cached.
  REQUIRE(f.loop.Process(Body(4000, Lines("m", 5000, 50, 4))).ok());
  CHECK(StaleAt(f.wal, 4000).size() == 5000);
  REQUIRE(f.loop.Process(Body(5000, Lines("m", 5000, 50, 5))).ok());
  CHECK(StaleAt(f.wal, 5000).empty());
  CHECK(f.wal.label_lookups == lookups);
}

TEST_CASE("a series twice in one payload keeps the first, scrape after scrape", "[scrape]") {
  Fixture f;
  const char* body = "a 1\nb 2\na 3\nc 4\nb 5\n";
  REQUIRE(f.loop.Process(Body(1000, body)).ok());
  CHECK(f.metrics.duplicate_timestamp->Value() == 2);
  REQUIRE(f.loop.Process(Body(2000, body)).ok());
  CHECK(f.metrics.duplicate_timestamp->Value() == 4);
  auto got = At(f.wal, 2000);
  CHECK(got.size() == 3 + 5);
  CHECK(Find(got, "a")->v == 1);
  CHECK(Find(got, "b")->v == 2);
  CHECK(StaleAt(f.wal, 2000).empty());
  CHECK(Find(got, "scrape_samples_scraped")->v == 5);
}

TEST_CASE("a series metric_relabel dropped stays cached, and vanishes without a marker",
          "[scrape]") {
  auto job = JobConfig();
  config::RelabelConfig drop;
  drop.action = config::RelabelAction::kDrop;
  drop.source_labels = {"__name__"};
  drop.regex = *config::Regex::Compile("go_.*");
  job->metric_relabel_configs = {drop};
  Fixture f(job);
  REQUIRE(f.loop.Process(Body(1000, "go_a 1\nkept 1\ngo_b 1\n")).ok());
  const int lookups = f.wal.label_lookups;
  REQUIRE(f.loop.Process(Body(2000, "go_b 2\nkept 2\ngo_a 2\n")).ok());
  CHECK(f.wal.label_lookups == lookups);
  CHECK(Find(At(f.wal, 2000), "scrape_samples_post_metric_relabeling")->v == 1);
  REQUIRE(f.loop.Process(Body(3000, "kept 3\n")).ok());
  CHECK(StaleAt(f.wal, 3000).empty());
  CHECK(Find(At(f.wal, 3000), "go_a") == nullptr);
  // Back again: relabeled (and dropped) anew.
  REQUIRE(f.loop.Process(Body(4000, "go_a 4\nkept 4\n")).ok());
  CHECK(Find(At(f.wal, 4000), "go_a") == nullptr);
  CHECK(Find(At(f.wal, 4000), "scrape_samples_scraped")->v == 2);
}

}  // namespace
}  // namespace petrel::scrape
