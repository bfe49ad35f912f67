// KubernetesDiscoverer against the fake API server: list + watch, events, 410 relists, auth,
// failures and backoff, DaemonSet selectors, request counts.
#include <malloc.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/metrics.h"
#include "scrape/discovery/kubernetes.h"
#include "test/k8s/fake_apiserver.h"

namespace petrel::scrape::discovery {
namespace {

using nlohmann::json;
using petrel::k8s_testing::FakeApiServer;
using petrel::k8s_testing::ReadFixture;
using std::chrono::milliseconds;

const std::string P = "__meta_kubernetes_";

// Applies updates as the scrape manager would and lets the test wait for a state.
class Collector {
 public:
  UpdateFn Fn() {
    return [this](std::vector<TargetGroup> groups) {
      std::lock_guard lock(mu_);
      ++updates_;
      for (auto& g : groups) groups_[g.source] = std::move(g);
      cv_.notify_all();
    };
  }
  using Groups = std::map<std::string, TargetGroup>;
  bool WaitFor(const std::function<bool(const Groups&)>& pred,
               milliseconds timeout = milliseconds(10000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(groups_); });
  }
  int updates() {
    std::lock_guard lock(mu_);
    return updates_;
  }
  Groups groups() {
    std::lock_guard lock(mu_);
    return groups_;
  }

 private:
  std::mutex mu_;  // guards groups_, updates_
  std::condition_variable cv_;
  Groups groups_;
  int updates_ = 0;
};

size_t Targets(const Collector::Groups& g, const std::string& source) {
  auto it = g.find(source);
  return it == g.end() ? size_t{0} : it->second.targets.size();
}

// Runs a discoverer on its own thread until destroyed.
struct Running {
  Registry metrics;
  SystemClock system_clock;
  Collector collector;
  std::unique_ptr<KubernetesDiscoverer> discoverer;
  std::jthread thread;

  Running(config::KubernetesSdConfig cfg, KubernetesOptions opts = Fast(), Clock* clock = nullptr) {
    discoverer = std::make_unique<KubernetesDiscoverer>(
        std::move(cfg), clock ? *clock : system_clock, metrics, opts);
    thread = std::jthread([this](std::stop_token stop) { discoverer->Run(stop, collector.Fn()); });
  }
  ~Running() {
    thread.request_stop();
    thread.join();
  }
  static KubernetesOptions Fast() {
    KubernetesOptions o;
    o.min_backoff = milliseconds(20);
    o.max_backoff = milliseconds(200);
    o.seed = 7;
    return o;
  }
  double Metric(const std::string& line_prefix) {
    std::string text = metrics.Render();
    size_t at = text.find("\n" + line_prefix + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + line_prefix.size() + 2));
  }
};

config::KubernetesSdConfig PodConfig(const FakeApiServer& fake) {
  config::KubernetesSdConfig cfg;
  cfg.role = config::KubernetesRole::kPod;
  cfg.api_server = fake.url();
  return cfg;
}

