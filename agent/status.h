// Status views of the running agent: the Prometheus-shaped /api/v1/targets JSON and a small
// HTML page for operators on the node. Pure functions of a snapshot; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "scrape/manager.h"

namespace petrel::agent {

struct QueueStatus {
  std::string name;
  std::string url;
  double samples_pending = 0;
  double highest_sent_seconds = 0;  // newest timestamp acknowledged, 0 before the first send
  double highest_queued_seconds = 0;
  double failed_samples = 0;
};

// {"status":"success","data":{"activeTargets":[...],"droppedTargets":[],...}} as Prometheus.
std::string TargetsJson(const std::vector<scrape::Manager::TargetStatus>& targets);

// The HTML status page: targets with health, last scrape and error; remote-write queues
// with pending samples and seconds of data at risk (now - newest acknowledged timestamp).
std::string StatusPage(const std::vector<scrape::Manager::TargetStatus>& targets,
                       const std::vector<QueueStatus>& queues, double now_seconds);

}  // namespace petrel::agent
