// Prometheus's own decoder reads Petrel's histogram and exemplar records: a WAL written by
// Storage becomes the head of Debian's Prometheus 2.42 (server mode replays <data>/wal at
// start), and its HTTP API must return exactly the histograms, floats and exemplars appended.
// promtool's dump cannot show this (it prints floats only; see promtool_test.cc).
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/fs.h"
#include "common/metrics.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr int64_t kT = 1700000000000;  // ms

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/petrel-prom-replay-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)PosixFs().RemoveAll(path); }
  std::string path;
};

// A port the kernel just handed out on 127.0.0.1 (free unless taken in the next moment).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The Prometheus server this test started; stopped (SIGTERM, then waited for) by PID.
struct Server {
  pid_t pid = -1;
  ~Server() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// One bucket as the query API lists it: boundary rule, lower, upper, count.
struct Bucket {
  int rule;
  double lower, upper, count;
};

std::vector<Bucket> Buckets(const nlohmann::json& h) {
  std::vector<Bucket> out;
  for (const auto& b : h.at("buckets")) {
    out.push_back({b.at(0).get<int>(), std::stod(b.at(1).get<std::string>()),
                   std::stod(b.at(2).get<std::string>()), std::stod(b.at(3).get<std::string>())});
  }
  return out;
}

void CheckBuckets(const std::vector<Bucket>& got, const std::vector<Bucket>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("bucket " << i);
    CHECK(got[i].rule == want[i].rule);
    CHECK(got[i].lower == Approx(want[i].lower).epsilon(1e-12));
    CHECK(got[i].upper == Approx(want[i].upper).epsilon(1e-12));
    CHECK(got[i].count == want[i].count);
  }
}