std::vector<json> WatchFixtureObjects() {
  std::vector<json> out;
  std::ifstream in(petrel::k8s_testing::FixturesDir() + "/watch-pods.ndjson");
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

const std::string kX2 = "pod/shop/web-7d9f8b6c5d-x2x9k";
const std::string kP5 = "pod/shop/web-7d9f8b6c5d-p5r6t";
const std::string kH8 = "pod/shop/web-7d9f8b6c5d-h8n2w";
const std::string kZ9 = "pod/shop/web-7d9f8b6c5d-z9y8x";

TEST_CASE("pod role: initial list, then watch events change the groups", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  Running run(PodConfig(fake));
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
  CHECK(run.collector.updates() == 1);  // the initial set in one update
  auto g = run.collector.groups();
  CHECK(Targets(g, kX2) == 6);
  CHECK(Targets(g, kP5) == 0);  // pending, no IP
  CHECK(g.at(kX2).labels.Get(P + "pod_ready") == "true");

  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  auto reqs = fake.Requests();
  REQUIRE(reqs.size() == 2);
  CHECK_FALSE(reqs[0].watch);
  CHECK(reqs[0].path == "/api/v1/pods");
  CHECK(reqs[0].params.at("limit") == "500");
  CHECK(reqs[1].watch);
  CHECK(reqs[1].params.at("resourceVersion") == "48260");
  CHECK(reqs[1].params.at("allowWatchBookmarks") == "true");
  int timeout = std::stoi(reqs[1].params.at("timeoutSeconds"));
  CHECK(timeout >= 300);
  CHECK(timeout < 600);

  auto events = WatchFixtureObjects();
  SECTION("MODIFIED, ADDED, DELETED from the fixture stream") {
    REQUIRE(fake.Push("pods", "MODIFIED", events[0]["object"]) == 1);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return Targets(g, kP5) == 6; },
                                  milliseconds(1000)));
    CHECK(run.collector.groups().at(kP5).labels.Get(P + "pod_ip") == "127.0.0.15");
    fake.Push("pods", "ADDED", events[1]["object"]);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return Targets(g, kZ9) > 0; },
                                  milliseconds(1000)));
    fake.Push("pods", "DELETED", events[3]["object"]);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return Targets(g, kH8) == 0; },
                                  milliseconds(1000)));
    CHECK(run.Metric("prometheus_sd_kubernetes_events_total{role=\"pod\",event=\"add\"}") == 5);
    CHECK(run.Metric("prometheus_sd_kubernetes_events_total{role=\"pod\",event=\"update\"}") == 1);
    CHECK(run.Metric("prometheus_sd_kubernetes_events_total{role=\"pod\",event=\"delete\"}") == 1);
    CHECK(run.Metric("prometheus_sd_kubernetes_events_total{role=\"ingress\",event=\"add\"}") == 0);
    CHECK(run.Metric("prometheus_sd_kubernetes_failures_total") == 0);
  }
  SECTION("an event split across chunks is applied once, when its line is complete") {
    std::string line = json{{"type", "ADDED"}, {"object", events[1]["object"]}}.dump() + "\n";
    fake.PushRaw("pods", line.substr(0, 100));
    REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
    fake.PushRaw("pods", line.substr(100));
    REQUIRE(run.collector.WaitFor([](const auto& g) { return Targets(g, kZ9) > 0; },
                                  milliseconds(1000)));
    CHECK(run.collector.groups().size() == 5);
  }
  SECTION("a bookmark moves the resourceVersion the next watch starts from") {
    REQUIRE(fake.PushBookmark("pods") == 1);
    std::string rv = std::to_string(48261);
    // The watch ends (server timeout); the next one starts from the bookmark's RV.
    REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
    // Wait until the bookmark was consumed: close only after it was sent.
    fake.CloseWatches();
    REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", true) == 2; }));
    CHECK(fake.Requests().back().params.at("resourceVersion") == rv);
    CHECK(fake.CountRequests("pods", false) == 1);  // no relist
  }
}

TEST_CASE("an ERROR 410 event relists once and loses no update", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  Running run(PodConfig(fake));
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));

  // A change the watch never delivers: h8n2w disappears while the history is gone.
  json list = ReadFixture("podlist.json");
  auto& items = list["items"];
  items.erase(items.begin() + 2);
  REQUIRE(!items.empty());
  list["metadata"]["resourceVersion"] = "48500";
  fake.LoadList("pods", list);
  REQUIRE(fake.PushExpired("pods") == 1);

  REQUIRE(run.collector.WaitFor([](const auto& g) { return Targets(g, kH8) == 0; }));
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", true) == 2; }));
  CHECK(fake.CountRequests("pods", false) == 2);
  CHECK(fake.Requests().back().params.at("resourceVersion") == "48500");
  CHECK(Targets(run.collector.groups(), kX2) == 6);
}

TEST_CASE("an HTTP 410 on watch start relists", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  Running run(PodConfig(fake));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  // Everything before 48300 is compacted and the server is at 48300 (no event delivered);
  // the watch ends, re-watching from 48260 gets HTTP 410, and the client lists again.
  json list = ReadFixture("podlist.json");
  list["metadata"]["resourceVersion"] = "48300";
  fake.LoadList("pods", list);
  fake.SetOldestResourceVersion(48300, /*as_event=*/false);
  fake.CloseWatches();
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", false) == 2; }));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  auto reqs = fake.Requests();
  CHECK(reqs.size() == 5);  // list, watch, watch (410), list, watch
  CHECK(reqs.back().params.at("resourceVersion") == "48300");
  CHECK(run.Metric("prometheus_sd_kubernetes_http_request_total{status_code=\"410\"}") == 1);
}

