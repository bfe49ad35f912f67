// Manager: runs every target's scrapes. One thread drives the schedule and all HTTP fetches
// on a libcurl multi handle (no thread per target); parsing and WAL appends run on a small
// worker pool. Each target is scraped at its interval from a stable per-target offset; a
// scrape still running at the next tick makes that tick be skipped, never overlapped.
//
// Thread-safe: ApplyConfig/Stop from one owner thread; Targets() from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "config/config.h"
#include "scrape/discovery/discovery.h"
#include "scrape/scrape_loop.h"
#include "scrape/target.h"

namespace petrel::scrape {

// Makes the discoverers of a job's *_sd_configs (static_configs are handled by the manager).
using DiscovererFactory =
    std::function<std::vector<std::unique_ptr<discovery::Discoverer>>(const config::ScrapeConfig&)>;

struct ManagerOptions {
  uint64_t offset_seed = 0;  // see OffsetSeed()
  size_t parse_workers = 0;  // 0: one per core, at most 4
  std::string user_agent = "Petrel";
  DiscovererFactory discoverers;  // empty: static_configs only
  // A discovered change reaches the scraped set this long after it arrives; changes arriving
  // meanwhile are applied together. Only changed groups are rebuilt, and a group re-sent
  // unchanged costs nothing. (Prometheus throttles to one update per 5 s instead.)
  std::chrono::milliseconds discovery_coalesce = std::chrono::milliseconds(100);
};

class Manager {
 public:
  Manager(Clock& clock, Registry& metrics, AppenderFactory appenders, ManagerOptions options);
  ~Manager();

  // Replaces the target set with the config's: unchanged targets of unchanged jobs keep their
  // loop and cache, new ones start, removed ones stop and get stale markers. Jobs whose config
  // is unchanged keep their discoverers. Targets that relabeling leaves unusable are logged.
  Status ApplyConfig(const config::Config& config);

  // Stops scheduling, waits for scrapes in flight, joins the threads. No stale markers are
  // written on shutdown (as Prometheus).
  void Stop();

  struct TargetStatus {
    Target target;
    TargetHealth health;
  };
  std::vector<TargetStatus> Targets() const;

  // Calls fn for each metric family's metadata (TYPE/HELP/UNIT) of each active target: one
  // call per target that has the family, so the same family may come several times (the
  // remote-write sender de-duplicates). Thread-safe with the scrapes; fn runs under the
  // manager's status lock and must not call back into the manager.
  void ForEachMetadata(const MetadataFn& fn) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::scrape
