#include "remotewrite/queue_manager.h"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "config/relabel.h"
#include "test/remotewrite/dropper.h"
#include "test/remotewrite/fake_receiver.h"
#include "test/remotewrite/queue_env.h"
#include "test/support/mem_fs.h"
#include "wal/storage.h"

namespace petrel::remotewrite {
namespace {

TEST_CASE("queue sends every sample once, in per-series order, across segments", "[remotewrite]") {
  // Uncompressed 64 KiB segments so the WAL rolls over a few times while the queue tails it.
  Env env(wal::Options{.segment_bytes = 64 << 10, .compression = wal::Compression::kNone});
  auto queue = env.NewQueue(Labels{{"cluster", "edge-1"}, {"job", "ext"}});
  queue->Start();
  constexpr int kSeries = 40, kSteps = 400;
  env.Write(kSeries, 0, kSteps);
  CHECK(env.storage->CurrentSegment() >= 2);
  const size_t want = kSeries * kSteps;
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= want; }));
  queue->Stop(std::chrono::seconds(5));

  auto reqs = env.rx.requests();
  for (const auto& r : reqs) REQUIRE(r.decoded);
  CHECK(Total(reqs) == want);
  Arrivals got = Collect(reqs, [](size_t) { return true; });
  CheckExactlyOnceInOrder(got, kSeries, 0, kSteps, env.start_ms);
  // External labels merged, series labels win, sorted.
  CHECK(got.count("__name__=m,cluster=edge-1,i=0,job=node,") == 1);
  for (const auto& r : reqs) CHECK(r.body.timeseries_size() <= 50);

  CHECK(env.Metric("samples_total") == want);
  CHECK(env.Metric("samples_failed_total") == 0);
  CHECK(env.Metric("samples_retried_total") == 0);
  CHECK(env.GaugeValue("samples_pending") == 0);
  size_t wire_bytes = 0;
  for (const auto& r : reqs) wire_bytes += r.wire_bytes;
  CHECK(env.Metric("bytes_total") == wire_bytes);
  CHECK(env.metrics
            .GetHistogram("prometheus_remote_storage_sent_batch_duration_seconds", "", {},
                          {"remote_name", "url"}, {env.cfg.name, env.cfg.url})
            ->Read()
            .count == reqs.size());
  CHECK(env.GaugeValue("shards") == 2);
  CHECK(env.GaugeValue("queue_highest_sent_timestamp_seconds") ==
        (env.start_ms + kSteps * 1000) / 1000);
  CHECK(env.GaugeValue("queue_highest_timestamp_seconds") ==
        Approx((env.start_ms + kSteps * 1000) / 1000.0));
  CHECK(env.metrics.GetGauge("prometheus_wal_watcher_current_segment", "", {"consumer"}, {"rw"})
            ->Value() == env.storage->CurrentSegment());
  CHECK(env.metrics
            .GetCounter("prometheus_wal_watcher_records_read_total", "", {"consumer", "type"},
                        {"rw", "samples"})
            ->Value() == kSteps);
}

TEST_CASE("queue sends only samples newer than its start", "[remotewrite]") {
  Env env;
  // Written before the queue starts (timestamps in its future): skipped, as Prometheus does,
  // because replay of older segments reads series only.
  env.Write(3, 100, 5);
  REQUIRE(env.storage->Close().ok());
  auto reopened = wal::Storage::Open(env.fs, env.metrics, "/data", {});
  REQUIRE(reopened.ok());
  env.storage = std::move(*reopened);

  auto queue = env.NewQueue();
  queue->Start();
  {
    // Before the start time: never sent (at the start millisecond it would be: a scrape
    // started in the queue's first millisecond is stamped with it).
    auto app = env.storage->NewAppender();
    REQUIRE(app->Append(0, Labels{{"__name__", "old"}}, env.start_ms - 1, 1).ok());
    REQUIRE(app->Commit().ok());
  }
  env.Write(3, 200, 4);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 12; }));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CHECK(Total(reqs) == 12);
  CheckExactlyOnceInOrder(Collect(reqs, [](size_t) { return true; }), 3, 200, 4, env.start_ms);
}

TEST_CASE("a 500 is retried with backoff until it succeeds, without loss", "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  env.rx.SetResponder([](size_t n, const ReceivedRequest&) {
    return n < 3 ? Reply{500, {}, "try again"} : Reply{};
  });
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(5, 0, 20);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) {
    return reqs.size() > 3 &&
           Total(std::vector<ReceivedRequest>(reqs.begin() + 3, reqs.end())) >= 100;
  }));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CheckExactlyOnceInOrder(Collect(reqs, [](size_t i) { return i >= 3; }), 5, 0, 20, env.start_ms);
  // One shard: requests 1..3 are retries of request 0, byte for byte.
  CHECK(reqs[0].Header("Retry-Attempt").empty());
  CHECK(reqs[1].Header("Retry-Attempt") == "1");
  CHECK(reqs[2].Header("Retry-Attempt") == "2");
  CHECK(reqs[3].Header("Retry-Attempt") == "3");
  CHECK(reqs[3].body.SerializeAsString() == reqs[0].body.SerializeAsString());
  CHECK(env.Metric("samples_retried_total") == 3 * SampleCount(reqs[0]));
  CHECK(env.Metric("samples_total") == Total(reqs));
  CHECK(env.Metric("samples_failed_total") == 0);
  CHECK(env.GaugeValue("samples_pending") == 0);
}

