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
#include <array>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/labels.h"
#include "remotewrite/encoder.h"
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

// What a queue sends: float samples, native histograms (integer or float) and exemplars. Each
// is one item of a batch and counts against max_samples_per_send, as in Prometheus.
enum class ItemKind : uint8_t { kSample = 0, kHistogram = 1, kExemplar = 2 };
inline constexpr size_t kItemKinds = 3;

// A sample, histogram or exemplar waiting in a shard. series points into the SeriesCache
// (stable, see there). v is the value of a sample or exemplar.
struct QueuedSample {
  const CachedSeries* series;
  int64_t t;
  double v;
  SamplePos pos;
};

// What a histogram or an exemplar carries besides t and v.
struct ItemExtra {
  EncodedHistogram histogram;  // kHistogram: its Histogram message fields
  Labels exemplar_labels;      // kExemplar
};

// Fixed-capacity FIFO, allocated once: pushing and popping float samples never allocates (the
// rarer histograms and exemplars keep their extra part in a deque beside the ring).
class SampleRing {
 public:
  explicit SampleRing(size_t capacity) : ring_(capacity), kinds_(capacity) { assert(capacity > 0); }

  size_t size() const { return size_; }
  size_t capacity() const { return ring_.size(); }
  bool full() const { return size_ == ring_.size(); }
  // The i-th oldest sample; i < size().
  const QueuedSample& at(size_t i) const { return ring_[Wrap(head_ + i)]; }
  ItemKind kind(size_t i) const { return kinds_[Wrap(head_ + i)]; }
  // The extra part of the j-th oldest item that is not a float sample; j < extras().
  const ItemExtra& extra(size_t j) const { return extras_[j]; }
  size_t extras() const { return extras_.size(); }
  // Requires !full(). extra only for histograms and exemplars.
  void Push(const QueuedSample& s, ItemKind kind = ItemKind::kSample, ItemExtra* extra = nullptr) {
    assert(!full());
    assert((kind == ItemKind::kSample) == (extra == nullptr));
    const size_t slot = Wrap(head_ + size_);
    ring_[slot] = s;
    kinds_[slot] = kind;
    if (extra != nullptr) extras_.push_back(std::move(*extra));
    ++size_;
    ++pushed_;
  }
  // Drops the n oldest; n <= size().
  void Pop(size_t n) {
    assert(n <= size_);
    if (!extras_.empty()) {
      size_t with_extra = 0;
      for (size_t i = 0; i < n; ++i) with_extra += kind(i) != ItemKind::kSample;
      extras_.erase(extras_.begin(), extras_.begin() + static_cast<ptrdiff_t>(with_extra));
    }
    head_ = Wrap(head_ + n);
    size_ -= n;
    popped_ += n;
  }
  // Samples ever pushed / popped. A sample pushed as number k is gone once popped() >= k.
  uint64_t pushed() const { return pushed_; }
  uint64_t popped() const { return popped_; }

 private:
  // i mod capacity for i < 2 * capacity (every caller's case): a compare instead of a 64-bit
  // division, which was a third of the remote-write Append's time at 200k series.
  size_t Wrap(size_t i) const { return i >= ring_.size() ? i - ring_.size() : i; }

  std::vector<QueuedSample> ring_;
  std::vector<ItemKind> kinds_;  // beside ring_, so a float sample costs one byte more, not eight
  std::deque<ItemExtra> extras_;
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
  std::string body_buf;                // holds body (and leftovers past it)
  std::string_view body;               // compressed request of the current batch, for retries
  size_t batch = 0;                    // items in the current batch; 0 = none
  size_t sent = 0;                     // of those, in the request (the rest were too old)
  std::array<size_t, kItemKinds> batch_kinds{};  // the batch's items by ItemKind
  std::array<size_t, kItemKinds> sent_kinds{};   // the request's items by ItemKind
  size_t sent_metadata = 0;                      // RW 2.0: of those, with metadata
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
