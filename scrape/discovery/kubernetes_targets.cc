#include "scrape/discovery/kubernetes_targets.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace petrel::scrape::discovery::k8s {
namespace {

constexpr std::string_view kPrefix = "__meta_kubernetes_";
constexpr std::string_view kAddress = "__address__";

std::string Meta(std::string_view suffix) { return std::string(kPrefix).append(suffix); }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Go's net.JoinHostPort: brackets hosts that contain a colon (IPv6).
std::string JoinHostPort(std::string_view host, int64_t port) {
  std::string p = std::to_string(port);
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]:" + p;
  return std::string(host) + ":" + p;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

// addObjectMetaLabels: <role>_name and the label/annotation families.
void AddObjectMeta(LabelsBuilder& b, const ObjectMeta& meta, std::string_view role) {
  std::string base = Meta(role);
  b.Set(base + "_name", meta.name);
  for (const auto& [k, v] : meta.labels) {
    std::string ln = SanitizeLabelName(k);
    b.Set(base + "_label_" + ln, v);
    b.Set(base + "_labelpresent_" + ln, "true");
  }
  for (const auto& [k, v] : meta.annotations) {
    std::string ln = SanitizeLabelName(k);
    b.Set(base + "_annotation_" + ln, v);
    b.Set(base + "_annotationpresent_" + ln, "true");
  }
}

// podLabels (without the namespace).
void AddPodLabels(LabelsBuilder& b, const Pod& pod) {
  b.Set(Meta("pod_ip"), pod.pod_ip);
  b.Set(Meta("pod_ready"), pod.ready);
  b.Set(Meta("pod_phase"), pod.phase);
  b.Set(Meta("pod_node_name"), pod.node_name);
  b.Set(Meta("pod_host_ip"), pod.host_ip);
  b.Set(Meta("pod_uid"), pod.uid);
  AddObjectMeta(b, pod.meta, "pod");
  if (!pod.controller_kind.empty()) b.Set(Meta("pod_controller_kind"), pod.controller_kind);
  if (!pod.controller_name.empty()) b.Set(Meta("pod_controller_name"), pod.controller_name);
}

// addNodeLabels: nothing when the name is unset or the node is not cached.
void AddNodeLabels(LabelsBuilder& b, const Lookups& lookups, const std::string* node_name) {
  if (!lookups.node || node_name == nullptr) return;
  if (const Node* node = lookups.node(*node_name)) AddObjectMeta(b, node->meta, "node");
}

void AddServiceLabels(LabelsBuilder& b, const Service& svc) {
  AddObjectMeta(b, svc.meta, "service");
}

// Every container, spec.containers first, with whether it is an init container.
template <typename F>
void ForEachContainer(const Pod& pod, F fn) {
  for (const auto& c : pod.containers) fn(c, false);
  for (const auto& c : pod.init_containers) fn(c, true);
}

Labels Build(const LabelsBuilder& b) { return b.Build(); }

// Tracks the pods an endpoints object points at, in first-seen order, with the ports that
// already produced a target, for the extra "unused container port" targets.
struct SeenPods {
  std::vector<std::pair<const Pod*, std::vector<int32_t>>> pods;
  std::vector<int32_t>& PortsOf(const Pod* pod) {
    for (auto& [p, ports] : pods) {
      if (p == pod) return ports;
    }
    pods.emplace_back(pod, std::vector<int32_t>{});
    return pods.back().second;
  }

  // A target per container port of each seen pod (with an IP) that no endpoint port used.
  void AddUnusedPortTargets(std::vector<Labels>& targets) const {
    for (const auto& entry : pods) {
      // Not a structured binding: clang 14 (the asan preset and the fuzz tree) cannot capture
      // one in the lambda below.
      const auto& pod = entry.first;
      const auto& used = entry.second;
      if (pod->pod_ip.empty()) continue;
      ForEachContainer(*pod, [&](const Container& c, bool init) {
        for (const auto& cport : c.ports) {
          if (std::find(used.begin(), used.end(), cport.number) != used.end()) continue;
          LabelsBuilder t;
          t.Set(kAddress, JoinHostPort(pod->pod_ip, cport.number));
          t.Set(Meta("pod_container_name"), c.name);
          t.Set(Meta("pod_container_image"), c.image);
          t.Set(Meta("pod_container_port_name"), cport.name);
          t.Set(Meta("pod_container_port_number"), std::to_string(cport.number));
          t.Set(Meta("pod_container_port_protocol"), cport.protocol);
          t.Set(Meta("pod_container_init"), Bool(init));
          AddPodLabels(t, *pod);
          targets.push_back(t.Build());
        }
      });
    }
  }
};

// The pod a targetRef names, when it is a Pod in the cache.
const Pod* ResolvePod(const Lookups& lookups, const std::optional<ObjectRef>& ref) {
  if (!ref || ref->kind != "Pod" || !lookups.pod) return nullptr;
  return lookups.pod(ref->namespace_, ref->name);
}

// Pod and container labels of an endpoint target whose port is `port`; the protocol label
// comes from the endpoint port (endpoints) or the container port (endpointslice).
void AddPodTargetLabels(LabelsBuilder& t, const Pod& pod, int32_t port,
                        const std::string* endpoint_protocol) {
  AddPodLabels(t, pod);
  bool found = false;
  ForEachContainer(pod, [&](const Container& c, bool init) {
    if (found) return;
    for (const auto& cport : c.ports) {
      if (cport.number != port) continue;
      t.Set(Meta("pod_container_name"), c.name);
      t.Set(Meta("pod_container_image"), c.image);
      t.Set(Meta("pod_container_port_name"), cport.name);
      t.Set(Meta("pod_container_port_number"), std::to_string(port));
      t.Set(Meta("pod_container_port_protocol"),
            endpoint_protocol ? *endpoint_protocol : cport.protocol);
      t.Set(Meta("pod_container_init"), Bool(init));
      found = true;
      return;
    }
  });
}

}  // namespace