TEST_CASE("a 400 drops the batch and counts it failed", "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  env.rx.SetResponder([](size_t n, const ReceivedRequest&) {
    return n == 0 ? Reply{400, {}, "bad labels"} : Reply{};
  });
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(4, 0, 30);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 120; }));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CHECK(Total(reqs) == 120);  // nothing was sent twice
  const size_t dropped = SampleCount(reqs[0]);
  CHECK(dropped > 0);
  CHECK(env.Metric("samples_failed_total") == dropped);
  CHECK(env.Metric("samples_retried_total") == 0);
  CHECK(env.GaugeValue("samples_pending") == 0);
  // What came after is intact and ordered.
  Arrivals rest = Collect(reqs, [](size_t i) { return i > 0; });
  size_t n = 0;
  for (const auto& [key, ts] : rest) {
    n += ts.size();
    CHECK(std::is_sorted(ts.begin(), ts.end()));
  }
  CHECK(n == 120 - dropped);
}

TEST_CASE("429 is retried after Retry-After only with retry_on_http_429", "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  bool retry = GENERATE(false, true);
  env.cfg.queue_config.retry_on_http_429 = retry;
  env.rx.SetResponder([](size_t n, const ReceivedRequest&) {
    return n == 0 ? Reply{429, {{"Retry-After", "1"}}, "slow down"} : Reply{};
  });
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(2, 0, 10);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 20; }));
  if (retry) {
    REQUIRE(env.rx.WaitUntil(
        [&](const auto& reqs) { return Total(reqs) >= 20 + SampleCount(reqs[0]); }));
  }
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  const size_t first = SampleCount(reqs[0]);
  if (retry) {
    CHECK(reqs[1].Header("Retry-Attempt") == "1");
    CHECK(env.Metric("samples_failed_total") == 0);
    CHECK(env.Metric("samples_retried_total") == first);
    CHECK(Total(reqs) == 20 + first);
  } else {
    CHECK(env.Metric("samples_failed_total") == first);
    CHECK(Total(reqs) == 20);
  }
}

TEST_CASE("full shards make the watcher wait, and nothing is dropped", "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.capacity = 10;
  env.cfg.queue_config.max_samples_per_send = 5;
  env.rx.SetResponder([](size_t n, const ReceivedRequest&) {
    return n < 4 ? Reply{503, {}, ""} : Reply{};
  });
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(10, 0, 20);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) {
    return reqs.size() > 4 &&
           Total(std::vector<ReceivedRequest>(reqs.begin() + 4, reqs.end())) >= 200;
  }));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CheckExactlyOnceInOrder(Collect(reqs, [](size_t i) { return i >= 4; }), 10, 0, 20, env.start_ms);
  CHECK(env.Metric("enqueue_retries_total") > 0);
  CHECK(env.Metric("samples_failed_total") == 0);
  CHECK(env.Metric("samples_dropped_total", {"reason"}, {"unintentionally_dropped_series"}) == 0);
}

TEST_CASE("Stop gives up after the flush deadline and counts the rest failed", "[remotewrite]") {
  Env env;
  env.rx.SetResponder([](size_t, const ReceivedRequest&) { return Reply{500, {}, "down"}; });
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(5, 0, 10);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return reqs.size() >= 2; }));
  // All 50 read from the WAL and queued (what is still only in the WAL is not lost).
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.GaugeValue("samples_pending") < 50 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  REQUIRE(env.GaugeValue("samples_pending") == 50);
  auto t0 = std::chrono::steady_clock::now();
  SECTION("Stop") { queue->Stop(milliseconds(100)); }
  SECTION("RequestStop, then Stop joins") {
    queue->RequestStop(milliseconds(100));
    queue->Stop(std::chrono::minutes(1));  // the requested deadline holds
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK(env.Metric("samples_failed_total") == 50);
  CHECK(env.GaugeValue("samples_pending") == 0);
}

