#include "agent/web.h"

#include <fmt/format.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace petrel::agent {

WebServer::WebServer(Registry& registry)
    : registry_(registry), server_(std::make_unique<httplib::Server>()) {}

WebServer::~WebServer() { Stop(); }

namespace {
void Send(httplib::Response& res, const WebServer::Reply& reply) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
}
}  // namespace

void WebServer::HandleGet(const std::string& path, std::function<Reply()> handler) {
  server_->Get(
      path, [handler](const httplib::Request&, httplib::Response& res) { Send(res, handler()); });
}

void WebServer::HandlePost(const std::string& path, std::function<Reply()> handler) {
  // The content-reader form: httplib then leaves the body unread, so a bodiless
  // `curl -X POST` (no Content-Length, as Prometheus users send it) is not refused with 400.
  auto h = [handler](const httplib::Request&, httplib::Response& res,
                     const httplib::ContentReader&) { Send(res, handler()); };
  server_->Post(path, h);
  server_->Put(path, h);
  server_->Get(path, [](const httplib::Request&, httplib::Response& res) {
    Send(res, {405, "text/plain; charset=utf-8", "Only POST or PUT requests allowed"});
  });
}

Status WebServer::Start(const std::string& listen_address) {
  auto colon = listen_address.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("--web.listen-address: missing port in \"{}\"", listen_address));
  }
  std::string host = listen_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  try {
    port = std::stoi(listen_address.substr(colon + 1));
  } catch (...) {
    return Status::InvalidArgument(
        fmt::format("--web.listen-address: bad port in \"{}\"", listen_address));
  }

  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Prometheus Agent is Healthy.\n", "text/plain; charset=utf-8");
  });
  server_->Get("/-/ready", [this](const httplib::Request&, httplib::Response& res) {
    if (ready_.load() && !stopping_.load()) {
      res.set_content("Prometheus Agent is Ready.\n", "text/plain; charset=utf-8");
      return;
    }
    res.status = 503;
    res.set_header("X-Prometheus-Stopping", stopping_.load() ? "true" : "false");
    res.set_content("Service Unavailable", "text/plain; charset=utf-8");
  });

  // Only SO_REUSEADDR: httplib's default also sets SO_REUSEPORT, which would let a second
  // petrel silently share the port instead of failing to start.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ < 0) {
    return Status::Unavailable(fmt::format("cannot listen on {}", listen_address));
  }
  thread_ = std::jthread([this] { server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the listen loop runs, so Stop() right after Start()
  // would hang: wait (bounded) for the loop to start.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

void WebServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

namespace {

// Fields of /proc/self/stat after the command name; index 0 is field 3 (state).
std::vector<std::string> ProcStatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  registry.AddCounterFunc("process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.", [ticks] {
                            auto f = ProcStatFields();
                            if (f.size() < 13) return 0.0;
                            return (std::stod(f[11]) + std::stod(f[12])) / ticks;
                          });
  registry.AddGaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", [page] {
    auto f = ProcStatFields();
    if (f.size() < 22) return 0.0;
    return std::stod(f[21]) * page;
  });
  registry.AddGaugeFunc("process_virtual_memory_bytes", "Virtual memory size in bytes.", [] {
    auto f = ProcStatFields();
    if (f.size() < 21) return 0.0;
    return std::stod(f[20]);
  });
  registry.AddGaugeFunc("process_open_fds", "Number of open file descriptors.", [] {
    std::error_code ec;
    double n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++n;
    }
    return n;
  });
  const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  registry.AddGaugeFunc("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.",
                        [start] { return start; });
}

}  // namespace petrel::agent
