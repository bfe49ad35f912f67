#include "agent/web.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>

namespace petrel::agent {
namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::string headers;
};

size_t Collect(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

Reply Get(int port, const std::string& path) {
  Reply r;
  CURL* c = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  REQUIRE(curl_easy_perform(c) == CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  return r;
}

TEST_CASE("web server answers health, readiness and metrics like Prometheus agent", "[agent]") {
  Registry registry;
  registry.GetCounter("prometheus_remote_storage_samples_total", "h", {"remote_name"}, {"a"})
      ->Inc(5);
  RegisterProcessMetrics(registry);
  WebServer web(registry);
  REQUIRE(web.Start("127.0.0.1:0").ok());
  REQUIRE(web.port() > 0);

  auto healthy = Get(web.port(), "/-/healthy");
  CHECK(healthy.status == 200);
  CHECK(healthy.body == "Prometheus Agent is Healthy.\n");

  auto not_ready = Get(web.port(), "/-/ready");
  CHECK(not_ready.status == 503);
  CHECK_THAT(not_ready.headers, Catch::Contains("X-Prometheus-Stopping: false"));

  web.SetReady(true);
  auto ready = Get(web.port(), "/-/ready");
  CHECK(ready.status == 200);
  CHECK(ready.body == "Prometheus Agent is Ready.\n");

  auto metrics = Get(web.port(), "/metrics");
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.body,
             Catch::Contains("prometheus_remote_storage_samples_total{remote_name=\"a\"} 5"));
  CHECK_THAT(metrics.body, Catch::Contains("# TYPE process_cpu_seconds_total counter"));
  CHECK_THAT(metrics.body, Catch::Contains("process_resident_memory_bytes "));

  web.SetStopping(true);
  auto stopping = Get(web.port(), "/-/ready");
  CHECK(stopping.status == 503);
  CHECK_THAT(stopping.headers, Catch::Contains("X-Prometheus-Stopping: true"));
  web.Stop();
}

TEST_CASE("web server refuses an address it cannot bind", "[agent]") {
  Registry registry;
  WebServer a(registry);
  REQUIRE(a.Start("127.0.0.1:0").ok());
  WebServer b(registry);
  Status s = b.Start("127.0.0.1:" + std::to_string(a.port()));
  CHECK(s.code() == Code::kUnavailable);
  CHECK_FALSE(WebServer(registry).Start("no-port").ok());
}

}  // namespace
}  // namespace petrel::agent