TEST_CASE("a non-410 ERROR event is a failure: re-watch from the same RV after a backoff",
          "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  Running run(PodConfig(fake));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  json status = {{"kind", "Status"},          {"apiVersion", "v1"},
                 {"status", "Failure"},       {"message", "internal error"},
                 {"reason", "InternalError"}, {"code", 500}};
  REQUIRE(fake.PushRaw("pods", json{{"type", "ERROR"}, {"object", status}}.dump() + "\n") == 1);
  fake.CloseWatches();
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", true) == 2; }));
  CHECK(fake.Requests().back().params.at("resourceVersion") == "48260");
  CHECK(fake.CountRequests("pods", false) == 1);
  CHECK(run.Metric("prometheus_sd_kubernetes_failures_total") == 1);
}

TEST_CASE("a malformed watch line aborts the stream and is retried", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  Running run(PodConfig(fake));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  REQUIRE(fake.PushRaw("pods", "{not json\n") == 1);
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", true) == 2; }));
  CHECK(run.Metric("prometheus_sd_kubernetes_failures_total") >= 1);
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  fake.Push("pods", "ADDED", WatchFixtureObjects()[1]["object"]);
  REQUIRE(
      run.collector.WaitFor([](const auto& g) { return Targets(g, kZ9) > 0; }, milliseconds(1000)));
}

TEST_CASE("a watch closed at once waits for its backoff on the clock, a quiet one does not",
          "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  FakeClock clock;
  KubernetesOptions opts = Running::Fast();
  opts.min_backoff = std::chrono::seconds(10);
  opts.max_backoff = std::chrono::seconds(60);
  Running run(PodConfig(fake), opts, &clock);
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));

  // Quiet for 2 s of (fake) time, then the server ends it: re-watch right away.
  clock.Advance(std::chrono::seconds(2));
  fake.CloseWatches();
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", true) == 2; }));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));

  // Ended at once with nothing delivered: the next watch waits 5..10 s of clock time. (An
  // empty watch is counted in http_request_total when the client has finished it.)
  const std::string ok = "prometheus_sd_kubernetes_http_request_total{status_code=\"200\"}";
  REQUIRE(run.Metric(ok) == 2);
  fake.CloseWatches();
  REQUIRE(fake.WaitFor([&] { return run.Metric(ok) == 3; }));
  clock.Advance(std::chrono::milliseconds(4900));
  // The discoverer re-reads the clock at least every 100 ms; give it several rounds.
  CHECK_FALSE(
      fake.WaitFor([&] { return fake.CountRequests("pods", true) == 3; }, milliseconds(300)));
  clock.Advance(std::chrono::milliseconds(5200));
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", true) == 3; }));
}

TEST_CASE("pod role with node metadata: a node change re-sends that node's pods", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  config::KubernetesSdConfig cfg = PodConfig(fake);
  cfg.attach_node_metadata = true;
  cfg.selectors.push_back({config::KubernetesRole::kNode, "", "metadata.name=edge-node-1"});
  Running run(cfg);
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
  auto g = run.collector.groups();
  CHECK(g.at(kX2).labels.Get(P + "node_name") == "edge-node-1");
  CHECK(g.at("pod/shop/web-7d9f8b6c5d-q4m7z").labels.Get(P + "node_name") == "");
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("nodes") == 1; }));
  json node = ReadFixture("nodelist.json")["items"][0];
  node["metadata"]["labels"]["rack"] = "r7";
  REQUIRE(fake.Push("nodes", "MODIFIED", node) == 1);
  REQUIRE(run.collector.WaitFor(
      [](const auto& g) {
        return g.at(kX2).labels.Get(P + "node_label_rack") == "r7" &&
               g.at(kH8).labels.Get(P + "node_label_rack") == "r7";
      },
      milliseconds(1000)));
  CHECK(run.Metric("prometheus_sd_kubernetes_events_total{role=\"node\",event=\"update\"}") == 0);
}

