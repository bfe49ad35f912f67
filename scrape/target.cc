#include "scrape/target.h"

#include <fmt/format.h>

#include <set>

#include "config/relabel.h"

namespace petrel::scrape {
namespace {

constexpr std::string_view kAddress = "__address__";
constexpr std::string_view kScheme = "__scheme__";
constexpr std::string_view kMetricsPath = "__metrics_path__";
constexpr std::string_view kInterval = "__scrape_interval__";
constexpr std::string_view kTimeout = "__scrape_timeout__";
constexpr std::string_view kParamPrefix = "__param_";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// RFC 3986 query escaping as Go's url.QueryEscape (space as '+').
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string BuildUrl(const Labels& labels, const config::ScrapeConfig& job) {
  std::string url =
      fmt::format("{}://{}{}", labels.Get(kScheme), labels.Get(kAddress), labels.Get(kMetricsPath));
  // params from the config, the first value of each replaced by its __param_ label; then
  // __param_ labels for names the config does not have. Go sorts query keys.
  std::map<std::string, std::vector<std::string>> params = job.params;
  for (const auto& l : labels) {
    if (!StartsWith(l.name, kParamPrefix)) continue;
    auto& values = params[l.name.substr(kParamPrefix.size())];
    if (values.empty()) {
      values.push_back(l.value);
    } else {
      values[0] = l.value;
    }
  }
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, values] : params) {
    for (const auto& v : values) {
      url += sep;
      url += QueryEscape(name) + "=" + QueryEscape(v);
      sep = '&';
    }
  }
  return url;
}

}  // namespace

uint64_t Fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Target::Hash() const {
  uint64_t h = Fnv1a(job);
  h = Fnv1a(url, Fnv1a("\xff", h));
  return h ^ labels.Hash();
}

BuiltTarget BuildTarget(const std::shared_ptr<const config::ScrapeConfig>& job,
                        const Labels& target_labels, const Labels& group_labels) {
  LabelsBuilder lb(target_labels);
  for (const auto& l : group_labels) {
    if (lb.Get(l.name).empty()) lb.Set(l.name, l.value);
  }
  auto set_default = [&lb](std::string_view name, const std::string& value) {
    if (lb.Get(name).empty()) lb.Set(name, value);
  };
  set_default("job", job->job_name);
  set_default(kInterval, config::FormatDuration(job->scrape_interval));
  set_default(kTimeout, config::FormatDuration(job->scrape_timeout));
  set_default(kMetricsPath, job->metrics_path);
  set_default(kScheme, job->scheme);
  for (const auto& [name, values] : job->params) {
    if (!values.empty()) set_default(std::string(kParamPrefix) + name, values.front());
  }
  Labels discovered = lb.Build();

  BuiltTarget out;
  if (!config::Relabel(lb, job->relabel_configs)) return out;  // dropped
  Labels relabeled = lb.Build();

  const std::string address(relabeled.Get(kAddress));
  auto fail = [&](std::string why) {
    out.error = Status::InvalidArgument(
        fmt::format("job {}: target {}: {}", job->job_name, discovered.ToString(), why));
    return out;
  };
  if (address.empty()) return fail("no address");
  if (address.find('/') != std::string::npos) {
    return fail(fmt::format("invalid address \"{}\"", address));
  }
  auto interval = config::ParseDuration(relabeled.Get(kInterval));
  if (!interval.ok() || interval->count() == 0) {
    return fail(fmt::format("invalid scrape interval \"{}\"", relabeled.Get(kInterval)));
  }
  auto timeout = config::ParseDuration(relabeled.Get(kTimeout));
  if (!timeout.ok() || timeout->count() == 0) {
    return fail(fmt::format("invalid scrape timeout \"{}\"", relabeled.Get(kTimeout)));
  }
  if (*timeout > *interval) {
    return fail(fmt::format("scrape timeout {} greater than scrape interval {}",
                            relabeled.Get(kTimeout), relabeled.Get(kInterval)));
  }

  Target t;
  t.job = job->job_name;
  t.url = BuildUrl(relabeled, *job);
  t.interval = *interval;
  t.timeout = *timeout;
  t.body_size_limit = static_cast<int64_t>(job->limits.body_size_limit);
  t.job_config = job;
  t.discovered_labels = std::move(discovered);
  std::vector<Label> kept;
  for (const auto& l : relabeled) {
    if (!StartsWith(l.name, "__")) kept.push_back(l);
  }
  LabelsBuilder final_labels(Labels::FromSorted(std::move(kept)));
  if (final_labels.Get("instance").empty()) final_labels.Set("instance", address);
  t.labels = final_labels.Build();
  out.target = std::move(t);
  return out;
}

std::vector<Target> BuildTargets(const std::shared_ptr<const config::ScrapeConfig>& job,
                                 const std::vector<discovery::TargetGroup>& discovered,
                                 std::vector<Status>* errors) {
  std::vector<Target> out;
  std::set<uint64_t> seen;
  auto add = [&](const Labels& target_labels, const Labels& group_labels) {
    BuiltTarget b = BuildTarget(job, target_labels, group_labels);
    if (!b.error.ok()) {
      if (errors != nullptr) errors->push_back(b.error);
      return;
    }
    if (b.target && seen.insert(b.target->Hash()).second) out.push_back(std::move(*b.target));
  };
  for (const auto& sc : job->static_configs) {
    for (const auto& address : sc.targets) {
      add(Labels{{std::string(kAddress), address}}, sc.labels);
    }
  }
  for (const auto& group : discovered) {
    for (const auto& target_labels : group.targets) add(target_labels, group.labels);
  }
  return out;
}

uint64_t OffsetSeed(const std::string& hostname, const Labels& external_labels) {
  std::string rendered = "{";
  bool first = true;
  for (const auto& l : external_labels) {
    if (!first) rendered += ", ";
    first = false;
    rendered += fmt::format("{}=\"{}\"", l.name, l.value);
  }
  rendered += "}";
  return Fnv1a(rendered, Fnv1a(hostname));
}

std::chrono::milliseconds ScrapeOffset(const Target& target, uint64_t seed) {
  auto interval = static_cast<uint64_t>(target.interval.count());
  if (interval == 0) return std::chrono::milliseconds(0);
  uint64_t h = Fnv1a(target.url, Fnv1a(fmt::format("{:016d}", target.labels.Hash() >> 1)));
  return std::chrono::milliseconds((h ^ seed) % interval);
}

}  // namespace petrel::scrape
