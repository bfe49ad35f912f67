// TokenBucket: paces an endpoint's requests to queue_config.max_bytes_per_second (compressed
// bytes on the wire). The bucket holds at most one second of tokens. A request may start when
// the bucket is not in debt; starting takes its whole size, which may put the bucket in debt, so
// a request larger than a second's worth is never starved and the long-run rate stays at the
// limit (at most rate * t + one second's worth over any t). Time comes from the caller
// (Clock::Monotonic in tests). One caller at a time.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace petrel::remotewrite {

class TokenBucket {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // bytes_per_second 0: unlimited (ReadyAt is always `now`). Starts full.
  TokenBucket(uint64_t bytes_per_second, SteadyTime now)
      : rate_(static_cast<double>(bytes_per_second)), tokens_(rate_), last_(now) {}

  bool unlimited() const { return rate_ <= 0; }

  // The earliest time a request may start: `now` when it may start now.
  SteadyTime ReadyAt(SteadyTime now) const {
    if (unlimited()) return now;
    const double tokens = TokensAt(now);
    if (tokens >= 0) return now;
    const auto wait = std::chrono::duration<double>(-tokens / rate_);
    return now + std::chrono::ceil<std::chrono::steady_clock::duration>(wait);
  }
  // Records a request of `bytes` starting at `now` (call only when ReadyAt(now) == now).
  void Take(SteadyTime now, uint64_t bytes) {
    if (unlimited()) return;
    tokens_ = TokensAt(now) - static_cast<double>(bytes);
    last_ = std::max(last_, now);
  }

 private:
  double TokensAt(SteadyTime now) const {
    if (now <= last_) return tokens_;
    return std::min(rate_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
  }

  double rate_;    // bytes per second; also the bucket's size
  double tokens_;  // negative: in debt
  SteadyTime last_;
};

}  // namespace petrel::remotewrite
