// Operations on native histograms that scraping needs, as Prometheus's model/histogram does
// them: compaction after parsing, resolution reduction for native_histogram_bucket_limit and
// native_histogram_min_bucket_factor, and validation of untrusted input. Stateless.
#pragma once

#include <cstdint>
#include <string>

#include "common/histogram.h"

namespace petrel::scrape {

// Exponential schemas Prometheus stores (-4..8); 9..52 are reserved for future resolutions
// and are reduced to 8 on ingestion.
inline constexpr int32_t kExponentialSchemaMin = -4;
inline constexpr int32_t kExponentialSchemaMax = 8;
inline constexpr int32_t kExponentialSchemaMaxReserved = 52;

// Compact(0): drops empty buckets and zero-length spans, merges adjacent spans, so the spans
// are the maximal runs of non-empty buckets. Integer buckets stay delta-encoded.
void Compact(Histogram& h);
void Compact(FloatHistogram& h);

// Merges buckets down to target_schema (< h.schema; exponential schemas only). Bucket i of
// schema s goes to ((i - 1) >> (s - target)) + 1, as histogram.ReduceResolution does.
void ReduceResolution(Histogram& h, int32_t target_schema);
void ReduceResolution(FloatHistogram& h, int32_t target_schema);

// The schema native_histogram_min_bucket_factor allows (Prometheus's pickSchema): 8 for a
// factor <= 1 (the default 0), else floor(-log2(log2(factor))) within -4..8.
int32_t MaxSchemaForBucketFactor(double factor);

// The checks of Histogram.Validate / FloatHistogram.Validate that a scraped histogram must
// pass: bucket counts match the span lengths, spans after the first have offsets >= 0, no
// bucket count below zero (or NaN). For integer histograms the buckets and the zero bucket
// together hold exactly count observations, or at most count when sum is NaN (NaN
// observations are counted in no bucket); float counts are not compared, as upstream.
// "" when valid, else the problem.
std::string ValidateHistogram(const Histogram& h);
std::string ValidateHistogram(const FloatHistogram& h);

}  // namespace petrel::scrape
