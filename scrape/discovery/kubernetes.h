// KubernetesDiscoverer: one kubernetes_sd_configs entry. It list+watches the role's objects
// (and the helper objects its labels need: services and pods for endpoints/endpointslice,
// nodes for attach_metadata.node) on the API server and turns each object into one target
// group with Prometheus's __meta_kubernetes_* labels (kubernetes_targets.h).
//
// Protocol (shared/reference/kubernetes-sd.md §3): LIST with limit/continue pagination and the
// role's labelSelector/fieldSelector, then WATCH from the list's resourceVersion with
// allowWatchBookmarks; a watch that ends is resumed from the last resourceVersion seen; 410
// Gone (HTTP status or ERROR event) re-lists and replaces the cache, sending empty groups for
// vanished objects. Errors (transport, 401/403, 5xx, bad JSON) are logged, counted in
// prometheus_sd_kubernetes_failures_total and retried with exponential backoff and seeded
// jitter; a watch that ends before delivering anything also backs off, so nothing loops.
// One list+watch per object kind per namespace (one cluster-wide when no namespaces are set).
// Objects are cached compactly (kubernetes_objects.h), not as JSON.
//
// All transfers run on one libcurl multi handle in the thread that calls Run.
//
// Connection: api_server (+ its http_config), else kubeconfig_file (current context), else
// in-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the service
// account's token (re-read for every request, so rotation needs nothing) and CA under
// options.service_account_dir.
//
// DaemonSet (one agent per node, one pod watch per agent, only its node's pods):
//   kubernetes_sd_configs:
//     - role: pod
//       selectors: [{role: pod, field: "spec.nodeName=${NODE_NAME}"}]
// with NODE_NAME from the downward API (spec.nodeName), as the Helm chart sets it. petrel
// expands ${VAR} in selectors when loading the config (an unset one is an error); Prometheus
// does not. Node-local kubelet: role node with field "metadata.name=${NODE_NAME}".
// Endpoints/endpointslice cannot be filtered by node server-side.
//
// Thread-safe: Run is called once, by one thread; construction registers the metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "config/kubernetes_sd.h"
#include "scrape/discovery/discovery.h"

namespace petrel::scrape::discovery {

struct KubernetesOptions {
  uint64_t seed = 0;  // jitter of backoffs and watch timeouts
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::chrono::milliseconds min_backoff{1000};  // first retry delay (before jitter)
  std::chrono::milliseconds max_backoff{30000};
  int list_page_size = 500;  // LIST limit; 0: no pagination
  // A watch asks the server to end it after a random time in [watch_timeout, 2*watch_timeout).
  std::chrono::seconds watch_timeout{300};
  std::string user_agent = "Petrel";
};

class KubernetesDiscoverer final : public Discoverer {
 public:
  // clock and metrics outlive the discoverer. Registers (once per registry) the
  // prometheus_sd_kubernetes_* families: events_total{role,event} with all 18 children,
  // failures_total, http_request_total{status_code}.
  KubernetesDiscoverer(config::KubernetesSdConfig config, Clock& clock, Registry& metrics,
                       KubernetesOptions options = {});
  ~KubernetesDiscoverer() override;

  // Sends the full initial set once every list of the role has completed, then each changed
  // group (an object's group is re-sent whole; a deleted object's group is empty). A
  // connection that cannot be set up (bad kubeconfig, missing in-cluster env) is logged,
  // counted as a failure and retried with backoff. Returns only when stop is requested.
  void Run(std::stop_token stop, const UpdateFn& update) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::scrape::discovery
