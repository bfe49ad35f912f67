// Kubernetes API payloads as the kubernetes discoverer receives them: a list body
// ({"items": [...]}) or a watch stream (one {"type", "object"} event a line), each object run
// through every decoder of scrape/discovery/kubernetes_objects.h and, when it decodes, through
// the target-group builders of kubernetes_targets.h with lookups into the objects decoded
// from the same input (so pods, nodes and services meet endpoints and slices).
//
// Oracles: nothing throws (a json exception escaping a decoder would kill the discovery
// thread); a decoded object has a name; its key is "namespace/name" or "name"; every label
// name a group carries is a valid Prometheus label name; every target has an __address__,
// except an ingress rule's without a host (Prometheus gives it an empty __address__ too, and
// the scrape manager drops such a target with "no address" unless relabeling sets one).
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "scrape/discovery/kubernetes_objects.h"
#include "scrape/discovery/kubernetes_targets.h"

namespace {

using namespace petrel::scrape::discovery;  // NOLINT
using nlohmann::json;

bool ValidLabelName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void CheckGroup(const TargetGroup& g, bool address_may_be_empty = false) {
  for (const auto& l : g.labels) FUZZ_CHECK(ValidLabelName(l.name));
  for (const auto& t : g.targets) {
    FUZZ_CHECK(t.Has("__address__") ||
               (address_may_be_empty && !t.Has("__meta_kubernetes_ingress_host")));
    for (const auto& l : t) FUZZ_CHECK(ValidLabelName(l.name));
  }
}

void CheckMeta(const k8s::ObjectMeta& m) {
  FUZZ_CHECK(!m.name.empty());
  std::string key = m.Key();
  FUZZ_CHECK(key == (m.namespace_.empty() ? m.name : m.namespace_ + "/" + m.name));
}

// The objects of one input, by key, for the lookups.
struct Cache {
  std::map<std::string, k8s::Pod> pods;
  std::map<std::string, k8s::Node> nodes;
  std::map<std::string, k8s::Service> services;
  std::vector<k8s::Endpoints> endpoints;
  std::vector<k8s::EndpointSlice> slices;
  std::vector<k8s::Ingress> ingresses;
};

// Every decoder on one object, as the stores would for each role.
void Decode(const json& obj, Cache& c) {
  if (auto p = k8s::DecodePod(obj); p.ok()) {
    CheckMeta(p->meta);
    c.pods[p->meta.Key()] = *p;
  }
  if (auto n = k8s::DecodeNode(obj); n.ok()) {
    CheckMeta(n->meta);
    c.nodes[n->meta.Key()] = *n;
  }
  if (auto s = k8s::DecodeService(obj); s.ok()) {
    CheckMeta(s->meta);
    c.services[s->meta.Key()] = *s;
  }
  if (auto e = k8s::DecodeEndpoints(obj); e.ok()) {
    CheckMeta(e->meta);
    c.endpoints.push_back(*e);
  }
  if (auto e = k8s::DecodeEndpointSlice(obj); e.ok()) {
    CheckMeta(e->meta);
    c.slices.push_back(*e);
  }
  if (auto i = k8s::DecodeIngress(obj); i.ok()) {
    CheckMeta(i->meta);
    c.ingresses.push_back(*i);
  }
}

// A watch event as the discoverer reads one: type and object, the metadata of any kind (for
// BOOKMARK and DELETED), the object itself for ADDED and MODIFIED.
void WatchEvent(const json& ev, Cache& c) {
  if (!ev.is_object()) return;
  auto type = ev.find("type");
  auto obj = ev.find("object");
  if (type == ev.end() || !type->is_string() || obj == ev.end() || !obj->is_object()) return;
  auto meta = k8s::DecodeMeta(*obj);
  if (!meta.ok()) return;
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "ADDED" || t == "MODIFIED") Decode(*obj, c);
}

void BuildGroups(const Cache& c) {
  k8s::Lookups lookups;
  lookups.node = [&](std::string_view name) -> const k8s::Node* {
    auto it = c.nodes.find(std::string(name));
    return it == c.nodes.end() ? nullptr : &it->second;
  };
  lookups.pod = [&](std::string_view ns, std::string_view name) -> const k8s::Pod* {
    auto it = c.pods.find(std::string(ns) + "/" + std::string(name));
    return it == c.pods.end() ? nullptr : &it->second;
  };
  lookups.service = [&](std::string_view ns, std::string_view name) -> const k8s::Service* {
    auto it = c.services.find(std::string(ns) + "/" + std::string(name));
    return it == c.services.end() ? nullptr : &it->second;
  };
  for (const auto& [key, node] : c.nodes) {
    if (auto g = k8s::NodeGroup(node)) CheckGroup(*g);
  }
  for (const auto& [key, pod] : c.pods) CheckGroup(k8s::PodGroup(pod, lookups));
  for (const auto& [key, svc] : c.services) CheckGroup(k8s::ServiceGroup(svc));
  for (const auto& e : c.endpoints) CheckGroup(k8s::EndpointsGroup(e, lookups));
  for (const auto& s : c.slices) CheckGroup(k8s::EndpointSliceGroup(s, lookups));
  for (const auto& i : c.ingresses) CheckGroup(k8s::IngressGroup(i), /*address_may_be_empty=*/true);
  // Without lookups (no node metadata, nothing cached), as a role whose stores hold keys only.
  k8s::Lookups none;
  for (const auto& e : c.endpoints) CheckGroup(k8s::EndpointsGroup(e, none));
  for (const auto& s : c.slices) CheckGroup(k8s::EndpointSliceGroup(s, none));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Cache cache;
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("items")) {
    // A list: items without kind, as the API server sends them.
    if (doc["items"].is_array()) {
      for (const auto& item : doc["items"]) Decode(item, cache);
    }
  } else if (doc.is_object() && doc.contains("type")) {
    WatchEvent(doc, cache);
  } else if (doc.is_object()) {
    Decode(doc, cache);  // a single object (GET of one resource)
  } else if (doc.is_discarded()) {
    // A watch stream: one event a line; a line that does not parse is skipped here (the
    // discoverer ends the stream there).
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) nl = text.size();
      json ev = json::parse(text.substr(start, nl - start), nullptr, false);
      WatchEvent(ev, cache);
      start = nl + 1;
    }
  }
  BuildGroups(cache);
  return 0;
}
