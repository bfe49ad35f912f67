// scrape_configs entries: fields, inheritance from global, service discovery, relabeling.
#include <fmt/format.h>
#include <re2/re2.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "config/config.h"
#include "config/kubernetes_sd.h"
#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

const std::vector<std::string_view> kScrapeUnsupported = WithHttpClientKeys({
    "convert_classic_histograms_to_nhcb",
    "scrape_failure_log_file",
    "keep_dropped_targets",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "extra_scrape_metrics",
});

Status ParseTarget(const Node& item, std::vector<std::string>& targets) {
  auto target = item.String();
  if (!target.ok()) return target.status();
  if (Status c = CheckTargetAddress(*target); !c.ok()) return item.Error(c.message());
  targets.push_back(std::move(*target));
  return Status::Ok();
}

Status ParseStaticConfig(const Node& map, StaticConfig& sc) {
  if (map.IsNull()) return map.Error("empty or null static config");
  return ForEachKey(
      map, {
               {"targets", ForEachItem([&](const Node& i) { return ParseTarget(i, sc.targets); })},
               {"labels", [&](const Node& v) { return ParseLabels(v, sc.labels, false); }},
           });
}

// discovery/file's check: a '*' only in the last path element, a known extension.
bool IsValidFileSdName(const std::string& name) {
  static const re2::RE2 re(R"(^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$)");
  return RE2::FullMatch(name, re);
}

Status ParseFileSdConfig(const Node& map, FileSdConfig& sd) {
  if (map.IsNull()) return map.Error("empty or null section in file_sd_configs");
  Status s =
      ForEachKey(map, {
                          {"files", ForEachItem([&](const Node& item) {
                             auto name = item.String();
                             if (!name.ok()) return name.status();
                             if (!IsValidFileSdName(*name)) {
                               return item.Error(fmt::format(
                                   "path name \"{}\" is not valid for file discovery", *name));
                             }
                             sd.files.push_back(item.ResolvePath(*name));
                             return Status::Ok();
                           })},
                          {"refresh_interval", DurationInto(sd.refresh_interval)},
                      });
  if (!s.ok()) return s;
  if (sd.files.empty()) {
    return map.Error("file service discovery config must contain at least one path name");
  }
  if (sd.refresh_interval.count() <= 0) return map.Error("refresh_interval must be greater than 0");
  return Status::Ok();
}

Status ParseParams(const Node& map, std::map<std::string, std::vector<std::string>>& out) {
  return ForEachEntry(map, [&](const Node&, const std::string& name, const Node& value) {
    auto values = value.StringList();
    if (!values.ok()) return values.status();
    out[name] = std::move(*values);
    return Status::Ok();
  });
}

Status ParseScheme(const Node& v, std::string& scheme) {
  auto text = v.String();
  if (!text.ok()) return text.status();
  if (*text != "http" && *text != "https") {
    return v.Error(fmt::format("scheme must be \"http\" or \"https\", got \"{}\"", *text));
  }
  scheme = std::move(*text);
  return Status::Ok();
}

// One protocol name, case-sensitive as in Prometheus.
Result<ScrapeProtocol> ParseProtocolName(const Node& item, std::string_view what) {
  auto name = item.String();
  if (!name.ok()) return name.status();
  for (ScrapeProtocol p :
       {ScrapeProtocol::kPrometheusProto, ScrapeProtocol::kPrometheusText0_0_4,
        ScrapeProtocol::kPrometheusText1_0_0, ScrapeProtocol::kOpenMetricsText0_0_1,
        ScrapeProtocol::kOpenMetricsText1_0_0}) {
    if (*name == ScrapeProtocolName(p)) return p;
  }
  return item.Error(fmt::format(
      "{}unknown scrape protocol {}, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 "
      "PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]",
      what, *name));
}

KeyFn OptionalBoolInto(std::optional<bool>& out) {
  return [&out](const Node& v) {
    auto b = v.AsBool();
    if (b.ok()) out = *b;
    return b.status();
  };
}

