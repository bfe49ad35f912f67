// Shared setup of the queue tests: a WAL in a MemFs, a FakeReceiver, a queue config with short
// deadlines, and helpers to read what the receiver got.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "remotewrite/queue_manager.h"
#include "test/remotewrite/fake_receiver.h"
#include "test/support/mem_fs.h"
#include "wal/storage.h"

namespace petrel::remotewrite {

using std::chrono::milliseconds;
using testing::FakeReceiver;
using testing::ReceivedRequest;
using testing::Reply;

// label set rendered "a=1,b=2" -> timestamps in arrival order
using Arrivals = std::map<std::string, std::vector<int64_t>>;

inline std::string Key(const prometheus::TimeSeries& ts) {
  std::string k;
  for (const auto& l : ts.labels()) k += l.name() + "=" + l.value() + ",";
  return k;
}

inline size_t SampleCount(const ReceivedRequest& r) {
  size_t n = 0;
  for (const auto& ts : r.body.timeseries()) n += static_cast<size_t>(ts.samples_size());
  return n;
}

// Samples of the requests the receiver accepted (accepted(i) for request i).
template <typename Accepted>
inline Arrivals Collect(const std::vector<ReceivedRequest>& reqs, Accepted accepted) {
  Arrivals out;
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (!accepted(i)) continue;
    for (const auto& ts : reqs[i].body.timeseries()) {
      for (const auto& s : ts.samples()) out[Key(ts)].push_back(s.timestamp());
    }
  }
  return out;
}

struct Env {
  MemFs fs;
  FakeClock clock;
  Registry metrics;
  FakeReceiver rx;
  std::unique_ptr<wal::Storage> storage;
  config::RemoteWriteConfig cfg;
  QueueOptions options;
  int64_t start_ms = ToMillis(clock.Now());

  explicit Env(wal::Options options = {}) {
    auto s = wal::Storage::Open(fs, metrics, "/data", options);
    REQUIRE(s.ok());
    storage = std::move(*s);
    cfg.url = rx.url();
    cfg.name = "rw";
    cfg.remote_timeout = std::chrono::seconds(5);
    cfg.queue_config.max_samples_per_send = 50;
    cfg.queue_config.capacity = 500;
    cfg.queue_config.min_shards = 2;
    cfg.queue_config.batch_send_deadline = milliseconds(20);
    cfg.queue_config.min_backoff = milliseconds(5);
    cfg.queue_config.max_backoff = milliseconds(40);
  }

  std::unique_ptr<QueueManager> NewQueue(Labels external = {}) {
    return std::make_unique<QueueManager>(fs, clock, metrics, storage->notifier(),
                                          storage->wal_dir(), cfg, std::move(external), options);
  }

  // One commit per step: every series gets a sample at start_ms + (step+1) * 1000.
  void Write(int series, int first_step, int steps) {
    for (int step = first_step; step < first_step + steps; ++step) {
      auto app = storage->NewAppender();
      for (int i = 0; i < series; ++i) {
        Labels l{{"__name__", "m"}, {"i", std::to_string(i)}, {"job", "node"}};
        REQUIRE(app->Append(0, l, start_ms + (step + 1) * 1000, step).ok());
      }
      REQUIRE(app->Commit().ok());
    }
  }

  double Metric(const std::string& name, std::vector<std::string> extra_names = {},
                std::vector<std::string> extra_values = {}) {
    std::vector<std::string> names = {"remote_name", "url"};
    std::vector<std::string> values = {cfg.name, cfg.url};
    names.insert(names.end(), extra_names.begin(), extra_names.end());
    values.insert(values.end(), extra_values.begin(), extra_values.end());
    return metrics.GetCounter("prometheus_remote_storage_" + name, "", names, values)->Value();
  }
  double GaugeValue(const std::string& name) {
    return metrics
        .GetGauge("prometheus_remote_storage_" + name, "", {"remote_name", "url"},
                  {cfg.name, cfg.url})
        ->Value();
  }
};

// Every series got exactly steps samples, in timestamp order, for steps first..first+steps.
inline void CheckExactlyOnceInOrder(const Arrivals& got, int series, int first_step, int steps,
                                    int64_t start_ms) {
  REQUIRE(got.size() == static_cast<size_t>(series));
  for (const auto& [key, ts] : got) {
    INFO(key);
    REQUIRE(ts.size() == static_cast<size_t>(steps));
    for (int i = 0; i < steps; ++i) CHECK(ts[i] == start_ms + (first_step + i + 1) * 1000);
  }
}

inline size_t Total(const std::vector<ReceivedRequest>& reqs) {
  size_t n = 0;
  for (const auto& r : reqs) n += SampleCount(r);
  return n;
}

// A receiver outage for the restart tests: the first ok_first requests are accepted, later
// ones answered 500 for good (the restarted queue sends to another receiver: SwitchReceiver).
// The responder runs under the receiver's lock, so accepted() may also be called from a
// WaitUntil predicate (same lock order).
class AcceptFirst {
 public:
  AcceptFirst(FakeReceiver& rx, size_t ok_first) {
    rx.SetResponder([this, ok_first](size_t n, const ReceivedRequest&) {
      std::lock_guard lock(mu_);
      Reply r;
      r.status = n < ok_first ? 200 : 500;
      statuses_.push_back(r.status);
      return r;
    });
  }
  bool accepted(size_t i) {
    std::lock_guard lock(mu_);
    return i < statuses_.size() && statuses_[i] == 200;
  }
  // Samples in the accepted requests among reqs.
  size_t AcceptedSamples(const std::vector<ReceivedRequest>& reqs) {
    size_t n = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (accepted(i)) n += SampleCount(reqs[i]);
    }
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<int> statuses_;  // by request number
};

// For restart tests: the next queues send to `to`. A request the stopped queue abandoned at its
// flush deadline may still reach the old receiver afterwards; it answers it as before (the
// outage goes on there), so a request the client gave up on (and rightly sends again) never
// counts as accepted.
inline void SwitchReceiver(Env& env, FakeReceiver& to) { env.cfg.url = to.url(); }

// a's arrivals, then b's, per series.
inline Arrivals Merge(Arrivals a, const Arrivals& b) {
  for (const auto& [k, ts] : b) a[k].insert(a[k].end(), ts.begin(), ts.end());
  return a;
}

}  // namespace petrel::remotewrite
