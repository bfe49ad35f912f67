#include "scrape/target.h"

#include <catch2/catch.hpp>
#include <set>

namespace petrel::scrape {
namespace {

config::ScrapeConfig Job() {
  config::ScrapeConfig job;
  job.job_name = "node";
  job.scrape_interval = std::chrono::seconds(15);
  job.scrape_timeout = std::chrono::seconds(10);
  job.static_configs.push_back({{"a:9100", "b:9100"}, Labels{{"rack", "r1"}}});
  job.static_configs.push_back({{"c:9100"}, Labels{{"job", "override"}}});
  return job;
}

TEST_CASE("static configs become targets with job, instance and group labels", "[scrape]") {
  auto targets = TargetsFromConfig(Job());
  REQUIRE(targets.ok());
  REQUIRE(targets->size() == 3);
  const Target& a = (*targets)[0];
  CHECK(a.url == "http://a:9100/metrics");
  CHECK(a.labels == Labels{{"instance", "a:9100"}, {"job", "node"}, {"rack", "r1"}});
  CHECK(a.interval == std::chrono::seconds(15));
  // A group label named job wins over the job name, as in Prometheus.
  CHECK((*targets)[2].labels.Get("job") == "override");
}

TEST_CASE("an address with a path is rejected naming it", "[scrape]") {
  auto job = Job();
  job.static_configs[0].targets[1] = "host:1/x";
  auto targets = TargetsFromConfig(job);
  REQUIRE_FALSE(targets.ok());
  CHECK_THAT(targets.status().message(), Catch::Contains("host:1/x"));
}

TEST_CASE("scrape offsets are stable, within the interval and spread", "[scrape]") {
  auto targets = *TargetsFromConfig(Job());
  uint64_t seed = OffsetSeed("host-a", Labels{{"cluster", "c1"}});
  std::set<int64_t> offsets;
  for (const auto& t : targets) {
    auto o = ScrapeOffset(t, seed);
    CHECK(o == ScrapeOffset(t, seed));
    CHECK(o >= std::chrono::milliseconds(0));
    CHECK(o < t.interval);
    offsets.insert(o.count());
  }
  CHECK(offsets.size() == targets.size());
  // Another agent (other external labels) gets other offsets.
  uint64_t other = OffsetSeed("host-a", Labels{{"cluster", "c2"}});
  CHECK(ScrapeOffset(targets[0], seed) != ScrapeOffset(targets[0], other));
}

}  // namespace
}  // namespace petrel::scrape
