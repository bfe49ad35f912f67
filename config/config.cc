// The top level, global and scrape_configs; remote_write lives in remote_write.cc.
#include "config/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include "config/expand.h"
#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

// Global keys Prometheus accepts that Petrel does not implement yet.
const std::vector<std::string_view> kGlobalUnsupported = {
    "scrape_failure_log_file",
    "keep_dropped_targets",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "convert_classic_histograms_to_nhcb",
    "extra_scrape_metrics",
};

const std::vector<std::string_view> kTopUnsupported = {
    "scrape_config_files",
    "storage",
    "tracing",
    "otlp",
};

Status ParseGlobal(const Node& map, GlobalConfig& global) {
  Duration interval{0};
  DurationSetting timeout;
  Duration ignored{0};
  std::string ignored_text;
  KeyHandlers handlers = {
      {"scrape_interval", DurationInto(interval)},
      {"scrape_timeout", SettingInto(timeout)},
      {"external_labels",
       [&](const Node& v) { return ParseLabels(v, global.external_labels, true); }},
      // Agent mode evaluates no rules and runs no queries, so Prometheus in agent mode
      // accepts these and ignores them; Petrel checks their syntax and does the same.
      {"evaluation_interval", DurationInto(ignored)},
      {"rule_query_offset", DurationInto(ignored)},
      {"query_log_file", StringInto(ignored_text)},
      {"scrape_protocols",
       [&](const Node& v) { return ParseScrapeProtocols(v, global.scrape_protocols); }},
      {"scrape_native_histograms", BoolInto(global.scrape_native_histograms)},
      {"always_scrape_classic_histograms", BoolInto(global.always_scrape_classic_histograms)},
  };
  AddLimitHandlers(handlers, global.limits);
  Status s = ForEachKey(map, handlers, {.unsupported = kGlobalUnsupported});
  if (!s.ok()) return s;
  const GlobalConfig defaults;
  return ResolveTimes(interval, timeout, defaults.scrape_interval, defaults.scrape_timeout,
                      "global ", "", global.scrape_interval, global.scrape_timeout);
}

// rule_files, remote_read and alerting: Prometheus rejects them in agent mode when they
// configure anything, with these messages.
Status RejectInAgentMode(const Node& v, std::string_view field) {
  if (v.IsEmptyCollection()) return Status::Ok();
  return v.Error(fmt::format("field {} is not allowed in agent mode", field));
}

Status ParseAlerting(const Node& map) {
  return ForEachKey(
      map,
      {
          {"alertmanagers", [](const Node& v) { return RejectInAgentMode(v, "alerting"); }},
          {"alert_relabel_configs", [](const Node& v) { return RejectInAgentMode(v, "alerting"); }},
      });
}

Result<Config> ParseRoot(const Node& root, const LoadOptions& options) {
  Config config;
  // The value global takes when it does not set the key, and so each job that sets it nowhere.
  config.global.scrape_native_histograms = options.scrape_native_histograms_default;
  std::optional<Node> global, scrape_configs, remote_write;
  Status s = ForEachKey(
      root,
      {
          {"global", NodeInto(global)},
          {"scrape_configs", NodeInto(scrape_configs)},
          {"remote_write", NodeInto(remote_write)},
          // runtime.gogc tunes Go's garbage collector; there is nothing to tune in C++.
          {"runtime",
           [](const Node& v) {
             return ForEachKey(
                 v, {{"gogc", [](const Node& g) { return g.AsInt(-1, INT32_MAX).status(); }}});
           }},
          {"rule_files", [](const Node& v) { return RejectInAgentMode(v, "rule_files"); }},
          {"remote_read", [](const Node& v) { return RejectInAgentMode(v, "remote_read"); }},
          {"alerting", ParseAlerting},
      },
      {.unsupported = kTopUnsupported});
  if (!s.ok()) return s;
  // global first, whatever the order in the file: scrape configs inherit from it.
  if (global && !(s = ParseGlobal(*global, config.global)).ok()) return s;
  if (scrape_configs &&
      !(s = ParseScrapeConfigs(*scrape_configs, config.global, config.scrape_configs)).ok()) {
    return s;
  }
  if (remote_write && !(s = ParseRemoteWrites(*remote_write, config.remote_write)).ok()) return s;
  return config;
}

}  // namespace