TEST_CASE("DaemonSet mode: a spec.nodeName field selector watches only that node's pods", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  config::KubernetesSdConfig cfg = PodConfig(fake);
  cfg.selectors.push_back(
      {config::KubernetesRole::kPod, "app.kubernetes.io/name=web", "spec.nodeName=edge-node-1"});
  Running run(cfg);
  REQUIRE(run.collector.WaitFor([](const auto& g) { return !g.empty(); }));
  auto g = run.collector.groups();
  CHECK(g.size() == 2);
  CHECK(g.count(kX2) == 1);
  CHECK(g.count(kH8) == 1);
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  for (const auto& r : fake.Requests()) {
    CHECK(r.resource == "pods");
    CHECK(r.params.at("fieldSelector") == "spec.nodeName=edge-node-1");
    CHECK(r.params.at("labelSelector") == "app.kubernetes.io/name=web");
  }
  // A pod scheduled elsewhere is never sent to this agent.
  json other = WatchFixtureObjects()[1]["object"];
  other["spec"]["nodeName"] = "edge-node-2";
  CHECK(fake.Push("pods", "ADDED", other) == 0);
  CHECK(fake.CountRequests("pods", true) == 1);
  CHECK(fake.CountRequests("nodes", false) == 0);
}

TEST_CASE("one list and one watch per kind and namespace", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  config::KubernetesSdConfig cfg;
  cfg.api_server = fake.url();
  SECTION("endpoints role, one namespace, node metadata") {
    cfg.role = config::KubernetesRole::kEndpoints;
    cfg.namespaces = {"shop"};
    cfg.attach_node_metadata = true;
    Running run(cfg);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 1; }));
    REQUIRE(fake.WaitFor([&] {
      return fake.OpenWatches("endpoints") == 1 && fake.OpenWatches("services") == 1 &&
             fake.OpenWatches("pods") == 1 && fake.OpenWatches("nodes") == 1;
    }));
    CHECK(fake.Requests().size() == 8);
    for (const auto& r : fake.Requests()) {
      CHECK(r.namespace_ == (r.resource == "nodes" ? "" : "shop"));
    }
    auto tg = run.collector.groups().at("endpoints/shop/web");
    CHECK(tg.targets.size() == 15);
    CHECK(tg.labels.Get(P + "service_name") == "web");
    CHECK(tg.targets[0].Get(P + "node_name") == "edge-node-1");

    // A pod change re-sends the endpoints group that points at it.
    json pod = ReadFixture("podlist.json")["items"][0];
    pod["metadata"]["labels"]["extra"] = "1";
    fake.Push("pods", "MODIFIED", pod);
    REQUIRE(run.collector.WaitFor(
        [](const auto& g) {
          return g.at("endpoints/shop/web").targets[0].Get(P + "pod_label_extra") == "1";
        },
        milliseconds(1000)));
  }
  SECTION("service role in two namespaces") {
    cfg.role = config::KubernetesRole::kService;
    cfg.namespaces = {"shop", "other"};
    Running run(cfg);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 3; }));
    REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("services") == 2; }));
    CHECK(fake.Requests().size() == 4);
  }
  SECTION("endpointslice, node and ingress roles produce their groups") {
    cfg.role = config::KubernetesRole::kEndpointSlice;
    Running slices(cfg);
    cfg.role = config::KubernetesRole::kNode;
    Running nodes(cfg);
    cfg.role = config::KubernetesRole::kIngress;
    Running ingresses(cfg);
    REQUIRE(slices.collector.WaitFor(
        [](const auto& g) { return Targets(g, "endpointslice/shop/web-8kq2x") == 17; }));
    REQUIRE(nodes.collector.WaitFor([](const auto& g) {
      return Targets(g, "node/edge-node-1") == 1 && Targets(g, "node/edge-node-2") == 1;
    }));
    REQUIRE(ingresses.collector.WaitFor(
        [](const auto& g) { return Targets(g, "ingress/shop/web") == 3; }));
  }
}

