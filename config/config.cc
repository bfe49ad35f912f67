// The top level, global and scrape_configs; remote_write lives in remote_write.cc.
#include "config/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "config/expand.h"
#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

// Global keys Prometheus accepts that Petrel does not implement yet.
const std::vector<std::string_view> kGlobalUnsupported = {
    "scrape_protocols",
    "scrape_failure_log_file",
    "body_size_limit",
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "scrape_native_histograms",
    "convert_classic_histograms_to_nhcb",
    "always_scrape_classic_histograms",
    "extra_scrape_metrics",
};

const std::vector<std::string_view> kScrapeUnsupported = WithHttpClientKeys({
    "honor_labels",
    "honor_timestamps",
    "track_timestamps_staleness",
    "params",
    "scrape_protocols",
    "fallback_scrape_protocol",
    "scrape_native_histograms",
    "always_scrape_classic_histograms",
    "convert_classic_histograms_to_nhcb",
    "scrape_failure_log_file",
    "enable_compression",
    "body_size_limit",
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "native_histogram_bucket_limit",
    "native_histogram_min_bucket_factor",
    "keep_dropped_targets",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "extra_scrape_metrics",
    "relabel_configs",
    "metric_relabel_configs",
});

const std::vector<std::string_view> kTopUnsupported = {
    "scrape_config_files",
    "storage",
    "tracing",
    "otlp",
};

