// Each error class: the exact one-line message, with file, 1-based line and key path.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"

namespace petrel::config {
namespace {

// The message of the error Parse returns for text; fails the test when Parse succeeds.
std::string ErrorOf(const std::string& text) {
  auto cfg = Parse(text, "petrel.yml");
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.status().code() == Code::kInvalidArgument);
  const std::string msg = cfg.status().message();
  CHECK(msg.find('\n') == std::string::npos);
  return msg;
}

TEST_CASE("unknown keys are reported at every depth", "[config][errors]") {
  CHECK(ErrorOf("global:\n  scrape_interval: 1m\n  scrape_intervall: 5s\n") ==
        "petrel.yml:3: global: unknown key \"scrape_intervall\"");
  CHECK(ErrorOf("globl:\n  scrape_interval: 1m\n") == "petrel.yml:1: unknown key \"globl\"");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n  - job_name: b\n    interval: 5s\n") ==
        "petrel.yml:4: scrape_configs[1]: unknown key \"interval\"");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: []\n"
                "        label: {a: b}\n") ==
        "petrel.yml:5: scrape_configs[0].static_configs[0]: unknown key \"label\"");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n      max_shard: 3\n") ==
        "petrel.yml:4: remote_write[0].queue_config: unknown key \"max_shard\"");
  // Unknown even with an empty value.
  CHECK(ErrorOf("global:\n  nonsense:\n") == "petrel.yml:2: global: unknown key \"nonsense\"");
}

TEST_CASE("bad durations name key and line", "[config][errors]") {
  CHECK(ErrorOf("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n\n"
                "    # comment\n    scrape_interval: 5x\n") ==
        "petrel.yml:7: scrape_configs[0].scrape_interval: not a valid duration \"5x\"");
  CHECK(ErrorOf("global:\n  scrape_timeout: 1s1m\n") ==
        "petrel.yml:2: global.scrape_timeout: not a valid duration \"1s1m\"");
  CHECK(ErrorOf("global:\n  evaluation_interval: 10\n") ==
        "petrel.yml:2: global.evaluation_interval: not a valid duration \"10\"");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    remote_timeout: 0s\n") ==
        "petrel.yml:3: remote_write[0].remote_timeout: must be greater than 0");
  CHECK(ErrorOf("global:\n  scrape_interval: [1m]\n") ==
        "petrel.yml:2: global.scrape_interval: expected a string, got a sequence");
}

TEST_CASE("missing required keys point at their entry", "[config][errors]") {
  CHECK(ErrorOf("remote_write:\n  - url: http://a/\n  - name: b\n    remote_timeout: 5s\n") ==
        "petrel.yml:3: remote_write[1]: missing required key \"url\"");
  CHECK(ErrorOf("remote_write:\n  - url:\n") ==
        "petrel.yml:2: remote_write[0]: missing required key \"url\"");
  CHECK(ErrorOf("scrape_configs:\n  - scrape_interval: 5s\n") ==
        "petrel.yml:2: scrape_configs[0]: missing required key \"job_name\"");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: ''\n") ==
        "petrel.yml:2: scrape_configs[0]: missing required key \"job_name\"");
}

TEST_CASE("job names must be unique", "[config][errors]") {
  CHECK(ErrorOf("scrape_configs:\n  - job_name: node\n  - job_name: api\n  - job_name: node\n") ==
        "petrel.yml:4: scrape_configs[2]: found multiple scrape configs with job name \"node\" "
        "(first at line 2)");
}

TEST_CASE("scrape timeout may not exceed the interval", "[config][errors]") {
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    scrape_interval: 10s\n"
                "    scrape_timeout: 15s\n") ==
        "petrel.yml:4: scrape_configs[0].scrape_timeout: scrape timeout 15s greater than scrape "
        "interval 10s for scrape config with job name \"a\"");
  // The interval may come from global.
  CHECK(ErrorOf("global:\n  scrape_interval: 10s\nscrape_configs:\n  - job_name: a\n"
                "    scrape_timeout: 11s\n") ==
        "petrel.yml:5: scrape_configs[0].scrape_timeout: scrape timeout 11s greater than scrape "
        "interval 10s for scrape config with job name \"a\"");
  CHECK(ErrorOf("global:\n  scrape_interval: 10s\n  scrape_timeout: 20s\n") ==
        "petrel.yml:3: global.scrape_timeout: global scrape timeout 20s greater than scrape "
        "interval 10s");
}

