#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace petrel::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A prometheus.yml as edge clusters run it in agent mode.
constexpr const char* kRealistic = R"(# my global config
global:
  scrape_interval: 15s
  evaluation_interval: 30s  # ignored in agent mode
  external_labels:
    cluster: edge-eu-1
    replica: "0"

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]

  - job_name: node
    scrape_interval: 5s
    metrics_path: /metrics
    static_configs:
      - targets:
          - 10.0.0.1:9100
          - 10.0.0.2:9100
        labels:
          rack: r1
          __metrics_path__: /custom
      - targets: ['[::1]:9100', node-exporter]

  - job_name: blackbox
    scheme: https
    scrape_interval: 1m
    scrape_timeout: 50s
    metrics_path: /probe

remote_write:
  - url: https://thanos-receive.example.com:19291/api/v1/receive
    name: thanos
    remote_timeout: 1m
    headers:
      X-Scope-OrgID: tenant-a
    queue_config:
      capacity: 20000
      max_shards: 10
      min_shards: 2
      max_samples_per_send: 5000
      batch_send_deadline: 10s
      min_backoff: 100ms
      max_backoff: 10s
      retry_on_http_429: true
  - url: http://victoria:8428/api/v1/write
)";

TEST_CASE("a realistic prometheus.yml parses with its values and defaults", "[config]") {
  auto cfg = Parse(kRealistic, "prometheus.yml");
  REQUIRE(cfg.ok());

  CHECK(cfg->global.scrape_interval == seconds(15));
  CHECK(cfg->global.scrape_timeout == seconds(10));
  CHECK(cfg->global.external_labels == Labels{{"cluster", "edge-eu-1"}, {"replica", "0"}});

  REQUIRE(cfg->scrape_configs.size() == 3);
  const ScrapeConfig& prom = cfg->scrape_configs[0];
  CHECK(prom.job_name == "prometheus");
  CHECK(prom.scrape_interval == seconds(15));  // from global
  CHECK(prom.scrape_timeout == seconds(10));   // from global
  CHECK(prom.metrics_path == "/metrics");
  CHECK(prom.scheme == "http");
  REQUIRE(prom.static_configs.size() == 1);
  CHECK(prom.static_configs[0].targets == std::vector<std::string>{"localhost:9090"});
  CHECK(prom.static_configs[0].labels.empty());

  const ScrapeConfig& node = cfg->scrape_configs[1];
  CHECK(node.scrape_interval == seconds(5));
  // Only the interval is set, below the global timeout: the timeout is capped, not an error.
  CHECK(node.scrape_timeout == seconds(5));
  REQUIRE(node.static_configs.size() == 2);
  CHECK(node.static_configs[0].targets ==
        std::vector<std::string>{"10.0.0.1:9100", "10.0.0.2:9100"});
  CHECK(node.static_configs[0].labels == Labels{{"rack", "r1"}, {"__metrics_path__", "/custom"}});
  CHECK(node.static_configs[1].targets == std::vector<std::string>{"[::1]:9100", "node-exporter"});

  const ScrapeConfig& bb = cfg->scrape_configs[2];
  CHECK(bb.scheme == "https");
  CHECK(bb.scrape_interval == minutes(1));
  CHECK(bb.scrape_timeout == seconds(50));
  CHECK(bb.metrics_path == "/probe");
  CHECK(bb.static_configs.empty());

  REQUIRE(cfg->remote_write.size() == 2);
  const RemoteWriteConfig& thanos = cfg->remote_write[0];
  CHECK(thanos.url == "https://thanos-receive.example.com:19291/api/v1/receive");
  CHECK(thanos.name == "thanos");
  CHECK(thanos.remote_timeout == minutes(1));
  CHECK(thanos.headers == std::map<std::string, std::string>{{"X-Scope-OrgID", "tenant-a"}});
  CHECK(thanos.queue_config.capacity == 20000);
  CHECK(thanos.queue_config.max_shards == 10);
  CHECK(thanos.queue_config.min_shards == 2);
  CHECK(thanos.queue_config.max_samples_per_send == 5000);
  CHECK(thanos.queue_config.batch_send_deadline == seconds(10));
  CHECK(thanos.queue_config.min_backoff == milliseconds(100));
  CHECK(thanos.queue_config.max_backoff == seconds(10));
  CHECK(thanos.queue_config.retry_on_http_429);

  const RemoteWriteConfig& vm = cfg->remote_write[1];
  CHECK(vm.url == "http://victoria:8428/api/v1/write");
  CHECK(vm.remote_timeout == seconds(30));
  CHECK(vm.headers.empty());
  CHECK(vm.queue_config.capacity == 10000);
  CHECK(vm.queue_config.max_shards == 50);
  CHECK(vm.queue_config.min_shards == 1);
  CHECK(vm.queue_config.max_samples_per_send == 2000);
  CHECK(vm.queue_config.batch_send_deadline == seconds(5));
  CHECK(vm.queue_config.min_backoff == milliseconds(30));
  CHECK(vm.queue_config.max_backoff == seconds(5));
  CHECK_FALSE(vm.queue_config.retry_on_http_429);
  CHECK(vm.name.size() == 6);
  CHECK(vm.name.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("every truncation of a valid file parses or fails cleanly", "[config]") {
  const std::string full = kRealistic;
  for (size_t len = 0; len <= full.size(); ++len) {
    INFO("length " << len);
    Result<Config> cfg = Status::InvalidArgument("unset");
    REQUIRE_NOTHROW(cfg = Parse(full.substr(0, len), "prometheus.yml"));
    if (cfg.ok()) continue;
    CHECK(cfg.status().code() == Code::kInvalidArgument);
    CHECK(cfg.status().message().rfind("prometheus.yml:", 0) == 0);
    CHECK(cfg.status().message().find('\n') == std::string::npos);
  }
}

TEST_CASE("parsing the same text twice gives equal configs", "[config]") {
  auto a = Parse(kRealistic, "a.yml");
  auto b = Parse(kRealistic, "b.yml");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
  b->remote_write[0].queue_config.max_shards = 11;
  CHECK_FALSE(*a == *b);
}

TEST_CASE("empty input gives Prometheus's defaults", "[config]") {
  for (const char* text :
       {"", "# only a comment\n", "global:\n", "global: {}\nscrape_configs: []\n"}) {
    INFO(text);
    auto cfg = Parse(text, "empty.yml");
    REQUIRE(cfg.ok());
    CHECK(cfg->global.scrape_interval == minutes(1));
    CHECK(cfg->global.scrape_timeout == seconds(10));
    CHECK(cfg->global.external_labels.empty());
    CHECK(cfg->scrape_configs.empty());
    CHECK(cfg->remote_write.empty());
  }
}

TEST_CASE("global scrape_interval below 10s caps the default timeout", "[config]") {
  auto cfg = Parse("global:\n  scrape_interval: 5s\n", "p.yml");
  REQUIRE(cfg.ok());
  CHECK(cfg->global.scrape_timeout == seconds(5));

  SECTION("a zero interval means the default, as in Prometheus") {
    auto zero = Parse("global:\n  scrape_interval: 0s\n", "p.yml");
    REQUIRE(zero.ok());
    CHECK(zero->global.scrape_interval == minutes(1));
  }
}

TEST_CASE("scrape config timeout default is min(global timeout, interval)", "[config]") {
  auto cfg = Parse(R"(
global: {scrape_interval: 30s, scrape_timeout: 20s}
scrape_configs:
  - job_name: a
  - job_name: b
    scrape_interval: 10s
  - job_name: c
    scrape_timeout: 30s
)",
                   "p.yml");
  REQUIRE(cfg.ok());
  CHECK(cfg->scrape_configs[0].scrape_timeout == seconds(20));
  CHECK(cfg->scrape_configs[1].scrape_timeout == seconds(10));
  CHECK(cfg->scrape_configs[2].scrape_interval == seconds(30));
  CHECK(cfg->scrape_configs[2].scrape_timeout == seconds(30));
}

TEST_CASE("global is applied even when written after scrape_configs", "[config]") {
  auto cfg = Parse("scrape_configs:\n  - job_name: a\nglobal:\n  scrape_interval: 7s\n", "p.yml");
  REQUIRE(cfg.ok());
  CHECK(cfg->scrape_configs[0].scrape_interval == seconds(7));
  CHECK(cfg->scrape_configs[0].scrape_timeout == seconds(7));
}

TEST_CASE("external_labels expand environment variables", "[config]") {
  REQUIRE(setenv("PETREL_TEST_CLUSTER", "edge-7", 1) == 0);
  REQUIRE(unsetenv("PETREL_TEST_UNSET") == 0);
  auto cfg = Parse(R"(
global:
  external_labels:
    cluster: $PETREL_TEST_CLUSTER
    region: "${PETREL_TEST_CLUSTER}-eu"
    price: "$$5"
)",
                   "p.yml");
  REQUIRE(cfg.ok());
  const Labels& l = cfg->global.external_labels;
  CHECK(l.Get("cluster") == "edge-7");
  CHECK(l.Get("region") == "edge-7-eu");
  CHECK(l.Get("price") == "$5");
  CHECK(l.size() == 3);

  SECTION("an unset variable is an error naming it and the line (Prometheus: empty)") {
    auto bad =
        Parse("global:\n  external_labels:\n    a: x\n    node: ${PETREL_TEST_UNSET}\n", "p.yml");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() ==
          "p.yml:4: global.external_labels.node: environment variable \"PETREL_TEST_UNSET\" is "
          "not set");
  }
  SECTION("a variable set to empty removes the label") {
    REQUIRE(setenv("PETREL_TEST_EMPTY", "", 1) == 0);
    auto empty = Parse("global:\n  external_labels:\n    gone: $PETREL_TEST_EMPTY\n", "p.yml");
    REQUIRE(empty.ok());
    CHECK(empty->global.external_labels.empty());
  }

  SECTION("static_configs labels are taken literally") {
    auto sc = Parse(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n"
        "      - labels: {x: $PETREL_TEST_CLUSTER}\n",
        "p.yml");
    REQUIRE(sc.ok());
    CHECK(sc->scrape_configs[0].static_configs[0].labels.Get("x") == "$PETREL_TEST_CLUSTER");
  }
}

