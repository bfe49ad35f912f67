#include "scrape/discovery/file_sd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace petrel::scrape::discovery {
namespace {

using namespace std::chrono_literals;

// A fresh directory under $TMPDIR, removed afterwards.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "petrel-file-sd-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string File(const std::string& name) const { return path + "/" + name; }
};

// Replaces the file atomically (new inode), as editors and config managers do.
void WriteFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

// Collects the batches Run sends; waits are bounded so a broken discoverer fails, not hangs.
class Collector {
 public:
  void operator()(std::vector<TargetGroup> groups) {
    std::lock_guard lock(mu_);
    batches_.push_back(std::move(groups));
    cv_.notify_all();
  }
  // Waits until there are more than n batches and returns batch n.
  std::vector<TargetGroup> Batch(size_t n) {
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return batches_.size() > n; }));
    return batches_[n];
  }
  size_t Count() {
    std::lock_guard lock(mu_);
    return batches_.size();
  }

 private:
  std::mutex mu_;  // guards batches_
  std::condition_variable cv_;
  std::vector<std::vector<TargetGroup>> batches_;
};

// Runs a FileSd on its own thread, polling every 5ms unless told otherwise.
struct Running {
  Registry registry;
  Collector collector;
  FileSd sd;
  std::jthread thread;
  Running(std::vector<std::string> files, std::chrono::milliseconds refresh = 5min,
          std::chrono::milliseconds poll = 5ms)
      : sd(config::FileSdConfig{.files = std::move(files), .refresh_interval = refresh}, registry,
           FileSd::Options{.poll_interval = poll}),
        thread([this](std::stop_token st) {
          sd.Run(st, [this](std::vector<TargetGroup> g) { collector(std::move(g)); });
        }) {}
  double ReadErrors() {
    return registry.GetCounter("prometheus_sd_file_read_errors_total", "")->Value();
  }
};

const TargetGroup* Find(const std::vector<TargetGroup>& groups, const std::string& source) {
  for (const TargetGroup& g : groups) {
    if (g.source == source) return &g;
  }
  return nullptr;
}

std::vector<std::string> Addresses(const TargetGroup& g) {
  std::vector<std::string> out;
  for (const Labels& t : g.targets) out.emplace_back(t.Get("__address__"));
  return out;
}

TEST_CASE("file_sd sends the initial groups of JSON and YAML files", "[discovery][file_sd]") {
  TempDir dir;
  WriteFile(dir.File("a.json"),
            R"([{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}},
                {"targets": ["h3:9100"]}])");
  WriteFile(dir.File("b.yml"), "- targets: ['db:9187']\n  labels: {role: db, env: test}\n");
  WriteFile(dir.File("ignored.txt"), "[]");
  Running r({dir.File("*.json"), dir.File("*.yml")});

  const std::vector<TargetGroup> initial = r.collector.Batch(0);
  REQUIRE(initial.size() == 3);
  const TargetGroup* a0 = Find(initial, dir.File("a.json") + ":0");
  const TargetGroup* a1 = Find(initial, dir.File("a.json") + ":1");
  const TargetGroup* b0 = Find(initial, dir.File("b.yml") + ":0");
  REQUIRE(a0);
  REQUIRE(a1);
  REQUIRE(b0);
  CHECK(Addresses(*a0) == std::vector<std::string>{"h1:9100", "h2:9100"});
  CHECK(a0->labels == Labels{{"env", "prod"}, {"__meta_filepath", dir.File("a.json")}});
  CHECK(a1->labels == Labels{{"__meta_filepath", dir.File("a.json")}});
  CHECK(Addresses(*b0) == std::vector<std::string>{"db:9187"});
  CHECK(b0->labels.Get("role") == "db");
  CHECK(b0->labels.Get("__meta_filepath") == dir.File("b.yml"));
  CHECK(r.ReadErrors() == 0);
}

TEST_CASE("file_sd sends an empty initial set when nothing matches", "[discovery][file_sd]") {
  TempDir dir;
  Running r({dir.File("*.json")});
  CHECK(r.collector.Batch(0).empty());

  SECTION("a file that appears later is picked up") {
    WriteFile(dir.File("new.json"), R"([{"targets": ["n:1"]}])");
    const std::vector<TargetGroup> added = r.collector.Batch(1);
    REQUIRE(added.size() == 1);
    CHECK(added[0].source == dir.File("new.json") + ":0");
    CHECK(Addresses(added[0]) == std::vector<std::string>{"n:1"});
  }
}

