// petrel-fake-apiserver: the fake Kubernetes API server (fake_apiserver.h) as a process, for
// end-to-end tests of the real agent. It serves the fixtures of shared/fixtures/k8s on
// 127.0.0.1 and takes object changes on a second, control port:
//
//   POST /push?resource=pods&type=ADDED|MODIFIED|DELETED   body: the object's JSON
//        -> 200 {"sent": <watches it reached>}; 400 on a bad resource, type or body
//   POST /close-watches                                    ends every open watch cleanly
//   GET  /watches?resource=pods                            -> {"open": <open watches>}
//
// Usage: petrel-fake-apiserver --port-file=F [--control-port-file=G] [--empty]
// Each port file gets the port number once the server listens (written to F.tmp, then renamed,
// so a reader never sees a partial file). --empty serves no objects. Runs until SIGTERM or
// SIGINT.
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "test/k8s/fake_apiserver.h"

namespace {

using nlohmann::json;
using petrel::k8s_testing::FakeApiServer;

bool WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

void ServeControl(httplib::Server& control, FakeApiServer& fake) {
  static const std::set<std::string> kResources = {"nodes",     "pods",           "services",
                                                   "endpoints", "endpointslices", "ingresses"};
  static const std::set<std::string> kTypes = {"ADDED", "MODIFIED", "DELETED"};
  control.Post("/push", [&fake](const httplib::Request& req, httplib::Response& res) {
    std::string resource = req.get_param_value("resource");
    std::string type = req.get_param_value("type");
    json object = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    // A watch event line ({"type":..., "object":...}) is accepted as well as a bare object.
    if (object.is_object() && object.contains("object") && object["object"].is_object()) {
      json inner = std::move(object["object"]);
      object = std::move(inner);
    }
    if (kResources.count(resource) == 0 || kTypes.count(type) == 0 || !object.is_object() ||
        !object.contains("metadata") || !object["metadata"].is_object() ||
        !object["metadata"].contains("name")) {
      res.status = 400;
      res.set_content(R"({"error":"want resource, type and an object with metadata.name"})",
                      "application/json");
      return;
    }
    size_t sent = fake.Push(resource, type, std::move(object));
    res.set_content(json{{"sent", sent}}.dump(), "application/json");
  });
  control.Post("/close-watches", [&fake](const httplib::Request&, httplib::Response& res) {
    fake.CloseWatches();
    res.set_content("{}", "application/json");
  });
  control.Get("/watches", [&fake](const httplib::Request& req, httplib::Response& res) {
    res.set_content(json{{"open", fake.OpenWatches(req.get_param_value("resource"))}}.dump(),
                    "application/json");
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file, control_port_file;
  bool empty = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--port-file=", 0) == 0) {
      port_file = arg.substr(12);
    } else if (arg.rfind("--control-port-file=", 0) == 0) {
      control_port_file = arg.substr(20);
    } else if (arg == "--empty") {
      empty = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (port_file.empty()) {
    std::fprintf(stderr, "usage: %s --port-file=F [--control-port-file=G] [--empty]\n", argv[0]);
    return 2;
  }
  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeApiServer fake;
  if (!empty) fake.LoadFixtures();
  httplib::Server control;
  ServeControl(control, fake);
  int control_port = control.bind_to_any_port("127.0.0.1");
  if (fake.port() <= 0 || control_port <= 0) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1\n");
    return 1;
  }
  std::thread control_thread([&control] { control.listen_after_bind(); });
  bool written = (control_port_file.empty() || WritePortFile(control_port_file, control_port)) &&
                 WritePortFile(port_file, fake.port());
  if (!written) {
    std::fprintf(stderr, "cannot write the port files\n");
    control.stop();
    control_thread.join();
    return 1;
  }
  std::fprintf(stderr, "fake API server on %s, control on 127.0.0.1:%d\n", fake.url().c_str(),
               control_port);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  control.stop();
  control_thread.join();
  fake.Stop();
  return 0;
}