TEST_CASE("samples whose series record is gone are dropped as unintentionally_dropped_series",
          "[remotewrite]") {
  Env env;
  env.Write(3, 0, 1);  // series records (and samples) in segment 0
  REQUIRE(env.storage->Close().ok());
  auto reopened = wal::Storage::Open(env.fs, env.metrics, "/data", {});
  REQUIRE(reopened.ok());
  env.storage = std::move(*reopened);
  REQUIRE(env.storage->CurrentSegment() == 1);
  // Segment 0 truncated away: segment 1's samples refer to refs the queue never saw.
  REQUIRE(env.fs.Remove(env.storage->wal_dir() + "/" + wal::SegmentName(0)).ok());

  auto queue = env.NewQueue();
  queue->Start();
  env.Write(3, 10, 2);  // known to the store, so no new Series record
  {
    auto app = env.storage->NewAppender();
    REQUIRE(app->Append(0, Labels{{"__name__", "fresh"}}, env.start_ms + 99000, 7).ok());
    REQUIRE(app->Commit().ok());
  }
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 1; }));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CHECK(Total(reqs) == 1);
  CHECK(env.Metric("samples_dropped_total", {"reason"}, {"unintentionally_dropped_series"}) == 6);
}

TEST_CASE("queue started before the WAL exists picks it up", "[remotewrite]") {
  MemFs fs;
  FakeClock clock;
  Registry metrics;
  FakeReceiver rx;
  wal::WriteNotifier idle;
  config::RemoteWriteConfig cfg;
  cfg.url = rx.url();
  cfg.name = "late";
  cfg.queue_config.batch_send_deadline = milliseconds(10);
  QueueManager queue(fs, clock, metrics, idle, "/data/wal", cfg, Labels{});
  queue.Start();
  auto storage = wal::Storage::Open(fs, metrics, "/data", {});
  REQUIRE(storage.ok());
  auto app = (*storage)->NewAppender();
  REQUIRE(app->Append(0, Labels{{"__name__", "x"}}, ToMillis(clock.Now()) + 1, 1).ok());
  REQUIRE(app->Commit().ok());
  // The queue waits on another notifier, so it finds the data by its periodic look.
  REQUIRE(rx.WaitUntil([&](const auto& reqs) { return Total(reqs) == 1; }));
  queue.Stop(std::chrono::seconds(5));
}

namespace petrel::remotewrite {
namespace {

TEST_CASE("series folded into a checkpoint are known to a queue started later", "[remotewrite]") {
  Env env;
  env.Write(3, 0, 1);  // the Series records go to segment 0
  // Each Truncate starts a new segment; once there are enough closed ones it folds the older
  // ones into a checkpoint and deletes them.
  for (int i = 0; i < 8 && env.fs.Exists(env.storage->wal_dir() + "/" + wal::SegmentName(0)); ++i) {
    REQUIRE(env.storage->Truncate(0).ok());
  }
  REQUIRE_FALSE(env.fs.Exists(env.storage->wal_dir() + "/" + wal::SegmentName(0)));

  auto queue = env.NewQueue();
  queue->Start();
  CHECK(queue->CurrentSegment() >= -1);
  env.Write(3, 10, 2);  // the store knows these series: no new Series record
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 6; }));
  queue->Stop(std::chrono::seconds(5));
  CHECK(Total(env.rx.requests()) == 6);
  CheckExactlyOnceInOrder(Collect(env.rx.requests(), [](size_t) { return true; }), 3, 10, 2,
                          env.start_ms);
  CHECK(env.Metric("samples_dropped_total", {"reason"}, {"unintentionally_dropped_series"}) == 0);
  CHECK(queue->CurrentSegment() == env.storage->CurrentSegment());
}

}  // namespace
}  // namespace petrel::remotewrite

