#include "remotewrite/resharding.h"

#include <catch2/catch.hpp>
#include <chrono>

#include "common/clock.h"
#include "remotewrite/token_bucket.h"

namespace petrel::remotewrite {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("EWMA rate seeds on the first busy interval, then moves by 0.2", "[remotewrite]") {
  EwmaRate r(seconds(10));
  r.Tick();
  CHECK(r.rate() == 0);
  r.Add(1000);
  r.Tick();
  CHECK(r.rate() == Approx(100));
  r.Add(2000);
  r.Tick();
  CHECK(r.rate() == Approx(100 + 0.2 * (200 - 100)));
  r.Tick();  // a quiet interval pulls it down
  CHECK(r.rate() == Approx(120 - 0.2 * 120));
}

// One tick of traffic: `in` samples read, `out` sent taking `send_s` shard-seconds in total.
ShardDecision Tick(ShardTuner& t, int current, uint64_t in, uint64_t out, double send_s,
                   double delay_s = 0) {
  t.SamplesIn(in);
  if (out > 0) t.SamplesOut(out, std::chrono::duration<double>(send_s));
  return t.Evaluate(current, 1000 + delay_s, 1000);
}

TEST_CASE("shard tuner sizes shards to the time sending takes", "[remotewrite]") {
  ShardTuner t(1, 50, seconds(10));
  SECTION("nothing sent yet: keep the count") {
    ShardDecision d = Tick(t, 3, 10000, 0, 0);
    CHECK(d.shards == 3);
  }
  SECTION("sends take 4 shard-seconds per second: 4 shards") {
    // 1000 samples/s in and out; 40 s of sending in a 10 s tick.
    ShardDecision d = Tick(t, 1, 10000, 10000, 40);
    CHECK(d.desired == Approx(4));
    CHECK(d.shards == 4);
  }
  SECTION("within 30% of the current count: keep it") {
    CHECK(Tick(t, 4, 10000, 10000, 45).shards == 4);  // desired 4.5 -> 5 <= 5.2
    ShardTuner u(1, 50, seconds(10));
    CHECK(Tick(u, 4, 10000, 10000, 60).shards == 6);  // 6 > 5.2
  }
  SECTION("a backlog adds 5% of it per second") {
    // 1000/s in, 100 s behind: 100000 pending; 1000 + 5000 per second at 1 ms each.
    ShardDecision d = Tick(t, 1, 10000, 10000, 10, /*delay_s=*/100);
    CHECK(d.desired == Approx(6));
    CHECK(d.shards == 6);
  }
  SECTION("no scale-down while more than 10 s behind") {
    CHECK(Tick(t, 10, 10000, 10000, 10, /*delay_s=*/11).shards == 10);
    ShardTuner u(1, 50, seconds(10));
    CHECK(Tick(u, 10, 10000, 10000, 10, /*delay_s=*/0).shards == 1);
  }
  SECTION("clamped to [min_shards, max_shards]") {
    ShardTuner u(2, 8, seconds(10));
    CHECK(Tick(u, 4, 10000, 10000, 1000).shards == 8);
    ShardTuner v(2, 8, seconds(10));
    CHECK(Tick(v, 4, 10000, 10000, 1).shards == 2);
  }
  SECTION("dropped samples do not need shards") {
    // Half of what comes in is dropped: only the kept half costs send time.
    t.SamplesDropped(10000);
    ShardDecision d = Tick(t, 1, 20000, 10000, 40);
    CHECK(d.desired == Approx(4));
  }
}

TEST_CASE("token bucket paces bytes to the configured rate", "[remotewrite]") {
  FakeClock clock;
  TokenBucket b(1000, clock.Monotonic());
  SECTION("a full bucket lets a second's worth through at once, then waits") {
    CHECK(b.ReadyAt(clock.Monotonic()) == clock.Monotonic());
    b.Take(clock.Monotonic(), 1500);  // may go into debt: 500 bytes
    CHECK(b.ReadyAt(clock.Monotonic()) == clock.Monotonic() + milliseconds(500));
    clock.Advance(milliseconds(499));
    CHECK(b.ReadyAt(clock.Monotonic()) > clock.Monotonic());
    clock.Advance(milliseconds(1));
    CHECK(b.ReadyAt(clock.Monotonic()) == clock.Monotonic());
  }
  SECTION("the long-run rate is the limit, whatever the request sizes") {
    uint64_t sent = 0;
    const auto start = clock.Monotonic();
    for (int i = 0; i < 200; ++i) {
      const auto ready = b.ReadyAt(clock.Monotonic());
      clock.Advance(ready - clock.Monotonic());
      const uint64_t bytes = 100 + (i * 37) % 900;
      b.Take(clock.Monotonic(), bytes);
      sent += bytes;
    }
    const double elapsed = std::chrono::duration<double>(clock.Monotonic() - start).count();
    // The first second's burst is free; every other byte took 1 ms.
    CHECK(sent <= 1000 * elapsed + 1000 + 1000);
    CHECK(sent >= 1000 * elapsed);
  }
  SECTION("idle time refills at most one second's worth") {
    b.Take(clock.Monotonic(), 1000);
    clock.Advance(seconds(60));
    b.Take(clock.Monotonic(), 1000);
    CHECK(b.ReadyAt(clock.Monotonic()) == clock.Monotonic());
    b.Take(clock.Monotonic(), 1);
    CHECK(b.ReadyAt(clock.Monotonic()) > clock.Monotonic());
  }
  SECTION("0 is unlimited") {
    TokenBucket u(0, clock.Monotonic());
    u.Take(clock.Monotonic(), uint64_t{1} << 40);
    CHECK(u.ReadyAt(clock.Monotonic()) == clock.Monotonic());
  }
}

}  // namespace
}  // namespace petrel::remotewrite
