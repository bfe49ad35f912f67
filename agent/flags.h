// Command-line flags, named and defaulted as Prometheus agent mode's.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace petrel::agent {

struct Flags {
  std::string config_file = "prometheus.yml";
  std::string storage_path = "data-agent/";
  bool wal_compression = true;
  std::string wal_compression_type = "snappy";  // or "zstd"
  uint64_t wal_segment_bytes = 128ull << 20;
  std::chrono::milliseconds wal_fsync_interval = std::chrono::seconds(5);  // 0: every commit
  std::chrono::milliseconds wal_truncate_frequency = std::chrono::hours(2);
  std::chrono::milliseconds retention_min_time = std::chrono::minutes(5);
  std::chrono::milliseconds retention_max_time = std::chrono::hours(4);
  uint64_t retention_max_bytes = 0;              // 0: no size bound
  std::string retention_policy = "drop-oldest";  // or "backpressure"
  std::chrono::milliseconds flush_deadline = std::chrono::minutes(1);
  std::string listen_address = "0.0.0.0:9090";
  std::string log_level = "info";
  bool enable_lifecycle = false;  // /-/reload and /-/quit
  // What the flags change in reading the config file (--enable-feature=native-histograms);
  // passed to every config::Load, at startup and on reload.
  config::LoadOptions config_load;
  bool show_version = false;
  bool show_help = false;
};

// Parses argv (without argv[0]). kInvalidArgument names the flag; the caller prints it with
// the usage and exits 2.
Result<Flags> ParseFlags(const std::vector<std::string>& args);

// What to log once at startup about flags that change the config's defaults; one message
// each, none for a plain command line.
std::vector<std::string> StartupNotices(const Flags& flags);

// The --help text.
std::string Usage();

// "128MB", "10MiB", "1GB" (base 2, as Prometheus's units.Base2Bytes) -> bytes.
Result<uint64_t> ParseBytes(std::string_view text);

}  // namespace petrel::agent
