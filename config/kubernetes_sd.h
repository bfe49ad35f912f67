// kubernetes_sd_configs: one entry per Kubernetes role to discover (Prometheus's
// discovery/kubernetes SDConfig). Parsed and validated at load as Prometheus does; see
// shared/reference/kubernetes-sd.md §1 for the rules.
//
// Thread-safe: plain values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/http_client.h"

namespace petrel::config {

class Node;

enum class KubernetesRole { kNode, kPod, kService, kEndpoints, kEndpointSlice, kIngress };

// "node", "pod", "service", "endpoints", "endpointslice", "ingress".
const char* KubernetesRoleName(KubernetesRole role);
std::optional<KubernetesRole> ParseKubernetesRole(std::string_view name);

// One selectors entry: passed to the API server as labelSelector / fieldSelector on the
// list and watch of objects of `role`.
struct KubernetesSelector {
  KubernetesRole role = KubernetesRole::kPod;
  std::string label;
  std::string field;
  bool operator==(const KubernetesSelector&) const = default;
};

struct KubernetesSdConfig {
  KubernetesRole role = KubernetesRole::kPod;
  // At most one of api_server and kubeconfig_file; neither means in-cluster.
  std::string api_server;       // absolute http(s) URL
  std::string kubeconfig_file;  // resolved against the config file's directory
  // Empty names and own_namespace false: all namespaces (one cluster-wide watch).
  std::vector<std::string> namespaces;
  bool own_namespace = false;  // in-cluster only
  // At most one per role; roles allowed per discovery role as in Prometheus.
  std::vector<KubernetesSelector> selectors;
  bool attach_node_metadata = false;  // pod, endpoints, endpointslice
  HttpClientConfig http_client;       // only non-default together with api_server
  bool operator==(const KubernetesSdConfig&) const = default;

  // The selector for objects of `role`, or nullptr.
  const KubernetesSelector* SelectorFor(KubernetesRole r) const {
    for (const auto& s : selectors) {
      if (s.role == r) return &s;
    }
    return nullptr;
  }
};

// Parses a kubernetes_sd_configs sequence (null gives none). Errors carry
// "file:line: path: message" like the rest of the config. Internal to config/: the scrape
// config parser calls it for the "kubernetes_sd_configs" key.
Result<std::vector<KubernetesSdConfig>> ParseKubernetesSdConfigs(const Node& list);

// The cluster and user of a kubeconfig's current context (the subset Petrel uses). File paths
// are resolved against the kubeconfig's directory; *_data fields are decoded PEM.
struct Kubeconfig {
  std::string server;
  std::string ca_file, ca_data;
  bool insecure_skip_verify = false;
  std::string token, token_file;
  std::string cert_file, cert_data, key_file, key_data;
  std::string username, password;
};
// Reads a kubeconfig file. kInvalidArgument names the file and what is missing.
Result<Kubeconfig> LoadKubeconfig(const std::string& path);

// Checks a label selector ("a=b,c!=d,e in (x,y),f,!g") or field selector ("a=b,c!=d") as the
// API server's parser would; the message says what is wrong.
Status CheckLabelSelector(std::string_view selector);
Status CheckFieldSelector(std::string_view selector);

}  // namespace petrel::config
