// Shard: one of a queue's parallel lanes. All samples of a series go through the same shard
// (series_ref % shards), which keeps each series in timestamp order while shards send
// concurrently. A shard is a bounded FIFO of samples plus the state of the one batch it is
// sending; it is not a thread (the queue's loop drives every shard).
//
// The batch is the first `batch` samples of the FIFO. They are popped only once the batch
// succeeded or was dropped, so a shard never sends batch N+1 before N is done.
//
// Resharding sets `fence` to the number of samples pushed so far. While the queue's reshard
// barrier is up, only samples numbered <= fence may go into a batch (see Sendable).
// One caller at a time.
#pragma once

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "remotewrite/http_client.h"
#include "remotewrite/series_cache.h"
#include "remotewrite/watcher.h"

namespace petrel::remotewrite {

// Where a sample is in the WAL: the record (by its end) and its index among the record's
// samples. Ordered as the WAL is read.
struct SamplePos {
  WalPosition record;
  uint32_t index = 0;
  auto operator<=>(const SamplePos&) const = default;
};

// A sample waiting in a shard. series points into the SeriesCache (stable, see there).
struct QueuedSample {
  const CachedSeries* series;
  int64_t t;
  double v;
  SamplePos pos;
};

// Fixed-capacity FIFO, allocated once: pushing and popping never allocate.
class SampleRing {
 public:
  explicit SampleRing(size_t capacity) : ring_(capacity) { assert(capacity > 0); }

  size_t size() const { return size_; }
  size_t capacity() const { return ring_.size(); }
  bool full() const { return size_ == ring_.size(); }
  // The i-th oldest sample; i < size().
  const QueuedSample& at(size_t i) const { return ring_[(head_ + i) % ring_.size()]; }
  // Requires !full().
  void Push(const QueuedSample& s) {
    assert(!full());
    ring_[(head_ + size_) % ring_.size()] = s;
    ++size_;
    ++pushed_;
  }
  // Drops the n oldest; n <= size().
  void Pop(size_t n) {
    assert(n <= size_);
    head_ = (head_ + n) % ring_.size();
    size_ -= n;
    popped_ += n;
  }
  // Samples ever pushed / popped. A sample pushed as number k is gone once popped() >= k.
  uint64_t pushed() const { return pushed_; }
  uint64_t popped() const { return popped_; }

 private:
  std::vector<QueuedSample> ring_;
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t pushed_ = 0;
  uint64_t popped_ = 0;
};

struct Shard {
  using SteadyTime = std::chrono::steady_clock::time_point;

  explicit Shard(size_t capacity) : queue(capacity) {}

  SampleRing queue;
  SteadyTime wait_started{};  // batch_send_deadline runs from here for a partial batch

  std::unique_ptr<HttpClient> client;  // this shard's connection; one request at a time
  std::string body;                    // compressed request of the current batch, for retries
  size_t batch = 0;                    // samples in the current batch; 0 = none
  size_t sent = 0;                     // of those, in the request (the rest were too old)
  int64_t batch_min_t = 0;
  int64_t batch_max_t = 0;
  uint64_t fence = 0;  // queue.pushed() at the last reshard
  // The newest sample of this shard that is done with (acknowledged or dropped for good). A
  // shard finishes its samples in WAL order, so every older sample routed to it is done too.
  std::optional<SamplePos> done;
  bool in_flight = false;
  int attempt = 0;  // 0 = first try; the Retry-Attempt header otherwise
  std::chrono::milliseconds backoff{0};
  SteadyTime retry_at{};
  SteadyTime attempt_started{};

  // Queued samples that may go into a batch: all of them, or while a reshard barrier is up only
  // those pushed before the fence.
  size_t Sendable(bool barrier) const {
    if (!barrier) return queue.size();
    const uint64_t popped = queue.popped();
    return fence > popped ? std::min<uint64_t>(queue.size(), fence - popped) : 0;
  }
};

}  // namespace petrel::remotewrite