namespace petrel::remotewrite {
namespace {

TEST_CASE("dropped connections and a refusing port are retried until a receiver is up",
          "[remotewrite]") {
  MemFs fs;
  FakeClock clock;
  Registry metrics;
  auto storage = wal::Storage::Open(fs, metrics, "/data", {});
  REQUIRE(storage.ok());
  testing::Dropper dropper;
  config::RemoteWriteConfig cfg;
  cfg.url = "http://127.0.0.1:" + std::to_string(dropper.port()) + "/api/v1/write";
  cfg.name = "drops";
  cfg.queue_config.min_shards = 1;
  cfg.queue_config.batch_send_deadline = milliseconds(5);
  cfg.queue_config.min_backoff = milliseconds(5);
  cfg.queue_config.max_backoff = milliseconds(20);
  QueueManager queue(fs, clock, metrics, (*storage)->notifier(), (*storage)->wal_dir(), cfg,
                     Labels{});
  queue.Start();
  const int64_t start_ms = ToMillis(clock.Now());
  for (int step = 0; step < 10; ++step) {
    auto app = (*storage)->NewAppender();
    REQUIRE(app->Append(0, Labels{{"__name__", "m"}}, start_ms + 1 + step, step).ok());
    REQUIRE(app->Commit().ok());
  }
  auto retried = metrics.GetCounter("prometheus_remote_storage_samples_retried_total", "",
                                    {"remote_name", "url"}, {"drops", cfg.url});
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dropper.dropped() < 3 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  REQUIRE(dropper.dropped() >= 3);
  const int port = dropper.port();
  dropper.Close();  // refused for a moment, then a real receiver on the same port
  FakeReceiver rx(port);
  REQUIRE(rx.port() == port);
  REQUIRE(rx.WaitUntil([](const auto& reqs) { return Total(reqs) >= 10; }));
  queue.Stop(std::chrono::seconds(5));
  CHECK(Total(rx.requests()) == 10);
  std::vector<int64_t> ts = Collect(rx.requests(), [](size_t) { return true; })["__name__=m,"];
  REQUIRE(ts.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(ts[i] == start_ms + 1 + i);
  CHECK(retried->Value() > 0);
  CHECK(metrics
            .GetCounter("prometheus_remote_storage_samples_failed_total", "",
                        {"remote_name", "url"}, {"drops", cfg.url})
            ->Value() == 0);
}

}  // namespace
}  // namespace petrel::remotewrite

TEST_CASE("write_relabel_configs drop and rewrite series after external labels are merged",
          "[remotewrite]") {
  Env env;
  config::RelabelConfig drop;
  drop.source_labels = {"i"};
  drop.regex = *config::Regex::Compile("0|1");
  drop.action = config::RelabelAction::kDrop;
  // Sees the external label: cluster is merged before the rules run.
  config::RelabelConfig rename;
  rename.source_labels = {"cluster", "i"};
  rename.separator = "/";
  rename.target_label = "where";
  rename.replacement = "$1";
  config::RelabelConfig drop_job;
  drop_job.regex = *config::Regex::Compile("job");
  drop_job.action = config::RelabelAction::kLabelDrop;
  for (const auto& r : {drop, rename, drop_job}) REQUIRE(config::Validate(r).ok());
  env.cfg.write_relabel_configs = {drop, rename, drop_job};
  auto queue = env.NewQueue(Labels{{"cluster", "edge-1"}, {"job", "ext"}});
  queue->Start();
  env.Write(5, 0, 4);  // series i=0..4; 0 and 1 dropped
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 12; }));
  queue->Stop(std::chrono::seconds(5));

  auto got = Collect(env.rx.requests(), [](size_t) { return true; });
  REQUIRE(got.size() == 3);
  for (int i = 2; i < 5; ++i) {
    const std::string n = std::to_string(i);
    const std::string key = "__name__=m,cluster=edge-1,i=" + n + ",where=edge-1/" + n + ",";
    INFO(key);
    REQUIRE(got.count(key) == 1);
    CHECK(got[key].size() == 4);
  }
  CHECK(env.Metric("samples_dropped_total", {"reason"}, {"dropped_series"}) == 8);
  CHECK(env.Metric("samples_dropped_total", {"reason"}, {"unintentionally_dropped_series"}) == 0);
}

TEST_CASE("a restarted queue resumes at the acknowledged WAL position: each sample once",
          "[remotewrite]") {
  Env env;
  // One shard and one record (10 series) per batch: what was acknowledged is a prefix of
  // whole records, so resuming sends nothing twice.
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.max_samples_per_send = 10;
  env.cfg.queue_config.capacity = 100;
  AcceptFirst outage(env.rx, 5);
  auto accepted = [&](size_t i) { return outage.accepted(i); };
  constexpr int kSeries = 10, kSteps = 20;
  const std::string progress = "/data/remote_write/rw.progress";
  {
    auto queue = env.NewQueue();
    queue->Start();
    CHECK(queue->CurrentSegment() == 0);
    env.Write(kSeries, 0, kSteps);
    // 5 batches accepted, then the receiver fails and retries pile up.
    REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return reqs.size() >= 8; }));
    queue->Stop(milliseconds(50));
    CHECK(env.Metric("samples_failed_total") > 0);  // abandoned at the flush deadline
  }
  auto first = Collect(env.rx.requests(), accepted);
  size_t first_total = 0;
  for (const auto& [k, ts] : first) first_total += ts.size();
  CHECK(first_total == 50);
  REQUIRE(env.fs.Exists(progress));

  // Later queues send to a second receiver (see SwitchReceiver).
  FakeReceiver rx2;
  SwitchReceiver(env, rx2);
  const size_t want = kSeries * kSteps;
  auto queue = env.NewQueue();
  queue->Start();
  REQUIRE(rx2.WaitUntil([&](const auto& reqs) { return first_total + Total(reqs) >= want; }));
  queue->Stop(std::chrono::seconds(5));
  CHECK(queue->CurrentSegment() == 0);

  auto all = Merge(first, Collect(rx2.requests(), [](size_t) { return true; }));
  CheckExactlyOnceInOrder(all, kSeries, 0, kSteps, env.start_ms);
  auto text = ReadFileToString(env.fs, progress);
  REQUIRE(text.ok());
  CHECK(text->rfind("v1 0 ", 0) == 0);

  // A third queue has nothing left to send.
  const size_t before = rx2.request_count();
  auto third = env.NewQueue();
  third->Start();
  env.Write(kSeries, kSteps, 1);
  auto later = [&](const std::vector<ReceivedRequest>& reqs) {
    size_t n = 0;
    for (size_t i = before; i < reqs.size(); ++i) n += SampleCount(reqs[i]);
    return n;
  };
  REQUIRE(rx2.WaitUntil([&](const auto& reqs) { return later(reqs) >= kSeries; }));
  third->Stop(std::chrono::seconds(5));
  CHECK(later(rx2.requests()) == kSeries);
}

