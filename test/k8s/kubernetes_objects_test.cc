// Target groups from the fixture objects. Every expectation below was written by hand from
// Prometheus's discovery/kubernetes/*.go (v3.14: node.go, pod.go, service.go, endpoints.go,
// endpointslice.go, ingress.go) and shared/reference/kubernetes-sd.md, not by running petrel.
#include "scrape/discovery/kubernetes_objects.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "scrape/discovery/kubernetes_targets.h"
#include "test/k8s/fake_apiserver.h"

namespace petrel::scrape::discovery::k8s {
namespace {

using nlohmann::json;
using petrel::k8s_testing::ReadFixture;

const std::string P = "__meta_kubernetes_";

json Item(const std::string& list, const std::string& name) {
  json all = ReadFixture(list);
  for (const auto& item : all["items"]) {
    if (item["metadata"]["name"] == name) return item;
  }
  FAIL("no " << name << " in " << list);
  return {};
}

template <typename T>
T Must(Result<T> r) {
  REQUIRE(r.ok());
  return std::move(*r);
}

// Adds to base; returns the merged, sorted set.
Labels With(std::vector<Label> base, const std::vector<Label>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return Labels::FromUnsorted(std::move(base));
}

// podLabels() of a web pod from podlist.json (all share labels, annotations and owner).
std::vector<Label> WebPodLabels(const std::string& name, const std::string& uid,
                                const std::string& ip, const std::string& host_ip,
                                const std::string& node, const std::string& ready) {
  return {
      {P + "pod_name", name},
      {P + "pod_ip", ip},
      {P + "pod_ready", ready},
      {P + "pod_phase", "Running"},
      {P + "pod_node_name", node},
      {P + "pod_host_ip", host_ip},
      {P + "pod_uid", uid},
      {P + "pod_controller_kind", "ReplicaSet"},
      {P + "pod_controller_name", "web-7d9f8b6c5d"},
      {P + "pod_label_app_kubernetes_io_name", "web"},
      {P + "pod_labelpresent_app_kubernetes_io_name", "true"},
      {P + "pod_label_app_kubernetes_io_component", "frontend"},
      {P + "pod_labelpresent_app_kubernetes_io_component", "true"},
      {P + "pod_label_pod_template_hash", "7d9f8b6c5d"},
      {P + "pod_labelpresent_pod_template_hash", "true"},
      {P + "pod_annotation_prometheus_io_scrape", "true"},
      {P + "pod_annotationpresent_prometheus_io_scrape", "true"},
      {P + "pod_annotation_prometheus_io_port", "9102"},
      {P + "pod_annotationpresent_prometheus_io_port", "true"},
      {P + "pod_annotation_prometheus_io_path", "/metrics"},
      {P + "pod_annotationpresent_prometheus_io_path", "true"},
      {P + "pod_annotation_kubectl_kubernetes_io_default_container", "app"},
      {P + "pod_annotationpresent_kubectl_kubernetes_io_default_container", "true"},
  };
}

std::vector<Label> X2x9k() {
  return WebPodLabels("web-7d9f8b6c5d-x2x9k", "5b0c6f2e-8a1d-4c3e-9f7a-2d4b6e8c0a11", "127.0.0.11",
                      "127.0.0.2", "edge-node-1", "true");
}
std::vector<Label> Q4m7z() {
  return WebPodLabels("web-7d9f8b6c5d-q4m7z", "9e21d7c4-3b5f-4a8e-b1d2-7c6f5e4d3a22", "127.0.0.12",
                      "127.0.0.4", "edge-node-2", "true");
}
std::vector<Label> H8n2w() {
  return WebPodLabels("web-7d9f8b6c5d-h8n2w", "c3f8a1b2-6d4e-4f70-8a9b-1e2d3c4b5a33", "127.0.0.13",
                      "127.0.0.2", "edge-node-1", "false");
}

const std::string kWebImage = "registry.example.test/shop/web:2.7.0";
const std::string kEnvoyImage = "registry.example.test/envoyproxy/envoy:v1.31.2";
const std::string kMigrateImage = "registry.example.test/shop/migrate:1.4.2";

// Container labels without the id (endpoints / endpointslice form).
std::vector<Label> ContainerPort(const std::string& container, const std::string& image,
                                 const std::string& port_name, int port,
                                 const std::string& protocol, bool init) {
  return {{P + "pod_container_name", container},
          {P + "pod_container_image", image},
          {P + "pod_container_port_name", port_name},
          {P + "pod_container_port_number", std::to_string(port)},
          {P + "pod_container_port_protocol", protocol},
          {P + "pod_container_init", init ? "true" : "false"}};
}

// The "unused container port" targets of one web pod: envoy 9901/5353 and migrate 6060.
void AddExtraPortTargets(std::vector<Labels>& out, const std::string& ip,
                         const std::vector<Label>& pod) {
  out.push_back(With(pod, With({{"__address__", ip + ":9901"}},
                               ContainerPort("envoy", kEnvoyImage, "admin", 9901, "TCP", false))
                              .items()));
  out.push_back(With(pod, With({{"__address__", ip + ":5353"}},
                               ContainerPort("envoy", kEnvoyImage, "dns", 5353, "UDP", false))
                              .items()));
  out.push_back(With(pod, With({{"__address__", ip + ":6060"}},
                               ContainerPort("migrate", kMigrateImage, "debug", 6060, "TCP", true))
                              .items()));
}

TEST_CASE("pod role: one target per container port, a portless container, init containers",
          "[k8s]") {
  Pod pod = Must(DecodePod(ReadFixture("pod.json")));
  TargetGroup tg = PodGroup(pod, {});
  CHECK(tg.source == "pod/shop/web-7d9f8b6c5d-x2x9k");
  CHECK(tg.labels == With(X2x9k(), {{P + "namespace", "shop"}}));

  auto target = [](const std::string& addr, const std::string& container, const std::string& image,
                   const std::string& id, std::vector<Label> port, bool init) {
    std::vector<Label> l = {{"__address__", addr},
                            {P + "pod_container_name", container},
                            {P + "pod_container_image", image},
                            {P + "pod_container_id", "containerd://" + std::string(64, id[0])},
                            {P + "pod_container_init", init ? "true" : "false"}};
    return With(l, port);
  };
  auto port = [](const std::string& name, int n, const std::string& proto) {
    return std::vector<Label>{{P + "pod_container_port_name", name},
                              {P + "pod_container_port_number", std::to_string(n)},
                              {P + "pod_container_port_protocol", proto}};
  };
  std::vector<Labels> want = {
      target("127.0.0.11:8080", "app", kWebImage, "2", port("http", 8080, "TCP"), false),
      target("127.0.0.11:9102", "app", kWebImage, "2", port("metrics", 9102, "TCP"), false),
      target("127.0.0.11:9901", "envoy", kEnvoyImage, "3", port("admin", 9901, "TCP"), false),
      target("127.0.0.11:5353", "envoy", kEnvoyImage, "3", port("dns", 5353, "UDP"), false),
      target("127.0.0.11", "log-shipper", "registry.example.test/fluent/fluent-bit:3.1.9", "4", {},
             false),
      target("127.0.0.11:6060", "migrate", kMigrateImage, "1", port("debug", 6060, "TCP"), true),
  };
  CHECK(tg.targets == want);
}

TEST_CASE("pod role: a pod without an IP gives an empty group", "[k8s]") {
  Pod pod = Must(DecodePod(ReadFixture("pod-pending.json")));
  TargetGroup tg = PodGroup(pod, {});
  CHECK(tg.source == "pod/shop/" + pod.meta.name);
  CHECK(tg.targets.empty());
  CHECK(tg.labels.empty());
}

TEST_CASE("pod role: attach_metadata.node adds node meta, an uncached node adds none", "[k8s]") {
  Pod pod = Must(DecodePod(ReadFixture("pod.json")));
  Node node = Must(DecodeNode(Item("nodelist.json", "edge-node-1")));
  Lookups with_node;
  with_node.node = [&](std::string_view name) { return name == "edge-node-1" ? &node : nullptr; };
  TargetGroup tg = PodGroup(pod, with_node);
  CHECK(tg.labels.Get(P + "node_name") == "edge-node-1");
  CHECK(tg.labels.Get(P + "node_label_topology_kubernetes_io_zone") == "eu-west-1a");
  CHECK(tg.labels.Get(P + "node_labelpresent_node_role_kubernetes_io_edge") == "true");
  CHECK(tg.labels.Get(P + "node_annotation_node_alpha_kubernetes_io_ttl") == "0");
  CHECK(tg.targets.size() == 6);

  // pod.go buildPod + addNodeLabels: the node labels are skipped, the targets stay.
  Lookups no_node;
  no_node.node = [](std::string_view) { return nullptr; };
  TargetGroup without = PodGroup(pod, no_node);
  CHECK(without.targets == PodGroup(pod, {}).targets);
  CHECK(without.labels == PodGroup(pod, {}).labels);
}

TEST_CASE("node role: address priority, address labels, conditions, instance", "[k8s]") {
  Node n1 = Must(DecodeNode(Item("nodelist.json", "edge-node-1")));
  auto tg = NodeGroup(n1);
  REQUIRE(tg);
  CHECK(tg->source == "node/edge-node-1");
  Labels want_group = {
      {P + "node_name", "edge-node-1"},
      {P + "node_provider_id", "k3s://edge-node-1"},
      {P + "node_label_beta_kubernetes_io_arch", "amd64"},
      {P + "node_labelpresent_beta_kubernetes_io_arch", "true"},
      {P + "node_label_beta_kubernetes_io_os", "linux"},
      {P + "node_labelpresent_beta_kubernetes_io_os", "true"},
      {P + "node_label_kubernetes_io_arch", "amd64"},
      {P + "node_labelpresent_kubernetes_io_arch", "true"},
      {P + "node_label_kubernetes_io_hostname", "edge-node-1"},
      {P + "node_labelpresent_kubernetes_io_hostname", "true"},
      {P + "node_label_kubernetes_io_os", "linux"},
      {P + "node_labelpresent_kubernetes_io_os", "true"},
      // node-role.kubernetes.io/edge: "" -- an empty value is an absent label; present stays.
      {P + "node_labelpresent_node_role_kubernetes_io_edge", "true"},
      {P + "node_label_topology_kubernetes_io_region", "eu-west"},
      {P + "node_labelpresent_topology_kubernetes_io_region", "true"},
      {P + "node_label_topology_kubernetes_io_zone", "eu-west-1a"},
      {P + "node_labelpresent_topology_kubernetes_io_zone", "true"},
      {P + "node_annotation_node_alpha_kubernetes_io_ttl", "0"},
      {P + "node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"},
      {P + "node_annotation_volumes_kubernetes_io_controller_managed_attach_detach", "true"},
      {P + "node_annotationpresent_volumes_kubernetes_io_controller_managed_attach_detach", "true"},
      {P + "node_condition_memorypressure", "false"},
      {P + "node_condition_diskpressure", "false"},
      {P + "node_condition_pidpressure", "false"},
      {P + "node_condition_ready", "true"},
  };
  CHECK(tg->labels == want_group);
  CHECK(tg->targets == std::vector<Labels>{Labels{
                           {"__address__", "127.0.0.2:10250"},
                           {"instance", "edge-node-1"},
                           {P + "node_address_InternalIP", "127.0.0.2"},
                           {P + "node_address_ExternalIP", "127.0.0.3"},
                           {P + "node_address_Hostname", "edge-node-1"},
                       }});

  Node n2 = Must(DecodeNode(Item("nodelist.json", "edge-node-2")));
  auto tg2 = NodeGroup(n2);
  REQUIRE(tg2);
  CHECK(tg2->labels.Get(P + "node_condition_ready") == "unknown");
  CHECK(tg2->targets == std::vector<Labels>{Labels{
                            {"__address__", "127.0.0.4:10250"},
                            {"instance", "edge-node-2"},
                            {P + "node_address_InternalIP", "127.0.0.4"},
                        }});

  SECTION("no InternalIP: ExternalIP wins over Hostname; no address: no group") {
    n1.addresses = {{"Hostname", "h"}, {"ExternalIP", "127.0.0.9"}};
    CHECK(NodeGroup(n1)->targets[0].Get("__address__") == "127.0.0.9:10250");
    n1.addresses.clear();
    CHECK_FALSE(NodeGroup(n1));
  }
}

TEST_CASE("service role: ClusterIP, headless and ExternalName services", "[k8s]") {
  std::vector<Label> web_meta = {
      {P + "namespace", "shop"},
      {P + "service_name", "web"},
      {P + "service_label_app_kubernetes_io_name", "web"},
      {P + "service_labelpresent_app_kubernetes_io_name", "true"},
      {P + "service_label_app_kubernetes_io_part_of", "shop"},
      {P + "service_labelpresent_app_kubernetes_io_part_of", "true"},
      {P + "service_annotation_prometheus_io_scrape", "true"},
      {P + "service_annotationpresent_prometheus_io_scrape", "true"},
      {P + "service_annotation_prometheus_io_port", "9102"},
      {P + "service_annotationpresent_prometheus_io_port", "true"},
  };
  TargetGroup web = ServiceGroup(Must(DecodeService(Item("servicelist.json", "web"))));
  CHECK(web.source == "svc/shop/web");
  CHECK(web.labels == Labels::FromUnsorted(web_meta));
  auto port = [](const std::string& addr, const std::string& name, int n,
                 std::vector<Label> extra) {
    return With({{"__address__", addr},
                 {P + "service_port_name", name},
                 {P + "service_port_number", std::to_string(n)},
                 {P + "service_port_protocol", "TCP"}},
                extra);
  };
  std::vector<Label> cluster = {{P + "service_type", "ClusterIP"},
                                {P + "service_cluster_ip", "127.0.96.10"}};
  CHECK(web.targets == std::vector<Labels>{port("web.shop.svc:80", "http", 80, cluster),
                                           port("web.shop.svc:9102", "metrics", 9102, cluster)});

  TargetGroup db = ServiceGroup(Must(DecodeService(Item("servicelist.json", "db"))));
  std::vector<Label> headless = {{P + "service_type", "ClusterIP"},
                                 {P + "service_cluster_ip", "None"}};
  CHECK(db.targets == std::vector<Labels>{port("db.shop.svc:5432", "postgres", 5432, headless),
                                          port("db.shop.svc:9187", "exporter", 9187, headless)});

  TargetGroup ext = ServiceGroup(Must(DecodeService(Item("servicelist.json", "legacy-billing"))));
  CHECK(ext.labels == Labels{{P + "namespace", "shop"}, {P + "service_name", "legacy-billing"}});
  CHECK(ext.targets ==
        std::vector<Labels>{port("legacy-billing.shop.svc:443", "https", 443,
                                 {{P + "service_type", "ExternalName"},
                                  {P + "service_external_name", "billing.legacy.example.test"}})});

  SECTION("LoadBalancer: ingress IPs joined, else spec.loadBalancerIP") {
    json j = Item("servicelist.json", "web");
    j["spec"]["type"] = "LoadBalancer";
    j["spec"]["loadBalancerIP"] = "127.0.0.60";
    CHECK(ServiceGroup(Must(DecodeService(j))).targets[0].Get(P + "service_loadbalancer_ip") ==
          "127.0.0.60");
    j["status"]["loadBalancer"]["ingress"] =
        json::array({{{"ip", "127.0.0.61"}}, {{"ip", "127.0.0.62"}}});
    CHECK(ServiceGroup(Must(DecodeService(j))).targets[0].Get(P + "service_loadbalancer_ip") ==
          "127.0.0.61,127.0.0.62");
  }
}

struct Cache {
  std::vector<Pod> pods;
  std::vector<Service> services;
  Lookups lookups() const {
    Lookups l;
    l.pod = [this](std::string_view ns, std::string_view name) -> const Pod* {
      for (const auto& p : pods) {
        if (p.meta.namespace_ == ns && p.meta.name == name) return &p;
      }
      return nullptr;
    };
    l.service = [this](std::string_view ns, std::string_view name) -> const Service* {
      for (const auto& s : services) {
        if (s.meta.namespace_ == ns && s.meta.name == name) return &s;
      }
      return nullptr;
    };
    return l;
  }
};

Cache FixtureCache() {
  Cache c;
  json pods = ReadFixture("podlist.json");
  json services = ReadFixture("servicelist.json");
  for (const auto& item : pods["items"]) c.pods.push_back(Must(DecodePod(item)));
  for (const auto& item : services["items"]) {
    c.services.push_back(Must(DecodeService(item)));
  }
  return c;
}

const std::vector<Label> kWebServiceMeta = {
    {P + "service_name", "web"},
    {P + "service_label_app_kubernetes_io_name", "web"},
    {P + "service_labelpresent_app_kubernetes_io_name", "true"},
    {P + "service_label_app_kubernetes_io_part_of", "shop"},
    {P + "service_labelpresent_app_kubernetes_io_part_of", "true"},
    {P + "service_annotation_prometheus_io_scrape", "true"},
    {P + "service_annotationpresent_prometheus_io_scrape", "true"},
    {P + "service_annotation_prometheus_io_port", "9102"},
    {P + "service_annotationpresent_prometheus_io_port", "true"},
};

TEST_CASE("endpoints role: service meta, pod and container labels, extra pod ports", "[k8s]") {
  Cache cache = FixtureCache();
  Endpoints eps = Must(DecodeEndpoints(Item("endpointslist.json", "web")));
  TargetGroup tg = EndpointsGroup(eps, cache.lookups());
  CHECK(tg.source == "endpoints/shop/web");
  CHECK(tg.labels ==
        With(kWebServiceMeta,
             {{P + "namespace", "shop"},
              {P + "endpoints_name", "web"},
              {P + "endpoints_label_app_kubernetes_io_name", "web"},
              {P + "endpoints_labelpresent_app_kubernetes_io_name", "true"},
              {P + "endpoints_label_app_kubernetes_io_part_of", "shop"},
              {P + "endpoints_labelpresent_app_kubernetes_io_part_of", "true"},
              {P + "endpoints_annotation_endpoints_kubernetes_io_last_change_trigger_time",
               "2026-11-20T09:20:41Z"},
              {P + "endpoints_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time",
               "true"}}));

  auto ep = [](const std::string& ip, int port, const std::string& port_name, bool ready,
               const std::string& pod_name, const std::string& node, std::vector<Label> pod) {
    std::vector<Label> l = {{"__address__", ip + ":" + std::to_string(port)},
                            {P + "endpoint_port_name", port_name},
                            {P + "endpoint_port_protocol", "TCP"},
                            {P + "endpoint_ready", ready ? "true" : "false"},
                            {P + "endpoint_address_target_kind", "Pod"},
                            {P + "endpoint_address_target_name", pod_name},
                            {P + "endpoint_node_name", node}};
    auto c = ContainerPort("app", kWebImage, port_name, port, "TCP", false);
    l.insert(l.end(), c.begin(), c.end());
    return With(l, pod);
  };
  std::vector<Labels> want = {
      ep("127.0.0.11", 9102, "metrics", true, "web-7d9f8b6c5d-x2x9k", "edge-node-1", X2x9k()),
      ep("127.0.0.12", 9102, "metrics", true, "web-7d9f8b6c5d-q4m7z", "edge-node-2", Q4m7z()),
      ep("127.0.0.13", 9102, "metrics", false, "web-7d9f8b6c5d-h8n2w", "edge-node-1", H8n2w()),
      ep("127.0.0.11", 8080, "http", true, "web-7d9f8b6c5d-x2x9k", "edge-node-1", X2x9k()),
      ep("127.0.0.12", 8080, "http", true, "web-7d9f8b6c5d-q4m7z", "edge-node-2", Q4m7z()),
      ep("127.0.0.13", 8080, "http", false, "web-7d9f8b6c5d-h8n2w", "edge-node-1", H8n2w()),
  };
  AddExtraPortTargets(want, "127.0.0.11", X2x9k());
  AddExtraPortTargets(want, "127.0.0.12", Q4m7z());
  AddExtraPortTargets(want, "127.0.0.13", H8n2w());
  CHECK(tg.targets == want);

  SECTION("without the service and pods cached: only endpoint labels") {
    TargetGroup bare = EndpointsGroup(eps, {});
    CHECK_FALSE(bare.labels.Has(P + "service_name"));
    REQUIRE(bare.targets.size() == 6);
    CHECK(bare.targets[0] == Labels{{"__address__", "127.0.0.11:9102"},
                                    {P + "endpoint_port_name", "metrics"},
                                    {P + "endpoint_port_protocol", "TCP"},
                                    {P + "endpoint_ready", "true"},
                                    {P + "endpoint_address_target_kind", "Pod"},
                                    {P + "endpoint_address_target_name", "web-7d9f8b6c5d-x2x9k"},
                                    {P + "endpoint_node_name", "edge-node-1"}});
  }
}

TEST_CASE("endpointslice role: conditions, zone, app protocol, vanished pod, extra ports",
          "[k8s]") {
  Cache cache = FixtureCache();
  EndpointSlice slice = Must(DecodeEndpointSlice(Item("endpointslicelist.json", "web-8kq2x")));
  TargetGroup tg = EndpointSliceGroup(slice, cache.lookups());
  CHECK(tg.source == "endpointslice/shop/web-8kq2x");
  CHECK(tg.labels ==
        With(kWebServiceMeta,
             {{P + "namespace", "shop"},
              {P + "endpointslice_address_type", "IPv4"},
              {P + "endpointslice_name", "web-8kq2x"},
              {P + "endpointslice_label_app_kubernetes_io_name", "web"},
              {P + "endpointslice_labelpresent_app_kubernetes_io_name", "true"},
              {P + "endpointslice_label_app_kubernetes_io_part_of", "shop"},
              {P + "endpointslice_labelpresent_app_kubernetes_io_part_of", "true"},
              {P + "endpointslice_label_endpointslice_kubernetes_io_managed_by",
               "endpointslice-controller.k8s.io"},
              {P + "endpointslice_labelpresent_endpointslice_kubernetes_io_managed_by", "true"},
              {P + "endpointslice_label_kubernetes_io_service_name", "web"},
              {P + "endpointslice_labelpresent_kubernetes_io_service_name", "true"},
              {P + "endpointslice_annotation_endpoints_kubernetes_io_last_change_trigger_time",
               "2026-11-20T09:20:41Z"},
              {P + "endpointslice_annotationpresent_endpoints_kubernetes_io_last_change_trigger_"
                   "time",
               "true"}}));

  auto ep = [](const std::string& ip, int port, const std::string& port_name, bool ready,
               bool serving, bool terminating, const std::string& pod_name, const std::string& node,
               const std::string& zone, std::optional<std::vector<Label>> pod) {
    std::vector<Label> l = {
        {"__address__", ip + ":" + std::to_string(port)},
        {P + "endpointslice_port_name", port_name},
        {P + "endpointslice_port_protocol", "TCP"},
        {P + "endpointslice_port", std::to_string(port)},
        {P + "endpointslice_endpoint_conditions_ready", ready ? "true" : "false"},
        {P + "endpointslice_endpoint_conditions_serving", serving ? "true" : "false"},
        {P + "endpointslice_endpoint_conditions_terminating", terminating ? "true" : "false"},
        {P + "endpointslice_address_target_kind", "Pod"},
        {P + "endpointslice_address_target_name", pod_name},
        {P + "endpointslice_endpoint_node_name", node},
        {P + "endpointslice_endpoint_zone", zone}};
    if (port == 9102) l.push_back({P + "endpointslice_port_app_protocol", "http"});
    if (!pod) return Labels::FromUnsorted(l);
    auto c = ContainerPort("app", kWebImage, port_name, port, "TCP", false);
    l.insert(l.end(), c.begin(), c.end());
    return With(l, *pod);
  };
  std::vector<Labels> want = {
      ep("127.0.0.11", 9102, "metrics", true, true, false, "web-7d9f8b6c5d-x2x9k", "edge-node-1",
         "eu-west-1a", X2x9k()),
      ep("127.0.0.11", 8080, "http", true, true, false, "web-7d9f8b6c5d-x2x9k", "edge-node-1",
         "eu-west-1a", X2x9k()),
      ep("127.0.0.12", 9102, "metrics", true, true, false, "web-7d9f8b6c5d-q4m7z", "edge-node-2",
         "eu-west-1b", Q4m7z()),
      ep("127.0.0.12", 8080, "http", true, true, false, "web-7d9f8b6c5d-q4m7z", "edge-node-2",
         "eu-west-1b", Q4m7z()),
      ep("127.0.0.13", 9102, "metrics", false, false, false, "web-7d9f8b6c5d-h8n2w", "edge-node-1",
         "eu-west-1a", H8n2w()),
      ep("127.0.0.13", 8080, "http", false, false, false, "web-7d9f8b6c5d-h8n2w", "edge-node-1",
         "eu-west-1a", H8n2w()),
      // The terminating endpoint's pod is not in podlist.json: endpoint labels only.
      ep("127.0.0.14", 9102, "metrics", false, true, true, "web-7d9f8b6c5d-old01", "edge-node-2",
         "eu-west-1b", std::nullopt),
      ep("127.0.0.14", 8080, "http", false, true, true, "web-7d9f8b6c5d-old01", "edge-node-2",
         "eu-west-1b", std::nullopt),
  };
  AddExtraPortTargets(want, "127.0.0.11", X2x9k());
  AddExtraPortTargets(want, "127.0.0.12", Q4m7z());
  AddExtraPortTargets(want, "127.0.0.13", H8n2w());
  CHECK(tg.targets == want);

  SECTION("a dual-stack service's slice of its other family has no targets") {
    cache.services[0].ip_family_policy = "PreferDualStack";
    cache.services[0].first_ip_family = "IPv6";
    REQUIRE(cache.services[0].meta.name == "web");
    TargetGroup dual = EndpointSliceGroup(slice, cache.lookups());
    CHECK(dual.targets.empty());
    CHECK(dual.labels.Has(P + "endpointslice_name"));
  }
}

TEST_CASE("ingress role: TLS host is https, wildcard rule, missing path is /", "[k8s]") {
  TargetGroup tg = IngressGroup(Must(DecodeIngress(ReadFixture("ingress.json"))));
  CHECK(tg.source == "ingress/shop/web");
  CHECK(tg.labels ==
        Labels{{P + "namespace", "shop"},
               {P + "ingress_name", "web"},
               {P + "ingress_class_name", "traefik"},
               {P + "ingress_label_app_kubernetes_io_name", "web"},
               {P + "ingress_labelpresent_app_kubernetes_io_name", "true"},
               {P + "ingress_annotation_traefik_ingress_kubernetes_io_router_entrypoints",
                "websecure"},
               {P + "ingress_annotationpresent_traefik_ingress_kubernetes_io_router_entrypoints",
                "true"}});
  auto t = [](const std::string& host, const std::string& scheme, const std::string& path) {
    return Labels{{"__address__", host},
                  {P + "ingress_scheme", scheme},
                  {P + "ingress_host", host},
                  {P + "ingress_path", path}};
  };
  CHECK(tg.targets == std::vector<Labels>{t("shop.example.test", "https", "/"),
                                          t("shop.example.test", "https", "/api"),
                                          t("*.shop.example.test", "http", "/")});

  SECTION("a wildcard TLS host covers exactly one label; a rule without http is /") {
    Ingress ing = Must(DecodeIngress(ReadFixture("ingress.json")));
    ing.tls_hosts = {"*.example.test"};
    ing.rules = {{"shop.example.test", std::nullopt}, {"a.shop.example.test", std::nullopt}};
    TargetGroup w = IngressGroup(ing);
    CHECK(w.targets == std::vector<Labels>{t("shop.example.test", "https", "/"),
                                           t("a.shop.example.test", "http", "/")});
  }
}

TEST_CASE("label names are sanitised per character, one _ per UTF-8 sequence", "[k8s]") {
  CHECK(SanitizeLabelName("app.kubernetes.io/name") == "app_kubernetes_io_name");
  CHECK(SanitizeLabelName("Ab9_-x") == "Ab9__x");
  CHECK(SanitizeLabelName("caf\xc3\xa9") == "caf_");
}

TEST_CASE("decoders reject wrong JSON types and nameless objects", "[k8s]") {
  json pod = ReadFixture("pod.json");
  pod["spec"]["containers"] = "nope";
  CHECK(DecodePod(pod).status().code() == Code::kInvalidArgument);
  CHECK_FALSE(DecodeNode(json{{"metadata", json::object()}}).ok());
}

}  // namespace
}  // namespace petrel::scrape::discovery::k8s