std::string SanitizeLabelName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isalnum(c) || c == '_') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    out.push_back('_');
    // One '_' per UTF-8 sequence: skip its continuation bytes, as Go ranges over runes.
    if (c >= 0xC0) {
      while (i + 1 < name.size() && (static_cast<unsigned char>(name[i + 1]) & 0xC0) == 0x80) ++i;
    }
  }
  return out;
}

std::string NodeSource(std::string_view name) { return "node/" + std::string(name); }
std::string PodSource(std::string_view ns, std::string_view name) {
  return "pod/" + std::string(ns) + "/" + std::string(name);
}
std::string ServiceSource(std::string_view ns, std::string_view name) {
  return "svc/" + std::string(ns) + "/" + std::string(name);
}
std::string EndpointsSource(std::string_view ns, std::string_view name) {
  return "endpoints/" + std::string(ns) + "/" + std::string(name);
}
std::string EndpointSliceSource(std::string_view ns, std::string_view name) {
  return "endpointslice/" + std::string(ns) + "/" + std::string(name);
}
std::string IngressSource(std::string_view ns, std::string_view name) {
  return "ingress/" + std::string(ns) + "/" + std::string(name);
}

std::optional<TargetGroup> NodeGroup(const Node& node) {
  // First address of each type; the address by type priority.
  std::map<std::string, std::string> first;
  for (const auto& [type, addr] : node.addresses) first.emplace(type, addr);
  const std::string* addr = nullptr;
  for (const char* type :
       {"InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"}) {
    auto it = first.find(type);
    if (it != first.end()) {
      addr = &it->second;
      break;
    }
  }
  if (addr == nullptr) return std::nullopt;

  TargetGroup tg{NodeSource(node.meta.name), {}, {}};
  LabelsBuilder g;
  g.Set(Meta("node_provider_id"), node.provider_id);
  AddObjectMeta(g, node.meta, "node");
  for (const auto& [type, status] : node.conditions) {
    g.Set(Meta("node_condition_") + SanitizeLabelName(Lower(type)), Lower(status));
  }
  tg.labels = Build(g);

  LabelsBuilder t;
  t.Set(kAddress, JoinHostPort(*addr, node.kubelet_port));
  t.Set("instance", node.meta.name);
  for (const auto& [type, a] : first) {
    t.Set(SanitizeLabelName(Meta("node_address_") + type), a);
  }
  tg.targets.push_back(t.Build());
  return tg;
}

TargetGroup PodGroup(const Pod& pod, const Lookups& lookups) {
  TargetGroup tg{PodSource(pod.meta.namespace_, pod.meta.name), {}, {}};
  if (pod.pod_ip.empty()) return tg;
  LabelsBuilder g;
  AddPodLabels(g, pod);
  g.Set(Meta("namespace"), pod.meta.namespace_);
  // Go's addNodeLabels: no node labels (but the targets) when the node is not cached.
  AddNodeLabels(g, lookups, &pod.node_name);
  tg.labels = Build(g);

  ForEachContainer(pod, [&](const Container& c, bool init) {
    if (c.ports.empty()) {
      LabelsBuilder t;
      t.Set(kAddress, pod.pod_ip);
      t.Set(Meta("pod_container_name"), c.name);
      t.Set(Meta("pod_container_id"), c.id);
      t.Set(Meta("pod_container_image"), c.image);
      t.Set(Meta("pod_container_init"), Bool(init));
      tg.targets.push_back(t.Build());
      return;
    }
    for (const auto& port : c.ports) {
      LabelsBuilder t;
      t.Set(kAddress, JoinHostPort(pod.pod_ip, port.number));
      t.Set(Meta("pod_container_name"), c.name);
      t.Set(Meta("pod_container_id"), c.id);
      t.Set(Meta("pod_container_image"), c.image);
      t.Set(Meta("pod_container_port_number"), std::to_string(port.number));
      t.Set(Meta("pod_container_port_name"), port.name);
      t.Set(Meta("pod_container_port_protocol"), port.protocol);
      t.Set(Meta("pod_container_init"), Bool(init));
      tg.targets.push_back(t.Build());
    }
  });
  return tg;
}

