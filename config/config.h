// config: prometheus.yml (agent-mode subset) -> a validated, immutable Config.
//
// The only code that sees yaml-cpp. Load/Parse never throw: every problem comes back as
// kInvalidArgument with a one-line message naming the file, the 1-based line and the key path:
//   petrel.yml:7: scrape_configs[0].scrape_interval: not a valid duration "5x"
//   petrel.yml:3: global: unknown key "scrape_intervall"
//   petrel.yml:12: remote_write[0]: missing required key "url"
// Defaults and validation follow Prometheus (config/config.go). Unknown keys are errors. Keys
// Prometheus accepts but Petrel does not implement yet are errors too ("... is not supported by
// petrel yet"), never silently ignored; rule_files, alerting and remote_read are rejected as
// Prometheus does in agent mode. A reload builds a new Config and swaps it; nothing mutates one.
//
// Accepted and ignored, as Prometheus in agent mode does: global.evaluation_interval,
// global.rule_query_offset, global.query_log_file, runtime.gogc (Go-only), and empty
// rule_files/remote_read/alerting. An unsupported key whose value configures nothing (null,
// [], {}) or is Prometheus's "off" default (keep_dropped_targets: 0, send_native_histograms:
// false, ...) is accepted too. YAML anchors, aliases and "<<" merge keys work as with Prometheus's
// parser. Stricter than Prometheus: queue_config values that cannot run (0 shards, min > max, zero
// deadline/backoff) and remote_timeout: 0 are rejected rather than accepted.
//
// Relative file paths (password_file, credentials_file, bearer_token_file, tls_config files,
// file_sd_configs files) are joined to the directory of the config file, as Prometheus does.
//
// Environment: external_labels values expand $VAR / ${VAR} ($$ is a literal $) as Prometheus
// does, but an unset variable is an error naming it (`petrel.yml:4:
// global.external_labels.node: environment variable "NODE_NAME" is not set`) where
// Prometheus silently expands it to "" -- one DaemonSet config can say ${NODE_NAME} and a
// missing downward-API variable is caught at load. Set-but-empty variables expand to "".
//
// Thread-safe: the functions share no state (Parse reads the environment for external_labels).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "common/status.h"
#include "config/http_client.h"
#include "config/kubernetes_sd.h"
#include "config/relabel.h"

