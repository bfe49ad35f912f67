// FakeApiServer: a Kubernetes API server for discovery tests, on 127.0.0.1:<port> (HTTP, or
// HTTPS with a given certificate). It implements the list + watch protocol of
// shared/fixtures/k8s/README.md for nodes, pods, services, endpoints, endpointslices and
// ingresses: list envelopes (items without kind/apiVersion), labelSelector and fieldSelector
// filtering, limit/continue pagination, chunked newline-delimited watch streams whose events
// the test pushes, BOOKMARK, ERROR 410, HTTP 410 for expired resource versions or continue
// tokens, and 401/403/5xx Status bodies. Anything else gets a 404 Status.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace petrel::k8s_testing {

// The fixture directory (shared/fixtures/k8s), fixed at compile time.
std::string FixturesDir();
// The parsed fixture file, e.g. ReadFixture("podlist.json"); aborts if unreadable.
nlohmann::json ReadFixture(const std::string& name);

struct RecordedRequest {
  std::string resource;    // "pods", ... ("" if unknown)
  std::string namespace_;  // "" for cluster-wide
  std::string path;
  std::map<std::string, std::string> params;
  std::string authorization;
  bool watch = false;
};

class FakeApiServer {
 public:
  struct TlsFiles {
    std::string cert_file;
    std::string key_file;
  };
  // Serves HTTPS when tls is set. port 0: any free port.
  explicit FakeApiServer(std::optional<TlsFiles> tls = std::nullopt, int port = 0);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  int port() const { return port_; }
  std::string url() const;

  // Stops serving (open watches end, new connections are refused) / serves again on the same
  // port. The objects are kept.
  void Stop();
  void Start();

  // Replaces the objects of resource ("pods", "nodes", ...) with the items of a *List
  // fixture (or any list JSON) and sets the current resourceVersion to the list's.
  void LoadList(const std::string& resource, const nlohmann::json& list);
  // LoadList for the six fixture lists (podlist.json, nodelist.json, ...).
  void LoadFixtures();

  // Applies an event (type ADDED, MODIFIED or DELETED) to the objects and sends it to every
  // open watch of that resource it matches. The object's resourceVersion is used when set,
  // otherwise the next one is assigned. Returns the number of watches it was sent to.
  size_t Push(const std::string& resource, const std::string& type, nlohmann::json object);
  // Sends a BOOKMARK at the current resourceVersion to watches that allowed bookmarks.
  size_t PushBookmark(const std::string& resource);
  // Sends ERROR 410 Expired to every open watch of resource and ends those streams.
  size_t PushExpired(const std::string& resource);
  // Sends raw bytes as one chunk to every open watch of resource (for split-line tests).
  size_t PushRaw(const std::string& resource, const std::string& bytes);
  // Ends every open watch cleanly (as timeoutSeconds does).
  void CloseWatches();

  // A watch starting at a resourceVersion below this (numerically) gets 410; as an ERROR
  // event first when as_event, else as an HTTP 410 Status response.
  void SetOldestResourceVersion(uint64_t rv, bool as_event);
  // Continue tokens handed out so far are rejected with 410 Expired.
  void ExpireContinueTokens();
  // The next list request that carries a continue token gets 410 Expired.
  void ExpireNextContinue();
  // Requests must carry "Authorization: Bearer <token>", else 401. "" disables the check.
  void RequireToken(const std::string& token);
  // Requests for resource get 403 (Forbidden Status naming resource and verb) while set.
  void Forbid(const std::string& resource, bool forbidden);
  // The next n requests (any resource) get this status with a Status body.
  void FailNext(int n, int status);

  std::vector<RecordedRequest> Requests() const;
  size_t CountRequests(const std::string& resource, bool watch) const;
  size_t OpenWatches(const std::string& resource) const;
  // Waits (bounded) until pred() holds, re-checking on every request and watch change.
  bool WaitFor(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  struct Watcher;
  struct Resource {
    std::string kind, api_version;
    std::map<std::string, nlohmann::json> objects;  // by namespace/name
  };
  void Serve();
  void Handle(const std::string& path, const std::map<std::string, std::string>& params,
              const std::string& authorization, int& status, std::string& body,
              std::shared_ptr<Watcher>& watch);
  std::string List(Resource& res, const std::string& ns,
                   const std::map<std::string, std::string>& params, int& status);
  void Send(const std::shared_ptr<Watcher>& w, std::string line);

  std::optional<TlsFiles> tls_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;

  mutable std::mutex mu_;  // guards everything below
  mutable std::condition_variable cv_;
  std::map<std::string, Resource> resources_;
  uint64_t rv_ = 1;
  uint64_t oldest_rv_ = 0;
  bool expired_as_event_ = false;
  uint64_t continue_epoch_ = 0;
  bool expire_next_continue_ = false;
  std::string token_;
  std::map<std::string, bool> forbidden_;
  int fail_next_ = 0;
  int fail_status_ = 500;
  std::vector<RecordedRequest> requests_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
  bool stopping_ = false;
};

// Label and field selector matching as the API server does it (exposed for tests).
bool MatchesLabelSelector(const nlohmann::json& object, const std::string& selector);
bool MatchesFieldSelector(const nlohmann::json& object, const std::string& selector);

}  // namespace petrel::k8s_testing
