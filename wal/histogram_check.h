// The checks Prometheus's agent applies before it appends a native histogram
// (model/histogram's Validate), so the WAL never holds one that a reader (ours, Prometheus's
// remote write, promtool) would reject or misread. Internal to wal/. Pure; thread-safe.
#pragma once

#include "common/histogram.h"
#include "common/status.h"

namespace petrel::wal {

// Ok, or kInvalidArgument naming the first problem: a schema that is neither exponential
// (-4..8) nor custom buckets (-53); spans that do not cover exactly the buckets given, or a
// negative offset on a span after the first; a negative bucket count; for integer histograms a
// count that differs from the zero bucket plus all buckets (or is below them when the sum is
// NaN); for custom buckets, bounds that are not strictly increasing and finite, too few for the
// spans, or a zero bucket or negative side; custom bounds on an exponential schema.
Status ValidateHistogram(const Histogram& h);
Status ValidateHistogram(const FloatHistogram& h);

}  // namespace petrel::wal
