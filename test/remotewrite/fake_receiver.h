// FakeReceiver: a remote-write receiver on 127.0.0.1:<ephemeral port> for tests. It decodes every
// request (snappy, then the RW 1.0 or, when Content-Type says proto=io.prometheus.write.v2.Request,
// the RW 2.0 protobuf, with classes protoc generated from .proto files written from the spec),
// records it, and answers with what the test's responder
// says (by default 200, or for RW 2.0 204 with the written-count headers). Thread-safe.
#pragma once

#include <httplib.h>
#include <snappy.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "remote.pb.h"
#include "write_v2.pb.h"

namespace petrel::remotewrite::testing {

struct ReceivedRequest {
  std::multimap<std::string, std::string> headers;  // names as sent
  bool decoded = false;                             // snappy and protobuf both parsed
  size_t wire_bytes = 0;                            // the (compressed) body as received
  std::chrono::steady_clock::time_point at;         // when the request arrived
  prometheus::WriteRequest body;                    // RW 1.0 requests
  bool v2 = false;                                  // Content-Type named the RW 2.0 message
  io::prometheus::write::v2::Request body_v2;       // RW 2.0 requests

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }
};

struct Reply {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
};

class FakeReceiver {
 public:
  // Called for request number n (0-based) after it was recorded.
  using Responder = std::function<Reply(size_t n, const ReceivedRequest& req)>;

  // port 0: any free port; otherwise that port (e.g. one a Dropper just released).
  explicit FakeReceiver(int port = 0) {
    server_.Post("/api/v1/write",
                 [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
    if (port == 0) {
      port_ = server_.bind_to_any_port("127.0.0.1");
    } else if (server_.bind_to_port("127.0.0.1", port)) {
      port_ = port;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the listen loop runs would be lost and the join would hang: wait for it.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FakeReceiver() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }

  void SetResponder(Responder r) {
    std::lock_guard lock(mu_);
    responder_ = std::move(r);
  }
  // Every handler waits this long before recording (concurrent requests wait in parallel): a
  // slow receiver.
  void SetDelay(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    delay_ = d;
  }
  // Handlers block until Release() (or destruction): for timeout tests.
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  // Lets held handlers (and later ones) answer.
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  // Waits until pred(requests) holds or timeout passes; returns pred's last value.
  bool WaitUntil(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
  }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mu_);
      delay = delay_;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    ReceivedRequest got;
    got.at = std::chrono::steady_clock::now();
    for (const auto& [k, v] : req.headers) got.headers.emplace(k, v);
    got.wire_bytes = req.body.size();
    std::string raw;
    got.v2 = got.Header("Content-Type").find("proto=io.prometheus.write.v2.Request") !=
             std::string::npos;
    got.decoded = snappy::Uncompress(req.body.data(), req.body.size(), &raw) &&
                  (got.v2 ? got.body_v2.ParseFromString(raw) : got.body.ParseFromString(raw));
    Reply reply;
    {
      std::unique_lock lock(mu_);
      size_t n = requests_.size();
      requests_.push_back(got);
      if (responder_) {
        reply = responder_(n, got);
      } else if (got.v2 && got.decoded) {
        // A receiver following the 2.0 spec reports what it wrote.
        size_t samples = 0, histograms = 0, exemplars = 0;
        for (const auto& ts : got.body_v2.timeseries()) {
          samples += static_cast<size_t>(ts.samples_size());
          histograms += static_cast<size_t>(ts.histograms_size());
          exemplars += static_cast<size_t>(ts.exemplars_size());
        }
        reply.status = 204;
        reply.headers["X-Prometheus-Remote-Write-Samples-Written"] = std::to_string(samples);
        reply.headers["X-Prometheus-Remote-Write-Histograms-Written"] = std::to_string(histograms);
        reply.headers["X-Prometheus-Remote-Write-Exemplars-Written"] = std::to_string(exemplars);
      }
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !held_ || released_; });
    }
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k.c_str(), v);
    res.set_content(reply.body, "text/plain");
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;  // guards requests_, responder_, held_, released_, delay_
  std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  Responder responder_;
  bool held_ = false;
  bool released_ = false;
  std::chrono::milliseconds delay_{0};
};

}  // namespace petrel::remotewrite::testing
