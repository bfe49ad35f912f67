// RetentionLoop: the agent's WAL truncation loop (Prometheus tsdb/agent, wal-format.md §7) plus
// Petrel's bounds. The agent starts one after Storage::Open and the remote-write queues.
//
// Every truncate_frequency it asks `needs` where each remote-write endpoint stands and:
//   1. max-time: segments at the front whose newest sample is older than now - max_time are
//      dropped whole (Storage::DropSegments), even if an endpoint has not sent them;
//   2. truncates (Storage::Truncate) with Prometheus's mint: min over endpoints of
//      (oldest unsent sample, or now when caught up) - min_time, raised to now - max_time;
//      never folding a segment >= the lowest needed_segment of any endpoint;
//   3. max-size, as below.
// Max-size is also checked whenever the active segment changes (the loop wakes on every commit
// and compares CurrentSegment) and every size_check_interval. When the WAL dir (segments and
// checkpoint) exceeds max_bytes it drops the oldest closed segments until it fits:
//   - kDropOldest: whatever the endpoints still need. Unsent samples lost are counted in
//     petrel_wal_samples_dropped_total{remote_name, reason="max_size"|"max_time"} and logged:
//     the samples of the dropped segments from max(needed_segment, reading_segment + 1) on.
//   - kBackpressure: only segments below every endpoint's needed_segment; if that is not enough
//     the Storage is set full (Commit fails with kUnavailable, samples counted as rejected)
//     until a later check finds the WAL within the bound again. Unsent data is never dropped
//     for size; max-time still applies.
// The WAL can exceed max_bytes by the active segment (at most one segment) between checks.
// Sets petrel_remote_storage_oldest_unsent_age_seconds{remote_name} on every check.
//
// Thread-safe: Start/Stop from one owner; RunTruncation and EnforceSize may be called from any
// thread (tests call them directly); they are serialized.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "wal/storage.h"

namespace petrel::wal {

enum class RetentionPolicy { kDropOldest, kBackpressure };

struct RetentionOptions {
  std::chrono::milliseconds truncate_frequency = std::chrono::hours(2);
  std::chrono::milliseconds min_time = std::chrono::minutes(5);  // retention.min-time
  std::chrono::milliseconds max_time = std::chrono::hours(4);    // retention.max-time
  uint64_t max_bytes = 0;                                        // retention.max-size; 0: none
  RetentionPolicy policy = RetentionPolicy::kDropOldest;
  std::chrono::milliseconds size_check_interval = std::chrono::seconds(10);
};

// Where one remote-write endpoint stands.
struct EndpointNeed {
  std::string name;  // remote_name
  // Lowest WAL segment the endpoint still has to read (its position, or the segment of its
  // oldest unacknowledged sample); -1: it holds no segment (not started; it will start at the
  // newest one).
  int64_t needed_segment = -1;
  // Timestamp (ms) of its oldest sample read but not yet acknowledged; none when caught up.
  std::optional<int64_t> oldest_unsent_ms;
  // The segment its reader has open; -1: unknown. A reader goes on reading an open segment to
  // its end after the segment is deleted (the open file stays readable), and what it read
  // before is queued, so only dropped segments after this one are lost to the endpoint.
  int64_t reading_segment = -1;
};

// The options as Prometheus adjusts them: max_time >= min_time and max_time >=
// truncate_frequency; also truncate_frequency >= 1 s and size_check_interval >= 100 ms.
RetentionOptions Normalized(RetentionOptions options);

class RetentionLoop {
 public:
  using NeedsFn = std::function<std::vector<EndpointNeed>()>;

  // All references must outlive the loop. needs is called from the loop's thread.
  RetentionLoop(Storage& storage, Clock& clock, Registry& metrics, RetentionOptions options,
                NeedsFn needs);
  ~RetentionLoop();  // Stop()

  void Start();
  void Stop();

  // One truncation cycle now (max-time, truncate, max-size). Returns the first error; the
  // cycle goes on past it.
  Status RunTruncation();
  // The max-size check alone.
  Status EnforceSize();

  // The mint of a cycle at now_ms (exposed for tests).
  int64_t Mint(const std::vector<EndpointNeed>& needs, int64_t now_ms) const;

 private:
  void Loop(std::stop_token stop);
  // Drops segments <= last, counting what each endpoint had not sent under `reason` (asking
  // needs_ again once the files are gone).
  Status Drop(uint32_t last, const char* reason);
  Status EnforceSizeLocked(const std::vector<EndpointNeed>& needs);
  void UpdateAtRisk(const std::vector<EndpointNeed>& needs, int64_t now_ms);

  Storage& storage_;
  Clock& clock_;
  Registry& metrics_;
  const RetentionOptions options_;
  const NeedsFn needs_;
  Counter* truncate_failed_;
  HistogramMetric* truncate_duration_;
  std::mutex mu_;  // serializes cycles and checks
  std::jthread thread_;
};

}  // namespace petrel::wal
