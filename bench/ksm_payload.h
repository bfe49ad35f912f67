// A kube-state-metrics-shaped exposition body for benchmarks: families of per-pod series with
// KSM's label sets (kube_pod_status_phase{namespace,pod,uid,phase}, kube_pod_info{...}, ...),
// family by family with HELP and TYPE, as kube-state-metrics 2.x writes them. Deterministic.
#pragma once

#include <string>

namespace petrel::bench {

// Exactly `series` sample lines (text 0.0.4, no timestamps).
std::string KubeStateMetricsPayload(int series);

}  // namespace petrel::bench