Status ParseLabels(const Node& map, Labels& out, bool expand_env) {
  std::vector<Label> labels;
  Status s = ForEachEntry(map, [&](const Node& key, const std::string& name, const Node& value) {
    if (!IsValidLabelName(name)) {
      return key.Error(fmt::format("\"{}\" is not a valid label name", name));
    }
    auto text = value.String();
    if (!text.ok()) return text.status();
    std::string v = expand_env ? ExpandEnv(*text, GetEnv) : std::move(*text);
    if (!IsValidUtf8(v))
      return value.Error(fmt::format("label value for \"{}\" is not valid UTF-8", name));
    labels.push_back({name, std::move(v)});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  out = Labels::FromUnsorted(std::move(labels));
  return Status::Ok();
}

Status ParseGlobal(const Node& map, GlobalConfig& global) {
  Duration interval{0};
  Duration timeout{0};
  std::unique_ptr<Node> timeout_node;
  Status s = ForEachKey(
      map,
      {
          {"scrape_interval",
           [&](const Node& v) {
             auto d = v.AsDuration();
             if (d.ok()) interval = *d;
             return d.status();
           }},
          {"scrape_timeout",
           [&](const Node& v) {
             auto d = v.AsDuration();
             if (d.ok()) timeout = *d;
             timeout_node = std::make_unique<Node>(v);
             return d.status();
           }},
          {"external_labels",
           [&](const Node& v) { return ParseLabels(v, global.external_labels, true); }},
          // Agent mode evaluates no rules and runs no queries, so Prometheus in agent mode
          // accepts these and ignores them; Petrel checks their syntax and does the same.
          {"evaluation_interval", [](const Node& v) { return v.AsDuration().status(); }},
          {"rule_query_offset", [](const Node& v) { return v.AsDuration().status(); }},
          {"query_log_file", [](const Node& v) { return v.String().status(); }},
      },
      {.unsupported = kGlobalUnsupported});
  if (!s.ok()) return s;

  // As Prometheus: a zero interval means the default; the timeout is checked against the
  // resulting interval, and when absent becomes min(10s, interval).
  global.scrape_interval = interval.count() != 0 ? interval : GlobalConfig().scrape_interval;
  if (timeout > global.scrape_interval) {
    return timeout_node->Error(
        fmt::format("global scrape timeout {} greater than scrape interval {}",
                    FormatDuration(timeout), FormatDuration(global.scrape_interval)));
  }
  global.scrape_timeout = timeout.count() != 0
                              ? timeout
                              : std::min(GlobalConfig().scrape_timeout, global.scrape_interval);
  return Status::Ok();
}

Status ParseStaticConfig(const Node& map, StaticConfig& sc) {
  if (map.IsNull()) return map.Error("empty or null static config");
  return ForEachKey(map,
                    {
                        {"targets",
                         [&](const Node& v) {
                           auto items = v.Items();
                           if (!items.ok()) return items.status();
                           for (const Node& item : *items) {
                             auto target = item.String();
                             if (!target.ok()) return target.status();
                             if (Status c = CheckTargetAddress(*target); !c.ok()) {
                               return item.Error(c.message());
                             }
                             sc.targets.push_back(std::move(*target));
                           }
                           return Status::Ok();
                         }},
                        {"labels", [&](const Node& v) { return ParseLabels(v, sc.labels, false); }},
                    });
}

Status ParseScrapeConfig(const Node& map, const GlobalConfig& global, ScrapeConfig& sc) {
  if (map.IsNull()) return map.Error("empty or null scrape config section");
  Duration interval{0};
  Duration timeout{0};
  std::unique_ptr<Node> timeout_node;
  Status s =
      ForEachKey(map,
                 {
                     {"job_name",
                      [&](const Node& v) {
                        auto name = v.String();
                        if (name.ok()) sc.job_name = std::move(*name);
                        return name.status();
                      }},
                     {"scrape_interval",
                      [&](const Node& v) {
                        auto d = v.AsDuration();
                        if (d.ok()) interval = *d;
                        return d.status();
                      }},
                     {"scrape_timeout",
                      [&](const Node& v) {
                        auto d = v.AsDuration();
                        if (d.ok()) timeout = *d;
                        timeout_node = std::make_unique<Node>(v);
                        return d.status();
                      }},
                     {"metrics_path",
                      [&](const Node& v) {
                        auto path = v.String();
                        if (path.ok()) sc.metrics_path = std::move(*path);
                        return path.status();
                      }},
                     {"scheme",
                      [&](const Node& v) {
                        auto scheme = v.String();
                        if (!scheme.ok()) return scheme.status();
                        if (*scheme != "http" && *scheme != "https") {
                          return v.Error(fmt::format(
                              "scheme must be \"http\" or \"https\", got \"{}\"", *scheme));
                        }
                        sc.scheme = std::move(*scheme);
                        return Status::Ok();
                      }},
                     {"static_configs",
                      [&](const Node& v) {
                        auto items = v.Items();
                        if (!items.ok()) return items.status();
                        for (const Node& item : *items) {
                          if (Status st = ParseStaticConfig(item, sc.static_configs.emplace_back());
                              !st.ok()) {
                            return st;
                          }
                        }
                        return Status::Ok();
                      }},
                 },
                 {.unsupported = kScrapeUnsupported, .sd_configs_unsupported = true});
  if (!s.ok()) return s;
  if (sc.job_name.empty()) return map.Error("missing required key \"job_name\"");

  sc.scrape_interval = interval.count() != 0 ? interval : global.scrape_interval;
  if (timeout > sc.scrape_interval) {
    return timeout_node->Error(fmt::format(
        "scrape timeout {} greater than scrape interval {} for scrape config with job name \"{}\"",
        FormatDuration(timeout), FormatDuration(sc.scrape_interval), sc.job_name));
  }
  sc.scrape_timeout =
      timeout.count() != 0 ? timeout : std::min(global.scrape_timeout, sc.scrape_interval);
  return Status::Ok();
}

Status ParseScrapeConfigs(const Node& list, const GlobalConfig& global,
                          std::vector<ScrapeConfig>& out) {
  auto items = list.Items();
  if (!items.ok()) return items.status();
  std::map<std::string, int> first_line;  // job name -> line of its first definition
  for (const Node& item : *items) {
    ScrapeConfig& sc = out.emplace_back();
    if (Status s = ParseScrapeConfig(item, global, sc); !s.ok()) return s;
    auto [it, inserted] = first_line.emplace(sc.job_name, item.line());
    if (!inserted) {
      return item.Error(
          fmt::format("found multiple scrape configs with job name \"{}\" (first at line {})",
                      sc.job_name, it->second));
    }
  }
  return Status::Ok();
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

Result<Config> ParseRoot(const Node& root) {
  Config config;
  std::unique_ptr<Node> global, scrape_configs, remote_write;
  Status s = ForEachKey(
      root,
      {
          {"global",
           [&](const Node& v) { return global = std::make_unique<Node>(v), Status::Ok(); }},
          {"scrape_configs",
           [&](const Node& v) { return scrape_configs = std::make_unique<Node>(v), Status::Ok(); }},
          {"remote_write",
           [&](const Node& v) { return remote_write = std::make_unique<Node>(v), Status::Ok(); }},
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

Result<Config> Parse(std::string_view yaml, const std::string& source) {
  // yaml-cpp reports syntax errors (and, defensively, anything else) by throwing; nothing
  // may cross the module edge, so this is the one place that catches.
  try {
    const YAML::Node doc = YAML::Load(std::string(yaml));
    const YAML::Mark start = doc.IsNull() ? YAML::Mark() : doc.Mark();
    return ParseRoot(Node(&source, doc, "", start));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Status::InvalidArgument(fmt::format("{}: {}", source, e.msg));
    return Status::InvalidArgument(
        fmt::format("{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.msg));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: {}", source, e.what()));
  }
}

Result<Config> Load(const std::string& path) {
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
  return Parse(text, path);
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