TEST_CASE("a restart after partly acknowledged records sends nothing twice, with several shards",
          "[remotewrite]") {
  Env env;
  // Three shards, 4 samples per batch, 10 samples per record: when the receiver starts failing,
  // records are acknowledged in part, each shard up to its own point. The progress file keeps
  // each shard's newest done sample, so the restarted queue skips exactly those.
  env.cfg.queue_config.min_shards = 3;
  env.cfg.queue_config.max_shards = 3;
  env.cfg.queue_config.max_samples_per_send = 4;
  env.cfg.queue_config.capacity = 100;
  AcceptFirst outage(env.rx, 7);
  auto accepted = [&](size_t i) { return outage.accepted(i); };
  constexpr int kSeries = 10, kSteps = 20;
  const std::string progress = "/data/remote_write/rw.progress";
  {
    auto queue = env.NewQueue();
    queue->Start();
    env.Write(kSeries, 0, kSteps);
    // Stop only once every shard sent again after its last accepted request: a shard sends one
    // request at a time, so it has then taken in that acknowledgement. (An acknowledgement
    // still on the wire at the flush deadline is lost, and its samples rightly sent again.)
    // Series i has ref i + 1, so its shard is (i + 1) % 3.
    auto shard_of = [](const ReceivedRequest& r) {
      for (const auto& l : r.body.timeseries(0).labels()) {
        if (l.name() == "i") return (std::stoi(l.value()) + 1) % 3;
      }
      return -1;
    };
    REQUIRE(env.rx.WaitUntil([&](const std::vector<ReceivedRequest>& reqs) {
      int last_ok[3] = {-1, -1, -1}, last[3] = {-1, -1, -1};
      for (size_t i = 0; i < reqs.size(); ++i) {
        const int s = shard_of(reqs[i]);
        if (s < 0) continue;
        last[s] = static_cast<int>(i);
        if (accepted(i)) last_ok[s] = static_cast<int>(i);
      }
      for (int s = 0; s < 3; ++s) {
        if (last[s] <= last_ok[s]) return false;
      }
      return true;
    }));
    queue->Stop(milliseconds(50));
  }
  auto text = ReadFileToString(env.fs, progress);
  REQUIRE(text.ok());
  INFO(*text);
  CHECK(text->rfind("v2 0 ", 0) == 0);  // per-shard positions saved
  const Arrivals first = Collect(env.rx.requests(), accepted);
  const size_t first_total = outage.AcceptedSamples(env.rx.requests());
  FakeReceiver rx2;
  SwitchReceiver(env, rx2);
  const size_t want = kSeries * kSteps;
  auto queue = env.NewQueue();
  queue->Start();
  REQUIRE(rx2.WaitUntil([&](const auto& reqs) { return first_total + Total(reqs) >= want; }));
  queue->Stop(std::chrono::seconds(5));
  CheckExactlyOnceInOrder(Merge(first, Collect(rx2.requests(), [](size_t) { return true; })),
                          kSeries, 0, kSteps, env.start_ms);
  CHECK(env.metrics
            .GetCounter("petrel_remote_storage_resent_samples_skipped_total", "",
                        {"remote_name", "url"}, {env.cfg.name, env.cfg.url})
            ->Value() > 0);
}

TEST_CASE("a saved position in a segment that is gone resumes at the oldest segment",
          "[remotewrite]") {
  Env env;
  env.Write(3, 0, 2);  // segment 0
  REQUIRE(env.storage->Close().ok());
  auto reopened = wal::Storage::Open(env.fs, env.metrics, "/data", {});
  REQUIRE(reopened.ok());
  env.storage = std::move(*reopened);
  env.Write(3, 2, 2);  // segment 1
  REQUIRE(env.fs.MkdirAll("/data/remote_write").ok());
  REQUIRE(WriteFileAtomic(env.fs, "/data/remote_write/rw.progress", "v1 7 123\n").ok());
  auto queue = env.NewQueue();
  queue->Start();
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 12; }));
  queue->Stop(std::chrono::seconds(5));
  CheckExactlyOnceInOrder(Collect(env.rx.requests(), [](size_t) { return true; }), 3, 0, 4,
                          env.start_ms);
}

