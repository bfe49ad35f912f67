// Targets: what to scrape and which labels its series carry.
//
// A Target is built from a discovered label set the way Prometheus's scrape/target.go does:
// group labels and job defaults are added, relabel_configs run, then __address__,
// __scheme__, __metrics_path__, __param_* and __scrape_interval__/__scrape_timeout__ make
// the URL and schedule; "__"-prefixed labels never reach series. Immutable once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/labels.h"
#include "common/status.h"
#include "config/config.h"
#include "scrape/discovery/discovery.h"

namespace petrel::scrape {

struct Target {
  std::string job;
  std::string url;           // scheme://address/metrics_path?params
  Labels labels;             // after relabeling, without "__" labels; instance defaulted
  Labels discovered_labels;  // before relabeling (status pages)
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};
  int64_t body_size_limit = 0;  // bytes of the uncompressed body; 0 = unlimited
  std::string forced_error;     // non-empty: not scraped, reported failed (target_limit)
  // The job's settings (honor_labels, limits, metric relabeling, HTTP client, protocols).
  // shared_ptr: every target of a job shares one immutable copy, which outlives a reload
  // for loops still finishing a scrape.
  std::shared_ptr<const config::ScrapeConfig> job_config;

  // Identity for syncing target sets across reloads: same job, URL and labels.
  uint64_t Hash() const;
};

// The outcome of building one discovered target.
struct BuiltTarget {
  std::optional<Target> target;  // empty: dropped by relabeling
  Status error;                  // a target relabeling left unusable (counted, logged)
};

// Builds the target for one discovered label set (target_labels holds __address__ and any
// __meta_* labels; group_labels apply where the target lacks them).
BuiltTarget BuildTarget(const std::shared_ptr<const config::ScrapeConfig>& job,
                        const Labels& target_labels, const Labels& group_labels);

// The targets of a job's static_configs and of the given discovered groups, in order,
// deduplicated by Hash. Dropped targets are skipped; unusable ones reported in *errors.
std::vector<Target> BuildTargets(const std::shared_ptr<const config::ScrapeConfig>& job,
                                 const std::vector<discovery::TargetGroup>& discovered,
                                 std::vector<Status>* errors);

// The first-scrape offset within the interval: stable per target and per agent (seeded by
// hostname and external labels, as Prometheus does), so load spreads and restarts keep phase.
std::chrono::milliseconds ScrapeOffset(const Target& target, uint64_t seed);

// The seed for ScrapeOffset: FNV-1a of hostname and the rendered external labels.
uint64_t OffsetSeed(const std::string& hostname, const Labels& external_labels);

// FNV-1a 64 over bytes, continuing from h.
uint64_t Fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull);

}  // namespace petrel::scrape