TEST_CASE("remote_write default names are stable md5 prefixes of the settings", "[config]") {
  auto a = Parse("remote_write:\n  - url: http://a:9090/api/v1/write\n", "p.yml");
  auto again = Parse("remote_write:\n- {url: 'http://a:9090/api/v1/write'}\n", "q.yml");
  auto b = Parse("remote_write:\n  - url: http://b:9090/api/v1/write\n", "p.yml");
  REQUIRE(a.ok());
  REQUIRE(again.ok());
  REQUIRE(b.ok());
  CHECK(a->remote_write[0].name == again->remote_write[0].name);
  CHECK(a->remote_write[0].name != b->remote_write[0].name);

  // The hashed text is exactly CanonicalRemoteWrite; md5 of it, first 6 hex chars.
  RemoteWriteConfig rw;
  rw.url = "http://a:9090/api/v1/write";
  CHECK(CanonicalRemoteWrite(rw) ==
        "url: http://a:9090/api/v1/write\nremote_timeout: 30s\nheaders:\nqueue_config:\n"
        "  capacity: 10000\n  max_shards: 50\n  min_shards: 1\n  max_samples_per_send: 2000\n"
        "  batch_send_deadline: 5s\n  min_backoff: 30ms\n  max_backoff: 5s\n"
        "  retry_on_http_429: false\n");
  // echo -n "<that text>" | md5sum
  CHECK(a->remote_write[0].name == "23744e");
}