TargetGroup ServiceGroup(const Service& svc) {
  TargetGroup tg{ServiceSource(svc.meta.namespace_, svc.meta.name), {}, {}};
  LabelsBuilder g;
  AddServiceLabels(g, svc);
  g.Set(Meta("namespace"), svc.meta.namespace_);
  tg.labels = Build(g);
  for (const auto& port : svc.ports) {
    LabelsBuilder t;
    t.Set(kAddress, JoinHostPort(svc.meta.name + "." + svc.meta.namespace_ + ".svc", port.port));
    t.Set(Meta("service_port_name"), port.name);
    t.Set(Meta("service_port_number"), std::to_string(port.port));
    t.Set(Meta("service_port_protocol"), port.protocol);
    t.Set(Meta("service_type"), svc.type);
    if (svc.type == "ExternalName") {
      t.Set(Meta("service_external_name"), svc.external_name);
    } else {
      t.Set(Meta("service_cluster_ip"), svc.cluster_ip);
    }
    if (svc.type == "LoadBalancer") t.Set(Meta("service_loadbalancer_ip"), svc.load_balancer_ip);
    tg.targets.push_back(t.Build());
  }
  return tg;
}

TargetGroup EndpointsGroup(const Endpoints& eps, const Lookups& lookups) {
  const std::string& ns = eps.meta.namespace_;
  TargetGroup tg{EndpointsSource(ns, eps.meta.name), {}, {}};
  LabelsBuilder g;
  g.Set(Meta("namespace"), ns);
  if (lookups.service) {
    if (const Service* svc = lookups.service(ns, eps.meta.name)) AddServiceLabels(g, *svc);
  }
  AddObjectMeta(g, eps.meta, "endpoints");
  tg.labels = Build(g);

  SeenPods seen;
  auto add = [&](const EndpointAddress& addr, const ServicePort& port, bool ready) {
    LabelsBuilder t;
    t.Set(kAddress, JoinHostPort(addr.ip, port.port));
    t.Set(Meta("endpoint_port_name"), port.name);
    t.Set(Meta("endpoint_port_protocol"), port.protocol);
    t.Set(Meta("endpoint_ready"), Bool(ready));
    if (addr.target) {
      t.Set(Meta("endpoint_address_target_kind"), addr.target->kind);
      t.Set(Meta("endpoint_address_target_name"), addr.target->name);
    }
    if (addr.node_name) t.Set(Meta("endpoint_node_name"), *addr.node_name);
    if (!addr.hostname.empty()) t.Set(Meta("endpoint_hostname"), addr.hostname);
    if (addr.target && addr.target->kind == "Node") {
      AddNodeLabels(t, lookups, &addr.target->name);
    } else {
      AddNodeLabels(t, lookups, addr.node_name ? &*addr.node_name : nullptr);
    }
    if (const Pod* pod = ResolvePod(lookups, addr.target)) {
      AddPodTargetLabels(t, *pod, port.port, &port.protocol);
      seen.PortsOf(pod).push_back(port.port);
    }
    tg.targets.push_back(t.Build());
  };
  for (const auto& subset : eps.subsets) {
    for (const auto& port : subset.ports) {
      for (const auto& addr : subset.addresses) add(addr, port, true);
      for (const auto& addr : subset.not_ready_addresses) add(addr, port, false);
    }
  }
  seen.AddUnusedPortTargets(tg.targets);
  return tg;
}

