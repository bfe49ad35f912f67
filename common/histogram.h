// Native histograms, as Prometheus's model/histogram package defines them: exponential buckets
// (or custom bucket bounds when schema == kCustomBucketsSchema) described by spans. The same
// model is carried by the protobuf exposition format, the WAL histogram records and remote
// write, so every module uses these two types. Plain values; no invariants are enforced here
// (Validate-style checks belong to the code that reads untrusted input).
#pragma once

#include <cstdint>
#include <vector>

namespace petrel {

// Schema of histograms with custom bucket bounds (NHCB); custom_values holds the upper bounds.
inline constexpr int32_t kCustomBucketsSchema = -53;

// A run of consecutive buckets: `offset` buckets after the end of the previous span (for the
// first span: the index of its first bucket), `length` buckets long.
struct HistogramSpan {
  int32_t offset = 0;
  uint32_t length = 0;
  bool operator==(const HistogramSpan&) const = default;
};

// Prometheus's histogram.CounterResetHint, with the same numbering (it is written as one byte
// in the WAL and as an enum in remote write).
enum class CounterResetHint : uint8_t {
  kUnknown = 0,
  kCounterReset = 1,
  kNotCounterReset = 2,
  kGauge = 3,
};

// Integer histogram: bucket counts are delta-encoded (each is the difference to the previous
// bucket of the same sign, the first one absolute), as in histogram.Histogram.
struct Histogram {
  CounterResetHint hint = CounterResetHint::kUnknown;
  int32_t schema = 0;
  double zero_threshold = 0;
  uint64_t zero_count = 0;
  uint64_t count = 0;
  double sum = 0;
  std::vector<HistogramSpan> positive_spans;
  std::vector<HistogramSpan> negative_spans;
  std::vector<int64_t> positive_buckets;
  std::vector<int64_t> negative_buckets;
  std::vector<double> custom_values;  // only for kCustomBucketsSchema
  bool operator==(const Histogram&) const = default;
};

// Float histogram: bucket counts are absolute, as in histogram.FloatHistogram.
struct FloatHistogram {
  CounterResetHint hint = CounterResetHint::kUnknown;
  int32_t schema = 0;
  double zero_threshold = 0;
  double zero_count = 0;
  double count = 0;
  double sum = 0;
  std::vector<HistogramSpan> positive_spans;
  std::vector<HistogramSpan> negative_spans;
  std::vector<double> positive_buckets;
  std::vector<double> negative_buckets;
  std::vector<double> custom_values;  // only for kCustomBucketsSchema
  bool operator==(const FloatHistogram&) const = default;
};

}  // namespace petrel