TEST_CASE("label names are validated", "[config][errors]") {
  CHECK(ErrorOf("global:\n  external_labels:\n    ok: 1\n    bad-name: x\n") ==
        "petrel.yml:4: global.external_labels: \"bad-name\" is not a valid label name");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels:\n"
                "          1x: y\n") ==
        "petrel.yml:5: scrape_configs[0].static_configs[0].labels: \"1x\" is not a valid label "
        "name");
  CHECK(ErrorOf("global:\n  external_labels:\n    a: 1\n    a: 2\n") ==
        "petrel.yml:4: global.external_labels: key \"a\" is set more than once");
}

TEST_CASE("unsupported Prometheus keys are errors, not ignored", "[config][errors]") {
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    consul_sd_configs:\n"
                "      - server: localhost:8500\n") ==
        "petrel.yml:3: scrape_configs[0]: \"consul_sd_configs\" is not supported by petrel "
        "yet");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    keep_dropped_targets: 10\n") ==
        "petrel.yml:3: scrape_configs[0]: \"keep_dropped_targets\" is not supported by petrel "
        "yet");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    oauth2: {client_id: x}\n") ==
        "petrel.yml:3: scrape_configs[0]: \"oauth2\" is not supported by petrel yet");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    http_headers: {X: {values: [a]}}\n") ==
        "petrel.yml:3: remote_write[0]: \"http_headers\" is not supported by petrel yet");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    sigv4: {region: x}\n") ==
        "petrel.yml:3: remote_write[0]: \"sigv4\" is not supported by petrel yet");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    basic_auth: {username_file: /u}\n") ==
        "petrel.yml:3: remote_write[0].basic_auth: \"username_file\" is not supported by petrel "
        "yet");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    tls_config: {max_version: TLS13}\n") ==
        "petrel.yml:3: scrape_configs[0].tls_config: \"max_version\" is not supported by petrel "
        "yet");
  CHECK(ErrorOf("global:\n  keep_dropped_targets: 10\n") ==
        "petrel.yml:2: global: \"keep_dropped_targets\" is not supported by petrel yet");
  CHECK(ErrorOf("storage:\n  tsdb: {}\n") ==
        "petrel.yml:1: \"storage\" is not supported by petrel yet");
}

TEST_CASE("agent mode rejects rule_files, alerting and remote_read", "[config][errors]") {
  CHECK(ErrorOf("rule_files:\n  - rules/*.yml\n") ==
        "petrel.yml:2: rule_files: field rule_files is not allowed in agent mode");
  CHECK(ErrorOf("remote_read:\n  - url: http://x/\n") ==
        "petrel.yml:2: remote_read: field remote_read is not allowed in agent mode");
  CHECK(ErrorOf("alerting:\n  alertmanagers:\n    - static_configs: []\n") ==
        "petrel.yml:3: alerting.alertmanagers: field alerting is not allowed in agent mode");
}

TEST_CASE("targets, URLs, schemes and headers are validated", "[config][errors]") {
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    static_configs:\n"
                "      - targets: ['ok:1', 'http://x:9100/metrics']\n") ==
        "petrel.yml:4: scrape_configs[0].static_configs[0].targets[1]: \"http://x:9100/metrics\" "
        "is not a valid hostname: a target is host:port, without scheme or path");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    static_configs:\n"
                "      - targets:\n        - host:99999\n") ==
        "petrel.yml:5: scrape_configs[0].static_configs[0].targets[0]: \"host:99999\" is not a "
        "valid target address: \"99999\" is not a valid port");
  CHECK(
      ErrorOf("scrape_configs:\n  - job_name: a\n    scheme: ftp\n") ==
      "petrel.yml:3: scrape_configs[0].scheme: scheme must be \"http\" or \"https\", got \"ftp\"");
  CHECK(ErrorOf("remote_write:\n  - url: receiver:9090/write\n") ==
        "petrel.yml:2: remote_write[0].url: invalid URL \"receiver:9090/write\": not an absolute "
        "URL (want http:// or https://)");
  CHECK(ErrorOf("remote_write:\n  - url: ftp://x/\n") ==
        "petrel.yml:2: remote_write[0].url: invalid URL \"ftp://x/\": unsupported scheme \"ftp\" "
        "(want http or https)");
  CHECK(ErrorOf("remote_write:\n  - url: http:///path\n") ==
        "petrel.yml:2: remote_write[0].url: invalid URL \"http:///path\": missing host");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    headers:\n      User-Agent: me\n") ==
        "petrel.yml:4: remote_write[0].headers: User-Agent is a reserved header. It must not be "
        "changed");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    headers:\n      AUTHORIZATION: x\n") ==
        "petrel.yml:4: remote_write[0].headers: authorization header must be changed via the "
        "basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter");
}

