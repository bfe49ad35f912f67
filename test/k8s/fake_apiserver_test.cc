// The fake API server itself: list envelopes, selectors, pagination, errors, watch framing.
#include "test/k8s/fake_apiserver.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace petrel::k8s_testing {
namespace {

using nlohmann::json;

json Get(FakeApiServer& fake, const std::string& path, int want_status = 200) {
  httplib::Client client("127.0.0.1", fake.port());
  auto res = client.Get(path.c_str());
  REQUIRE(res);
  CHECK(res->status == want_status);
  return json::parse(res->body);
}

std::vector<std::string> Names(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list["items"]) out.push_back(item["metadata"]["name"]);
  return out;
}

TEST_CASE("fake: list envelope with items lacking kind and apiVersion", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  json list = Get(fake, "/api/v1/pods");
  CHECK(list["kind"] == "PodList");
  CHECK(list["apiVersion"] == "v1");
  CHECK(list["metadata"]["resourceVersion"] == "48260");
  REQUIRE(list["items"].size() == 4);
  CHECK_FALSE(list["items"][0].contains("kind"));
  CHECK(Get(fake, "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices")["kind"] ==
        "EndpointSliceList");
  CHECK(Get(fake, "/api/v1/namespaces/other/pods")["items"].empty());
}

TEST_CASE("fake: label and field selectors filter", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  CHECK(Names(Get(fake, "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-node-1")) ==
        std::vector<std::string>{"web-7d9f8b6c5d-h8n2w", "web-7d9f8b6c5d-x2x9k"});
  CHECK(Names(Get(fake, "/api/v1/pods?fieldSelector=status.phase!%3DRunning")) ==
        std::vector<std::string>{"web-7d9f8b6c5d-p5r6t"});
  CHECK(Names(Get(fake, "/api/v1/services?labelSelector=app.kubernetes.io%2Fname%20in%20(db,x)")) ==
        std::vector<std::string>{"db"});
  CHECK(Names(Get(fake, "/api/v1/services?labelSelector=!app.kubernetes.io%2Fname")) ==
        std::vector<std::string>{"legacy-billing"});
  CHECK(Names(Get(fake, "/api/v1/nodes?fieldSelector=metadata.name%3Dedge-node-2")) ==
        std::vector<std::string>{"edge-node-2"});
  CHECK(Get(fake, "/api/v1/nodes?fieldSelector=spec.nodeName%3Dx", 400)["code"] == 400);
}

TEST_CASE("fake: pagination, expired continue, unknown paths, 401 and 403", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  json page1 = Get(fake, "/api/v1/pods?limit=3");
  CHECK(page1["items"].size() == 3);
  CHECK(page1["metadata"]["remainingItemCount"] == 1);
  std::string token = page1["metadata"]["continue"];
  json page2 = Get(fake, "/api/v1/pods?limit=3&continue=" + token);
  CHECK(page2["items"].size() == 1);
  CHECK_FALSE(page2["metadata"].contains("continue"));
  fake.ExpireContinueTokens();
  CHECK(Get(fake, "/api/v1/pods?limit=3&continue=" + token, 410)["reason"] == "Expired");
  CHECK(Get(fake, "/api/v1/namespaces/shop/nodes", 404)["kind"] == "Status");
  CHECK(Get(fake, "/api/v1/ingresses", 404)["code"] == 404);
  fake.Forbid("pods", true);
  CHECK(Get(fake, "/api/v1/pods", 403)["reason"] == "Forbidden");
  fake.RequireToken("t");
  CHECK(Get(fake, "/api/v1/pods", 401)["reason"] == "Unauthorized");
}

TEST_CASE("fake: a watch streams pushed events one per line, then ERROR 410 ends it", "[k8s]") {
  FakeApiServer fake;
  fake.LoadFixtures();
  std::string body;
  std::thread reader([&] {
    httplib::Client client("127.0.0.1", fake.port());
    client.Get(
        "/api/v1/namespaces/shop/pods?watch=true&resourceVersion=48260&allowWatchBookmarks=true",
        [&](const char* data, size_t n) {
          body.append(data, n);
          return true;
        });
  });
  REQUIRE(fake.WaitFor([&] { return fake.OpenWatches("pods") == 1; }));
  json pod = ReadFixture("pod.json");
  pod["metadata"].erase("resourceVersion");
  CHECK(fake.Push("pods", "MODIFIED", pod) == 1);
  CHECK(fake.PushBookmark("pods") == 1);
  CHECK(fake.PushExpired("pods") == 1);
  reader.join();
  std::vector<json> events;
  size_t start = 0;
  for (size_t nl; (nl = body.find('\n', start)) != std::string::npos; start = nl + 1) {
    events.push_back(json::parse(body.substr(start, nl - start)));
  }
  REQUIRE(events.size() == 3);
  CHECK(events[0]["type"] == "MODIFIED");
  CHECK(events[0]["object"]["kind"] == "Pod");
  CHECK(events[0]["object"]["metadata"]["resourceVersion"] == "48261");
  CHECK(events[1]["type"] == "BOOKMARK");
  CHECK(events[1]["object"]["metadata"]["resourceVersion"] == "48262");
  CHECK(events[2]["type"] == "ERROR");
  CHECK(events[2]["object"]["code"] == 410);
  CHECK(fake.OpenWatches("pods") == 0);
}

}  // namespace
}  // namespace petrel::k8s_testing
