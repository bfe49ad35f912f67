// Native histograms, exemplars and RW 2.0 through a whole queue: appended to a real WAL, tailed,
// sent to the fake receiver, decoded there with the classes of .proto files written from the
// spec (decode_util.h), and compared with what was appended.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "test/remotewrite/decode_util.h"
#include "test/remotewrite/queue_env.h"

namespace petrel::remotewrite {
namespace {

using testing::Item;

std::vector<Item> ItemsOf(const ReceivedRequest& r) {
  REQUIRE(r.decoded);
  return r.v2 ? testing::Items(r.body_v2) : testing::Items(r.body);
}

template <typename Accepted>
std::vector<Item> AllItems(const std::vector<ReceivedRequest>& reqs, Accepted accepted) {
  std::vector<Item> out;
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (!accepted(i)) continue;
    auto items = ItemsOf(reqs[i]);
    out.insert(out.end(), items.begin(), items.end());
  }
  return out;
}

void Sort(std::vector<Item>* items) {
  std::stable_sort(items->begin(), items->end(), [](const Item& a, const Item& b) {
    return std::tie(a.series, a.kind, a.t) < std::tie(b.series, b.kind, b.t);
  });
}

Histogram IntHistogram(int step) {
  Histogram h;
  h.schema = 3;
  h.zero_threshold = 1e-128;
  h.zero_count = 1;
  h.count = 8 + static_cast<uint64_t>(step);  // zero bucket + buckets 2, 1, step+3, 1
  h.sum = 2.5 * step;
  h.positive_spans = {{0, 2}, {3, 1}};
  h.positive_buckets = {2, -1, static_cast<int64_t>(step) + 2};
  h.negative_spans = {{-2, 1}};
  h.negative_buckets = {1};
  h.hint = step == 0 ? CounterResetHint::kUnknown : CounterResetHint::kNotCounterReset;
  return h;
}

FloatHistogram GaugeHistogram(int step) {
  FloatHistogram h;
  h.hint = CounterResetHint::kGauge;
  h.schema = -1;
  h.count = 3.5 + step;
  h.sum = -1;
  h.zero_count = 0.5;
  h.positive_spans = {{1, 2}};
  h.positive_buckets = {1, 2.0 + step};
  return h;
}

FloatHistogram CustomBuckets(int step) {
  FloatHistogram h;
  h.schema = kCustomBucketsSchema;
  h.count = 2 + step;
  h.sum = 0.75;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {1, 1.0 + step};
  h.custom_values = {0.25, 1};
  return h;
}

// Appends, per step, one commit of: a counter sample with an exemplar, a gauge sample, an
// integer histogram, a float gauge histogram and a custom-buckets histogram. Returns what each
// protocol must deliver (v2: with metadata; RW 1.0 leaves out the custom-buckets one).
struct Workload {
  std::vector<Item> v1, v2;
};

Workload WriteNative(Env& env, int first_step, int steps) {
  Workload w;
  const Labels req{{"__name__", "http_requests_total"}, {"job", "api"}};
  const Labels up{{"__name__", "up"}, {"job", "api"}};
  const Labels rpc{{"__name__", "rpc_seconds"}, {"job", "api"}};
  const Labels queue{{"__name__", "queue_size"}, {"job", "api"}};
  const Labels nhcb{{"__name__", "nhcb_seconds"}, {"job", "api"}};
  const std::string counter = "1/Requests served./", gauge = "2//", hist = "3/RPC latency./seconds",
                    gauge_hist = "4/Queue sizes./", none = "0//";
  for (int step = first_step; step < first_step + steps; ++step) {
    const int64_t t = env.start_ms + (step + 1) * 1000;
    auto app = env.storage->NewAppender();
    auto ref = app->Append(0, req, t, 10.0 * step);
    REQUIRE(ref.ok());
    REQUIRE(app->Append(0, up, t, 1).ok());
    const Histogram h = IntHistogram(step);
    const FloatHistogram g = GaugeHistogram(step), c = CustomBuckets(step);
    {
      auto r = app->AppendHistogram(0, rpc, t, &h, nullptr);
      INFO(r.status().ToString());
      REQUIRE(r.ok());
    }
    {
      auto r = app->AppendHistogram(0, queue, t, nullptr, &g);
      INFO(r.status().ToString());
      REQUIRE(r.ok());
    }
    {
      auto r = app->AppendHistogram(0, nhcb, t, nullptr, &c);
      INFO(r.status().ToString());
      REQUIRE(r.ok());
    }
    const Labels ex{{"trace_id", "t" + std::to_string(step)}};
    REQUIRE(app->AppendExemplar(*ref, t - 1, 0.5 + step, ex).ok());
    REQUIRE(app->Commit().ok());

    const std::string r = testing::Render(req), u = testing::Render(up), p = testing::Render(rpc),
                      q = testing::Render(queue), n = testing::Render(nhcb),
                      e = testing::Render(ex);
    w.v1.push_back(testing::SampleItem(r, t, 10.0 * step));
    w.v1.push_back(testing::SampleItem(u, t, 1));
    w.v1.push_back(testing::HistogramItem(p, t, h));
    w.v1.push_back(testing::FloatHistogramItem(q, t, g));
    w.v1.push_back(testing::ExemplarItem(r, t - 1, 0.5 + step, e));
    w.v2.push_back(testing::SampleItem(r, t, 10.0 * step, counter));
    w.v2.push_back(testing::SampleItem(u, t, 1, gauge));
    w.v2.push_back(testing::HistogramItem(p, t, h, hist));
    w.v2.push_back(testing::FloatHistogramItem(q, t, g, gauge_hist));
    w.v2.push_back(testing::FloatHistogramItem(n, t, c, none));
    w.v2.push_back(testing::ExemplarItem(r, t - 1, 0.5 + step, e, counter));
  }
  Sort(&w.v1);
  Sort(&w.v2);
  return w;
}

// The scrape metadata the agent would hand over (families as text format names them).
void SetMetadata(Env& env) {
  env.options.metadata = [](const MetadataVisitor& visit) {
    using T = MetricMetadata::Type;
    visit({T::kCounter, "http_requests_total", "Requests served.", ""});
    visit({T::kGauge, "up", "", ""});
    visit({T::kHistogram, "rpc_seconds", "RPC latency.", "seconds"});
    visit({T::kGaugeHistogram, "queue_size", "Queue sizes.", ""});
    // nhcb_seconds: no metadata known -> METRIC_TYPE_UNSPECIFIED.
    visit({T::kUnknown, "nhcb_seconds", "", ""});
  };
}

size_t ItemCount(const std::vector<ReceivedRequest>& reqs) {
  size_t n = 0;
  for (const auto& r : reqs) n += ItemsOf(r).size();
  return n;
}

TEST_CASE("RW 1.0 and 2.0 deliver exactly the samples, histograms and exemplars of the WAL",
          "[remotewrite]") {
  Env env;
  env.cfg.send_exemplars = true;
  env.cfg.send_native_histograms = true;
  env.cfg.queue_config.max_samples_per_send = 7;  // batches cut across kinds
  const bool v2 = GENERATE(false, true);
  INFO((v2 ? "RW 2.0" : "RW 1.0"));
  if (v2) {
    env.cfg.protobuf_message = config::RemoteWriteProto::kV2;
    SetMetadata(env);
  }
  auto queue = env.NewQueue();
  queue->Start();
  constexpr int kSteps = 12;
  Workload w = WriteNative(env, 0, kSteps);
  const std::vector<Item>& want = v2 ? w.v2 : w.v1;
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return ItemCount(reqs) >= want.size(); }));
  queue->Stop(std::chrono::seconds(5));

  const auto reqs = env.rx.requests();
  for (const auto& r : reqs) {
    CHECK(r.v2 == v2);
    CHECK(r.Header("X-Prometheus-Remote-Write-Version") == (v2 ? "2.0.0" : "0.1.0"));
    CHECK(r.Header("Content-Type") ==
          (v2 ? "application/x-protobuf;proto=io.prometheus.write.v2.Request"
              : "application/x-protobuf"));
    CHECK(ItemsOf(r).size() <= 7);
  }
  auto got = AllItems(reqs, [](size_t) { return true; });
  Sort(&got);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("item " << i << " series " << want[i].series << " t " << want[i].t);
    CHECK(got[i] == want[i]);
  }
  CHECK(env.Metric("samples_total") == 2 * kSteps);
  CHECK(env.Metric("histograms_total") == (v2 ? 3 : 2) * kSteps);
  CHECK(env.Metric("exemplars_total") == kSteps);
  CHECK(env.Metric("histograms_dropped_total", {"reason"}, {"nhcb_in_rw1_not_supported"}) ==
        (v2 ? 0 : kSteps));
  // RW 2.0: each exemplar rides in the TimeSeries of its series' sample, so 5 series per step.
  CHECK(env.Metric("metadata_total") == (v2 ? 5 * kSteps : 0));
  CHECK(env.GaugeValue("histograms_pending") == 0);
  CHECK(env.GaugeValue("exemplars_pending") == 0);
  CHECK(env.Metric("samples_failed_total") == 0);
  CHECK(env.Metric("histograms_failed_total") == 0);
  CHECK(env.Metric("exemplars_failed_total") == 0);
}