TEST_CASE("queue_config values are checked", "[config][errors]") {
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n      capacity: 0\n") ==
        "petrel.yml:4: remote_write[0].queue_config.capacity: 0 is out of range [1, 2147483647]");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n      capacity: '5'\n") ==
        "petrel.yml:4: remote_write[0].queue_config.capacity: expected an integer, got string "
        "\"5\"");
  CHECK(
      ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n      capacity: !!str 5\n") ==
      "petrel.yml:4: remote_write[0].queue_config.capacity: expected an integer, got string "
      "\"5\"");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n      max_shards: 2.5\n") ==
        "petrel.yml:4: remote_write[0].queue_config.max_shards: not an integer \"2.5\"");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n      min_shards: 5\n"
                "      max_shards: 4\n") ==
        "petrel.yml:4: remote_write[0].queue_config: min_shards (5) greater than max_shards (4)");
  CHECK(ErrorOf("remote_write:\n  - url: http://x/\n    queue_config:\n"
                "      retry_on_http_429: maybe\n") ==
        "petrel.yml:4: remote_write[0].queue_config.retry_on_http_429: not a boolean \"maybe\"");
}

TEST_CASE("remote_write names and entries must be unique", "[config][errors]") {
  CHECK(ErrorOf("remote_write:\n  - url: http://a/\n    name: x\n  - url: http://b/\n"
                "    name: x\n") ==
        "petrel.yml:4: remote_write[1]: found multiple remote write configs with name \"x\" "
        "(first at line 2)");
  CHECK(ErrorOf("remote_write:\n  - url: http://a/\n  - url: http://a/\n") ==
        "petrel.yml:3: remote_write[1]: duplicate remote write configs are not allowed, found "
        "duplicate for URL: http://a/ (first at line 2)");
}

TEST_CASE("YAML syntax errors and wrong shapes give file and line", "[config][errors]") {
  CHECK(ErrorOf("global:\n  external_labels: [a, b\nscrape_configs: []\n") ==
        "petrel.yml:3: invalid YAML: end of sequence flow not found");
  CHECK(ErrorOf("global:\n  scrape_interval: 1m\n bad_indent: 2\n") ==
        "petrel.yml:3: invalid YAML: end of map not found");
  CHECK(ErrorOf("- just\n- a list\n") == "petrel.yml:1: expected a mapping, got a sequence");
  CHECK(ErrorOf("scrape_configs:\n  job_name: a\n") ==
        "petrel.yml:2: scrape_configs: expected a sequence, got a mapping");
  CHECK(ErrorOf("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: x:1\n") ==
        "petrel.yml:4: scrape_configs[0].static_configs[0].targets: expected a sequence, got a "
        "scalar");
}

TEST_CASE("label names follow the legacy scheme", "[config][errors]") {
  for (const char* good : {"a", "_", "__name__", "job", "A_1", "z9"}) {
    INFO(good);
    CHECK(IsValidLabelName(good));
  }
  for (const char* bad : {"", "1a", "a-b", "a.b", "a b", "é", "a:b"}) {
    INFO(bad);
    CHECK_FALSE(IsValidLabelName(bad));
  }
}

TEST_CASE("target addresses are host[:port]", "[config][errors]") {
  for (const char* good :
       {"localhost:9090", "10.0.0.1:9100", "node-exporter", "my_exporter:80", "[::1]:9100",
        "[fe80::1%eth0]:80", "[2001:db8::1]", "h:0", "a.b.example.com:65535"}) {
    INFO(good);
    CHECK(CheckTargetAddress(good).ok());
  }
  for (const char* bad : {"", "http://h:1", "h:1/metrics", "h:65536", "h:", "h:x", ":80", "::1:80",
                          "[::1", "[::1]x", "[zz]:1", "h x:1", "h:1 "}) {
    INFO(bad);
    CHECK_FALSE(CheckTargetAddress(bad).ok());
  }
}

TEST_CASE("label values must be valid UTF-8", "[config][errors]") {
  CHECK(Parse("global:\n  external_labels:\n    a: \"caf\xc3\xa9\"\n", "p.yml").ok());
  CHECK(ErrorOf("global:\n  external_labels:\n    a: \"caf\xc3\"\n") ==
        "petrel.yml:3: global.external_labels.a: label value for \"a\" is not valid UTF-8");
}

}  // namespace
}  // namespace petrel::config
