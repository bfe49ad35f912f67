#include "remotewrite/resharding.h"

#include <algorithm>
#include <cmath>

namespace petrel::remotewrite {
namespace {

// A change smaller than this fraction of the current count is not worth a reshard.
constexpr double kTolerance = 0.3;
// Share of the backlog to catch up on per second.
constexpr double kBacklogCatchup = 0.05;
// Never scale down while the newest sent sample is further behind than this.
constexpr double kMaxDelayToShrinkSeconds = 10;

}  // namespace

void EwmaRate::Tick() {
  const double instant = pending_ / interval_s_;
  pending_ = 0;
  if (init_) {
    rate_ += alpha_ * (instant - rate_);
  } else if (instant > 0) {  // the first non-zero interval seeds the rate
    rate_ = instant;
    init_ = true;
  }
}

ShardDecision ShardTuner::Evaluate(int current, double highest_read_s, double highest_sent_s) {
  in_.Tick();
  out_.Tick();
  dropped_.Tick();
  send_seconds_.Tick();
  ShardDecision d{.desired = static_cast<double>(current), .shards = current};
  const double out = out_.rate();
  if (out <= 0) return d;
  const double kept = out / (dropped_.rate() + out);
  const double delay = std::max(0.0, highest_read_s - highest_sent_s);
  const double pending = delay * in_.rate() * kept;
  const double time_per_sample = send_seconds_.rate() / out;
  d.desired = time_per_sample * (in_.rate() * kept + kBacklogCatchup * pending);

  const double wanted = std::ceil(d.desired);
  if (wanted >= current * (1 - kTolerance) && wanted <= current * (1 + kTolerance)) return d;
  if (wanted < current && delay > kMaxDelayToShrinkSeconds) return d;
  d.shards =
      static_cast<int>(std::clamp(wanted, static_cast<double>(min_), static_cast<double>(max_)));
  return d;
}

}  // namespace petrel::remotewrite
