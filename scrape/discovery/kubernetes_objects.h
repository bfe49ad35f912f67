// Compact copies of the Kubernetes API objects the kubernetes discoverer needs: only the
// fields its meta labels use, decoded from the API server's JSON. A watched object is kept in
// this form, never as a JSON document.
//
// Thread-safe: plain values; the decoders share no state.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace petrel::scrape::discovery::k8s {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string resource_version;
  StringPairs labels;  // in the object's key order
  StringPairs annotations;
  // "namespace/name", or "name" for cluster-scoped objects (client-go's store key).
  std::string Key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
  std::string_view Label(std::string_view key) const;
};

struct ObjectRef {
  std::string kind;
  std::string namespace_;
  std::string name;
};

struct ContainerPort {
  std::string name;
  int32_t number = 0;
  std::string protocol;
};

struct Container {
  std::string name;
  std::string image;
  std::string id;  // containerID from the matching status, "" if none
  std::vector<ContainerPort> ports;
};

struct Pod {
  ObjectMeta meta;
  std::string uid, node_name, pod_ip, host_ip, phase;
  std::string ready;  // lower-cased status of the Ready condition, "unknown" if absent
  std::string controller_kind, controller_name;
  std::vector<Container> containers;       // spec.containers, then
  std::vector<Container> init_containers;  // spec.initContainers
};

struct Node {
  ObjectMeta meta;
  std::string provider_id;
  StringPairs addresses;   // (type, address) in status order
  StringPairs conditions;  // (type, status) in status order
  int32_t kubelet_port = 0;
};

struct ServicePort {
  std::string name;
  int32_t port = 0;
  std::string protocol;
};

struct Service {
  ObjectMeta meta;
  std::string type, cluster_ip, external_name;
  std::string load_balancer_ip;  // status ingress IPs comma-joined, else spec.loadBalancerIP
  std::string ip_family_policy, first_ip_family;
  std::vector<ServicePort> ports;
};

struct EndpointAddress {
  std::string ip, hostname;
  std::optional<std::string> node_name;
  std::optional<ObjectRef> target;
};

struct EndpointSubset {
  std::vector<EndpointAddress> addresses, not_ready_addresses;
  std::vector<ServicePort> ports;
};

struct Endpoints {
  ObjectMeta meta;
  std::vector<EndpointSubset> subsets;
};

struct SlicePort {
  std::optional<std::string> name, protocol, app_protocol;
  std::optional<int32_t> port;
};

struct SliceEndpoint {
  std::vector<std::string> addresses;
  std::optional<bool> ready, serving, terminating;
  std::optional<std::string> hostname, node_name, zone;
  std::optional<ObjectRef> target;
  StringPairs topology;  // deprecatedTopology
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string address_type;
  std::vector<SlicePort> ports;
  std::vector<SliceEndpoint> endpoints;
};

struct IngressRule {
  std::string host;
  std::optional<std::vector<std::string>> paths;  // nullopt when the rule has no http
};

struct Ingress {
  ObjectMeta meta;
  std::optional<std::string> class_name;
  std::vector<std::string> tls_hosts;
  std::vector<IngressRule> rules;
};

// Decoders: kInvalidArgument when a field has the wrong JSON type or metadata.name is missing.
Result<Pod> DecodePod(const nlohmann::json& j);
Result<Node> DecodeNode(const nlohmann::json& j);
Result<Service> DecodeService(const nlohmann::json& j);
Result<Endpoints> DecodeEndpoints(const nlohmann::json& j);
Result<EndpointSlice> DecodeEndpointSlice(const nlohmann::json& j);
Result<Ingress> DecodeIngress(const nlohmann::json& j);
// Only the metadata (for BOOKMARK and DELETED events of any kind).
Result<ObjectMeta> DecodeMeta(const nlohmann::json& j);

}  // namespace petrel::scrape::discovery::k8s
