// ShardTuner: how many shards a queue should run, from its ingest and send rates, evaluated every
// shard update interval (10 s), as Prometheus's calculateDesiredShards
// (storage/remote/queue_manager.go; shared/reference/remote-write.md §6):
//
//   rates are EWMAs (weight 0.2 per tick) of samples in, samples out (sent or failed for good),
//   samples dropped, and seconds spent in sends (summed over shards)
//   kept    = out / (dropped + out)
//   pending = (highest ts read - highest ts sent) * in * kept      (the backlog, in samples)
//   desired = (send seconds / out) * (in * kept + 0.05 * pending)  (catch up 5% per second)
//
// desired is reported raw; the decision keeps the current count when nothing was sent, when
// ceil(desired) is within 30% of it, or when it would shrink while more than 10 s behind, and
// otherwise clamps ceil(desired) to [min_shards, max_shards].
// One caller at a time.
#pragma once

#include <chrono>
#include <cstdint>

namespace petrel::remotewrite {

// An exponentially weighted moving rate of events per second, updated by Tick.
class EwmaRate {
 public:
  explicit EwmaRate(std::chrono::duration<double> interval, double alpha = 0.2)
      : interval_s_(interval.count()), alpha_(alpha) {}
  void Add(double n) { pending_ += n; }
  // Folds what was added since the last Tick into the rate.
  void Tick();
  double rate() const { return rate_; }

 private:
  double interval_s_;
  double alpha_;
  double pending_ = 0;
  double rate_ = 0;
  bool init_ = false;
};

struct ShardDecision {
  double desired = 0;  // unrounded, for prometheus_remote_storage_shards_desired
  int shards = 0;      // the count to run
};

class ShardTuner {
 public:
  ShardTuner(int min_shards, int max_shards, std::chrono::duration<double> interval)
      : min_(min_shards),
        max_(max_shards),
        in_(interval),
        out_(interval),
        dropped_(interval),
        send_seconds_(interval) {}

  void SamplesIn(uint64_t n) { in_.Add(static_cast<double>(n)); }
  void SamplesDropped(uint64_t n) { dropped_.Add(static_cast<double>(n)); }
  // A send of n samples finished (acknowledged or failed for good) after `took`.
  void SamplesOut(uint64_t n, std::chrono::duration<double> took) {
    out_.Add(static_cast<double>(n));
    send_seconds_.Add(took.count());
  }

  // Ticks the rates; highest_read_s / highest_sent_s are the newest sample timestamps read from
  // the WAL and sent, in seconds.
  ShardDecision Evaluate(int current, double highest_read_s, double highest_sent_s);

 private:
  const int min_;
  const int max_;
  EwmaRate in_, out_, dropped_, send_seconds_;
};

}  // namespace petrel::remotewrite