TEST_CASE("CurrentSegment is the segment of the oldest unacknowledged sample", "[remotewrite]") {
  Env env(wal::Options{.segment_bytes = 32 << 10, .compression = wal::Compression::kNone});
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.capacity = 10000;  // the whole WAL fits: the reader is never held back
  std::atomic<bool> healthy = false;
  env.rx.SetResponder([&](size_t, const ReceivedRequest&) {
    Reply r;
    r.status = healthy ? 200 : 500;
    return r;
  });
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(20, 0, 300);
  const int64_t last = env.storage->CurrentSegment();
  REQUIRE(last >= 2);
  Gauge* reading =
      env.metrics.GetGauge("prometheus_wal_watcher_current_segment", "", {"consumer"}, {"rw"});
  auto wait_for = [](const std::function<bool()>& pred) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return pred();
  };
  REQUIRE(wait_for([&] { return reading->Value() == static_cast<double>(last); }));
  CHECK(queue->CurrentSegment() == 0);  // the reader moved on; the first batch is not acked
  healthy = true;
  CHECK(wait_for([&] { return queue->CurrentSegment() == last; }));
  queue->Stop(std::chrono::seconds(5));
  CHECK(env.GaugeValue("samples_pending") == 0);
}

TEST_CASE("an unreadable credentials file is retried until it can be read", "[remotewrite]") {
  Env env;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("petrel_rw_queue_auth_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path secret = dir / "token";
  std::filesystem::remove(secret);
  env.cfg.http_client.authorization = config::Authorization{.credentials_file = secret.string()};
  auto queue = env.NewQueue();
  queue->Start();
  env.Write(3, 0, 2);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.Metric("samples_retried_total") == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(env.Metric("samples_retried_total") > 0);
  CHECK(env.rx.request_count() == 0);  // nothing goes out without its credentials
  {
    std::ofstream out(secret);
    out << "s3cret\n";
  }
  REQUIRE(env.rx.WaitUntil([](const auto& reqs) { return Total(reqs) >= 6; }));
  queue->Stop(std::chrono::seconds(5));
  for (const auto& r : env.rx.requests()) CHECK(r.Header("Authorization") == "Bearer s3cret");
  CHECK(Total(env.rx.requests()) == 6);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace petrel::remotewrite

namespace petrel::remotewrite {
namespace {

// Polls pred until it holds or timeout passes (for state that has no notification).
bool Eventually(const std::function<bool()>& pred,
                milliseconds timeout = std::chrono::seconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST_CASE("per-series order holds across reshards under load", "[remotewrite]") {
  Env env(wal::Options{.segment_bytes = 64 << 10, .compression = wal::Compression::kNone});
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.max_shards = 8;
  env.cfg.queue_config.capacity = 200;
  env.cfg.queue_config.max_samples_per_send = 20;
  env.rx.SetDelay(milliseconds(2));
  // Some 500s: retried batches stay in flight across reshards.
  auto accepted = [](size_t n) { return n % 7 != 3; };
  env.rx.SetResponder([&](size_t n, const ReceivedRequest&) {
    return accepted(n) ? Reply{} : Reply{500, {}, "busy"};
  });
  // Every evaluation asks for another count; a reshard happens whenever no barrier is up.
  std::mutex mu;  // guards seen
  std::vector<int> seen;
  env.options.shard_update_interval = milliseconds(10);
  env.options.decide_shards = [&, i = size_t{0}](int current, int) mutable {
    static constexpr int kCounts[] = {5, 2, 8, 1, 3, 7, 4};
    std::lock_guard lock(mu);
    if (seen.empty() || seen.back() != current) seen.push_back(current);
    return kCounts[i++ % std::size(kCounts)];
  };
  auto queue = env.NewQueue();
  queue->Start();
  constexpr int kSeries = 40, kSteps = 300;
  env.Write(kSeries, 0, kSteps);
  const size_t want = kSeries * kSteps;
  REQUIRE(env.rx.WaitUntil(
      [&](const auto& reqs) {
        size_t n = 0;
        for (size_t i = 0; i < reqs.size(); ++i) n += accepted(i) ? SampleCount(reqs[i]) : 0;
        return n >= want;
      },
      std::chrono::seconds(60)));
  queue->Stop(std::chrono::seconds(5));

  auto reqs = env.rx.requests();
  // Arrival order at the receiver: a series' sample never arrives before an earlier one.
  CheckExactlyOnceInOrder(Collect(reqs, accepted), kSeries, 0, kSteps, env.start_ms);
  CHECK(env.GaugeValue("samples_pending") == 0);
  CHECK(env.Metric("samples_failed_total") == 0);
  std::lock_guard lock(mu);
  INFO("shard counts seen: " << seen.size());
  CHECK(seen.size() >= 4);  // at least three reshards took effect while samples flowed
  CHECK(env.GaugeValue("shards") >= 1);
  CHECK(env.GaugeValue("shards") <= 8);
}

TEST_CASE("after a reshard new samples wait until the old mapping's batch is acknowledged",
          "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.max_shards = 4;
  std::atomic<bool> grow{false};
  env.options.shard_update_interval = milliseconds(5);
  env.options.decide_shards = [&](int current, int) { return grow ? 4 : current; };
  env.rx.Hold();
  auto queue = env.NewQueue();
  queue->Start();
  constexpr int kSeries = 8;
  env.Write(kSeries, 0, 1);  // one batch on the only shard, held in flight by the receiver
  REQUIRE(env.rx.WaitUntil([](const auto& reqs) { return reqs.size() == 1; }));
  grow = true;
  REQUIRE(Eventually([&] { return env.GaugeValue("shards") == 4; }));
  env.Write(kSeries, 1, 3);  // routed over 4 shards now; most series change shard
  // Nothing of the new mapping may be sent while the old batch is unacknowledged. (A bounded
  // wait for something that must not happen; a broken barrier shows up as more requests.)
  CHECK_FALSE(
      env.rx.WaitUntil([](const auto& reqs) { return reqs.size() > 1; }, milliseconds(300)));
  env.rx.Release();
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= kSeries * 4; }));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CheckExactlyOnceInOrder(Collect(reqs, [](size_t) { return true; }), kSeries, 0, 4, env.start_ms);
  CHECK(SampleCount(reqs[0]) == kSeries);
  CHECK(reqs.size() >= 3);  // the new samples went out from several shards
}

TEST_CASE("a slow receiver makes the queue add shards, up to max_shards", "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.max_shards = 4;
  env.options.shard_update_interval = milliseconds(100);
  env.rx.SetDelay(milliseconds(20));
  auto queue = env.NewQueue();
  queue->Start();
  CHECK(env.GaugeValue("shards") == 1);
  CHECK(env.GaugeValue("shards_max") == 4);
  CHECK(env.GaugeValue("shards_min") == 1);
  constexpr int kSeries = 20, kSteps = 100;
  env.Write(kSeries, 0, kSteps);
  double most = 0, most_desired = 0;
  REQUIRE(env.rx.WaitUntil(
      [&](const auto& reqs) {
        most = std::max(most, env.GaugeValue("shards"));
        most_desired = std::max(most_desired, env.GaugeValue("shards_desired"));
        return Total(reqs) >= kSeries * kSteps;
      },
      std::chrono::seconds(30)));
  queue->Stop(std::chrono::seconds(5));
  // 50 samples per 20 ms request is 2500/s a shard, far below what was written at once.
  CHECK(most > 1);
  CHECK(most <= 4);
  CHECK(most_desired > 1);
  CheckExactlyOnceInOrder(Collect(env.rx.requests(), [](size_t) { return true; }), kSeries, 0,
                          kSteps, env.start_ms);
}

TEST_CASE("sample_age_limit drops old samples at enqueue and before a retry", "[remotewrite]") {
  Env env;
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.sample_age_limit = std::chrono::minutes(10);
  auto too_old = [&] { return env.Metric("samples_dropped_total", {"reason"}, {"too_old"}); };

  SECTION("at enqueue") {
    auto queue = env.NewQueue();
    queue->Start();
    env.clock.Advance(std::chrono::minutes(30));
    env.Write(2, 0, 5);     // 30 minutes old by now
    env.Write(2, 1800, 5);  // fresh
    REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= 10; }));
    queue->Stop(std::chrono::seconds(5));
    CheckExactlyOnceInOrder(Collect(env.rx.requests(), [](size_t) { return true; }), 2, 1800, 5,
                            env.start_ms);
    CHECK(too_old() == 10);
    CHECK(env.Metric("samples_total") == 10);
  }
  SECTION("before a retry") {
    std::atomic<bool> up{false};
    env.rx.SetResponder([&](size_t, const ReceivedRequest&) {
      return up ? Reply{} : Reply{503, {}, "down"};
    });
    auto queue = env.NewQueue();
    queue->Start();
    env.Write(2, 0, 5);
    REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return reqs.size() >= 2; }));  // retried
    env.clock.Advance(std::chrono::minutes(30));  // now all 10 queued samples are too old
    REQUIRE(Eventually([&] { return too_old() == 10 && env.GaugeValue("samples_pending") == 0; }));
    up = true;
    const size_t before = env.rx.request_count();
    env.Write(2, 1800, 3);
    REQUIRE(env.rx.WaitUntil([&](const auto& reqs) {
      return Total(std::vector<ReceivedRequest>(reqs.begin() + before, reqs.end())) >= 6;
    }));
    queue->Stop(std::chrono::seconds(5));
    auto reqs = env.rx.requests();
    CheckExactlyOnceInOrder(Collect(reqs, [&](size_t i) { return i >= before; }), 2, 1800, 3,
                            env.start_ms);
    CHECK(env.Metric("samples_failed_total") == 0);
    CHECK(too_old() == 10);
  }
}

