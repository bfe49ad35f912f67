// Encoder: RW 1.0 WriteRequest bytes (shared/reference/remote-write.md §2), written by hand into
// a reused buffer, then snappy block compression.
//
// Why not the protoc-generated classes: they allocate one object per TimeSeries and per Label
// (plus their strings) for every request, and then serialize a second copy. Remote write sends
// every sample as its own TimeSeries with the full label set, so that is several allocations per
// sample on the hottest path. Here a series' labels are encoded once (EncodeLabels, cached by
// the queue per series ref) and each sample costs a memcpy of those bytes plus ~20 bytes of
// varints appended to a std::string whose capacity is kept between requests.
//
// Pure functions and a buffer-owning class; one caller at a time per RequestEncoder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/labels.h"
#include "remotewrite/metadata.h"

namespace petrel::remotewrite {

// Appends the repeated `labels` field (TimeSeries field 1) for `labels` to *out: one
// length-delimited Label message per label, in the (sorted) order of the set.
void EncodeLabels(const Labels& labels, std::string* out);

// Builds one WriteRequest: a sequence of TimeSeries, each with one sample, or of metadata.
class RequestEncoder {
 public:
  // Clears the request; keeps the buffer's capacity.
  void Reset() { buf_.clear(); }
  // Appends TimeSeries{labels, samples: [{value, timestamp_ms}]}. encoded_labels is the output
  // of EncodeLabels. Zero value (0.0 and -0.0) and zero timestamp are omitted, as proto3 does;
  // any NaN, the stale marker included, is written bit-exact.
  void AddSample(std::string_view encoded_labels, int64_t timestamp_ms, double value);
  // Appends one WriteRequest.metadata entry (field 3). Prometheus never mixes metadata and
  // samples in one request; neither does the queue.
  void AddMetadata(const MetricMetadata& metadata);
  // The uncompressed WriteRequest so far.
  std::string_view bytes() const { return buf_; }

 private:
  std::string buf_;
};

// Snappy block format (not the framed/stream format) of input into *out, replacing its contents
// and reusing its capacity.
void SnappyCompress(std::string_view input, std::string* out);

}  // namespace petrel::remotewrite
