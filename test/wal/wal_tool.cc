// wal_tool: measures the WAL on a real disk (PosixFs). Not a test; numbers for the benchmarks.
//
//   wal_tool write DIR COMPRESSION SERIES SCRAPES        node_exporter-shaped scrapes every 15 s
//                                                        (ms jitter), one Commit per scrape,
//                                                        cached refs; prints bytes per sample
//                                                        and append throughput
//   wal_tool farm DIR COMPRESSION TARGETS SERIES SCRAPES what bench/compare.sh's petrel-farm
//                                                        serves, as petrel's scrape loop appends
//                                                        it: TARGETS x (SERIES + 5 scrape_*
//                                                        series), targets spread over a 10 s
//                                                        interval, one Commit per target scrape
//   COMPRESSION: none, snappy, zstd (the default level) or zstd:LEVEL
//   wal_tool replay DIR                                  Storage::Open (replay) of DIR; prints
//                                                        MB/s (run under /usr/bin/time -v for
//                                                        peak RSS)
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/metrics.h"
#include "wal/reader.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

uint64_t WalBytes(Fs& fs, const std::string& wal_dir) {
  uint64_t total = 0;
  auto segments = ListSegments(fs, wal_dir);
  if (!segments.ok()) return 0;
  for (uint32_t i : *segments) {
    auto f = fs.OpenForRead(JoinPath(wal_dir, SegmentName(i)));
    if (f.ok()) total += *(*f)->Size();
  }
  return total;
}

// A node_exporter-like series: its labels and how its value moves.
struct Shape {
  Labels labels;
  enum Kind { kConstant, kIntCounter, kCpuCounter, kGauge } kind;
  double value;
};

std::vector<Shape> NodeExporterSeries(int n, std::mt19937_64& rng) {
  const char* kModes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  const char* kDevices[] = {"eth0", "eth1", "lo", "nvme0n1", "nvme1n1", "sda", "dm-0", "dm-1"};
  std::vector<Shape> out;
  for (int i = 0; i < n; ++i) {
    // 40% constant (20% at 0, 10% at 1), 30% integer counters, 20% cpu seconds, 10% gauges.
    const int kind = i % 10;
    Shape s;
    std::string name;
    std::vector<Label> extra;
    if (kind < 4) {
      name = fmt::format("node_filesystem_size_bytes_{}", i % 23);
      extra = {{"device", kDevices[i % 8]},
               {"fstype", "ext4"},
               {"mountpoint", fmt::format("/mnt/disk{}", i)}};
      s.kind = Shape::kConstant;
      // Like a real node_exporter: many error/drop counters at 0 and flags/info at 1.
      s.value = i % 40 < 15   ? 0
                : i % 40 < 25 ? 1
                              : std::floor(std::uniform_real_distribution<double>(1e9, 1e12)(rng));
    } else if (kind < 7) {
      name = fmt::format("node_network_receive_bytes_total_{}", i % 17);
      extra = {{"device", fmt::format("{}_{}", kDevices[i % 8], i)}};
      s.kind = Shape::kIntCounter;
      s.value = std::floor(std::uniform_real_distribution<double>(0, 1e10)(rng));
    } else if (kind < 9) {
      name = "node_cpu_seconds_total";
      extra = {{"cpu", std::to_string(i / 8)}, {"mode", kModes[i % 8]}};
      s.kind = Shape::kCpuCounter;
      s.value = std::round(std::uniform_real_distribution<double>(0, 1e6)(rng) * 100) / 100;
    } else {
      name = fmt::format("node_memory_gauge_bytes_{}", i % 31);
      extra = {{"id", std::to_string(i)}};
      s.kind = Shape::kGauge;
      s.value = std::floor(std::uniform_real_distribution<double>(1e8, 1e10)(rng));
    }
    std::vector<Label> labels = {
        {"__name__", name}, {"instance", "edge-node-17.example.internal:9100"}, {"job", "node"}};
    labels.insert(labels.end(), extra.begin(), extra.end());
    s.labels = Labels::FromUnsorted(std::move(labels));
    out.push_back(std::move(s));
  }
  return out;
}

