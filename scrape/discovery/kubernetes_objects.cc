#include "scrape/discovery/kubernetes_objects.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace petrel::scrape::discovery::k8s {
namespace {

using nlohmann::json;

// Every accessor treats absent and null alike (the API server omits empty fields); a present
// value of the wrong type throws json::type_error, which the Decode* wrappers turn into a
// Status.
const json* Find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Str(const json& j, const char* key) {
  const json* v = Find(j, key);
  return v ? v->get<std::string>() : std::string();
}

std::optional<std::string> OptStr(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (!v) return std::nullopt;
  return v->get<std::string>();
}

std::optional<bool> OptBool(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (!v) return std::nullopt;
  return v->get<bool>();
}

int32_t Int(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (!v) return 0;
  // get<int32_t> converts a float or an out-of-range integer with a C++ cast: undefined
  // behaviour for values out of range (found by the k8s fuzzer). Such a value is a type error.
  if (v->is_number_integer()) {
    const int64_t n = v->get<int64_t>();
    if (n >= INT32_MIN && n <= INT32_MAX && !(v->is_number_unsigned() && n < 0)) {
      return static_cast<int32_t>(n);
    }
  }
  throw json::type_error::create(302, std::string("\"") + key + "\" is not a 32-bit integer", v);
}

const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json* v = Find(j, key);
  if (!v) return kEmpty;
  if (!v->is_array()) throw json::type_error::create(302, std::string(key) + " is not an array", v);
  return *v;
}

const json& Obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  const json* v = Find(j, key);
  if (!v) return kEmpty;
  if (!v->is_object())
    throw json::type_error::create(302, std::string(key) + " is not an object", v);
  return *v;
}

