// Targets: what to scrape and which labels its series carry.
//
// A Target is immutable once built. Its labels are the final target labels (job, instance and
// static labels; no "__" labels), attached to every scraped series.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/labels.h"
#include "common/status.h"
#include "config/config.h"

namespace petrel::scrape {

struct Target {
  std::string job;
  std::string url;  // scheme://address/metrics_path
  Labels labels;    // job, instance, static labels
  Labels discovered_labels;  // before relabeling: __address__, __scheme__, ... (status pages)
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};
  int64_t body_size_limit = 0;  // bytes of the uncompressed body; 0 = unlimited

  // Identity for syncing target sets across reloads: same job, URL and labels.
  uint64_t Hash() const;
};

// The targets of one scrape config's static_configs, in order. kInvalidArgument names the
// offending target when an address cannot be used.
Result<std::vector<Target>> TargetsFromConfig(const config::ScrapeConfig& job);

// The first-scrape offset within the interval: stable per target and per agent (seeded by
// hostname and external labels, as Prometheus does), so load spreads and restarts keep phase.
std::chrono::milliseconds ScrapeOffset(const Target& target, uint64_t seed);

// The seed for ScrapeOffset: FNV-1a of hostname and the rendered external labels.
uint64_t OffsetSeed(const std::string& hostname, const Labels& external_labels);

// FNV-1a 64 over bytes, continuing from h.
uint64_t Fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull);

}  // namespace petrel::scrape