TEST_CASE("RW 2.0 drops an exemplar with no sample of its series in the batch, counted",
          "[remotewrite]") {
  // A TimeSeries must carry a sample or a histogram: an exemplar whose series has nothing else
  // in its batch cannot be sent alone (receivers answer 400), as in Prometheus.
  Env env;
  env.cfg.send_exemplars = true;
  env.cfg.protobuf_message = config::RemoteWriteProto::kV2;
  auto queue = env.NewQueue();
  queue->Start();
  const Labels req{{"__name__", "http_requests_total"}, {"job", "api"}};
  const int64_t t = env.start_ms + 1000;
  wal::SeriesRef ref = 0;
  {
    auto app = env.storage->NewAppender();
    auto r = app->Append(0, req, t, 1);
    REQUIRE(r.ok());
    ref = *r;
    REQUIRE(app->AppendExemplar(ref, t, 0.5, Labels{{"trace_id", "a"}}).ok());
    REQUIRE(app->Commit().ok());
  }
  // Sent (with its exemplar) before the next commit exists: the next exemplar has no partner.
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return ItemCount(reqs) >= 2; }));
  {
    auto app = env.storage->NewAppender();
    REQUIRE(app->AppendExemplar(ref, t + 1, 0.75, Labels{{"trace_id", "b"}}).ok());
    REQUIRE(app->Commit().ok());
  }
  // Bounded poll (10 s) of the queue's own count.
  for (int i = 0; i < 1000 && env.Metric("exemplars_dropped_total", {"reason"}, {"no_sample"}) < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(env.Metric("exemplars_dropped_total", {"reason"}, {"no_sample"}) == 1);
  {
    auto app = env.storage->NewAppender();
    REQUIRE(app->Append(ref, req, t + 2, 2).ok());
    REQUIRE(app->Commit().ok());
  }
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return ItemCount(reqs) >= 3; }));
  queue->Stop(std::chrono::seconds(5));
  // Items() checks that no TimeSeries holds only exemplars.
  auto got = AllItems(env.rx.requests(), [](size_t) { return true; });
  CHECK(got.size() == 3);
  CHECK(env.Metric("exemplars_total") == 1);
  CHECK(env.Metric("samples_total") == 2);
  CHECK(env.Metric("exemplars_dropped_total", {"reason"}, {"no_sample"}) == 1);
  CHECK(env.GaugeValue("exemplars_pending") == 0);
}

