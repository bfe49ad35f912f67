#include "bench/ksm_payload.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::bench {
namespace {

constexpr int kSeriesPerPod = 15;  // see the families below

constexpr std::array<std::string_view, 12> kNamespaces = {
    "default",  "kube-system", "monitoring", "ingress-nginx", "cert-manager", "payments",
    "checkout", "search",      "logging",    "argocd",        "istio-system", "data-pipeline"};
constexpr std::array<std::string_view, 10> kApps = {
    "api",   "worker", "frontend",   "redis",   "postgres",
    "kafka", "nginx",  "fluent-bit", "coredns", "prometheus-node-exporter"};
constexpr std::array<std::string_view, 5> kPhases = {"Pending", "Running", "Succeeded", "Failed",
                                                     "Unknown"};

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Pod {
  std::string ns, name, uid, node, host_ip, pod_ip, owner;
  std::array<std::string, 2> containers;
};

Pod MakePod(int i) {
  uint64_t h = Mix(i);
  Pod p;
  p.ns = kNamespaces[h % kNamespaces.size()];
  std::string_view app = kApps[(h >> 8) % kApps.size()];
  constexpr std::string_view kAlnum = "bcdfghjklmnpqrstvwxz2456789";
  std::string rs, suffix;
  for (int k = 0; k < 10; ++k) rs += kAlnum[(h >> (k * 3)) % kAlnum.size()];
  for (int k = 0; k < 5; ++k) suffix += kAlnum[(Mix(h) >> (k * 5)) % kAlnum.size()];
  p.owner = fmt::format("{}-{}", app, rs.substr(0, 9));
  p.name = fmt::format("{}-{}", p.owner, suffix);
  uint64_t u1 = Mix(h + 1), u2 = Mix(h + 2);
  p.uid = fmt::format("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", u1 >> 32, (u1 >> 16) & 0xffff,
                      u1 & 0xfff, u2 >> 52, u2 & 0xffffffffffffULL);
  int node = static_cast<int>((h >> 20) % 60);
  p.host_ip = fmt::format("10.0.{}.{}", node / 10, 10 + node);
  p.node = fmt::format("ip-10-0-{}-{}.eu-west-1.compute.internal", node / 10, 10 + node);
  p.pod_ip = fmt::format("10.{}.{}.{}", 100 + (h >> 40) % 20, (h >> 32) % 256, (h >> 48) % 254 + 1);
  p.containers = {std::string(app), "istio-proxy"};
  return p;
}

class Writer {
 public:
  explicit Writer(int limit) : limit_(limit) {}
  bool full() const { return n_ >= limit_; }
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    if (full()) return;
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <typename... Args>
  void Sample(fmt::format_string<Args...> f, Args&&... args) {
    if (full()) return;
    fmt::format_to(std::back_inserter(out_), f, std::forward<Args>(args)...);
    out_ += '\n';
    ++n_;
  }
  std::string Take() { return std::move(out_); }

 private:
  int limit_;
  int n_ = 0;
  std::string out_;
};

}  // namespace

std::string KubeStateMetricsPayload(int series) {
  std::vector<Pod> pods;
  for (int i = 0; i < (series + kSeriesPerPod - 1) / kSeriesPerPod; ++i) pods.push_back(MakePod(i));
  Writer w(series);
  w.Family("kube_pod_info", "gauge", "[STABLE] Information about pod.");
  for (const Pod& p : pods) {
    w.Sample(
        "kube_pod_info{{namespace=\"{}\",pod=\"{}\",uid=\"{}\",host_ip=\"{}\",pod_ip=\"{}\","
        "node=\"{}\",created_by_kind=\"ReplicaSet\",created_by_name=\"{}\","
        "priority_class=\"\",host_network=\"false\"}} 1",
        p.ns, p.name, p.uid, p.host_ip, p.pod_ip, p.node, p.owner);
  }
  w.Family("kube_pod_owner", "gauge", "[STABLE] Information about the Pod's owner.");
  for (const Pod& p : pods) {
    w.Sample(
        "kube_pod_owner{{namespace=\"{}\",pod=\"{}\",uid=\"{}\",owner_kind=\"ReplicaSet\","
        "owner_name=\"{}\",owner_is_controller=\"true\"}} 1",
        p.ns, p.name, p.uid, p.owner);
  }
  w.Family("kube_pod_status_phase", "gauge", "[STABLE] The pods current phase.");
  for (const Pod& p : pods) {
    for (size_t k = 0; k < kPhases.size(); ++k) {
      w.Sample("kube_pod_status_phase{{namespace=\"{}\",pod=\"{}\",uid=\"{}\",phase=\"{}\"}} {}",
               p.ns, p.name, p.uid, kPhases[k], k == 1 ? 1 : 0);
    }
  }
  w.Family("kube_pod_container_status_restarts_total", "counter",
           "[STABLE] The number of container restarts per container.");
  for (size_t i = 0; i < pods.size(); ++i) {
    for (const std::string& c : pods[i].containers) {
      w.Sample(
          "kube_pod_container_status_restarts_total{{namespace=\"{}\",pod=\"{}\",uid=\"{}\","
          "container=\"{}\"}} {}",
          pods[i].ns, pods[i].name, pods[i].uid, c, Mix(i) % 4 == 0 ? Mix(i) % 17 : 0);
    }
  }
  w.Family("kube_pod_container_status_ready", "gauge",
           "[STABLE] Describes whether the containers readiness check succeeded.");
  for (const Pod& p : pods) {
    for (const std::string& c : p.containers) {
      w.Sample(
          "kube_pod_container_status_ready{{namespace=\"{}\",pod=\"{}\",uid=\"{}\","
          "container=\"{}\"}} 1",
          p.ns, p.name, p.uid, c);
    }
  }
  w.Family("kube_pod_container_resource_requests", "gauge",
           "The number of requested request resource by a container.");
  for (size_t i = 0; i < pods.size(); ++i) {
    const Pod& p = pods[i];
    for (const std::string& c : p.containers) {
      w.Sample(
          "kube_pod_container_resource_requests{{namespace=\"{}\",pod=\"{}\",uid=\"{}\","
          "container=\"{}\",node=\"{}\",resource=\"cpu\",unit=\"core\"}} {}",
          p.ns, p.name, p.uid, c, p.node, c == "istio-proxy" ? "0.1" : "0.25");
      w.Sample(
          "kube_pod_container_resource_requests{{namespace=\"{}\",pod=\"{}\",uid=\"{}\","
          "container=\"{}\",node=\"{}\",resource=\"memory\",unit=\"byte\"}} {}",
          p.ns, p.name, p.uid, c, p.node, c == "istio-proxy" ? "1.34217728e+08" : "5.36870912e+08");
    }
  }
  return w.Take();
}

}  // namespace petrel::bench
