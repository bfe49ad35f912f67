// The manager's handling of compressed scrape bodies, end to end over HTTP: curl fetches the
// bytes as sent and the parse workers decode them (scrape/gzip_body.h).
#include <httplib.h>

#include <catch2/catch.hpp>
#include <thread>

#include "scrape/manager.h"
#include "test/scrape/fake_wal.h"
#include "test/scrape/zlib_compress.h"

namespace petrel::scrape {
namespace {

using testing::ZlibCompress;

using testing::FakeAppender;
using testing::FakeWal;

// OpenMetrics: cpp-httplib compresses text/* replies itself when asked for gzip, but not this
// type, so every route sends exactly the bytes and Content-Encoding it sets.
constexpr const char* kOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8";

// Pseudo-random bytes: gzip cannot shrink them.
std::string Noise(size_t n) {
  std::string out(n, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

struct EncodingServer {
  httplib::Server server;
  std::jthread thread;
  int port = 0;
  std::mutex mu;                                       // guards accept_encoding
  std::map<std::string, std::string> accept_encoding;  // by path

  void Route(const std::string& path, std::string encoding, std::string body, int status = 200) {
    server.Get(path, [this, path, encoding, body, status](const httplib::Request& req,
                                                          httplib::Response& res) {
      {
        std::lock_guard lock(mu);
        accept_encoding[path] = req.get_header_value("Accept-Encoding");
      }
      res.status = status;
      if (!encoding.empty()) res.set_header("Content-Encoding", encoding);
      res.set_content(body, kOpenMetrics);
    });
  }

  void Start() {
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::jthread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~EncodingServer() { server.stop(); }
};

config::ScrapeConfig Job(const std::string& name, int port) {
  config::ScrapeConfig job;
  job.job_name = name;
  job.metrics_path = "/" + name;
  job.scrape_interval = std::chrono::milliseconds(2000);
  job.scrape_timeout = std::chrono::milliseconds(1500);
  job.static_configs.push_back({{"127.0.0.1:" + std::to_string(port)}, Labels()});
  return job;
}

double LastValue(FakeWal& wal, std::string_view name, std::string_view job) {
  double v = -1;
  for (const auto& s : wal.committed) {
    if (s.labels.Get("__name__") == name && s.labels.Get("job") == job) v = s.v;
  }
  return v;
}

TEST_CASE("the manager decodes gzip and deflate replies and fails bad ones by name",
          "[scrape][gzip]") {
  const std::string big = [] {
    std::string s;
    while (s.size() < (1 << 20)) s += "same_metric 1\n";
    return s;
  }();
  EncodingServer target;
  target.Route("/multi", "gzip", ZlibCompress("m_a 1\n") + ZlibCompress("m_b 2\n# EOF\n"));
  target.Route("/deflate", "deflate", ZlibCompress("m_d 3\n# EOF\n", 15));
  target.Route("/identity", "", "m_i 4\n# EOF\n");
  target.Route("/small", "gzip", ZlibCompress("m_s 5\n# EOF\n"));  // under its limit
  target.Route("/bomb", "gzip", ZlibCompress(big));                // small, decoding to 1 MiB
  target.Route("/noise", "gzip", ZlibCompress(Noise(256 << 10)));  // 256 KiB even compressed
  target.Route("/corrupt", "gzip", "m_c 1\n# EOF\n");
  target.Route("/truncated", "gzip", ZlibCompress("m_t 1\n# EOF\n").substr(0, 15));
  target.Route("/br", "br", "m_br 1\n# EOF\n");
  target.Route("/br503", "br", "m_br 1\n# EOF\n", 503);
  // No body bytes at all: curl never calls the write callback.
  target.Route("/emptygz", "gzip", "");
  target.Route("/emptybr", "br", "");
  target.Start();
  REQUIRE(target.port > 0);

  FakeWal wal;
  SystemClock clock;
  Registry registry;
  Manager manager(clock, registry, [&wal] { return std::make_unique<FakeAppender>(wal); }, {});
  const std::vector<std::string> good = {"multi", "deflate", "identity", "small"};
  const std::vector<std::string> bad = {"bomb", "noise", "corrupt", "truncated",
                                        "br",   "br503", "emptygz", "emptybr"};
  config::Config cfg;
  for (const auto& job : good) cfg.scrape_configs.push_back(Job(job, target.port));
  for (const auto& job : bad) cfg.scrape_configs.push_back(Job(job, target.port));
  for (auto& job : cfg.scrape_configs) {
    if (job.job_name == "identity") job.enable_compression = false;
    if (job.job_name == "bomb" || job.job_name == "noise" || job.job_name == "small") {
      job.limits.body_size_limit = 64 << 10;
    }
  }
  REQUIRE(manager.ApplyConfig(cfg).ok());

  auto done = [&] {
    std::lock_guard lock(wal.mu);
    for (const auto& job : good) {
      if (LastValue(wal, "up", job) != 1) return false;
    }
    for (const auto& job : bad) {
      if (LastValue(wal, "up", job) != 0) return false;
    }
    return true;
  };
  for (int i = 0; i < 1000 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(done());
  auto targets = manager.Targets();
  manager.Stop();

  std::lock_guard lock(wal.mu);
  CHECK(LastValue(wal, "m_a", "multi") == 1);
  CHECK(LastValue(wal, "m_b", "multi") == 2);
  CHECK(LastValue(wal, "m_d", "deflate") == 3);
  CHECK(LastValue(wal, "m_i", "identity") == 4);
  CHECK(LastValue(wal, "m_s", "small") == 5);
  for (const auto& job : bad) {
    INFO(job);
    for (const auto& s : wal.committed) {
      auto name = s.labels.Get("__name__");
      if (s.labels.Get("job") == job) CHECK((name == "up" || name.rfind("scrape_", 0) == 0));
    }
  }
  std::map<std::string, std::string> errors;
  for (const auto& t : targets) errors[t.target.job] = t.health.last_error;
  for (const auto& job : good) CHECK(errors[job].empty());
  // Over the limit when decoded, or already while downloading: the same error and counter.
  CHECK(errors["bomb"] == "body size limit exceeded (65536 bytes)");
  CHECK(errors["noise"] == "body size limit exceeded (65536 bytes)");
  CHECK(registry.GetCounter("prometheus_target_scrapes_exceeded_body_size_limit_total", "")
            ->Value() >= 2);
  CHECK_THAT(errors["corrupt"], Catch::StartsWith("gzip Content-Encoding: member 0 at byte 0"));
  CHECK_THAT(errors["truncated"], Catch::StartsWith("gzip Content-Encoding: member 0 at byte 0"));
  CHECK(errors["br"] == "unsupported Content-Encoding \"br\" (petrel decodes gzip and deflate)");
  CHECK(errors["br503"] == "server returned HTTP status 503");
  CHECK(errors["emptygz"] == "gzip Content-Encoding: empty body");
  CHECK(errors["emptybr"] ==
        "unsupported Content-Encoding \"br\" (petrel decodes gzip and deflate)");

  std::lock_guard server_lock(target.mu);
  CHECK(target.accept_encoding["/multi"] == "gzip");
  CHECK(target.accept_encoding["/identity"] == "identity");
}

}  // namespace
}  // namespace petrel::scrape
