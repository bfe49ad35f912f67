// The other direction of the promtool check: a WAL written by a real Prometheus agent (Debian's
// 2.42, snappy on) is read by Petrel's reader, decoders and replay.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/fs.h"
#include "wal/reader.h"
#include "wal/records.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/petrel-prom-agent-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)PosixFs().RemoveAll(path); }
  std::string path;
};

// Counts the samples records readable so far (live mode: the agent is still writing).
size_t SamplesRecords(Fs& fs, const std::string& wal_dir) {
  auto segments = ListSegments(fs, wal_dir);
  if (!segments.ok()) return 0;
  size_t n = 0;
  std::string rec;
  for (uint32_t index : *segments) {
    auto r = SegmentReader::Open(fs, wal_dir, index, SegmentReader::Mode::kLive);
    if (!r.ok()) return n;
    for (int guard = 0; guard < 100000; ++guard) {
      auto more = (*r)->Next(&rec);
      if (!more.ok() || !*more) break;
      n += TypeOf(rec) == RecordType::kSamples;
    }
  }
  return n;
}

TEST_CASE("a WAL written by a Prometheus agent replays in Petrel", "[wal][prometheus]") {
  if (::access(kPrometheus, X_OK) != 0) {
    WARN("prometheus not found at " << kPrometheus << "; skipping the Prometheus cross-check");
    return;
  }
  TempDir temp;
  PosixFs fs;
  const std::string config = temp.path + "/prometheus.yml";
  const std::string data = temp.path + "/data";
  // The target refuses connections: every scrape still writes up=0 and the scrape_* series.
  REQUIRE(WriteFileAtomic(fs, config,
                          "global:\n  scrape_interval: 200ms\n  scrape_timeout: 100ms\n"
                          "scrape_configs:\n  - job_name: petrel_compat\n"
                          "    static_configs:\n      - targets: ['127.0.0.1:1']\n")
              .ok());
  const std::string config_flag = "--config.file=" + config;
  const std::string data_flag = "--storage.agent.path=" + data;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls here: no stdio (its buffers belong to the parent).
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execl(kPrometheus, kPrometheus, "--enable-feature=agent", config_flag.c_str(),
            data_flag.c_str(), "--web.listen-address=127.0.0.1:0",
            "--storage.agent.wal-compression", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait (bounded) until three scrapes are in the WAL, then stop the agent cleanly.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  size_t records = 0;
  int status = 0;
  bool exited = false;
  while (records < 3 && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    records = SamplesRecords(fs, data + "/wal");
  }
  if (!exited) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
  }
  REQUIRE_FALSE(exited);  // the agent died early: see its flags
  REQUIRE(records >= 3);

  // Strict read of every segment, as replay does, with both decoders.
  auto segments = ListSegments(fs, data + "/wal");
  REQUIRE(segments.ok());
  REQUIRE_FALSE(segments->empty());
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  std::string rec;
  for (uint32_t index : *segments) {
    auto r = SegmentReader::Open(fs, data + "/wal", index, SegmentReader::Mode::kStrict);
    REQUIRE(r.ok());
    for (;;) {
      auto more = (*r)->Next(&rec);
      REQUIRE(more.ok());
      if (!*more) break;
      if (TypeOf(rec) == RecordType::kSeries) REQUIRE(DecodeSeries(rec, &series).ok());
      if (TypeOf(rec) == RecordType::kSamples) REQUIRE(DecodeSamples(rec, &samples).ok());
    }
  }
  SeriesRef up = 0;
  for (const auto& s : series) {
    if (s.labels.Get("__name__") == "up" && s.labels.Get("job") == "petrel_compat") up = s.ref;
  }
  REQUIRE(up != 0);
  size_t up_samples = 0;
  for (const auto& s : samples) {
    if (s.ref != up) continue;
    ++up_samples;
    CHECK(s.v == 0);
  }
  CHECK(up_samples >= 3);

  Registry r;
  auto st = Storage::Open(fs, r, data, {});
  REQUIRE(st.ok());
  CHECK((*st)->replay_status().ok());
  CHECK((*st)->ActiveSeries() == series.size());
  CHECK((*st)->CurrentSegment() == segments->back() + 1);
  // Replay restored up's last timestamp: appending at it again is out of order.
  int64_t last_up = 0;
  for (const auto& s : samples) {
    if (s.ref == up) last_up = std::max(last_up, s.t);
  }
  auto app = (*st)->NewAppender();
  CHECK(app->Append(up, Labels{}, last_up, 1).status().code() == Code::kInvalidArgument);
  CHECK(app->Append(up, Labels{}, last_up + 1, 1).ok());
  REQUIRE((*st)->Close().ok());
}

}  // namespace
}  // namespace petrel::wal
