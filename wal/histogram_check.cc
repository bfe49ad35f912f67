#include "wal/histogram_check.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <vector>

namespace petrel::wal {
namespace {

constexpr int32_t kMinSchema = -4;
constexpr int32_t kMaxSchema = 8;

Status Invalid(std::string_view what) {
  return Status::InvalidArgument(fmt::format("invalid native histogram: {}", what));
}

// Spans after the first must not go backwards, and together cover exactly `buckets` buckets.
Status CheckSpans(const char* side, const std::vector<HistogramSpan>& spans, size_t buckets) {
  uint64_t covered = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0 && spans[i].offset < 0) {
      return Invalid(
          fmt::format("{} span {} has negative offset {}", side, i + 1, spans[i].offset));
    }
    covered += spans[i].length;
  }
  if (covered != buckets) {
    return Invalid(fmt::format("{} spans need {} buckets, have {}", side, covered, buckets));
  }
  return Status::Ok();
}

// Integer buckets are deltas; their running sums are the counts.
Status CheckBuckets(const char* side, const std::vector<int64_t>& deltas, uint64_t* total) {
  uint64_t count = 0;  // wraps like Go's int64 on absurd input; a negative count is caught
  for (size_t i = 0; i < deltas.size(); ++i) {
    count += static_cast<uint64_t>(deltas[i]);
    if (static_cast<int64_t>(count) < 0) {
      return Invalid(fmt::format("{} bucket {} has observation count of {}", side, i + 1,
                                 static_cast<int64_t>(count)));
    }
    *total += count;
  }
  return Status::Ok();
}

Status CheckBuckets(const char* side, const std::vector<double>& counts, double* total) {
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 0) {
      return Invalid(
          fmt::format("{} bucket {} has observation count of {}", side, i + 1, counts[i]));
    }
    *total += counts[i];
  }
  return Status::Ok();
}

// Bounds strictly increasing, no NaN, no explicit +Inf, and enough of them for the spans.
Status CheckCustomBounds(const std::vector<double>& bounds, const std::vector<HistogramSpan>& spans,
                         size_t buckets) {
  double prev = -std::numeric_limits<double>::infinity();
  for (double b : bounds) {
    if (std::isnan(b)) return Invalid("custom bounds must not be NaN");
    if (b <= prev) {
      return Invalid(
          fmt::format("custom bounds must be strictly increasing ({} after {})", b, prev));
    }
    prev = b;
  }
  if (std::isinf(prev) && prev > 0) return Invalid("custom bounds must not define +Inf");
  uint64_t covered = 0;
  int64_t extent = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].offset < 0) {
      return Invalid(fmt::format("span {} has negative offset {}", i + 1, spans[i].offset));
    }
    covered += spans[i].length;
    extent += int64_t{spans[i].offset} + spans[i].length;
  }
  if (covered != buckets) {
    return Invalid(fmt::format("spans need {} buckets, have {}", covered, buckets));
  }
  if (static_cast<int64_t>(bounds.size()) + 1 < extent) {
    return Invalid(fmt::format("{} custom bounds cannot cover spans reaching bucket {}",
                               bounds.size(), extent));
  }
  return Status::Ok();
}

// What both kinds check: the schema and the shape of spans, buckets and bounds. The bucket
// totals are added to *total.
template <typename H, typename C>
Status CheckShape(const H& h, C* total) {
  if (h.schema == kCustomBucketsSchema) {
    if (Status s = CheckCustomBounds(h.custom_values, h.positive_spans, h.positive_buckets.size());
        !s.ok()) {
      return s;
    }
    if (h.zero_count != 0) return Invalid("custom buckets must have a zero count of 0");
    if (h.zero_threshold != 0) return Invalid("custom buckets must have a zero threshold of 0");
    if (!h.negative_spans.empty() || !h.negative_buckets.empty()) {
      return Invalid("custom buckets must not have negative buckets");
    }
    return CheckBuckets("positive", h.positive_buckets, total);
  }
  if (h.schema < kMinSchema || h.schema > kMaxSchema) {
    return Invalid(fmt::format("schema {} is not between {} and {}, nor {} (custom buckets)",
                               h.schema, kMinSchema, kMaxSchema, kCustomBucketsSchema));
  }
  if (!h.custom_values.empty()) return Invalid("an exponential schema must not have custom bounds");
  if (Status s = CheckSpans("positive", h.positive_spans, h.positive_buckets.size()); !s.ok()) {
    return s;
  }
  if (Status s = CheckSpans("negative", h.negative_spans, h.negative_buckets.size()); !s.ok()) {
    return s;
  }
  if (Status s = CheckBuckets("negative", h.negative_buckets, total); !s.ok()) return s;
  return CheckBuckets("positive", h.positive_buckets, total);
}

}  // namespace

Status ValidateHistogram(const Histogram& h) {
  uint64_t buckets = 0;
  if (Status s = CheckShape(h, &buckets); !s.ok()) return s;
  const uint64_t observed = buckets + h.zero_count;
  if (std::isnan(h.sum)) {
    // NaN observations land in no bucket, so the count may exceed the buckets' total.
    if (observed > h.count) {
      return Invalid(
          fmt::format("count {} is below the {} observations in its buckets", h.count, observed));
    }
  } else if (observed != h.count) {
    return Invalid(
        fmt::format("count {} differs from the {} observations in its buckets", h.count, observed));
  }
  return Status::Ok();
}

Status ValidateHistogram(const FloatHistogram& h) {
  // Float counts are not compared with the buckets' total: rounding makes that unreliable.
  double buckets = 0;
  return CheckShape(h, &buckets);
}

}  // namespace petrel::wal
