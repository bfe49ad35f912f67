// Manager: runs every target's scrapes. One thread drives the schedule and all HTTP fetches
// on a libcurl multi handle (no thread per target); parsing and WAL appends run on a small
// worker pool. Each target is scraped at its interval from a stable per-target offset; a
// scrape still running at the next tick makes that tick be skipped, never overlapped.
//
// Thread-safe: ApplyConfig/Stop from one owner thread; Targets() from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "config/config.h"
#include "scrape/scrape_loop.h"
#include "scrape/target.h"

namespace petrel::scrape {

struct ManagerOptions {
  uint64_t offset_seed = 0;   // see OffsetSeed()
  size_t parse_workers = 0;   // 0: one per core, at most 4
  std::string user_agent = "Petrel";
};

class Manager {
 public:
  Manager(Clock& clock, Registry& metrics, AppenderFactory appenders, ManagerOptions options);
  ~Manager();

  // Replaces the target set with the config's: unchanged targets keep their loop and cache,
  // new ones start, removed ones stop and get stale markers. kInvalidArgument leaves the
  // current set running.
  Status ApplyConfig(const config::Config& config);

  // Stops scheduling, waits for scrapes in flight, joins the threads. No stale markers are
  // written on shutdown (as Prometheus).
  void Stop();

  struct TargetStatus {
    Target target;
    TargetHealth health;
  };
  std::vector<TargetStatus> Targets() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::scrape