Status ParseLabels(const Node& map, Labels& out, bool expand_env) {
  std::vector<Label> labels;
  Status s = ForEachEntry(map, [&](const Node& key, const std::string& name, const Node& value) {
    if (!IsValidLabelName(name)) {
      return key.Error(fmt::format("\"{}\" is not a valid label name", name));
    }
    auto text = expand_env ? value.ExpandedString() : value.String();
    if (!text.ok()) return text.status();
    std::string v = std::move(*text);
    if (!IsValidUtf8(v))
      return value.Error(fmt::format("label value for \"{}\" is not valid UTF-8", name));
    labels.push_back({name, std::move(v)});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  out = Labels::FromUnsorted(std::move(labels));
  return Status::Ok();
}

KeyFn SettingInto(DurationSetting& out) {
  return [&out](const Node& v) {
    auto d = v.AsDuration();
    if (!d.ok()) return d.status();
    out = {*d, v};
    return Status::Ok();
  };
}

Status ResolveTimes(Duration interval, const DurationSetting& timeout, Duration inherited_interval,
                    Duration inherited_timeout, std::string_view what_prefix,
                    std::string_view what_suffix, Duration& interval_out, Duration& timeout_out) {
  interval_out = interval.count() != 0 ? interval : inherited_interval;
  if (timeout.value > interval_out) {
    return timeout.node->Error(fmt::format("{}scrape timeout {} greater than scrape interval {}{}",
                                           what_prefix, FormatDuration(timeout.value),
                                           FormatDuration(interval_out), what_suffix));
  }
  timeout_out =
      timeout.value.count() != 0 ? timeout.value : std::min(inherited_timeout, interval_out);
  return Status::Ok();
}

const char* ScrapeProtocolName(ScrapeProtocol protocol) {
  switch (protocol) {
    case ScrapeProtocol::kPrometheusProto:
      return "PrometheusProto";
    case ScrapeProtocol::kPrometheusText0_0_4:
      return "PrometheusText0.0.4";
    case ScrapeProtocol::kPrometheusText1_0_0:
      return "PrometheusText1.0.0";
    case ScrapeProtocol::kOpenMetricsText0_0_1:
      return "OpenMetricsText0.0.1";
    case ScrapeProtocol::kOpenMetricsText1_0_0:
      return "OpenMetricsText1.0.0";
  }
  return "PrometheusText0.0.4";
}

std::vector<ScrapeProtocol> DefaultScrapeProtocols() {
  return {ScrapeProtocol::kOpenMetricsText1_0_0, ScrapeProtocol::kOpenMetricsText0_0_1,
          ScrapeProtocol::kPrometheusText1_0_0, ScrapeProtocol::kPrometheusText0_0_4};
}

std::vector<ScrapeProtocol> DefaultProtoFirstScrapeProtocols() {
  std::vector<ScrapeProtocol> out = {ScrapeProtocol::kPrometheusProto};
  for (ScrapeProtocol p : DefaultScrapeProtocols()) out.push_back(p);
  return out;
}

Result<Config> Parse(std::string_view yaml, const std::string& source, const LoadOptions& options) {
  // yaml-cpp reports syntax errors (and, defensively, anything else) by throwing; nothing
  // may cross the module edge, so this is the one place that catches.
  try {
    const YAML::Node doc = YAML::Load(std::string(yaml));
    const YAML::Mark start = doc.IsNull() ? YAML::Mark() : doc.Mark();
    return ParseRoot(Node(&source, doc, "", start), options);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Status::InvalidArgument(fmt::format("{}: {}", source, e.msg));
    return Status::InvalidArgument(
        fmt::format("{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.msg));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: {}", source, e.what()));
  }
}

Result<Config> Load(const std::string& path, const LoadOptions& options) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    return Status::InvalidArgument(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string text;
  char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) text.append(buf, n);
  if (std::ferror(file.get())) {
    return Status::InvalidArgument(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  return Parse(text, path, options);
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace petrel::config