TEST_CASE("Prometheus 2.42 replays Petrel's histogram and exemplar records exactly",
          "[wal][prometheus][histogram]") {
  if (::access(kPrometheus, X_OK) != 0) {
    WARN("prometheus not found at " << kPrometheus << "; skipping the Prometheus cross-check");
    return;
  }
  TempDir temp;
  PosixFs fs;
  const std::string data = temp.path + "/data";

  // Integer histogram, schema 0: zero bucket 1; positive (0.5,1] 1 and (1,2] 2 (deltas 1 1);
  // negative [-2,-1) 3.
  Histogram h;
  h.hint = CounterResetHint::kNotCounterReset;
  h.zero_threshold = 1e-128;
  h.zero_count = 1;
  h.count = 7;
  h.sum = 2.5;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {1, 1};
  h.negative_spans = {{1, 1}};
  h.negative_buckets = {3};
  // Float histogram, schema 3: zero bucket 0.5 (threshold 0.001); buckets at indexes -2, -1, 1.
  FloatHistogram fh;
  fh.schema = 3;
  fh.zero_threshold = 0.001;
  fh.zero_count = 0.5;
  fh.count = 8;
  fh.sum = 10;
  fh.positive_spans = {{-2, 2}, {1, 1}};
  fh.positive_buckets = {1.5, 2, 4};
  Histogram custom;  // type 9: newer than 2.42, which skips it; later records still replay
  custom.schema = kCustomBucketsSchema;
  custom.count = 2;
  custom.sum = 1;
  custom.positive_spans = {{0, 1}};
  custom.positive_buckets = {2};
  custom.custom_values = {1};
  {
    Registry r;
    auto st = Storage::Open(fs, r, data, {});
    REQUIRE(st.ok());
    auto app = (*st)->NewAppender();
    for (int round = 0; round < 2; ++round) {
      const int64_t t = kT + round * 15000;
      REQUIRE(
          app->AppendHistogram(0, Labels{{"__name__", "petrel_custom"}}, t, &custom, nullptr).ok());
      REQUIRE(
          app->AppendHistogram(0, Labels{{"__name__", "petrel_int_hist"}}, t, &h, nullptr).ok());
      REQUIRE(
          app->AppendHistogram(0, Labels{{"__name__", "petrel_float_hist"}}, t, nullptr, &fh).ok());
      auto ref = app->Append(0, Labels{{"__name__", "petrel_float"}}, t, 5 + round);
      REQUIRE(ref.ok());
      REQUIRE(app->AppendExemplar(*ref, t - 3, 0.25 + round,
                                  Labels{{"span_id", "s1"}, {"trace_id", "abc123"}})
                  .ok());
      REQUIRE(app->Commit().ok());
    }
    REQUIRE((*st)->Close().ok());
  }

  const std::string config = temp.path + "/prometheus.yml";
  REQUIRE(WriteFileAtomic(fs, config, "global:\n  scrape_interval: 1m\n").ok());
  const int port = FreePort();
  const std::string flags[] = {"--config.file=" + config, "--storage.tsdb.path=" + data,
                               "--web.listen-address=127.0.0.1:" + std::to_string(port),
                               "--enable-feature=native-histograms,exemplar-storage"};
  Server server;
  server.pid = ::fork();
  REQUIRE(server.pid >= 0);
  if (server.pid == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execl(kPrometheus, kPrometheus, flags[0].c_str(), flags[1].c_str(), flags[2].c_str(),
            flags[3].c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  client.set_read_timeout(5);
  // Ready once the WAL is replayed: bounded wait, polling.
  bool ready = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(25);
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(::waitpid(server.pid, nullptr, WNOHANG) == 0);  // it must not have exited
    auto res = client.Get("/-/ready");
    ready = res && res->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(ready);

  auto query = [&](const std::string& path) {
    auto res = client.Get(path);
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 200);
    auto j = nlohmann::json::parse(res->body);
    REQUIRE(j.at("status") == "success");
    return j.at("data");
  };
  const std::string at = "&time=" + std::to_string((kT + 15000) / 1000);

  auto ih = query("/api/v1/query?query=petrel_int_hist" + at).at("result");
  REQUIRE(ih.size() == 1);
  const auto& ihv = ih.at(0).at("histogram");
  CHECK(ihv.at(0).get<double>() == (kT + 15000) / 1000.0);
  CHECK(ihv.at(1).at("count") == "7");
  CHECK(ihv.at(1).at("sum") == "2.5");
  // Rules: 0 (a,b], 1 [a,b), 3 [a,b].
  CheckBuckets(Buckets(ihv.at(1)),
               {{1, -2, -1, 3}, {3, -1e-128, 1e-128, 1}, {0, 0.5, 1, 1}, {0, 1, 2, 2}});

  auto fhr = query("/api/v1/query?query=petrel_float_hist" + at).at("result");
  REQUIRE(fhr.size() == 1);
  const auto& fhv = fhr.at(0).at("histogram").at(1);
  CHECK(fhv.at("count") == "8");
  CHECK(fhv.at("sum") == "10");
  auto bound = [](int i) { return std::pow(2.0, i / 8.0); };
  CheckBuckets(Buckets(fhv), {{3, -0.001, 0.001, 0.5},
                              {0, bound(-3), bound(-2), 1.5},
                              {0, bound(-2), bound(-1), 2},
                              {0, bound(0), bound(1), 4}});

  // 2.42 knows no custom buckets: it skipped the type 9 records (and went on with the rest).
  CHECK(query("/api/v1/query?query=petrel_custom" + at).at("result").empty());

  auto fl = query("/api/v1/query?query=petrel_float" + at).at("result");
  REQUIRE(fl.size() == 1);
  CHECK(fl.at(0).at("value").at(1) == "6");

  auto ex =
      query("/api/v1/query_exemplars?query=petrel_float&start=" + std::to_string(kT / 1000 - 60) +
            "&end=" + std::to_string(kT / 1000 + 60));
  REQUIRE(ex.size() == 1);
  const auto& exemplars = ex.at(0).at("exemplars");
  REQUIRE(exemplars.size() == 2);
  CHECK(exemplars.at(0).at("labels") ==
        nlohmann::json({{"span_id", "s1"}, {"trace_id", "abc123"}}));
  CHECK(exemplars.at(0).at("value") == "0.25");
  CHECK(exemplars.at(0).at("timestamp").get<double>() == (kT - 3) / 1000.0);
  CHECK(exemplars.at(1).at("value") == "1.25");
  CHECK(exemplars.at(1).at("timestamp").get<double>() == (kT + 15000 - 3) / 1000.0);
}

}  // namespace
}  // namespace petrel::wal
