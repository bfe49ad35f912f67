#include "scrape/target.h"

#include <catch2/catch.hpp>
#include <set>

#include "config/relabel.h"

namespace petrel::scrape {
namespace {

std::shared_ptr<const config::ScrapeConfig> Job(
    std::vector<config::RelabelConfig> relabel = {},
    std::map<std::string, std::vector<std::string>> params = {}) {
  auto job = std::make_shared<config::ScrapeConfig>();
  job->job_name = "node";
  job->scrape_interval = std::chrono::seconds(15);
  job->scrape_timeout = std::chrono::seconds(10);
  job->static_configs.push_back({{"a:9100", "b:9100"}, Labels{{"rack", "r1"}}});
  job->static_configs.push_back({{"c:9100"}, Labels{{"job", "override"}}});
  job->relabel_configs = std::move(relabel);
  job->params = std::move(params);
  return job;
}

config::RelabelConfig Rule(config::RelabelAction action, std::vector<std::string> sources,
                           std::string regex, std::string target = "",
                           std::string replacement = "$1") {
  config::RelabelConfig r;
  r.action = action;
  r.source_labels = std::move(sources);
  r.regex = *config::Regex::Compile(regex);
  r.target_label = std::move(target);
  r.replacement = std::move(replacement);
  REQUIRE(config::Validate(r).ok());
  return r;
}

TEST_CASE("static configs become targets with job, instance and group labels", "[scrape]") {
  std::vector<Status> errors;
  auto targets = BuildTargets(Job(), {}, &errors);
  CHECK(errors.empty());
  REQUIRE(targets.size() == 3);
  const Target& a = targets[0];
  CHECK(a.url == "http://a:9100/metrics");
  CHECK(a.labels == Labels{{"instance", "a:9100"}, {"job", "node"}, {"rack", "r1"}});
  CHECK(a.discovered_labels.Get("__address__") == "a:9100");
  CHECK(a.discovered_labels.Get("__scrape_interval__") == "15s");
  CHECK(a.interval == std::chrono::seconds(15));
  // A group label named job wins over the job name, as in Prometheus.
  CHECK(targets[2].labels.Get("job") == "override");
}

TEST_CASE("relabel_configs shape targets: drop, address, path, params, interval", "[scrape]") {
  using A = config::RelabelAction;
  auto job = Job({Rule(A::kDrop, {"__address__"}, "b:.*"),
                  Rule(A::kReplace, {"__address__"}, "(.*):9100", "__address__", "$1:9200"),
                  Rule(A::kReplace, {}, ".*", "__metrics_path__", "/probe"),
                  Rule(A::kReplace, {"rack"}, "(.+)", "__param_module", "m_$1"),
                  Rule(A::kReplace, {}, ".*", "__scrape_interval__", "30s"),
                  Rule(A::kReplace, {}, ".*", "__tmp_x", "y")},
                 {{"module", {"default", "second"}}, {"target", {"t 1"}}});
  std::vector<Status> errors;
  auto targets = BuildTargets(job, {}, &errors);
  REQUIRE(targets.size() == 2);  // b dropped
  CHECK(targets[0].url == "http://a:9200/probe?module=m_r1&module=second&target=t+1");
  CHECK(targets[0].labels.Get("instance") == "a:9200");
  CHECK_FALSE(targets[0].labels.Has("__tmp_x"));
  CHECK(targets[0].interval == std::chrono::seconds(30));
  CHECK(targets[1].url == "http://c:9200/probe?module=default&module=second&target=t+1");
}

TEST_CASE("a target relabeling leaves unusable is reported, not scraped", "[scrape]") {
  using A = config::RelabelAction;
  auto job = Job({Rule(A::kReplace, {}, ".*", "__scrape_timeout__", "20s")});
  std::vector<Status> errors;
  auto targets = BuildTargets(job, {}, &errors);
  CHECK(targets.empty());
  REQUIRE(errors.size() == 3);
  CHECK_THAT(errors[0].message(), Catch::Contains("greater than scrape interval"));
}

TEST_CASE("discovered groups add targets with their labels, duplicates collapse", "[scrape]") {
  auto job = std::make_shared<config::ScrapeConfig>(*Job());
  job->static_configs.clear();
  discovery::TargetGroup g;
  g.source = "file.json:0";
  g.targets = {Labels{{"__address__", "x:1"}, {"__meta_filepath", "/f.json"}},
               Labels{{"__address__", "x:1"}, {"__meta_filepath", "/f.json"}}};
  g.labels = Labels{{"team", "edge"}};
  auto targets = BuildTargets(job, {g}, nullptr);
  REQUIRE(targets.size() == 1);
  CHECK(targets[0].labels == Labels{{"instance", "x:1"}, {"job", "node"}, {"team", "edge"}});
  CHECK(targets[0].discovered_labels.Get("__meta_filepath") == "/f.json");
}

TEST_CASE("scrape offsets are stable, within the interval and spread", "[scrape]") {
  auto targets = BuildTargets(Job(), {}, nullptr);
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
  uint64_t other = OffsetSeed("host-a", Labels{{"cluster", "c2"}});
  CHECK(ScrapeOffset(targets[0], seed) != ScrapeOffset(targets[0], other));
}

}  // namespace
}  // namespace petrel::scrape
