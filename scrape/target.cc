#include "scrape/target.h"

#include <fmt/format.h>

namespace petrel::scrape {

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

Result<std::vector<Target>> TargetsFromConfig(const config::ScrapeConfig& job) {
  std::vector<Target> out;
  for (const auto& sc : job.static_configs) {
    for (const auto& address : sc.targets) {
      if (address.empty() || address.find('/') != std::string::npos) {
        return Status::InvalidArgument(
            fmt::format("job {}: invalid target address \"{}\"", job.job_name, address));
      }
      LabelsBuilder b(sc.labels);
      // Group labels first; job and instance only where the group does not set them.
      if (b.Get("job").empty()) b.Set("job", job.job_name);
      if (b.Get("instance").empty()) b.Set("instance", address);
      Target t;
      t.job = job.job_name;
      t.url = job.scheme + "://" + address + job.metrics_path;
      t.labels = b.Build();
      LabelsBuilder discovered(sc.labels);
      discovered.Set("__address__", address);
      discovered.Set("__metrics_path__", job.metrics_path);
      discovered.Set("__scheme__", job.scheme);
      discovered.Set("__scrape_interval__", config::FormatDuration(job.scrape_interval));
      discovered.Set("__scrape_timeout__", config::FormatDuration(job.scrape_timeout));
      discovered.Set("job", job.job_name);
      t.discovered_labels = discovered.Build();
      t.interval = job.scrape_interval;
      t.timeout = job.scrape_timeout;
      out.push_back(std::move(t));
    }
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
