#include "agent/status.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace petrel::agent {
namespace {

scrape::Manager::TargetStatus Sample(bool up, int64_t last_ms, std::string error) {
  scrape::Manager::TargetStatus t;
  t.target.job = "node";
  t.target.url = "http://10.0.0.1:9100/metrics";
  t.target.labels = Labels{{"job", "node"}, {"instance", "10.0.0.1:9100"}};
  t.target.discovered_labels = Labels{{"__address__", "10.0.0.1:9100"}, {"job", "node"}};
  t.target.interval = std::chrono::seconds(15);
  t.target.timeout = std::chrono::seconds(10);
  t.health.up = up;
  t.health.last_scrape_ms = last_ms;
  t.health.last_duration_seconds = 0.25;
  t.health.last_error = std::move(error);
  return t;
}

TEST_CASE("/api/v1/targets has Prometheus's JSON shape", "[agent]") {
  auto j = nlohmann::json::parse(
      TargetsJson({Sample(true, 1700000000123, ""),
                   Sample(false, 1700000000000, "server returned 500"), Sample(false, 0, "")}));
  CHECK(j["status"] == "success");
  auto& active = j["data"]["activeTargets"];
  REQUIRE(active.size() == 3);
  CHECK(active[0]["health"] == "up");
  CHECK(active[0]["labels"]["instance"] == "10.0.0.1:9100");
  CHECK(active[0]["discoveredLabels"]["__address__"] == "10.0.0.1:9100");
  CHECK(active[0]["scrapePool"] == "node");
  CHECK(active[0]["scrapeUrl"] == "http://10.0.0.1:9100/metrics");
  CHECK(active[0]["scrapeInterval"] == "15s");
  CHECK(active[0]["scrapeTimeout"] == "10s");
  CHECK(active[0]["lastScrape"] == "2023-11-14T22:13:20.123Z");
  CHECK(active[0]["lastScrapeDuration"] == 0.25);
  CHECK(active[1]["health"] == "down");
  CHECK(active[1]["lastError"] == "server returned 500");
  CHECK(active[2]["health"] == "unknown");
  CHECK(j["data"]["droppedTargets"].is_array());
}

TEST_CASE("the status page shows targets and queues, escaped", "[agent]") {
  QueueStatus q{"central", "https://thanos/api/v1/receive", 1200, 1700000000, 0, 3};
  std::string html =
      StatusPage({Sample(false, 1700000000000, "bad <tag> & \"quote\"")}, {q}, 1700000090);
  CHECK_THAT(html, Catch::Contains("bad &lt;tag&gt; &amp; &quot;quote&quot;"));
  CHECK_THAT(html, Catch::Contains("class=\"down\""));
  CHECK_THAT(html, Catch::Contains("<td>central</td>"));
  CHECK_THAT(html, Catch::Contains("<td>90</td>"));  // seconds of data at risk
  CHECK_THAT(html, Catch::Contains("90.0s ago"));
}

}  // namespace
}  // namespace petrel::agent