TEST_CASE("file_sd sends changed groups and empties vanished ones", "[discovery][file_sd]") {
  TempDir dir;
  const std::string path = dir.File("t.yaml");
  WriteFile(path, "- targets: [a:1]\n- targets: [b:1]\n- targets: [c:1]\n");
  Running r({path});
  REQUIRE(r.collector.Batch(0).size() == 3);

  // Group 0 unchanged, group 1 changed, group 2 gone.
  WriteFile(path, "- targets: [a:1]\n- targets: [b:2]\n");
  const std::vector<TargetGroup> changes = r.collector.Batch(1);
  REQUIRE(changes.size() == 2);
  const TargetGroup* g1 = Find(changes, path + ":1");
  const TargetGroup* g2 = Find(changes, path + ":2");
  REQUIRE(g1);
  REQUIRE(g2);
  CHECK(Addresses(*g1) == std::vector<std::string>{"b:2"});
  CHECK(g2->targets.empty());
  CHECK(Find(changes, path + ":0") == nullptr);

  SECTION("deleting the file empties all its groups") {
    REQUIRE(std::remove(path.c_str()) == 0);
    const std::vector<TargetGroup> gone = r.collector.Batch(2);
    REQUIRE(gone.size() == 2);
    for (const TargetGroup& g : gone) CHECK(g.targets.empty());
    CHECK(Find(gone, path + ":0"));
    CHECK(Find(gone, path + ":1"));
  }
}

TEST_CASE("file_sd keeps the previous groups of a file that fails to parse",
          "[discovery][file_sd]") {
  TempDir dir;
  const std::string path = dir.File("t.json");
  WriteFile(path, R"([{"targets": ["a:1"]}])");
  Running r({path});
  REQUIRE(r.collector.Batch(0).size() == 1);

  WriteFile(path, R"([{"targets": ["a:1", )");  // truncated mid-write
  for (int i = 0; i < 2000 && r.ReadErrors() < 1; ++i) std::this_thread::sleep_for(5ms);
  CHECK(r.ReadErrors() == 1);
  CHECK(r.collector.Count() == 1);  // nothing sent: the old group stands

  SECTION("an invalid label name is a read error too") {
    WriteFile(path, R"([{"targets": ["a:1"], "labels": {"bad-name": "x"}}])");
    for (int i = 0; i < 2000 && r.ReadErrors() < 2; ++i) std::this_thread::sleep_for(5ms);
    CHECK(r.ReadErrors() == 2);
    CHECK(r.collector.Count() == 1);
  }
  SECTION("a fixed file is read again") {
    WriteFile(path, R"([{"targets": ["a:2"]}])");
    const std::vector<TargetGroup> fixed = r.collector.Batch(1);
    REQUIRE(fixed.size() == 1);
    CHECK(Addresses(fixed[0]) == std::vector<std::string>{"a:2"});
    CHECK(r.ReadErrors() == 1);
  }
}

TEST_CASE("file_sd re-reads every refresh_interval even when the file looks unchanged",
          "[discovery][file_sd]") {
  TempDir dir;
  const std::string path = dir.File("t.json");
  {
    std::ofstream out(path);
    out << R"([{"targets": ["a:1"]}])";
  }
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  // Polls are 100ms apart, so the edit below (microseconds) almost surely falls between two.
  Running r({path}, 300ms, 100ms);
  REQUIRE(r.collector.Batch(0).size() == 1);

  // Same size, same inode, mtime put back: only the periodic full refresh can see this.
  {
    std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
    out << R"([{"targets": ["b:1"]}])";
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  const std::vector<TargetGroup> refreshed = r.collector.Batch(1);
  REQUIRE(refreshed.size() == 1);
  CHECK(Addresses(refreshed[0]) == std::vector<std::string>{"b:1"});
}

TEST_CASE("file_sd Run returns promptly when stopped", "[discovery][file_sd]") {
  TempDir dir;
  Registry registry;
  FileSd sd(config::FileSdConfig{.files = {dir.File("*.json")}}, registry);  // 1s polls
  std::stop_source stop;
  std::atomic<bool> sent{false};
  std::jthread t([&] { sd.Run(stop.get_token(), [&](std::vector<TargetGroup>) { sent = true; }); });
  for (int i = 0; i < 2000 && !sent; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(sent);
  const auto start = std::chrono::steady_clock::now();
  stop.request_stop();
  t.join();
  CHECK(std::chrono::steady_clock::now() - start < 500ms);
}

}  // namespace
}  // namespace petrel::scrape::discovery
