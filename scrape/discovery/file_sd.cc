#include "scrape/discovery/file_sd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>

#include "config/target_groups.h"

namespace petrel::scrape::discovery {
namespace {

constexpr std::string_view kFilepathLabel = "__meta_filepath";

Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Io(fmt::format("{}: {}", path, std::strerror(errno)));
  std::string content;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::Io(fmt::format("{}: {}", path, std::strerror(err)));
    }
    content.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

std::vector<TargetGroup> ToGroups(const std::vector<config::StaticConfig>& parsed,
                                  const std::string& path) {
  std::vector<TargetGroup> groups;
  groups.reserve(parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) {
    TargetGroup& g = groups.emplace_back();
    g.source = fmt::format("{}:{}", path, i);
    for (const std::string& t : parsed[i].targets) {
      g.targets.push_back(Labels{{"__address__", t}});
    }
    LabelsBuilder labels(parsed[i].labels);
    labels.Set(kFilepathLabel, path);
    g.labels = labels.Build();
  }
  return groups;
}

// A logfmt value between double quotes.
std::string Quoted(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c == '\n' ? ' ' : c);
  }
  return out;
}

// An empty group: its source is gone.
TargetGroup Gone(const std::string& source) {
  TargetGroup g;
  g.source = source;
  return g;
}

}  // namespace

FileSd::FileSd(config::FileSdConfig config, Registry& registry)
    : FileSd(std::move(config), registry, Options()) {}

FileSd::FileSd(config::FileSdConfig config, Registry& registry, Options options)
    : config_(std::move(config)),
      options_(options),
      read_errors_(registry.GetCounter("prometheus_sd_file_read_errors_total",
                                       "The number of File-SD read errors.")) {}

std::map<std::string, FileSd::FileState> FileSd::Scan() const {
  std::set<std::string> paths;
  for (const std::string& pattern : config_.files) {
    glob_t g{};
    // GLOB_PERIOD: '*' matches a leading dot, as Go's filepath.Glob does.
    if (::glob(pattern.c_str(), GLOB_PERIOD, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.insert(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  std::map<std::string, FileState> out;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // gone meanwhile
    out.emplace(path,
                FileState{.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
                          .size = st.st_size,
                          .inode = st.st_ino});
  }
  return out;
}

std::vector<TargetGroup> FileSd::Refresh(const std::map<std::string, FileState>& scanned,
                                         bool force) {
  std::vector<TargetGroup> changes;
  for (auto it = files_.begin(); it != files_.end();) {
    if (scanned.count(it->first) != 0) {
      ++it;
      continue;
    }
    for (const TargetGroup& g : it->second.groups) changes.push_back(Gone(g.source));
    it = files_.erase(it);
  }
  for (const auto& [path, state] : scanned) {
    FileEntry& entry = files_[path];
    if (!force && entry.state == state) continue;
    entry.state = state;  // a broken file is read again only once it changes
    auto content = ReadWholeFile(path);
    auto parsed = content.ok() ? config::ParseTargetGroups(*content, path)
                               : Result<std::vector<config::StaticConfig>>(content.status());
    if (!parsed.ok()) {
      read_errors_->Inc();
      spdlog::error(
          "msg=\"Error reading file\" component=\"discovery manager\" discovery=file "
          "path={} err=\"{}\"",
          path, Quoted(parsed.status().message()));
      continue;  // keeps the groups read before
    }
    std::vector<TargetGroup> groups = ToGroups(*parsed, path);
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i >= entry.groups.size() || !(entry.groups[i] == groups[i])) changes.push_back(groups[i]);
    }
    for (size_t i = groups.size(); i < entry.groups.size(); ++i) {
      changes.push_back(Gone(entry.groups[i].source));
    }
    entry.groups = std::move(groups);
  }
  return changes;
}

void FileSd::Run(std::stop_token stop, const UpdateFn& update) {
  Refresh(Scan(), true);
  std::vector<TargetGroup> initial;
  for (const auto& [path, entry] : files_) {
    initial.insert(initial.end(), entry.groups.begin(), entry.groups.end());
  }
  update(std::move(initial));

  std::mutex mu;  // guards nothing; condition_variable_any needs a lock to wait on
  std::condition_variable_any wake;
  auto last_full = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu);
      if (wake.wait_for(lock, stop, options_.poll_interval, [] { return false; })) break;
    }
    if (stop.stop_requested()) break;
    const auto now = std::chrono::steady_clock::now();
    const bool full = now - last_full >= config_.refresh_interval;
    if (full) last_full = now;
    std::vector<TargetGroup> changes = Refresh(Scan(), full);
    if (!changes.empty()) update(std::move(changes));
  }
}

}  // namespace petrel::scrape::discovery