// A float64 as Go's YAML reads one; negative factors are refused (Prometheus would treat them
// like 0).
Status ParseBucketFactor(const Node& v, double& out) {
  auto text = v.String();
  if (!text.ok()) return text.status();
  char* end = nullptr;
  errno = 0;
  const double f = std::strtod(text->c_str(), &end);
  if (text->empty() || end != text->c_str() + text->size() || errno == ERANGE ||
      !std::isfinite(f)) {
    return v.Error(fmt::format("not a valid number \"{}\"", *text));
  }
  if (f < 0) return v.Error(fmt::format("must not be negative, got {}", *text));
  out = f;
  return Status::Ok();
}

Status ParseFallbackProtocol(const Node& v, std::optional<ScrapeProtocol>& out) {
  if (v.yaml().IsScalar() && v.yaml().Scalar().empty()) return Status::Ok();
  auto p = ParseProtocolName(v, "invalid fallback_scrape_protocol: ");
  if (!p.ok()) return p.status();
  out = *p;
  return Status::Ok();
}

// The keys a job may leave unset to take the global value (or a default that depends on it).
struct Unset {
  bool protocols = true;
  std::optional<bool> native_histograms;
  std::optional<bool> always_classic;
};

// Fills what the job leaves unset from global, as Prometheus's ScrapeConfig.Validate: the
// protocols are the global ones when set there, else the protobuf-first default for a job
// that scrapes native histograms, else the text default.
void Inherit(const GlobalConfig& global, const Unset& set, ScrapeConfig& sc) {
  sc.scrape_native_histograms = set.native_histograms.value_or(global.scrape_native_histograms);
  sc.always_scrape_classic_histograms =
      set.always_classic.value_or(global.always_scrape_classic_histograms);
  if (set.protocols) {
    sc.scrape_protocols = !global.scrape_protocols.empty() ? global.scrape_protocols
                          : sc.scrape_native_histograms    ? DefaultProtoFirstScrapeProtocols()
                                                           : DefaultScrapeProtocols();
  }
  const ScrapeLimits& g = global.limits;
  ScrapeLimits& l = sc.limits;
  for (auto [field, inherited] : {std::pair{&l.body_size_limit, g.body_size_limit},
                                  {&l.sample_limit, g.sample_limit},
                                  {&l.label_limit, g.label_limit},
                                  {&l.label_name_length_limit, g.label_name_length_limit},
                                  {&l.label_value_length_limit, g.label_value_length_limit},
                                  {&l.target_limit, g.target_limit}}) {
    if (*field == 0) *field = inherited;
  }
}