TargetGroup EndpointSliceGroup(const EndpointSlice& slice, const Lookups& lookups) {
  const std::string& ns = slice.meta.namespace_;
  TargetGroup tg{EndpointSliceSource(ns, slice.meta.name), {}, {}};
  LabelsBuilder g;
  g.Set(Meta("namespace"), ns);
  g.Set(Meta("endpointslice_address_type"), slice.address_type);
  AddObjectMeta(g, slice.meta, "endpointslice");
  const Service* svc = nullptr;
  std::string_view svc_name = slice.meta.Label("kubernetes.io/service-name");
  if (lookups.service && !svc_name.empty()) svc = lookups.service(ns, svc_name);
  if (svc != nullptr) AddServiceLabels(g, *svc);
  tg.labels = Build(g);

  // A dual-stack service's slices of its secondary family give no targets.
  if (svc != nullptr &&
      (svc->ip_family_policy == "PreferDualStack" || svc->ip_family_policy == "RequireDualStack") &&
      slice.address_type != svc->first_ip_family) {
    return tg;
  }

  SeenPods seen;
  auto add = [&](const std::string& addr, const SliceEndpoint& ep, const SlicePort& port) {
    LabelsBuilder t;
    t.Set(kAddress, port.port ? JoinHostPort(addr, *port.port) : addr);
    if (port.name) t.Set(Meta("endpointslice_port_name"), *port.name);
    if (port.protocol) t.Set(Meta("endpointslice_port_protocol"), *port.protocol);
    if (port.port) t.Set(Meta("endpointslice_port"), std::to_string(*port.port));
    if (port.app_protocol) t.Set(Meta("endpointslice_port_app_protocol"), *port.app_protocol);
    if (ep.ready) t.Set(Meta("endpointslice_endpoint_conditions_ready"), Bool(*ep.ready));
    if (ep.serving) t.Set(Meta("endpointslice_endpoint_conditions_serving"), Bool(*ep.serving));
    if (ep.terminating) {
      t.Set(Meta("endpointslice_endpoint_conditions_terminating"), Bool(*ep.terminating));
    }
    if (ep.hostname) t.Set(Meta("endpointslice_endpoint_hostname"), *ep.hostname);
    if (ep.target) {
      t.Set(Meta("endpointslice_address_target_kind"), ep.target->kind);
      t.Set(Meta("endpointslice_address_target_name"), ep.target->name);
    }
    if (ep.node_name) t.Set(Meta("endpointslice_endpoint_node_name"), *ep.node_name);
    if (ep.zone) t.Set(Meta("endpointslice_endpoint_zone"), *ep.zone);
    for (const auto& [k, v] : ep.topology) {
      std::string ln = SanitizeLabelName(k);
      t.Set(Meta("endpointslice_endpoint_topology_") + ln, v);
      t.Set(Meta("endpointslice_endpoint_topology_present_") + ln, "true");
    }
    if (ep.target && ep.target->kind == "Node") {
      AddNodeLabels(t, lookups, &ep.target->name);
    } else {
      AddNodeLabels(t, lookups, ep.node_name ? &*ep.node_name : nullptr);
    }
    if (const Pod* pod = ResolvePod(lookups, ep.target)) {
      std::vector<int32_t>& used = seen.PortsOf(pod);
      if (port.port) {
        AddPodTargetLabels(t, *pod, *port.port, nullptr);
        used.push_back(*port.port);
      } else {
        AddPodLabels(t, *pod);
      }
    }
    tg.targets.push_back(t.Build());
  };
  for (const auto& ep : slice.endpoints) {
    for (const auto& port : slice.ports) {
      for (const auto& addr : ep.addresses) add(addr, ep, port);
    }
  }
  seen.AddUnusedPortTargets(tg.targets);
  return tg;
}

namespace {

// matchesHostnamePattern: exact, or "*.rest" covering exactly one leading label.
bool MatchesHostPattern(std::string_view pattern, std::string_view host) {
  if (pattern == host) return true;
  if (pattern == "*") return host.find('.') == std::string_view::npos;
  if (pattern.substr(0, 2) != "*.") return false;
  size_t dot = host.find('.');
  if (dot == std::string_view::npos) return false;
  return pattern.substr(1) == host.substr(dot);
}

}  // namespace

TargetGroup IngressGroup(const Ingress& ingress) {
  TargetGroup tg{IngressSource(ingress.meta.namespace_, ingress.meta.name), {}, {}};
  LabelsBuilder g;
  AddObjectMeta(g, ingress.meta, "ingress");
  g.Set(Meta("namespace"), ingress.meta.namespace_);
  if (ingress.class_name) g.Set(Meta("ingress_class_name"), *ingress.class_name);
  tg.labels = Build(g);
  for (const auto& rule : ingress.rules) {
    std::string scheme = "http";
    for (const auto& pattern : ingress.tls_hosts) {
      if (MatchesHostPattern(pattern, rule.host)) {
        scheme = "https";
        break;
      }
    }
    std::vector<std::string> paths = rule.paths ? *rule.paths : std::vector<std::string>{"/"};
    for (auto& path : paths) {
      LabelsBuilder t;
      t.Set(kAddress, rule.host);
      t.Set(Meta("ingress_scheme"), scheme);
      t.Set(Meta("ingress_host"), rule.host);
      t.Set(Meta("ingress_path"), path.empty() ? "/" : path);
      tg.targets.push_back(t.Build());
    }
  }
  return tg;
}

}  // namespace petrel::scrape::discovery::k8s
