#include "wal/retention.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "wal/reader.h"

namespace petrel::wal {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kNoBound = std::numeric_limits<uint32_t>::max();

// The lowest segment any endpoint still needs; kNoBound when none holds one.
uint32_t KeepFrom(const std::vector<EndpointNeed>& needs) {
  uint32_t keep = kNoBound;
  for (const auto& n : needs) {
    if (n.needed_segment >= 0) {
      keep = std::min<uint32_t>(
          keep, static_cast<uint32_t>(std::min<int64_t>(n.needed_segment, kNoBound - 1)));
    }
  }
  return keep;
}

uint64_t DiskBytes(const Storage& storage) {
  uint64_t total = storage.CheckpointBytes();
  for (const auto& st : storage.Segments()) total += st.bytes;
  return total;
}

}  // namespace

RetentionOptions Normalized(RetentionOptions o) {
  // Zero or negative periods would spin the loop.
  o.truncate_frequency = std::max<std::chrono::milliseconds>(o.truncate_frequency, 1s);
  o.size_check_interval = std::max<std::chrono::milliseconds>(o.size_check_interval, 100ms);
  o.max_time = std::max(o.max_time, o.min_time);
  o.max_time = std::max(o.max_time, o.truncate_frequency);
  return o;
}

RetentionLoop::RetentionLoop(Storage& storage, Clock& clock, Registry& metrics,
                             RetentionOptions options, NeedsFn needs)
    : storage_(storage),
      clock_(clock),
      metrics_(metrics),
      options_(Normalized(options)),
      needs_(std::move(needs)) {
  truncate_failed_ = metrics.GetCounter("petrel_wal_retention_failures_total",
                                        "Truncation cycles or size checks that failed.");
  // A summary without quantiles in Prometheus; _sum and _count are the same here.
  truncate_duration_ = metrics.GetHistogram("prometheus_agent_truncate_duration_seconds",
                                            "Duration of WAL truncation.", DefaultBuckets());
}

RetentionLoop::~RetentionLoop() { Stop(); }

void RetentionLoop::Start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { Loop(std::move(stop)); });
}

void RetentionLoop::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void RetentionLoop::Loop(std::stop_token stop) {
  using std::chrono::milliseconds;
  uint64_t seen = 0;
  uint32_t last_segment = storage_.CurrentSegment();
  auto next_truncate = clock_.Monotonic() + options_.truncate_frequency;
  auto next_size = clock_.Monotonic() + options_.size_check_interval;
  while (!stop.stop_requested()) {
    const auto now = clock_.Monotonic();
    const auto wait = std::max(std::chrono::steady_clock::duration::zero(),
                               std::min(next_truncate, next_size) - now);
    storage_.notifier().WaitFor(&seen, std::chrono::duration_cast<milliseconds>(wait), stop);
    if (stop.stop_requested()) return;
    const auto woke = clock_.Monotonic();
    Status s;
    if (woke >= next_truncate) {
      s = RunTruncation();
      next_truncate = woke + options_.truncate_frequency;
      next_size = woke + options_.size_check_interval;
      last_segment = storage_.CurrentSegment();
    } else if (const uint32_t seg = storage_.CurrentSegment();
               seg != last_segment || woke >= next_size) {
      // A rotation: the size bound is checked at once, not only every truncate_frequency.
      s = EnforceSize();
      last_segment = seg;
      next_size = woke + options_.size_check_interval;
    }
    if (!s.ok()) {
      truncate_failed_->Inc();
      spdlog::error("wal: retention: {}", s.message());
    }
  }
}

int64_t RetentionLoop::Mint(const std::vector<EndpointNeed>& needs, int64_t now_ms) const {
  // As Prometheus: no endpoint means lowest sent timestamp 0, so max-time alone decides.
  int64_t mint = 0;
  if (!needs.empty()) {
    mint = std::numeric_limits<int64_t>::max();
    for (const auto& n : needs) {
      mint = std::min(mint, n.oldest_unsent_ms.value_or(now_ms) - options_.min_time.count());
    }
  }
  return std::max(mint, now_ms - options_.max_time.count());
}

void RetentionLoop::UpdateAtRisk(const std::vector<EndpointNeed>& needs, int64_t now_ms) {
  for (const auto& n : needs) {
    const double age =
        n.oldest_unsent_ms ? std::max<int64_t>(0, now_ms - *n.oldest_unsent_ms) / 1000.0 : 0;
    metrics_
        .GetGauge("petrel_remote_storage_oldest_unsent_age_seconds",
                  "Age of the oldest sample not yet acknowledged by the endpoint: seconds of data "
                  "at risk.",
                  {"remote_name"}, {n.name})
        ->Set(age);
  }
}

