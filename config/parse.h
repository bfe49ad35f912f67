// Pieces of the config parser shared by its .cc files. Internal to config/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "config/node.h"
#include "config/relabel.h"

namespace petrel::config {

// Prometheus's inline HTTP client keys Petrel does not implement yet (oauth2, http_headers,
// proxy_from_environment, ...), appended to keys.
std::vector<std::string_view> WithHttpClientKeys(std::vector<std::string_view> keys);

// Collects the inline HTTP client keys of one mapping into out; Finish validates and
// normalises them (bearer_token -> authorization) once the mapping has been walked.
// Lives as long as the walk: the handlers point at it.
class HttpClientParser {
 public:
  explicit HttpClientParser(HttpClientConfig& out);
  void AddHandlers(KeyHandlers& handlers);
  Status Finish(const Node& map);

 private:
  HttpClientConfig& out_;
  std::string bearer_token_;       // secret
  std::string bearer_token_file_;  // resolved path
};

// The global and scrape-config limit keys (sample_limit, body_size_limit, ...).
void AddLimitHandlers(KeyHandlers& handlers, ScrapeLimits& limits);
// A scrape_protocols list: known names, no duplicates, not empty.
Status ParseScrapeProtocols(const Node& list, std::vector<ScrapeProtocol>& out);

// A relabel_configs-style list; what names the list in the "empty or null" message, e.g.
// "target relabeling rule in scrape config".
Status ParseRelabelConfigs(const Node& list, std::string_view what,
                           std::vector<RelabelConfig>& out);

// A mapping of label names to values; values expand environment variables when expand_env.
Status ParseLabels(const Node& map, Labels& out, bool expand_env);

// A duration and where it was written, for errors that involve other settings.
struct DurationSetting {
  Duration value{0};
  std::optional<Node> node;
};
KeyFn SettingInto(DurationSetting& out);

// Prometheus's rule: a zero interval takes the inherited one; the timeout may not exceed the
// resulting interval and, when zero, becomes min(inherited timeout, interval). what_prefix
// and what_suffix frame the error as Prometheus words it.
Status ResolveTimes(Duration interval, const DurationSetting& timeout, Duration inherited_interval,
                    Duration inherited_timeout, std::string_view what_prefix,
                    std::string_view what_suffix, Duration& interval_out, Duration& timeout_out);

// Parses the scrape_configs sequence: per-job validation, inheritance from global, unique
// job names.
Status ParseScrapeConfigs(const Node& list, const GlobalConfig& global,
                          std::vector<ScrapeConfig>& out);

// Parses the remote_write sequence: per-entry validation, default names, uniqueness.
Status ParseRemoteWrites(const Node& list, std::vector<RemoteWriteConfig>& out);

// write_relabel_configs and the HTTP client keys of rw as YAML (Render's form, secrets hidden),
// for CanonicalRemoteWrite.
std::string RenderRemoteWriteExtras(const RemoteWriteConfig& rw);

// Empty when url is an absolute http(s) URL with a host; otherwise why not.
std::string UrlProblem(std::string_view url);

bool IsValidUtf8(std::string_view text);

// Validate, plus: source_labels_set says the key was written (even as []), which labeldrop and
// labelkeep forbid as Prometheus does.
Status ValidateRelabel(const RelabelConfig& rule, bool source_labels_set);

}  // namespace petrel::config