namespace petrel::config {

using Duration = std::chrono::milliseconds;

// The scrape_protocols / fallback_scrape_protocol names (exposition-format.md §1).
enum class ScrapeProtocol {
  kPrometheusProto,  // "PrometheusProto": delimited protobuf
  kPrometheusText0_0_4,
  kPrometheusText1_0_0,
  kOpenMetricsText0_0_1,
  kOpenMetricsText1_0_0,
};
// "OpenMetricsText1.0.0" etc.
const char* ScrapeProtocolName(ScrapeProtocol protocol);
// Prometheus's default order: OpenMetricsText1.0.0, OpenMetricsText0.0.1,
// PrometheusText1.0.0, PrometheusText0.0.4.
std::vector<ScrapeProtocol> DefaultScrapeProtocols();
// The default of a job that scrapes native histograms: PrometheusProto, then the above.
std::vector<ScrapeProtocol> DefaultProtoFirstScrapeProtocols();

// Limits; 0 means no limit (exposition-format.md §7). A scrape config's 0 takes the global.
struct ScrapeLimits {
  uint64_t body_size_limit = 0;  // bytes of the uncompressed body; YAML "10MB", "1GiB"
  uint64_t sample_limit = 0;
  uint64_t label_limit = 0;
  uint64_t label_name_length_limit = 0;   // bytes
  uint64_t label_value_length_limit = 0;  // bytes
  uint64_t target_limit = 0;
  bool operator==(const ScrapeLimits&) const = default;
};

struct GlobalConfig {
  Duration scrape_interval = std::chrono::minutes(1);
  Duration scrape_timeout = std::chrono::seconds(10);  // min(10s, scrape_interval) when absent
  Labels external_labels;  // $VAR / ${VAR} expanded from the environment at load
  // Empty when not set: each job then takes DefaultScrapeProtocols(), or
  // DefaultProtoFirstScrapeProtocols() when it scrapes native histograms (Prometheus 3.x).
  std::vector<ScrapeProtocol> scrape_protocols;
  ScrapeLimits limits;  // YAML: the six keys directly under global
  // Defaults of the scrape configs' keys of the same names.
  bool scrape_native_histograms = false;
  bool always_scrape_classic_histograms = false;
  bool operator==(const GlobalConfig&) const = default;
};

// One file_sd_configs entry (discovery/file). Files hold [{targets: [...], labels: {...}}]
// in JSON (*.json) or YAML (*.yml, *.yaml).
struct FileSdConfig {
  // At least one; each matches ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$ (a '*' glob
  // in the last path element only). Relative paths are joined to the config file's directory.
  std::vector<std::string> files;
  Duration refresh_interval = std::chrono::minutes(5);  // > 0
  bool operator==(const FileSdConfig&) const = default;
};

struct StaticConfig {
  // "host:port", "host", "[v6addr]:port" or "v4addr:port". As in Prometheus the port may be
  // omitted; the scraper then uses the scheme's default port.
  std::vector<std::string> targets;
  Labels labels;  // names match [a-zA-Z_][a-zA-Z0-9_]*
  bool operator==(const StaticConfig&) const = default;
};

struct ScrapeConfig {
  std::string job_name;         // non-empty, unique within a Config
  Duration scrape_interval{0};  // filled from global when absent (or 0)
  Duration scrape_timeout{0};   // when absent: min(global timeout, scrape_interval); <= interval
  std::string metrics_path = "/metrics";
  std::string scheme = "http";  // "http" or "https"
  // URL query parameters (url.Values): name -> values in order; __param_<name> target labels
  // replace the first value.
  std::map<std::string, std::vector<std::string>> params;
  bool honor_labels = false;
  bool honor_timestamps = true;
  bool track_timestamps_staleness = false;
  bool enable_compression = true;  // Accept-Encoding: gzip
  ScrapeLimits limits;             // YAML: the six keys directly in the scrape config
  // Never empty, no duplicates, in preference order; the global list when absent.
  std::vector<ScrapeProtocol> scrape_protocols;
  std::optional<ScrapeProtocol> fallback_scrape_protocol;
  // Native histograms are ingested as such (else as their classic series); the global value
  // when absent.
  bool scrape_native_histograms = false;
  // Also keep the classic series of a histogram exposed as both; the global value when absent.
  bool always_scrape_classic_histograms = false;
  // More buckets than this in a native histogram: its resolution is reduced until it fits, or
  // the scrape fails. 0 = no limit.
  uint64_t native_histogram_bucket_limit = 0;
  // Resolution reduced until each bucket is at least this factor wider than the previous
  // (0 or <= 1: schema 8, the finest Prometheus stores).
  double native_histogram_min_bucket_factor = 0;
  std::vector<StaticConfig> static_configs;
  std::vector<FileSdConfig> file_sd_configs;
  std::vector<KubernetesSdConfig> kubernetes_sd_configs;
  std::vector<RelabelConfig> relabel_configs;         // on targets, before scraping
  std::vector<RelabelConfig> metric_relabel_configs;  // on scraped series
  HttpClientConfig http_client;                       // YAML: inline keys
  bool operator==(const ScrapeConfig&) const = default;
};

struct QueueConfig {
  int capacity = 10000;
  int max_shards = 50;
  int min_shards = 1;  // <= max_shards
  int max_samples_per_send = 2000;
  Duration batch_send_deadline = std::chrono::seconds(5);
  Duration min_backoff = std::chrono::milliseconds(30);  // <= max_backoff
  Duration max_backoff = std::chrono::seconds(5);
  bool retry_on_http_429 = false;
  // Samples older than now - sample_age_limit are dropped at enqueue and on retry; 0 = off.
  Duration sample_age_limit{0};  // >= 0
  // Petrel extension: cap on the compressed bytes the endpoint sends per second (samples and
  // metadata, retries included), so a backlog replayed after an outage does not flood a
  // recovering receiver. 0 = unlimited. YAML: a byte count or size ("1MiB").
  uint64_t max_bytes_per_second = 0;
  bool operator==(const QueueConfig&) const = default;
};

struct MetadataConfig {
  bool send = true;
  Duration send_interval = std::chrono::minutes(1);  // > 0
  int max_samples_per_send = 2000;                   // >= 1
  bool operator==(const MetadataConfig&) const = default;
};

// remote_write protobuf_message: which message (and so which protocol version) is sent.
enum class RemoteWriteProto : uint8_t {
  kV1,  // "prometheus.WriteRequest" (RW 1.0), the default
  kV2,  // "io.prometheus.write.v2.Request" (RW 2.0)
};
const char* RemoteWriteProtoName(RemoteWriteProto proto);
std::optional<RemoteWriteProto> ParseRemoteWriteProto(std::string_view name);

struct RemoteWriteConfig {
  std::string url;  // absolute http:// or https:// URL
  // Unique within a Config. When absent, Load sets the first 6 hex chars of the md5 of a
  // canonical rendering of the entry (CanonicalRemoteWrite). Prometheus hashes its Go YAML
  // marshaling instead, so a derived name never matches Prometheus's byte for byte.
  std::string name;
  Duration remote_timeout = std::chrono::seconds(30);
  std::map<std::string, std::string> headers;  // reserved headers (remote-write.md §1) rejected
  QueueConfig queue_config;
  std::vector<RelabelConfig> write_relabel_configs;
  bool send_exemplars = false;
  // RW 1.0 only: RW 2.0 always sends native histograms (Prometheus ignores the flag there).
  bool send_native_histograms = false;
  RemoteWriteProto protobuf_message = RemoteWriteProto::kV1;
  // With RW 2.0 metadata rides in each TimeSeries; metadata_config.send is then ignored.
  MetadataConfig metadata_config;
  HttpClientConfig http_client{.enable_http2 = false};  // YAML: inline keys
  bool operator==(const RemoteWriteConfig&) const = default;
};

struct Config {
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
  std::vector<RemoteWriteConfig> remote_write;
  // Equal configs behave the same; a reload can skip unchanged parts.
  bool operator==(const Config&) const = default;
};

// The loaded config as YAML, for /api/v1/status/config: every key Petrel implements, with
// defaults filled in, secrets (passwords, credentials, URL passwords) shown as "<secret>" /
// "xxxxx". Parse(Render(c)) gives c back, except for the secrets and a '$' in an
// external_labels value (expanded again).
std::string Render(const Config& config);

// What the command line changes in how a config is read. The agent passes the same options to
// every load, at startup and on each reload.
struct LoadOptions {
  // --enable-feature=native-histograms, as Prometheus 3.8: scrape_native_histograms defaults to
  // true for each scrape config where neither global nor the scrape config sets it.
  bool scrape_native_histograms_default = false;
};

// Reads and validates the file at path. Messages start with the path. A file that cannot be
// read is kInvalidArgument too ("petrel.yml: cannot read: No such file or directory").
Result<Config> Load(const std::string& path, const LoadOptions& options = {});
// Same for YAML text; source names it in messages. Empty text gives the defaults.
Result<Config> Parse(std::string_view yaml, const std::string& source,
                     const LoadOptions& options = {});

// Prometheus's model.Duration syntax: "1h30m", "15s", "500ms", "2d", "1w", "1y"; units in
// descending order, each at most once; "0" alone is zero; anything over ~292 years (int64
// nanoseconds) is out of range. Returns kInvalidArgument, e.g. `not a valid duration "5x"`.
Result<Duration> ParseDuration(std::string_view text);
// The canonical Prometheus rendering, e.g. 90000ms -> "1m30s", 0 -> "0s", 14d -> "2w";
// y and w only when they divide exactly (90d stays "90d"). Negative values get a leading "-".
std::string FormatDuration(Duration d);

// Prometheus's units.Base2Bytes: "0", "512B", "10MB" == "10MiB" (units are powers of 1024:
// B, KB, MB, GB, TB, PB, EB, or KiB..EiB, not mixed), "1.5GB", "1GB512MB". Case-sensitive.
Result<uint64_t> ParseBytes(std::string_view text);
// "10MiB", "1GiB512MiB", "0B", "1000B": the largest units first.
std::string FormatBytes(uint64_t bytes);

// True when name matches [a-zA-Z_][a-zA-Z0-9_]* (Prometheus's legacy validation scheme).
bool IsValidLabelName(std::string_view name);
// OK when address is a valid static target: host[:port] without scheme or path.
Status CheckTargetAddress(std::string_view address);
// The text hashed for a remote_write entry's default name: every setting but the name, with
// defaults applied, one "key: value" per line in a fixed order, headers sorted. Settings added
// after the first release appear only when they differ from their defaults, so the derived
// names of existing configs stay the same; secrets appear as "<secret>".
std::string CanonicalRemoteWrite(const RemoteWriteConfig& rw);

}  // namespace petrel::config
