#include "scrape/native_histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

namespace petrel::scrape {
namespace {

// (bucket index, absolute count) pairs in index order. Indexes are int64_t: the offsets of
// untrusted spans may sum past int32_t, and a reduction shifts them by up to 56 bits.
template <typename C>
using Buckets = std::vector<std::pair<int64_t, C>>;

// Integer counts add and subtract modulo 2^64, as Go's int64 does: validated counts may still
// add up past 2^63 when buckets merge. Float counts as they are.
template <typename C>
C Plus(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    return static_cast<C>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}
template <typename C>
C Minus(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    return static_cast<C>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  } else {
    return a - b;
  }
}

// Absolute counts: deltas are summed for integer histograms, float counts are taken as they are.
template <typename C, typename Stored>
Buckets<C> Expand(const std::vector<HistogramSpan>& spans, const std::vector<Stored>& stored,
                  bool deltas) {
  Buckets<C> out;
  out.reserve(stored.size());
  int64_t idx = 0;
  size_t k = 0;
  C running = 0;
  for (const HistogramSpan& s : spans) {
    idx += s.offset;
    for (uint32_t j = 0; j < s.length && k < stored.size(); ++j, ++k, ++idx) {
      running = deltas ? Plus(running, static_cast<C>(stored[k])) : static_cast<C>(stored[k]);
      out.emplace_back(idx, running);
    }
  }
  return out;
}

// Spans as the maximal runs of non-empty buckets; stored counts delta-encoded when `deltas`.
template <typename C, typename Stored>
void Rebuild(const Buckets<C>& buckets, bool deltas, std::vector<HistogramSpan>* spans,
             std::vector<Stored>* stored) {
  spans->clear();
  stored->clear();
  int64_t next = 0;
  C prev = 0;
  for (const auto& [idx, count] : buckets) {
    if (count == 0) continue;
    if (spans->empty() || idx != next) {
      // Narrowed modulo 2^32, as Go's int32 arithmetic wraps; only absurd input gets here.
      spans->push_back({static_cast<int32_t>(spans->empty() ? idx : idx - next), 0});
    }
    ++spans->back().length;
    next = idx + 1;
    stored->push_back(deltas ? static_cast<Stored>(Minus(count, prev))
                             : static_cast<Stored>(count));
    prev = count;
  }
}

template <typename C>
Buckets<C> Merge(const Buckets<C>& in, int64_t shift) {
  // A shift of 63 already maps every index to 0 or 1; more would be undefined.
  const int64_t s = std::clamp<int64_t>(shift, 0, 63);
  Buckets<C> out;
  for (const auto& [idx, count] : in) {
    const int64_t target = ((idx - 1) >> s) + 1;
    if (!out.empty() && out.back().first == target) {
      out.back().second = Plus(out.back().second, count);
    } else {
      out.emplace_back(target, count);
    }
  }
  return out;
}

template <typename H, typename C, bool kDeltas>
void CompactImpl(H& h) {
  for (auto [spans, stored] : {std::pair{&h.positive_spans, &h.positive_buckets},
                               std::pair{&h.negative_spans, &h.negative_buckets}}) {
    Rebuild<C>(Expand<C>(*spans, *stored, kDeltas), kDeltas, spans, stored);
  }
}

template <typename H, typename C, bool kDeltas>
void ReduceImpl(H& h, int32_t target_schema) {
  if (target_schema >= h.schema) return;
  const int64_t shift = int64_t{h.schema} - target_schema;
  for (auto [spans, stored] : {std::pair{&h.positive_spans, &h.positive_buckets},
                               std::pair{&h.negative_spans, &h.negative_buckets}}) {
    Rebuild<C>(Merge(Expand<C>(*spans, *stored, kDeltas), shift), kDeltas, spans, stored);
  }
  h.schema = target_schema;
}

std::string CheckSpans(const char* side, const std::vector<HistogramSpan>& spans, size_t buckets) {
  uint64_t total = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0 && spans[i].offset < 0) {
      return fmt::format("{} span number {} has negative offset {}", side, i + 1, spans[i].offset);
    }
    total += spans[i].length;
  }
  if (total != buckets) {
    return fmt::format("{} spans need {} buckets, have {} buckets", side, total, buckets);
  }
  return "";
}