TEST_CASE("pagination follows continue, an expired continue token restarts the list", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  KubernetesOptions opts = Running::Fast();
  opts.list_page_size = 1;
  SECTION("pages") {
    Running run(PodConfig(fake), opts);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
    CHECK(run.collector.updates() == 1);
    CHECK(fake.CountRequests("pods", false) == 4);
    auto reqs = fake.Requests();
    CHECK(reqs[0].params.count("continue") == 0);
    CHECK(reqs[1].params.at("continue") != "");
  }
  SECTION("expired token") {
    fake.ExpireNextContinue();
    Running run(PodConfig(fake), opts);
    REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
    CHECK(run.collector.updates() == 1);
    // 1 page, the 410, then a fresh list of 4 pages.
    CHECK(fake.CountRequests("pods", false) == 6);
    CHECK(fake.Requests()[2].params.count("continue") == 0);
  }
}

TEST_CASE("403 is reported and retried with growing backoff until allowed", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  fake.Forbid("pods", true);
  auto start = std::chrono::steady_clock::now();
  Running run(PodConfig(fake));
  REQUIRE(fake.WaitFor([&] { return fake.CountRequests("pods", false) >= 4; }));
  auto elapsed = std::chrono::steady_clock::now() - start;
  // Delays before retries 2..4 are at least half of 20, 40, 80 ms: no tight loop.
  CHECK(elapsed >= milliseconds(70));
  CHECK(run.collector.updates() == 0);
  CHECK(run.Metric("prometheus_sd_kubernetes_failures_total") >= 3);
  CHECK(run.Metric("prometheus_sd_kubernetes_http_request_total{status_code=\"403\"}") >= 3);
  fake.Forbid("pods", false);
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
}

TEST_CASE("an API server that goes away and comes back is picked up again", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  Running run(PodConfig(fake));
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  fake.Stop();
  // Refused connections are retried with backoff (and counted) while it is down.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (run.Metric("prometheus_sd_kubernetes_failures_total") < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(run.Metric("prometheus_sd_kubernetes_failures_total") >= 2);
  fake.Start();
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  fake.Push("pods", "ADDED", WatchFixtureObjects()[1]["object"]);
  REQUIRE(
      run.collector.WaitFor([](const auto& g) { return Targets(g, kZ9) > 0; }, milliseconds(1000)));
}