TEST_CASE("remote_write queue_config takes sample_age_limit and max_bytes_per_second", "[config]") {
  auto cfg = Parse(R"(
remote_write:
  - url: http://a/api/v1/write
    queue_config: {sample_age_limit: 2h, max_bytes_per_second: 1MiB}
    metadata_config: {send: true, send_interval: 30s, max_samples_per_send: 500}
  - url: http://b/api/v1/write
    queue_config: {max_bytes_per_second: 65536}
)",
                   "p.yml");
  INFO(cfg.status().message());
  REQUIRE(cfg.ok());
  const RemoteWriteConfig& a = cfg->remote_write[0];
  CHECK(a.queue_config.sample_age_limit == std::chrono::hours(2));
  CHECK(a.queue_config.max_bytes_per_second == 1 << 20);
  CHECK(a.metadata_config.send_interval == seconds(30));
  CHECK(a.metadata_config.max_samples_per_send == 500);
  CHECK(cfg->remote_write[1].queue_config.max_bytes_per_second == 65536);
  CHECK(cfg->remote_write[1].queue_config.sample_age_limit.count() == 0);
  // Non-default values change the derived name; defaults leave it as it was.
  RemoteWriteConfig rw;
  rw.url = "http://a:9090/api/v1/write";
  const std::string plain = CanonicalRemoteWrite(rw);
  rw.queue_config.sample_age_limit = std::chrono::hours(1);
  CHECK(CanonicalRemoteWrite(rw) == plain + "queue_config.sample_age_limit: 1h\n");

  auto negative = Parse(
      "remote_write:\n  - url: http://a/\n    queue_config: {sample_age_limit: -1m}\n", "p.yml");
  CHECK_FALSE(negative.ok());
  auto bad_bytes =
      Parse("remote_write:\n  - url: http://a/\n    queue_config: {max_bytes_per_second: 1XB}\n",
            "p.yml");
  REQUIRE_FALSE(bad_bytes.ok());
  CHECK_THAT(bad_bytes.status().message(), Catch::Contains("max_bytes_per_second"));
}