std::string CheckSchema(int32_t schema) {
  if (schema >= kExponentialSchemaMin && schema <= kExponentialSchemaMaxReserved) return "";
  return fmt::format("schema {} is out of range (-4 to 8)", schema);
}

}  // namespace

void Compact(Histogram& h) { CompactImpl<Histogram, int64_t, true>(h); }
void Compact(FloatHistogram& h) { CompactImpl<FloatHistogram, double, false>(h); }

void ReduceResolution(Histogram& h, int32_t target_schema) {
  ReduceImpl<Histogram, int64_t, true>(h, target_schema);
}
void ReduceResolution(FloatHistogram& h, int32_t target_schema) {
  ReduceImpl<FloatHistogram, double, false>(h, target_schema);
}

int32_t MaxSchemaForBucketFactor(double factor) {
  if (factor <= 1) factor = 1.00271;
  const double floor = std::floor(-std::log2(std::log2(factor)));
  if (floor >= kExponentialSchemaMax) return kExponentialSchemaMax;
  if (floor <= kExponentialSchemaMin) return kExponentialSchemaMin;
  return static_cast<int32_t>(floor);
}

std::string ValidateHistogram(const Histogram& h) {
  if (std::string e = CheckSchema(h.schema); !e.empty()) return e;
  if (std::string e = CheckSpans("negative", h.negative_spans, h.negative_buckets.size());
      !e.empty()) {
    return e;
  }
  if (std::string e = CheckSpans("positive", h.positive_spans, h.positive_buckets.size());
      !e.empty()) {
    return e;
  }
  uint64_t observed = h.zero_count;
  for (const auto* buckets : {&h.negative_buckets, &h.positive_buckets}) {
    // Deltas are summed modulo 2^64 as Go's int64 does; a wrapped count shows up negative.
    uint64_t running = 0;
    for (size_t i = 0; i < buckets->size(); ++i) {
      running += static_cast<uint64_t>((*buckets)[i]);
      if (static_cast<int64_t>(running) < 0) {
        return fmt::format("bucket number {} has observation count of {}", i + 1,
                           static_cast<int64_t>(running));
      }
      observed += running;
    }
  }
  // NaN observations land in no bucket but are counted, so only a NaN sum lets count exceed
  // the buckets' total. (The WAL's appender checks the same.)
  if (std::isnan(h.sum) ? observed > h.count : observed != h.count) {
    return fmt::format("{} observations found in buckets, but the Count field is {}", observed,
                       h.count);
  }
  return "";
}

// As FloatHistogram.Validate, count is not compared with the buckets' total: float rounding
// (e.g. of counts a client computed) makes that comparison unreliable.
std::string ValidateHistogram(const FloatHistogram& h) {
  if (std::string e = CheckSchema(h.schema); !e.empty()) return e;
  if (std::string e = CheckSpans("negative", h.negative_spans, h.negative_buckets.size());
      !e.empty()) {
    return e;
  }
  if (std::string e = CheckSpans("positive", h.positive_spans, h.positive_buckets.size());
      !e.empty()) {
    return e;
  }
  for (const auto* buckets : {&h.negative_buckets, &h.positive_buckets}) {
    for (size_t i = 0; i < buckets->size(); ++i) {
      if ((*buckets)[i] < 0 || std::isnan((*buckets)[i])) {
        return fmt::format("bucket number {} has observation count of {}", i + 1, (*buckets)[i]);
      }
    }
  }
  return "";
}

}  // namespace petrel::scrape