TEST_CASE("without send_exemplars and send_native_histograms RW 1.0 sends only samples",
          "[remotewrite]") {
  Env env;
  auto queue = env.NewQueue();
  queue->Start();
  WriteNative(env, 0, 3);
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return ItemCount(reqs) >= 6; }));
  queue->Stop(std::chrono::seconds(5));
  auto got = AllItems(env.rx.requests(), [](size_t) { return true; });
  CHECK(got.size() == 6);
  for (const Item& i : got) CHECK(i.kind == Item::kSample);
  CHECK(env.Metric("histograms_total") == 0);
  CHECK(env.Metric("exemplars_total") == 0);
}

// The RW 2.0 written-count headers (spec: a 2xx that wrote fewer than sent is a partial write
// the receiver should have refused; the sender counts the difference as failed and does not
// retry; a 2xx with nothing written at all is a 1.x receiver that ignored Content-Type).
TEST_CASE("RW 2.0 written-count headers decide what counts as failed, and 5xx is retried",
          "[remotewrite]") {
  Env env;
  env.cfg.protobuf_message = config::RemoteWriteProto::kV2;
  env.cfg.send_exemplars = true;
  env.cfg.queue_config.min_shards = 1;
  env.cfg.queue_config.max_shards = 1;
  env.cfg.queue_config.max_samples_per_send = 100;
  SetMetadata(env);
  auto counts = [](const ReceivedRequest& r, Item::Kind kind) {
    size_t n = 0;
    for (const Item& i : ItemsOf(r)) {
      if (kind == Item::kHistogram ? i.kind == Item::kHistogram || i.kind == Item::kFloatHistogram
                                   : i.kind == kind) {
        ++n;
      }
    }
    return std::to_string(n);
  };
  // One commit per request: the queue sends each once the batch deadline passes.
  const std::string scenario = GENERATE(std::string("partial"), std::string("no headers"),
                                        std::string("415"), std::string("500 then ok"));
  INFO(scenario);
  env.rx.SetResponder([&](size_t n, const ReceivedRequest& r) {
    Reply reply;
    reply.status = 204;
    const std::string samples = counts(r, Item::kSample);
    const std::string histograms = counts(r, Item::kHistogram);
    const std::string exemplars = counts(r, Item::kExemplar);
    if (scenario == "partial") {
      reply.headers["X-Prometheus-Remote-Write-Samples-Written"] =
          std::to_string(std::stoi(samples) - 1);
      reply.headers["X-Prometheus-Remote-Write-Histograms-Written"] = histograms;
      // Exemplars-Written missing: 0 written.
    } else if (scenario == "415") {
      reply.status = 415;
      reply.body = "unsupported proto";
    } else if (scenario == "500 then ok") {
      reply.status = n == 0 ? 500 : 204;
      reply.headers["X-Prometheus-Remote-Write-Samples-Written"] = n == 0 ? "0" : samples;
      reply.headers["X-Prometheus-Remote-Write-Histograms-Written"] = n == 0 ? "0" : histograms;
      reply.headers["X-Prometheus-Remote-Write-Exemplars-Written"] = n == 0 ? "0" : exemplars;
    }
    return reply;
  });
  auto queue = env.NewQueue();
  queue->Start();
  WriteNative(env, 0, 1);  // 2 samples, 3 histograms, 1 exemplar: one request
  const size_t want_requests = scenario == "500 then ok" ? 2 : 1;
  REQUIRE(env.rx.WaitUntil([&](const auto& reqs) { return reqs.size() >= want_requests; }));
  queue->Stop(std::chrono::seconds(5));
  const auto reqs = env.rx.requests();
  REQUIRE(reqs.size() == want_requests);  // nothing else retried
  REQUIRE(ItemsOf(reqs[0]).size() == 6);
  if (scenario == "partial") {
    CHECK(env.Metric("samples_failed_total") == 1);
    CHECK(env.Metric("histograms_failed_total") == 0);
    CHECK(env.Metric("exemplars_failed_total") == 1);
  } else if (scenario == "no headers" || scenario == "415") {
    CHECK(env.Metric("samples_failed_total") == 2);
    CHECK(env.Metric("histograms_failed_total") == 3);
    CHECK(env.Metric("exemplars_failed_total") == 1);
  } else {
    CHECK(ItemsOf(reqs[1]) == ItemsOf(reqs[0]));  // the same request again
    CHECK(reqs[1].Header("Retry-Attempt") == "1");
    CHECK(env.Metric("samples_retried_total") == 2);
    CHECK(env.Metric("histograms_retried_total") == 3);
    CHECK(env.Metric("exemplars_retried_total") == 1);
    CHECK(env.Metric("samples_failed_total") == 0);
    CHECK(env.Metric("histograms_failed_total") == 0);
    CHECK(env.Metric("exemplars_failed_total") == 0);
  }
  CHECK(env.Metric("samples_total") == 2.0 * static_cast<double>(want_requests));
}