void Step(Shape& s, std::mt19937_64& rng) {
  switch (s.kind) {
    case Shape::kConstant:
      break;
    case Shape::kIntCounter:
      // Quiet interfaces move little; busy ones a lot.
      if (rng() % 3 != 0) s.value += static_cast<double>(rng() % 200000);
      break;
    case Shape::kCpuCounter:
      s.value = std::round((s.value + static_cast<double>(rng() % 1500) / 100) * 100) / 100;
      break;
    case Shape::kGauge:
      if (rng() % 2 == 0) {
        s.value += static_cast<double>(static_cast<int64_t>(rng() % 8192) - 4096) * 4096;
      }
      break;
  }
}

// none, snappy, zstd or zstd:LEVEL; false for anything else.
bool ParseCompression(const std::string& spec, Options* options) {
  if (spec == "none") {
    options->compression = Compression::kNone;
  } else if (spec == "snappy") {
    options->compression = Compression::kSnappy;
  } else if (spec == "zstd" || spec.starts_with("zstd:")) {
    options->compression = Compression::kZstd;
    if (spec.size() > 5) options->zstd_level = std::atoi(spec.c_str() + 5);
  } else {
    return false;
  }
  return true;
}

Result<std::unique_ptr<Storage>> OpenFor(PosixFs& fs, Registry& registry, const std::string& dir,
                                         const std::string& compression) {
  Options options;
  if (!ParseCompression(compression, &options)) {
    return Status::InvalidArgument("unknown compression " + compression);
  }
  return Storage::Open(fs, registry, dir, options);
}

void Report(PosixFs& fs, const std::string& dir, const std::string& compression, double samples,
            double append_seconds) {
  const uint64_t bytes = WalBytes(fs, JoinPath(dir, "wal"));
  std::printf(
      "compression=%s samples=%.0f wal_bytes=%llu bytes_per_sample=%.3f append_seconds=%.3f "
      "samples_per_second=%.0f\n",
      compression.c_str(), samples, static_cast<unsigned long long>(bytes),
      static_cast<double>(bytes) / samples, append_seconds, samples / append_seconds);
}