TEST_CASE("metadata goes out in its own requests, de-duplicated, batched and retried",
          "[remotewrite]") {
  using Type = MetricMetadata::Type;
  Env env;
  env.cfg.metadata_config.send_interval = milliseconds(20);
  env.cfg.metadata_config.max_samples_per_send = 2;
  std::atomic<int> calls{0};
  // Only the first collection finds anything, so the requests and counts below are exact.
  env.options.metadata = [&](const MetadataVisitor& visit) {
    if (calls++ > 0) return;
    visit({Type::kCounter, "http_requests", "Requests served.", ""});
    visit({Type::kGauge, "room_temperature", "Room temperature.", "celsius"});
    visit({Type::kCounter, "http_requests", "Requests served.", ""});  // from another target
    visit({Type::kHistogram, "latency", "", "seconds"});
  };
  env.rx.SetResponder([](size_t n, const ReceivedRequest&) {
    return n == 0 ? Reply{503, {}, "later"} : Reply{};
  });
  auto queue = env.NewQueue();
  queue->Start();
  REQUIRE(env.rx.WaitUntil([](const auto& reqs) { return reqs.size() >= 3; }));
  REQUIRE(Eventually([&] { return calls >= 2; }));  // a later collection found nothing to send
  queue->Stop(std::chrono::seconds(5));

  auto reqs = env.rx.requests();
  REQUIRE(reqs.size() == 3);
  for (const auto& r : reqs) {
    REQUIRE(r.decoded);
    CHECK(r.body.timeseries_size() == 0);
    CHECK(r.body.metadata_size() >= 1);
    CHECK(r.body.metadata_size() <= 2);
  }
  CHECK(reqs[1].Header("Retry-Attempt") == "1");
  CHECK(reqs[1].body.SerializeAsString() == reqs[0].body.SerializeAsString());
  std::map<std::string, const prometheus::MetricMetadata*> got;
  for (size_t i = 1; i < reqs.size(); ++i) {
    for (const auto& m : reqs[i].body.metadata()) got.emplace(m.metric_family_name(), &m);
  }
  REQUIRE(got.size() == 3);
  CHECK(got["http_requests"]->type() == prometheus::MetricMetadata::COUNTER);
  CHECK(got["http_requests"]->help() == "Requests served.");
  CHECK(got["room_temperature"]->type() == prometheus::MetricMetadata::GAUGE);
  CHECK(got["room_temperature"]->unit() == "celsius");
  CHECK(got["latency"]->type() == prometheus::MetricMetadata::HISTOGRAM);
  CHECK(got["latency"]->help().empty());
  CHECK(env.Metric("metadata_total") == 2 + 2 + 1);
  CHECK(env.Metric("metadata_retried_total") == 2);
  CHECK(env.Metric("metadata_failed_total") == 0);
  CHECK(env.Metric("samples_total") == 0);
}