StringPairs Pairs(const json& j, const char* key) {
  StringPairs out;
  for (const auto& [k, v] : Obj(j, key).items()) {
    out.emplace_back(k, v.is_null() ? std::string() : v.get<std::string>());
  }
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

ObjectMeta Meta(const json& j) {
  const json& m = Obj(j, "metadata");
  ObjectMeta meta;
  meta.name = Str(m, "name");
  meta.namespace_ = Str(m, "namespace");
  meta.resource_version = Str(m, "resourceVersion");
  meta.labels = Pairs(m, "labels");
  meta.annotations = Pairs(m, "annotations");
  return meta;
}

std::optional<ObjectRef> Ref(const json& j, const char* key) {
  const json* r = Find(j, key);
  if (!r) return std::nullopt;
  return ObjectRef{Str(*r, "kind"), Str(*r, "namespace"), Str(*r, "name")};
}

std::vector<ServicePort> Ports(const json& j) {
  std::vector<ServicePort> out;
  for (const auto& p : Arr(j, "ports")) {
    out.push_back({Str(p, "name"), Int(p, "port"), Str(p, "protocol")});
  }
  return out;
}

std::vector<Container> Containers(const json& spec, const json& status, const char* key,
                                  const char* status_key) {
  std::vector<Container> out;
  const json& statuses = Arr(status, status_key);
  for (const auto& c : Arr(spec, key)) {
    Container container{Str(c, "name"), Str(c, "image"), "", {}};
    for (const auto& s : statuses) {
      if (Str(s, "name") == container.name) {
        container.id = Str(s, "containerID");
        break;
      }
    }
    for (const auto& p : Arr(c, "ports")) {
      container.ports.push_back({Str(p, "name"), Int(p, "containerPort"), Str(p, "protocol")});
    }
    out.push_back(std::move(container));
  }
  return out;
}

Pod PodFrom(const json& j) {
  Pod pod;
  pod.meta = Meta(j);
  pod.uid = Str(Obj(j, "metadata"), "uid");
  const json& spec = Obj(j, "spec");
  const json& status = Obj(j, "status");
  pod.node_name = Str(spec, "nodeName");
  pod.pod_ip = Str(status, "podIP");
  pod.host_ip = Str(status, "hostIP");
  pod.phase = Str(status, "phase");
  pod.ready = "unknown";
  for (const auto& c : Arr(status, "conditions")) {
    if (Str(c, "type") == "Ready") {
      pod.ready = Lower(Str(c, "status"));
      break;
    }
  }
  for (const auto& ref : Arr(Obj(j, "metadata"), "ownerReferences")) {
    if (OptBool(ref, "controller").value_or(false)) {
      pod.controller_kind = Str(ref, "kind");
      pod.controller_name = Str(ref, "name");
      break;
    }
  }
  pod.containers = Containers(spec, status, "containers", "containerStatuses");
  pod.init_containers = Containers(spec, status, "initContainers", "initContainerStatuses");
  return pod;
}

Node NodeFrom(const json& j) {
  Node node;
  node.meta = Meta(j);
  node.provider_id = Str(Obj(j, "spec"), "providerID");
  const json& status = Obj(j, "status");
  for (const auto& a : Arr(status, "addresses")) {
    node.addresses.emplace_back(Str(a, "type"), Str(a, "address"));
  }
  for (const auto& c : Arr(status, "conditions")) {
    node.conditions.emplace_back(Str(c, "type"), Str(c, "status"));
  }
  node.kubelet_port = Int(Obj(Obj(status, "daemonEndpoints"), "kubeletEndpoint"), "Port");
  return node;
}

Service ServiceFrom(const json& j) {
  Service svc;
  svc.meta = Meta(j);
  const json& spec = Obj(j, "spec");
  svc.type = Str(spec, "type");
  svc.cluster_ip = Str(spec, "clusterIP");
  svc.external_name = Str(spec, "externalName");
  svc.ip_family_policy = Str(spec, "ipFamilyPolicy");
  const json& families = Arr(spec, "ipFamilies");
  if (!families.empty()) svc.first_ip_family = families[0].get<std::string>();
  svc.ports = Ports(spec);
  std::string ips;
  for (const auto& in : Arr(Obj(Obj(j, "status"), "loadBalancer"), "ingress")) {
    std::string ip = Str(in, "ip");
    if (ip.empty()) continue;
    if (!ips.empty()) ips += ',';
    ips += ip;
  }
  svc.load_balancer_ip = ips.empty() ? Str(spec, "loadBalancerIP") : ips;
  return svc;
}

std::vector<EndpointAddress> Addresses(const json& subset, const char* key) {
  std::vector<EndpointAddress> out;
  for (const auto& a : Arr(subset, key)) {
    out.push_back({Str(a, "ip"), Str(a, "hostname"), OptStr(a, "nodeName"), Ref(a, "targetRef")});
  }
  return out;
}

Endpoints EndpointsFrom(const json& j) {
  Endpoints eps;
  eps.meta = Meta(j);
  for (const auto& s : Arr(j, "subsets")) {
    eps.subsets.push_back({Addresses(s, "addresses"), Addresses(s, "notReadyAddresses"), Ports(s)});
  }
  return eps;
}

EndpointSlice SliceFrom(const json& j) {
  EndpointSlice slice;
  slice.meta = Meta(j);
  slice.address_type = Str(j, "addressType");
  for (const auto& p : Arr(j, "ports")) {
    SlicePort port{OptStr(p, "name"), OptStr(p, "protocol"), OptStr(p, "appProtocol"),
                   std::nullopt};
    if (Find(p, "port")) port.port = Int(p, "port");
    slice.ports.push_back(std::move(port));
  }
  for (const auto& e : Arr(j, "endpoints")) {
    SliceEndpoint ep;
    for (const auto& a : Arr(e, "addresses")) ep.addresses.push_back(a.get<std::string>());
    const json& cond = Obj(e, "conditions");
    ep.ready = OptBool(cond, "ready");
    ep.serving = OptBool(cond, "serving");
    ep.terminating = OptBool(cond, "terminating");
    ep.hostname = OptStr(e, "hostname");
    ep.node_name = OptStr(e, "nodeName");
    ep.zone = OptStr(e, "zone");
    ep.target = Ref(e, "targetRef");
    ep.topology = Pairs(e, "deprecatedTopology");
    slice.endpoints.push_back(std::move(ep));
  }
  return slice;
}

Ingress IngressFrom(const json& j) {
  Ingress ing;
  ing.meta = Meta(j);
  const json& spec = Obj(j, "spec");
  ing.class_name = OptStr(spec, "ingressClassName");
  for (const auto& tls : Arr(spec, "tls")) {
    for (const auto& h : Arr(tls, "hosts")) ing.tls_hosts.push_back(h.get<std::string>());
  }
  for (const auto& r : Arr(spec, "rules")) {
    IngressRule rule{Str(r, "host"), std::nullopt};
    if (const json* http = Find(r, "http")) {
      rule.paths.emplace();
      for (const auto& p : Arr(*http, "paths")) rule.paths->push_back(Str(p, "path"));
    }
    ing.rules.push_back(std::move(rule));
  }
  return ing;
}

template <typename T, typename F>
Result<T> Decode(const json& j, const char* kind, F from) {
  try {
    T out = from(j);
    if (out.meta.name.empty()) {
      return Status::InvalidArgument(std::string(kind) + " without metadata.name");
    }
    return out;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string(kind) + ": " + e.what());
  }
}

}  // namespace

std::string_view ObjectMeta::Label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

Result<Pod> DecodePod(const json& j) { return Decode<Pod>(j, "Pod", PodFrom); }
Result<Node> DecodeNode(const json& j) { return Decode<Node>(j, "Node", NodeFrom); }
Result<Service> DecodeService(const json& j) { return Decode<Service>(j, "Service", ServiceFrom); }
Result<Endpoints> DecodeEndpoints(const json& j) {
  return Decode<Endpoints>(j, "Endpoints", EndpointsFrom);
}
Result<EndpointSlice> DecodeEndpointSlice(const json& j) {
  return Decode<EndpointSlice>(j, "EndpointSlice", SliceFrom);
}
Result<Ingress> DecodeIngress(const json& j) { return Decode<Ingress>(j, "Ingress", IngressFrom); }

Result<ObjectMeta> DecodeMeta(const json& j) {
  try {
    return Meta(j);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("metadata: ") + e.what());
  }
}

}  // namespace petrel::scrape::discovery::k8s