int Write(const std::string& dir, const std::string& compression, int series, int scrapes) {
  PosixFs fs;
  Registry registry;
  auto st = OpenFor(fs, registry, dir, compression);
  if (!st.ok()) {
    std::fprintf(stderr, "open: %s\n", st.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(42);
  std::vector<Shape> shapes = NodeExporterSeries(series, rng);
  std::vector<SeriesRef> refs(shapes.size(), 0);
  auto app = (*st)->NewAppender();
  int64_t t = 1700000000000;
  double append_seconds = 0;
  for (int scrape = 0; scrape < scrapes; ++scrape) {
    const int64_t ts = t + static_cast<int64_t>(rng() % 40);  // scrape start jitter
    for (auto& s : shapes) Step(s, rng);
    const auto start = Clock::now();
    for (size_t i = 0; i < shapes.size(); ++i) {
      auto ref = app->Append(refs[i], shapes[i].labels, ts, shapes[i].value);
      if (!ref.ok()) {
        std::fprintf(stderr, "append: %s\n", ref.status().ToString().c_str());
        return 1;
      }
      refs[i] = *ref;
    }
    if (Status s = app->Commit(); !s.ok()) {
      std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
      return 1;
    }
    append_seconds += Seconds(start);
    t += 15000;
  }
  if (Status s = (*st)->Close(); !s.ok()) return 1;
  Report(fs, dir, compression, static_cast<double>(series) * scrapes, append_seconds);
  return 0;
}

// bench/farm/farm.cc's series and values (target t, series s, scrape k), with the target labels
// bench/farm/farm_config.sh gives them, then the scrape loop's own five series.
int Farm(const std::string& dir, const std::string& compression, int targets, int series,
         int scrapes) {
  PosixFs fs;
  Registry registry;
  auto st = OpenFor(fs, registry, dir, compression);
  if (!st.ok()) {
    std::fprintf(stderr, "open: %s\n", st.status().ToString().c_str());
    return 1;
  }
  static const char* kFamilies[] = {
      "node_cpu_seconds_total",         "node_network_receive_bytes_total",
      "node_filesystem_avail_bytes",    "node_disk_io_time_seconds_total",
      "node_memory_MemAvailable_bytes", "node_netstat_Tcp_InSegs"};
  static const char* kScrapeSeries[] = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                        "scrape_samples_post_metric_relabeling",
                                        "scrape_series_added"};
  const Label instance{"instance", "127.0.0.1:40123"};
  const Label job{"job", "farm"};
  std::vector<std::vector<Labels>> labels(targets);
  for (int t = 0; t < targets; ++t) {
    for (int s = 0; s < series; ++s) {
      labels[t].push_back(
          Labels::FromUnsorted({{"__name__", kFamilies[static_cast<int64_t>(s) * 6 / series]},
                                {"cpu", std::to_string(s % 64)},
                                {"device", fmt::format("dev{}", (s / 64) % 32)},
                                {"mode", fmt::format("m{}", s / 2048)},
                                instance,
                                job,
                                {"t", std::to_string(t)}}));
    }
    for (const char* name : kScrapeSeries) {
      labels[t].push_back(
          Labels::FromUnsorted({{"__name__", name}, instance, job, {"t", std::to_string(t)}}));
    }
  }
  std::vector<std::vector<SeriesRef>> refs(targets, std::vector<SeriesRef>(series + 5, 0));
  std::mt19937_64 rng(42);
  auto app = (*st)->NewAppender();
  double append_seconds = 0;
  const int64_t t0 = 1700000000000;
  for (int k = 0; k < scrapes; ++k) {
    for (int t = 0; t < targets; ++t) {
      const int64_t ts = t0 + k * 10000 + t * 10000 / targets + static_cast<int64_t>(rng() % 3);
      const auto start = Clock::now();
      for (int s = 0; s < series + 5; ++s) {
        double v;
        if (s < series) {
          v = static_cast<double>(k) * (s % 7 + 1) + t * 0.5 + s;
        } else {
          const double scrape_values[] = {1, 0.002 + static_cast<double>(rng() % 3000) * 1e-6,
                                          static_cast<double>(series), static_cast<double>(series),
                                          k == 0 ? series + 0.0 : 0};
          v = scrape_values[s - series];
        }
        auto ref = app->Append(refs[t][s], labels[t][s], ts, v);
        if (!ref.ok()) {
          std::fprintf(stderr, "append: %s\n", ref.status().ToString().c_str());
          return 1;
        }
        refs[t][s] = *ref;
      }
      if (Status s = app->Commit(); !s.ok()) {
        std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
        return 1;
      }
      append_seconds += Seconds(start);
    }
  }
  if (Status s = (*st)->Close(); !s.ok()) return 1;
  Report(fs, dir, compression, static_cast<double>(targets) * (series + 5) * scrapes,
         append_seconds);
  return 0;
}

int Replay(const std::string& dir) {
  PosixFs fs;
  Registry registry;
  const uint64_t bytes = WalBytes(fs, JoinPath(dir, "wal"));
  const auto start = Clock::now();
  auto st = Storage::Open(fs, registry, dir, {});
  if (!st.ok()) {
    std::fprintf(stderr, "open: %s\n", st.status().ToString().c_str());
    return 1;
  }
  const double secs = Seconds(start);
  std::printf("replayed wal_bytes=%llu series=%zu seconds=%.3f mb_per_second=%.1f status=%s\n",
              static_cast<unsigned long long>(bytes), (*st)->ActiveSeries(), secs,
              static_cast<double>(bytes) / 1e6 / secs, (*st)->replay_status().ToString().c_str());
  // Replay must not leave a new empty segment behind for the next run to count.
  const uint32_t fresh = (*st)->CurrentSegment();
  (void)(*st)->Close();
  (void)fs.Remove(JoinPath(JoinPath(dir, "wal"), SegmentName(fresh)));
  return 0;
}

}  // namespace
}  // namespace petrel::wal

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 6) {
    return petrel::wal::Write(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
  }
  if (mode == "farm" && argc == 7) {
    return petrel::wal::Farm(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]),
                             std::atoi(argv[6]));
  }
  if (mode == "replay" && argc == 3) return petrel::wal::Replay(argv[2]);
  std::fprintf(stderr,
               "usage: wal_tool write DIR none|snappy|zstd[:LEVEL] SERIES SCRAPES\n"
               "       wal_tool farm DIR none|snappy|zstd[:LEVEL] TARGETS SERIES SCRAPES\n"
               "       wal_tool replay DIR\n");
  return 2;
}
