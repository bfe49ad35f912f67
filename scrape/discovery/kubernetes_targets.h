// Target groups from Kubernetes objects, with exactly the targets and __meta_kubernetes_*
// labels of Prometheus's discovery/kubernetes (node.go, pod.go, service.go, endpoints.go,
// endpointslice.go, ingress.go). Pure functions; see shared/reference/kubernetes-sd.md §4-5.
//
// Thread-safe: no state.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "scrape/discovery/discovery.h"
#include "scrape/discovery/kubernetes_objects.h"

namespace petrel::scrape::discovery::k8s {

// Other objects a group may draw labels from. Each returns nullptr when the object is not
// cached; an unset function means "never cached".
struct Lookups {
  std::function<const Node*(std::string_view name)> node;  // set only with attach node meta
  std::function<const Pod*(std::string_view ns, std::string_view name)> pod;
  std::function<const Service*(std::string_view ns, std::string_view name)> service;
};

// Each character outside [a-zA-Z0-9_] (one per UTF-8 sequence) becomes '_'.
std::string SanitizeLabelName(std::string_view name);

std::string NodeSource(std::string_view name);
std::string PodSource(std::string_view ns, std::string_view name);
std::string ServiceSource(std::string_view ns, std::string_view name);
std::string EndpointsSource(std::string_view ns, std::string_view name);
std::string EndpointSliceSource(std::string_view ns, std::string_view name);
std::string IngressSource(std::string_view ns, std::string_view name);

// nullopt when the node has no address (Prometheus then sends no update).
std::optional<TargetGroup> NodeGroup(const Node& node);
// Empty (targets and labels) when the pod has no IP yet. With attach node metadata, a pod
// whose node is not cached keeps its targets without node labels, as pod.go/addNodeLabels
// do (kubernetes-sd.md §5.2 says the group is empty; the Go code wins).
TargetGroup PodGroup(const Pod& pod, const Lookups& lookups);
TargetGroup ServiceGroup(const Service& svc);
TargetGroup EndpointsGroup(const Endpoints& eps, const Lookups& lookups);
TargetGroup EndpointSliceGroup(const EndpointSlice& slice, const Lookups& lookups);
TargetGroup IngressGroup(const Ingress& ingress);

}  // namespace petrel::scrape::discovery::k8s
