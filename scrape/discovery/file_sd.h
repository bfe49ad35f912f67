// file_sd_configs: target groups read from JSON/YAML files matched by globs, as Prometheus's
// discovery/file. File format: config/target_groups.h.
//
// Each group's source is "<path>:<index>" and its labels gain __meta_filepath=<path> (the path
// as the glob matched it). Run sends every group once at start (an empty vector when no file
// matches), then only changes: a file's changed groups; empty groups for indices a file no
// longer has; empty groups for every source of a file that was deleted or no longer matches.
//
// Change detection: every poll_interval (1s) the globs are re-listed and each file's mtime,
// size and inode compared; every refresh_interval all files are re-read regardless. A file that
// cannot be read or parsed keeps its previous groups: the error is logged and counted in
// prometheus_sd_file_read_errors_total, and the file is read again when it changes.
//
// Thread-safety: construct, then Run on one thread; Run returns once stop is requested (within
// one poll interval at most, usually at once).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "config/config.h"
#include "scrape/discovery/discovery.h"

namespace petrel::scrape::discovery {

class FileSd final : public Discoverer {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval = std::chrono::seconds(1);
  };

  // registry outlives the FileSd; several FileSds share its counter.
  FileSd(config::FileSdConfig config, Registry& registry);
  FileSd(config::FileSdConfig config, Registry& registry, Options options);

  void Run(std::stop_token stop, const UpdateFn& update) override;

 private:
  // What a file looked like when last read; a difference means "read it again".
  struct FileState {
    int64_t mtime_ns = 0;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const FileState&) const = default;
  };
  struct FileEntry {
    FileState state;
    std::vector<TargetGroup> groups;
  };

  std::map<std::string, FileState> Scan() const;
  // Re-reads the files in scanned (all of them when force) and returns the groups that changed.
  std::vector<TargetGroup> Refresh(const std::map<std::string, FileState>& scanned, bool force);

  const config::FileSdConfig config_;
  const Options options_;
  Counter* read_errors_;
  std::map<std::string, FileEntry> files_;  // by path; only Run's thread touches it
};

}  // namespace petrel::scrape::discovery