#include "scrape/discovery/kubernetes_connection.h"

namespace petrel::scrape::discovery::k8s {
namespace {

TEST_CASE("backoff doubles from min to max with equal jitter, reproducible by seed", "[k8s]") {
  using std::chrono::milliseconds;
  std::mt19937_64 rng(1), same(1);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    int64_t d = std::min<int64_t>(100 << (attempt - 1), 1000);
    auto got = BackoffDelay(attempt, milliseconds(100), milliseconds(1000), rng);
    CHECK(got >= milliseconds(d / 2));
    CHECK(got <= milliseconds(d));
    CHECK(got == BackoffDelay(attempt, milliseconds(100), milliseconds(1000), same));
  }
}

TEST_CASE("in-cluster connection needs both env vars, IPv6 hosts are bracketed", "[k8s]") {
  config::KubernetesSdConfig cfg;
  unsetenv("KUBERNETES_SERVICE_HOST");
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  CHECK(ResolveConnection(cfg, "/sa").status().code() == Code::kUnavailable);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  auto c = ResolveConnection(cfg, "/sa");
  REQUIRE(c.ok());
  CHECK(c->server == "https://[fd00::1]:443");
  CHECK(c->token_file == "/sa/token");
  CHECK(c->ca_file == "/sa/ca.crt");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

}  // namespace
}  // namespace petrel::scrape::discovery::k8s
