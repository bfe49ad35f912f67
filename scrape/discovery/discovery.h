// Service discovery: producers of target groups. The scrape manager runs one Discoverer per
// *_sd_configs entry and turns its groups into targets (relabeling happens there, not here).
// Discoverers know nothing about fetching or scraping.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/labels.h"

namespace petrel::scrape::discovery {

// A set of targets sharing labels, as Prometheus's targetgroup.Group. Each target is a label
// set holding at least __address__; group labels apply to every target that lacks them.
struct TargetGroup {
  std::string source;  // unique per discoverer, e.g. "file.json:0"; an empty group deletes it
  std::vector<Labels> targets;
  Labels labels;
  bool operator==(const TargetGroup&) const = default;
};

// Receives every group that changed (a group with no targets means it is gone).
using UpdateFn = std::function<void(std::vector<TargetGroup>)>;

class Discoverer {
 public:
  virtual ~Discoverer() = default;
  // Runs until stop is requested: sends the full initial set once, then changes. Errors are
  // logged and counted by the discoverer itself and retried; Run returns only on stop.
  virtual void Run(std::stop_token stop, const UpdateFn& update) = 0;
};

}  // namespace petrel::scrape::discovery