TEST_CASE("an API server away for 30 s is picked up within the backoff cap of its return",
          "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  FakeClock clock;
  KubernetesOptions opts;  // production backoff: 1 s doubling to a 30 s cap
  opts.seed = 7;
  Running run(PodConfig(fake), opts, &clock);
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  const std::string failures = "prometheus_sd_kubernetes_failures_total";
  const double failed_before = run.Metric(failures);
  fake.Stop();

  // 30 s of outage on the clock, a second at a time. After each step the discoverer gets up to
  // 200 ms to make the attempt that is due (it re-reads the clock at least every 100 ms).
  for (int second = 0; second < 30; ++second) {
    clock.Advance(std::chrono::seconds(1));
    double seen = run.Metric(failures);
    auto deadline = std::chrono::steady_clock::now() + milliseconds(200);
    while (run.Metric(failures) == seen && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  // Backoff 1, 2, 4, 8, 16, 30 s (each jittered into [d/2, d]): a handful of attempts in 30 s,
  // never a tight loop.
  double attempts = run.Metric(failures) - failed_before;
  CHECK(attempts >= 3);
  CHECK(attempts <= 8);

  // Back: whatever the last attempt scheduled is at most the 30 s cap away.
  fake.Start();
  clock.Advance(opts.max_backoff + milliseconds(1));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  fake.Push("pods", "ADDED", WatchFixtureObjects()[1]["object"]);
  REQUIRE(
      run.collector.WaitFor([](const auto& g) { return Targets(g, kZ9) > 0; }, milliseconds(1000)));
}

// A self-signed certificate for 127.0.0.1 and a service-account directory.
struct InCluster {
  std::filesystem::path dir;
  InCluster() {
    char tmpl[] = "/tmp/petrel-k8s-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        (dir / "key.pem").string() + " -out " + (dir / "ca.crt").string() + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    Write("token", "token-1\n");
    Write("namespace", "shop");
  }
  ~InCluster() { std::filesystem::remove_all(dir); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir / (name + ".tmp")) << text;
    std::filesystem::rename(dir / (name + ".tmp"), dir / name);
  }
};

TEST_CASE("in-cluster: TLS with the service-account CA, bearer token re-read on rotation",
          "[k8s]") {
  InCluster sa;
  FakeApiServer fake(
      FakeApiServer::TlsFiles{(sa.dir / "ca.crt").string(), (sa.dir / "key.pem").string()});
  fake.LoadFixtures();
  fake.RequireToken("token-1");
  setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", std::to_string(fake.port()).c_str(), 1);
  config::KubernetesSdConfig cfg;
  cfg.role = config::KubernetesRole::kPod;
  cfg.own_namespace = true;
  KubernetesOptions opts = Running::Fast();
  opts.service_account_dir = sa.dir.string();
  Running run(cfg, opts);
  REQUIRE(run.collector.WaitFor([](const auto& g) { return g.size() == 4; }));
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  CHECK(fake.Requests()[0].path == "/api/v1/namespaces/shop/pods");
  CHECK(fake.Requests()[0].authorization == "Bearer token-1");

  sa.Write("token", "token-2");
  fake.RequireToken("token-2");
  fake.CloseWatches();
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  CHECK(fake.Requests().back().authorization == "Bearer token-2");
  CHECK(fake.CountRequests("pods", false) == 1);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_CASE("missing in-cluster environment is a counted failure, retried until stopped", "[k8s]") {
  unsetenv("KUBERNETES_SERVICE_HOST");
  config::KubernetesSdConfig cfg;
  cfg.role = config::KubernetesRole::kNode;
  Running run(cfg);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (run.Metric("prometheus_sd_kubernetes_failures_total") < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(run.Metric("prometheus_sd_kubernetes_failures_total") >= 2);
  CHECK(run.collector.updates() == 0);
}

TEST_CASE("all 18 events_total children exist before any event", "[k8s]") {
  Registry metrics;
  SystemClock clock;
  KubernetesDiscoverer d(config::KubernetesSdConfig{}, clock, metrics);
  std::string text = metrics.Render();
  int n = 0;
  for (size_t at = 0;
       (at = text.find("prometheus_sd_kubernetes_events_total{", at)) != std::string::npos; ++at)
    ++n;
  CHECK(n == 18);
  CHECK(text.find("prometheus_sd_kubernetes_failures_total 0") != std::string::npos);
}

}  // namespace
}  // namespace petrel::scrape::discovery

namespace petrel::scrape::discovery {
namespace {

// Not run by default: `k8s_test "[.bench]"`. Heap held by the discoverer after its initial
// sync of 10,000 pods (the fake server's copy is allocated before the baseline; the
// collector keeps only counts), and the wall/CPU time of that sync.
TEST_CASE("bench: 10,000 pods, memory per discovered pod", "[.bench]") {
  FakeApiServer fake;
  json pod = ReadFixture("pod.json");
  json list = {{"metadata", {{"resourceVersion", "1000"}}}, {"items", json::array()}};
  for (int i = 0; i < 10000; ++i) {
    pod["metadata"]["name"] = "web-" + std::to_string(i);
    pod["metadata"]["uid"] = "uid-" + std::to_string(i);
    pod["status"]["podIP"] = "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    list["items"].push_back(pod);
  }
  fake.LoadList("pods", list);
  list = json();
  std::mutex mu;
  std::condition_variable cv;
  size_t groups = 0;
  size_t targets = 0;
  Registry metrics;
  SystemClock clock;
  malloc_trim(0);
  size_t before = mallinfo2().uordblks;
  auto wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  auto d = std::make_unique<KubernetesDiscoverer>(PodConfig(fake), clock, metrics, Running::Fast());
  std::jthread t([&](std::stop_token stop) {
    d->Run(stop, [&](std::vector<TargetGroup> gs) {
      std::lock_guard lock(mu);
      groups += gs.size();
      for (const auto& g : gs) targets += g.targets.size();
      cv.notify_all();
    });
  });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return groups == 10000; }));
  }
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  double cpu_s = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  malloc_trim(0);
  size_t after = mallinfo2().uordblks;
  double per_pod = (static_cast<double>(after) - static_cast<double>(before)) / 10000.0;
  WARN("10000 pods, " << targets << " targets: " << per_pod << " bytes/pod held, initial sync "
                      << wall_s << " s wall, " << cpu_s << " s CPU (process, incl. fake server)");
  CHECK(per_pod <= 300);
  t.request_stop();
}

}  // namespace
}  // namespace petrel::scrape::discovery
