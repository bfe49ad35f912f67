// Histograms, exemplars and RW 2.0 requests from the hand-written encoder, decoded with the
// protoc-generated classes of .proto files written from the spec.
#include <snappy.h>

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "remotewrite/encoder.h"
#include "test/remotewrite/decode_util.h"

namespace petrel::remotewrite {
namespace {

using testing::Item;
using testing::Items;

Histogram IntHistogram() {
  Histogram h;
  h.hint = CounterResetHint::kNotCounterReset;
  h.schema = -2;
  h.zero_threshold = 0.001;
  h.zero_count = 3;
  h.count = 1000;
  h.sum = -12.5;
  h.positive_spans = {{-3, 2}, {4, 1}};
  h.negative_spans = {{0, 1}};
  h.positive_buckets = {5, -2, 300000000000};
  h.negative_buckets = {-7};
  return h;
}

FloatHistogram FloatHist() {
  FloatHistogram h;
  h.hint = CounterResetHint::kGauge;
  h.schema = 8;
  h.zero_count = 0.5;
  h.count = 10.25;
  h.sum = 3;
  h.positive_spans = {{1, 3}};
  h.positive_buckets = {1.5, 0, 8.25};
  return h;
}

FloatHistogram CustomBuckets() {
  FloatHistogram h;
  h.schema = kCustomBucketsSchema;
  h.count = 4;
  h.sum = 1.25;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {1, 3};
  h.custom_values = {0.1, 0.5, std::numeric_limits<double>::infinity()};
  return h;
}

std::string EncodedLabels(const Labels& l) {
  std::string out;
  EncodeLabels(l, &out);
  return out;
}

TEST_CASE("RW 1.0 histograms and exemplars decode to what was encoded", "[remotewrite]") {
  const Labels series{{"__name__", "rpc_seconds"}, {"job", "api"}};
  const std::string labels = EncodedLabels(series);
  Histogram zero;  // every field zero: count and zero_count are still present (oneofs)
  EncodedHistogram e1, e2, e3, e4;
  EncodeHistogram(IntHistogram(), &e1);
  EncodeHistogram(FloatHist(), &e2);
  EncodeHistogram(CustomBuckets(), &e3);
  EncodeHistogram(zero, &e4);
  RequestEncoder enc;
  enc.AddHistogram(labels, 1700000000123, e1);
  enc.AddHistogram(labels, -5, e2);
  enc.AddHistogram(labels, 7, e3);
  enc.AddHistogram(labels, 0, e4);
  enc.AddExemplar(labels, 1700000000124, 0.25, Labels{{"trace_id", "abc"}, {"span", "1"}});
  enc.AddExemplar(labels, 9, 0, Labels{});
  enc.AddSample(labels, 10, 1);

  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromArray(enc.bytes().data(), static_cast<int>(enc.bytes().size())));
  REQUIRE(req.timeseries_size() == 7);
  for (const auto& ts : req.timeseries()) {
    CHECK(ts.samples_size() + ts.histograms_size() + ts.exemplars_size() == 1);
  }
  CHECK(req.timeseries(3).histograms(0).has_count_int());
  CHECK(req.timeseries(3).histograms(0).has_zero_count_int());
  const std::string key = "__name__=rpc_seconds,job=api,";
  std::vector<Item> want = {
      testing::HistogramItem(key, 1700000000123, IntHistogram()),
      testing::FloatHistogramItem(key, -5, FloatHist()),
      testing::FloatHistogramItem(key, 7, CustomBuckets()),
      testing::HistogramItem(key, 0, zero),
      // Labels sort: span before trace_id.
      testing::ExemplarItem(key, 1700000000124, 0.25, "span=1,trace_id=abc,"),
      testing::ExemplarItem(key, 9, 0, ""),
      testing::SampleItem(key, 10, 1),
  };
  CHECK(Items(req) == want);
}

TEST_CASE("RW 2.0 request: symbols, label refs, metadata, samples, histograms, exemplars",
          "[remotewrite]") {
  const std::string a = EncodedLabels({{"__name__", "rpc_seconds"}, {"job", "api"}});
  const std::string b = EncodedLabels({{"__name__", "up"}, {"job", "api"}});
  const MetricMetadata hist{MetricMetadata::Type::kHistogram, "rpc_seconds", "RPC latency.",
                            "seconds"};
  const MetricMetadata gauge{MetricMetadata::Type::kGauge, "up", "", ""};
  EncodedHistogram e1, e2;
  EncodeHistogram(IntHistogram(), &e1);
  EncodeHistogram(CustomBuckets(), &e2);
  V2RequestEncoder enc;
  for (int round = 0; round < 2; ++round) {  // Reset keeps nothing of the first request
    enc.Reset();
    if (round == 0) enc.AddSample(a, &hist, 1, 99);
    if (round == 1) {
      enc.AddSample(b, &gauge, 1700000000000, 1);
      enc.AddSample(b, nullptr, 1700000000001, 0);
      enc.AddHistogram(a, &hist, 1700000000002, e1);
      enc.AddHistogram(a, &hist, 1700000000003, e2);
      CHECK(enc.AttachExemplar(1700000000004, 0.5, Labels{{"trace_id", "t1"}}));
    }
  }
  const std::string body(enc.bytes());
  io::prometheus::write::v2::Request req;
  REQUIRE(req.ParseFromString(body));
  // Each string once, "" first.
  std::vector<std::string> symbols(req.symbols().begin(), req.symbols().end());
  CHECK(symbols == std::vector<std::string>{"", "__name__", "up", "job", "api", "rpc_seconds",
                                            "RPC latency.", "seconds", "trace_id", "t1"});
  CHECK(enc.symbols() == symbols.size());
  const std::string up = "__name__=up,job=api,", rpc = "__name__=rpc_seconds,job=api,";
  const std::string hist_meta = "3/RPC latency./seconds";
  std::vector<Item> want = {
      testing::SampleItem(up, 1700000000000, 1, "2//"),
      testing::SampleItem(up, 1700000000001, 0),
      testing::HistogramItem(rpc, 1700000000002, IntHistogram(), hist_meta),
      testing::FloatHistogramItem(rpc, 1700000000003, CustomBuckets(), hist_meta),
      testing::ExemplarItem(rpc, 1700000000004, 0.5, "trace_id=t1,", hist_meta),
  };
  CHECK(Items(req) == want);
  CHECK_FALSE(req.timeseries(1).has_metadata());

  // Re-serialized, the same size: no field outside the schema, nothing encoded twice.
  std::string reserialized;
  REQUIRE(req.SerializeToString(&reserialized));
  CHECK(reserialized.size() == body.size());
}

}  // namespace
}  // namespace petrel::remotewrite