Status ParseScrapeConfig(const Node& map, const GlobalConfig& global, ScrapeConfig& sc) {
  if (map.IsNull()) return map.Error("empty or null scrape config section");
  Duration interval{0};
  DurationSetting timeout;
  Unset unset;
  HttpClientParser http(sc.http_client);
  KeyHandlers handlers = {
      {"job_name", StringInto(sc.job_name)},
      {"scrape_interval", DurationInto(interval)},
      {"scrape_timeout", SettingInto(timeout)},
      {"metrics_path", StringInto(sc.metrics_path)},
      {"scheme", [&](const Node& v) { return ParseScheme(v, sc.scheme); }},
      {"params", [&](const Node& v) { return ParseParams(v, sc.params); }},
      {"honor_labels", BoolInto(sc.honor_labels)},
      {"honor_timestamps", BoolInto(sc.honor_timestamps)},
      {"track_timestamps_staleness", BoolInto(sc.track_timestamps_staleness)},
      {"enable_compression", BoolInto(sc.enable_compression)},
      {"scrape_protocols",
       [&](const Node& v) {
         unset.protocols = false;
         return ParseScrapeProtocols(v, sc.scrape_protocols);
       }},
      {"scrape_native_histograms", OptionalBoolInto(unset.native_histograms)},
      {"always_scrape_classic_histograms", OptionalBoolInto(unset.always_classic)},
      {"native_histogram_bucket_limit",
       [&](const Node& v) {
         auto n = v.AsInt(0, INT64_MAX);
         if (n.ok()) sc.native_histogram_bucket_limit = static_cast<uint64_t>(*n);
         return n.status();
       }},
      {"native_histogram_min_bucket_factor",
       [&](const Node& v) { return ParseBucketFactor(v, sc.native_histogram_min_bucket_factor); }},
      {"fallback_scrape_protocol",
       [&](const Node& v) { return ParseFallbackProtocol(v, sc.fallback_scrape_protocol); }},
      {"static_configs", ForEachItem([&](const Node& item) {
         return ParseStaticConfig(item, sc.static_configs.emplace_back());
       })},
      {"file_sd_configs", ForEachItem([&](const Node& item) {
         return ParseFileSdConfig(item, sc.file_sd_configs.emplace_back());
       })},
      {"kubernetes_sd_configs",
       [&](const Node& v) {
         auto k = ParseKubernetesSdConfigs(v);
         if (!k.ok()) return k.status();
         sc.kubernetes_sd_configs = std::move(*k);
         return Status::Ok();
       }},
      {"relabel_configs",
       [&](const Node& v) {
         return ParseRelabelConfigs(v, "target relabeling rule in scrape config",
                                    sc.relabel_configs);
       }},
      {"metric_relabel_configs",
       [&](const Node& v) {
         return ParseRelabelConfigs(v, "metric relabeling rule in scrape config",
                                    sc.metric_relabel_configs);
       }},
  };
  AddLimitHandlers(handlers, sc.limits);
  http.AddHandlers(handlers);
  Status s = ForEachKey(map, handlers,
                        {.unsupported = kScrapeUnsupported, .sd_configs_unsupported = true});
  if (!s.ok()) return s;
  if (sc.job_name.empty()) return map.Error("missing required key \"job_name\"");
  if (Status h = http.Finish(map); !h.ok()) return h;
  Inherit(global, unset, sc);
  return ResolveTimes(interval, timeout, global.scrape_interval, global.scrape_timeout, "",
                      fmt::format(" for scrape config with job name \"{}\"", sc.job_name),
                      sc.scrape_interval, sc.scrape_timeout);
}

}  // namespace

Status ParseScrapeProtocols(const Node& list, std::vector<ScrapeProtocol>& out) {
  auto items = list.Items();
  if (!items.ok()) return items.status();
  if (items->empty()) return list.Error("scrape_protocols cannot be empty");
  out.clear();
  std::set<std::string, std::less<>> seen;  // lower-cased, as Prometheus compares them
  for (const Node& item : *items) {
    auto name = item.String();
    if (!name.ok()) return name.status();
    std::string lower = *name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(lower).second) {
      return item.Error(fmt::format("duplicated protocol in scrape_protocols, got \"{}\"", *name));
    }
    auto found = ParseProtocolName(item, "");
    if (!found.ok()) return found.status();
    out.push_back(*found);
  }
  return Status::Ok();
}

void AddLimitHandlers(KeyHandlers& handlers, ScrapeLimits& limits) {
  auto count = [](uint64_t& field) {
    return [&field](const Node& v) {
      auto n = v.AsInt(0, INT64_MAX);
      if (n.ok()) field = static_cast<uint64_t>(*n);
      return n.status();
    };
  };
  handlers.emplace("body_size_limit", [&limits](const Node& v) {
    auto text = v.String();
    if (!text.ok()) return text.status();
    auto bytes = ParseBytes(*text);
    if (!bytes.ok()) return v.Error(bytes.status().message());
    limits.body_size_limit = *bytes;
    return Status::Ok();
  });
  handlers.emplace("sample_limit", count(limits.sample_limit));
  handlers.emplace("label_limit", count(limits.label_limit));
  handlers.emplace("label_name_length_limit", count(limits.label_name_length_limit));
  handlers.emplace("label_value_length_limit", count(limits.label_value_length_limit));
  handlers.emplace("target_limit", count(limits.target_limit));
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

}  // namespace petrel::config
