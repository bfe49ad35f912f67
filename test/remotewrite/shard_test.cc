#include "remotewrite/shard.h"

#include <catch2/catch.hpp>

#include "remotewrite/logfmt.h"

namespace petrel::remotewrite {
namespace {

TEST_CASE("sample ring keeps FIFO order across wraparound", "[remotewrite]") {
  SampleRing ring(4);
  CHECK(ring.size() == 0);
  int64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 10; ++round) {
    while (!ring.full()) ring.Push({nullptr, next_in++, 0, {}});
    CHECK(ring.size() == 4);
    const size_t take = 1 + round % 3;
    for (size_t i = 0; i < ring.size(); ++i) {
      CHECK(ring.at(i).t == next_out + static_cast<int64_t>(i));
    }
    ring.Pop(take);
    next_out += static_cast<int64_t>(take);
    CHECK(ring.at(0).t == next_out);
  }
  CHECK(ring.pushed() == static_cast<uint64_t>(next_in));
  CHECK(ring.popped() == static_cast<uint64_t>(next_out));
  ring.Pop(ring.size());
  CHECK(ring.size() == 0);
  CHECK(ring.popped() == ring.pushed());
}

TEST_CASE("log limiter lets one line per interval through and counts the rest", "[remotewrite]") {
  LogLimiter limiter(std::chrono::seconds(10));
  std::chrono::steady_clock::time_point t0{};
  size_t suppressed = 99;
  CHECK(limiter.Allow(t0, &suppressed));
  CHECK(suppressed == 0);
  CHECK_FALSE(limiter.Allow(t0 + std::chrono::seconds(1), &suppressed));
  CHECK_FALSE(limiter.Allow(t0 + std::chrono::seconds(9), &suppressed));
  CHECK(limiter.Allow(t0 + std::chrono::seconds(10), &suppressed));
  CHECK(suppressed == 2);
}

TEST_CASE("Quote escapes for logfmt", "[remotewrite]") {
  CHECK(Quote("plain") == "\"plain\"");
  CHECK(Quote("say \"hi\"\\\n") == "\"say \\\"hi\\\"\\\\\\n\"");
}

}  // namespace
}  // namespace petrel::remotewrite
