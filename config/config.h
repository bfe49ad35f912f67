// config: prometheus.yml (agent-mode subset) -> a validated, immutable Config.
//
// The only code that sees yaml-cpp. Load/Parse never throw: every problem comes back as
// kInvalidArgument with a one-line message naming the file, line and key, e.g.
//   petrel.yml:7: scrape_configs[0].scrape_interval: not a valid duration: "5x"
// Defaults are Prometheus's. A reload builds a new Config and swaps it; nothing mutates one.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "common/status.h"

namespace petrel::config {

using Duration = std::chrono::milliseconds;

struct GlobalConfig {
  Duration scrape_interval = std::chrono::minutes(1);
  Duration scrape_timeout = std::chrono::seconds(10);
  Labels external_labels;  // $VAR / ${VAR} expanded from the environment at load
};

struct StaticConfig {
  std::vector<std::string> targets;  // host:port
  Labels labels;
};

struct ScrapeConfig {
  std::string job_name;
  Duration scrape_interval{0};  // filled from global when absent
  Duration scrape_timeout{0};   // filled from global when absent, capped at scrape_interval
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::vector<StaticConfig> static_configs;
};

struct QueueConfig {
  int capacity = 10000;
  int max_shards = 50;
  int min_shards = 1;
  int max_samples_per_send = 2000;
  Duration batch_send_deadline = std::chrono::seconds(5);
  Duration min_backoff = std::chrono::milliseconds(30);
  Duration max_backoff = std::chrono::seconds(5);
  bool retry_on_http_429 = false;
};

struct RemoteWriteConfig {
  std::string url;
  std::string name;  // when empty, Load sets the first 6 hex chars of the md5 of its YAML
  Duration remote_timeout = std::chrono::seconds(30);
  std::map<std::string, std::string> headers;
  QueueConfig queue_config;
};

struct Config {
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
  std::vector<RemoteWriteConfig> remote_write;
};

// Reads and validates the file at path. Messages start with the path.
Result<Config> Load(const std::string& path);
// Same for YAML text; source names it in messages.
Result<Config> Parse(std::string_view yaml, const std::string& source);

// Prometheus duration syntax: "1h30m", "15s", "500ms", "2d", "1w", "1y"; "0" alone is zero.
Result<Duration> ParseDuration(std::string_view text);
// The canonical Prometheus rendering, e.g. 90000ms -> "1m30s".
std::string FormatDuration(Duration d);

}  // namespace petrel::config