TEST_CASE("settings that configure nothing are accepted", "[config]") {
  auto cfg = Parse(R"(
rule_files: []
remote_read:
alerting:
  alertmanagers: []
runtime:
  gogc: 50
scrape_configs:
  - job_name: a
    relabel_configs: []
    file_sd_configs:
    tls_config: {}
    honor_labels: false
    sample_limit: 0
remote_write:
  - url: http://r/
    send_exemplars: false
    queue_config:
      sample_age_limit: 0s
)",
                   "p.yml");
  REQUIRE(cfg.ok());
  CHECK(cfg->scrape_configs.size() == 1);
}

TEST_CASE("YAML anchors and merge keys work as in Prometheus", "[config]") {
  auto cfg = Parse(R"(
x-defaults: &defaults
  scrape_interval: 5s
  metrics_path: /m
scrape_configs:
  - <<: *defaults
    job_name: a
  - <<: *defaults
    job_name: b
    metrics_path: /own
)",
                   "p.yml");
  // x-defaults is not a Prometheus key: the merge is only usable inside known sections.
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.status().message() == "p.yml:2: unknown key \"x-defaults\"");

  auto ok = Parse(R"(
scrape_configs:
  - &a
    job_name: a
    scrape_interval: 5s
    metrics_path: /m
  - <<: *a
    job_name: b
    metrics_path: /own
)",
                  "p.yml");
  REQUIRE(ok.ok());
  const ScrapeConfig& b = ok->scrape_configs[1];
  CHECK(b.job_name == "b");
  CHECK(b.scrape_interval == seconds(5));
  CHECK(b.metrics_path == "/own");
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "petrel-config-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST_CASE("Load reads a file from disk and names it in errors", "[config]") {
  TempDir dir;
  const std::string path = (dir.path() / "prometheus.yml").string();

  SECTION("valid file") {
    std::ofstream(path) << kRealistic;
    auto cfg = Load(path);
    REQUIRE(cfg.ok());
    CHECK(cfg->scrape_configs.size() == 3);
  }
  SECTION("invalid file") {
    std::ofstream(path) << "global:\n  scrape_interval: 5x\n";
    auto cfg = Load(path);
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.status().code() == Code::kInvalidArgument);
    CHECK(cfg.status().message() ==
          path + ":2: global.scrape_interval: not a valid duration \"5x\"");
  }
  SECTION("missing file") {
    auto cfg = Load(path);
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.status().code() == Code::kInvalidArgument);
    CHECK(cfg.status().message() == path + ": cannot read: No such file or directory");
  }
  SECTION("a directory") {
    auto cfg = Load(dir.path().string());
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.status().message() == dir.path().string() + ": cannot read: Is a directory");
  }
}

}  // namespace
}  // namespace petrel::config