TEST_CASE("max_bytes_per_second paces what a queue sends", "[remotewrite]") {
  Env env;
  constexpr double kRate = 1500;  // bytes per second; the samples below take ~3 s
  env.cfg.queue_config.max_bytes_per_second = static_cast<uint64_t>(kRate);
  const auto start = std::chrono::steady_clock::now();  // the bucket starts full in NewQueue
  auto queue = env.NewQueue();
  queue->Start();
  constexpr int kSeries = 20, kSteps = 40;
  env.Write(kSeries, 0, kSteps);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return Total(reqs) >= kSeries * kSteps; },
                           std::chrono::seconds(30)));
  queue->Stop(std::chrono::seconds(5));
  auto reqs = env.rx.requests();
  CheckExactlyOnceInOrder(Collect(reqs, [](size_t) { return true; }), kSeries, 0, kSteps,
                          env.start_ms);
  // Every request but the last started with the bucket out of debt, so before the last one
  // started at most one second's worth plus kRate per second had gone out.
  size_t before_last = 0;
  for (size_t i = 0; i + 1 < reqs.size(); ++i) before_last += reqs[i].wire_bytes;
  const double elapsed = std::chrono::duration<double>(reqs.back().at - start).count();
  INFO("bytes before the last request: " << before_last << ", elapsed " << elapsed << " s");
  CHECK(before_last <= kRate * elapsed + kRate);
  CHECK(before_last > 2 * kRate);  // so the pacing above was actually needed
}

}  // namespace
}  // namespace petrel::remotewrite
