// The admin HTTP server: /metrics, /-/healthy, /-/ready (as Prometheus agent mode answers them).
// Thread-safe: Start once, SetReady/SetStopping any time, Stop once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/metrics.h"
#include "common/status.h"

namespace httplib {
class Server;
}

namespace petrel::agent {

class WebServer {
 public:
  explicit WebServer(Registry& registry);
  ~WebServer();

  // Binds listen_address ("host:port", ":port", "[::1]:port") and serves on its own thread.
  // kUnavailable when the address cannot be bound.
  Status Start(const std::string& listen_address);
  void Stop();

  struct Reply {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  // Extra routes; register before Start. Handlers run on server threads and must be
  // thread-safe.
  void HandleGet(const std::string& path, std::function<Reply()> handler);
  // POST and PUT; GET answers 405 as Prometheus does.
  void HandlePost(const std::string& path, std::function<Reply()> handler);

  void SetReady(bool ready) { ready_.store(ready); }
  void SetStopping(bool stopping) { stopping_.store(stopping); }
  int port() const { return port_; }

 private:
  Registry& registry_;
  std::unique_ptr<httplib::Server> server_;
  std::jthread thread_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

// Registers process_* metrics (CPU, RSS, open fds, start time) read from /proc at render time.
void RegisterProcessMetrics(Registry& registry);

}  // namespace petrel::agent