TEST_CASE("a restart resends no histogram or exemplar and skips none", "[remotewrite]") {
  Env env;
  env.cfg.send_exemplars = true;
  env.cfg.send_native_histograms = true;
  env.cfg.queue_config.min_shards = 3;
  env.cfg.queue_config.max_shards = 3;
  env.cfg.queue_config.max_samples_per_send = 3;
  env.cfg.queue_config.capacity = 60;
  AcceptFirst outage(env.rx, 6);
  auto accepted = [&](size_t i) { return outage.accepted(i); };
  constexpr int kSteps = 10;
  Workload w;
  {
    auto queue = env.NewQueue();
    queue->Start();
    w = WriteNative(env, 0, kSteps);
    // Stop once every shard sent again after its last accepted request: it has then taken in
    // that acknowledgement (one still on the wire at the flush deadline would rightly be sent
    // again). Refs follow the order of first appends, and shard = ref % 3.
    auto shard_of = [](const ReceivedRequest& r) {
      const std::vector<std::string> names = {"http_requests_total", "up", "rpc_seconds",
                                              "queue_size", "nhcb_seconds"};
      const std::string series = ItemsOf(r).at(0).series;
      for (size_t i = 0; i < names.size(); ++i) {
        if (series.starts_with("__name__=" + names[i] + ",")) return static_cast<int>(i + 1) % 3;
      }
      return -1;
    };
    // A shard whose items were all accepted has nothing more to send: it is done too. Shard 0
    // holds rpc_seconds (10 histograms), 1 http_requests_total and queue_size (10 samples, 10
    // exemplars, 10 histograms), 2 up (10 samples; nhcb_seconds is not sent over 1.0).
    const size_t items_of_shard[3] = {kSteps, 3 * kSteps, kSteps};
    REQUIRE(env.rx.WaitUntil([&](const std::vector<ReceivedRequest>& reqs) {
      int last_ok[3] = {-1, -1, -1}, last[3] = {-1, -1, -1};
      size_t ok_items[3] = {0, 0, 0};
      for (size_t i = 0; i < reqs.size(); ++i) {
        const int s = shard_of(reqs[i]);
        if (s < 0) continue;
        last[s] = static_cast<int>(i);
        if (accepted(i)) {
          last_ok[s] = static_cast<int>(i);
          ok_items[s] += ItemsOf(reqs[i]).size();
        }
      }
      for (int s = 0; s < 3; ++s) {
        if (last[s] <= last_ok[s] && ok_items[s] < items_of_shard[s]) return false;
      }
      return true;
    }));
    queue->Stop(milliseconds(50));
  }
  FakeReceiver rx2;
  SwitchReceiver(env, rx2);
  auto queue = env.NewQueue();
  queue->Start();
  const auto first = AllItems(env.rx.requests(), accepted);
  REQUIRE(first.size() < w.v1.size());
  REQUIRE(rx2.WaitUntil([&](const std::vector<ReceivedRequest>& reqs) {
    return first.size() + AllItems(reqs, [](size_t) { return true; }).size() >= w.v1.size();
  }));
  queue->Stop(std::chrono::seconds(5));
  auto got = AllItems(rx2.requests(), [](size_t) { return true; });
  got.insert(got.begin(), first.begin(), first.end());
  Sort(&got);
  REQUIRE(got.size() == w.v1.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("item " << i << " series " << w.v1[i].series << " t " << w.v1[i].t);
    CHECK(got[i] == w.v1[i]);
  }
}

}  // namespace
}  // namespace petrel::remotewrite