Status RetentionLoop::Drop(uint32_t last, const char* reason) {
  auto dropped = storage_.DropSegments(last);
  if (!dropped.ok()) return dropped.status().Prefixed("dropping segments");
  if (dropped->empty()) return Status::Ok();
  uint64_t bytes = 0;
  for (const auto& st : *dropped) bytes += st.bytes;
  spdlog::info("wal: retention ({}) dropped segments {}..{} ({} bytes)", reason,
               SegmentName(dropped->front().index), SegmentName(dropped->back().index), bytes);
  // Where the endpoints stand now that the files are gone: while the checkpoint was written a
  // watcher may have opened one of the dropped segments, which it still reads to its end; one
  // it had not opened it can no longer open. (Positions only move forward.)
  const std::vector<EndpointNeed> after = needs_();
  for (const auto& n : after) {
    if (n.needed_segment < 0) continue;
    // The segment the endpoint's reader has open is read to its end from the open file, and
    // the ones before it are already queued: only the segments after it are lost.
    const int64_t first_lost = std::max(n.needed_segment, n.reading_segment + 1);
    uint64_t lost = 0;
    for (const auto& st : *dropped) {
      if (st.index >= first_lost) lost += st.samples;
    }
    if (lost == 0) continue;
    metrics_
        .GetCounter("petrel_wal_samples_dropped_total",
                    "Samples dropped from the WAL by a retention bound before the endpoint sent "
                    "them.",
                    {"remote_name", "reason"}, {n.name, reason})
        ->Inc(static_cast<double>(lost));
    spdlog::warn(
        "wal: retention.{} forced out {} samples remote_name={} had not sent "
        "(segments {}..{})",
        reason == std::string_view("max_size") ? "max-size" : "max-time", lost, n.name,
        SegmentName(std::max<uint32_t>(dropped->front().index, static_cast<uint32_t>(first_lost))),
        SegmentName(dropped->back().index));
  }
  return Status::Ok();
}

Status RetentionLoop::RunTruncation() {
  std::lock_guard lock(mu_);
  const auto start = std::chrono::steady_clock::now();
  const int64_t now_ms = ToMillis(clock_.Now());
  const std::vector<EndpointNeed> needs = needs_();
  UpdateAtRisk(needs, now_ms);
  Status result;
  auto keep = [&result](Status s) {
    if (!s.ok() && result.ok()) result = s;
  };

  // max-time: the oldest segments whose samples are all past it go, sent or not.
  const int64_t cutoff = now_ms - options_.max_time.count();
  const uint32_t active = storage_.CurrentSegment();
  int64_t expired = -1;
  for (const auto& st : storage_.Segments()) {
    if (st.index >= active || st.max_ts >= cutoff) break;
    expired = st.index;
  }
  if (expired >= 0) keep(Drop(static_cast<uint32_t>(expired), "max_time"));

  keep(storage_.Truncate(Mint(needs, now_ms), KeepFrom(needs)));
  keep(EnforceSizeLocked(needs));
  truncate_duration_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

Status RetentionLoop::EnforceSize() {
  std::lock_guard lock(mu_);
  const std::vector<EndpointNeed> needs = needs_();
  UpdateAtRisk(needs, ToMillis(clock_.Now()));
  return EnforceSizeLocked(needs);
}

Status RetentionLoop::EnforceSizeLocked(const std::vector<EndpointNeed>& needs) {
  if (options_.max_bytes == 0) {
    storage_.SetFull(false);
    return Status::Ok();
  }
  // A drop rewrites the checkpoint (series records), which may grow it: check again, a bounded
  // number of times.
  Status s;
  for (int round = 0; round < 3 && s.ok(); ++round) {
    const std::vector<SegmentStats> segments = storage_.Segments();
    uint64_t total = storage_.CheckpointBytes();
    for (const auto& st : segments) total += st.bytes;
    if (total <= options_.max_bytes) break;
    // The fewest oldest closed segments that bring the WAL within the bound.
    const uint64_t excess = total - options_.max_bytes;
    const uint32_t active = storage_.CurrentSegment();
    int64_t last = -1;
    uint64_t freed = 0;
    for (const auto& st : segments) {
      if (st.index >= active || freed >= excess) break;
      freed += st.bytes;
      last = st.index;
    }
    if (options_.policy == RetentionPolicy::kBackpressure) {
      last = std::min<int64_t>(last, static_cast<int64_t>(KeepFrom(needs)) - 1);
    }
    if (last < 0) break;
    s = Drop(static_cast<uint32_t>(last), "max_size");
  }
  const bool full =
      options_.policy == RetentionPolicy::kBackpressure && DiskBytes(storage_) > options_.max_bytes;
  if (full && !storage_.full()) {
    spdlog::warn(
        "wal: retention.max-size {} bytes reached with unsent data: refusing appends "
        "until the endpoints catch up (policy backpressure)",
        options_.max_bytes);
  }
  storage_.SetFull(full);
  return s;
}

}  // namespace petrel::wal
