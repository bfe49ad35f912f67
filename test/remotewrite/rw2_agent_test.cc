// Issue 11, acceptance 2, through the whole agent: the petrel binary scrapes a target serving a
// native histogram (with an exemplar) and a counter in the protobuf exposition format
// (test/integration/native_histogram_target.py), and sends RW 2.0 to the fake receiver, which
// decodes with classes of a .proto written from the spec. The request must hold exactly what was
// served: the histogram's schema, zero bucket, spans, deltas, count and sum; the counter's value;
// the exemplar; and each series' metadata (type and help from the target's families).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test/remotewrite/decode_util.h"
#include "test/remotewrite/fake_receiver.h"

extern char** environ;

namespace petrel::remotewrite {
namespace {

using testing::Item;

// A child process, ended (SIGTERM, then reaped) when this goes out of scope.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& out) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Child() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  bool running() const { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = 0;
};

// A port free at the time of the call (bound to 0, read back, released).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Waits (bounded) for a file to have content.
bool WaitForFile(const std::string& path) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ReadFile(path).empty()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<Item> AllItems(const std::vector<testing::ReceivedRequest>& reqs) {
  std::vector<Item> out;
  for (const auto& r : reqs) {
    if (!r.decoded || !r.v2) continue;
    auto items = testing::Items(r.body_v2);
    out.insert(out.end(), items.begin(), items.end());
  }
  return out;
}

const Item* Find(const std::vector<Item>& items, Item::Kind kind, const std::string& prefix) {
  for (const Item& i : items) {
    if (i.kind == kind && i.series.starts_with(prefix)) return &i;
  }
  return nullptr;
}

TEST_CASE("petrel scrapes protobuf native histograms and sends them as RW 2.0 with metadata",
          "[remotewrite][agent]") {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("petrel-rw2-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};

  testing::FakeReceiver rx;  // RW 2.0: 204 with the written-count headers
  Child target({"/usr/bin/python3", PETREL_NH_TARGET, dir + "/target.port", dir + "/accept.log"},
               dir + "/target.out");
  REQUIRE(WaitForFile(dir + "/target.port"));
  const std::string target_port = ReadFile(dir + "/target.port");
  {
    std::ofstream cfg(dir + "/petrel.yml");
    cfg << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: app\n    scrape_native_histograms: true\n"
        << "    static_configs:\n      - targets: ['127.0.0.1:" << target_port << "']\n"
        << "remote_write:\n  - url: " << rx.url() << "\n"
        << "    protobuf_message: io.prometheus.write.v2.Request\n"
        << "    send_exemplars: true\n"
        << "    queue_config: {batch_send_deadline: 200ms}\n";
  }
  Child petrel(
      {PETREL_BIN, "--config.file=" + dir + "/petrel.yml", "--storage.agent.path=" + dir + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(FreePort())},
      dir + "/petrel.log");

  const std::string job = "instance=127.0.0.1:" + target_port + ",job=app,";
  const std::string hist = "__name__=request_duration_seconds," + job + "path=/api,";
  const std::string counter = "__name__=requests_total," + job + "path=/api,";
  const bool arrived = rx.WaitUntil(
      [&](const auto& reqs) {
        auto items = AllItems(reqs);
        return Find(items, Item::kHistogram, hist) && Find(items, Item::kSample, counter) &&
               Find(items, Item::kExemplar, hist);
      },
      std::chrono::seconds(20));
  INFO(ReadFile(dir + "/petrel.log"));
  REQUIRE(arrived);
  const auto reqs = rx.requests();
  const auto items = AllItems(reqs);
  for (const auto& r : reqs) {
    CHECK(r.v2);
    CHECK(r.Header("X-Prometheus-Remote-Write-Version") == "2.0.0");
  }

  // What native_histogram_target.py serves: schema 0, zero bucket (0.001, 1 observation),
  // buckets 1..5 holding 3, 5, 10, 7, 2 (deltas 3, 2, 5, -3, -5), sum 150.5.
  const Item& h = *Find(items, Item::kHistogram, hist);
  CHECK(h.metadata == "3/Request latency./");  // METRIC_TYPE_HISTOGRAM
  CHECK(h.h.schema == 0);
  CHECK(h.h.zero_threshold == 0.001);
  CHECK(h.h.zero_count == 1);
  CHECK(h.h.count == 28);
  CHECK(h.h.sum == 150.5);
  CHECK(h.h.positive_spans == std::vector<HistogramSpan>{{1, 5}});
  CHECK(h.h.positive_buckets == std::vector<int64_t>{3, 2, 5, -3, -5});
  CHECK(h.h.negative_spans.empty());
  CHECK(h.h.custom_values.empty());
  CHECK(h.series == hist);  // no other label

  const Item& c = *Find(items, Item::kSample, counter);
  CHECK(c.series == counter);
  CHECK(c.v == 42);
  CHECK(c.metadata == "1/Requests./");  // METRIC_TYPE_COUNTER

  const Item& e = *Find(items, Item::kExemplar, hist);
  CHECK(e.exemplar_labels == "trace_id=abc123,");
  CHECK(e.v == 12);
  CHECK(e.metadata == "3/Request latency./");
  CHECK(e.t > 0);

  // No classic series of the histogram (it was scraped as a native one).
  for (const Item& i : items)
    CHECK_FALSE(i.series.starts_with("__name__=request_duration_seconds_"));
  CHECK(petrel.running());
}

}  // namespace
}  // namespace petrel::remotewrite
