// Encoder: RW 1.0 WriteRequest bytes (shared/reference/remote-write.md §2), written by hand into
// a reused buffer, then snappy block compression.
//
// Why not the protoc-generated classes: they allocate one object per TimeSeries and per Label
// (plus their strings) for every request, and then serialize a second copy. Remote write sends
// every sample as its own TimeSeries with the full label set, so that is several allocations per
// sample on the hottest path. Here a series' labels are encoded once (EncodeLabels, or per
// label pair in the queue's LabelPairTable, cached per series ref) and each sample costs copies
// of those bytes plus ~20 bytes of varints appended to a std::string whose capacity is kept
// between requests.
//
// Pure functions and a buffer-owning class; one caller at a time per RequestEncoder.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/histogram.h"
#include "common/labels.h"
#include "remotewrite/label_pairs.h"
#include "remotewrite/metadata.h"

namespace petrel::remotewrite {

// Appends the repeated `labels` field (TimeSeries field 1) for `labels` to *out: one
// length-delimited Label message per label, in the (sorted) order of the set.
void EncodeLabels(const Labels& labels, std::string* out);

// Calls fn(name, value) for each label of EncodeLabels output, in order; a fn returning bool
// stops the walk by returning false. False when the bytes are not such output (a bug: they come
// from EncodeLabels).
template <typename Fn>
bool ForEachEncodedLabel(std::string_view encoded_labels, Fn fn);

// A native histogram as the fields of the remote-write Histogram message (the same field
// numbers in RW 1.0 prometheus.Histogram and RW 2.0 io.prometheus.write.v2.Histogram), without
// its timestamp (field 15), which the request adds: `body` holds fields 1..14, `tail` field 16
// (custom_values), so the request can write the fields in number order. Integer histograms
// carry count_int, zero_count_int and deltas; float histograms count_float, zero_count_float
// and absolute counts, as Prometheus's FromIntHistogram / FromFloatHistogram.
struct EncodedHistogram {
  std::string body;
  std::string tail;
};
void EncodeHistogram(const Histogram& h, EncodedHistogram* out);
void EncodeHistogram(const FloatHistogram& h, EncodedHistogram* out);

// Builds one WriteRequest: a sequence of TimeSeries, each with one sample, or of metadata.
class RequestEncoder {
 public:
  // Clears the request; keeps the buffer's capacity.
  void Reset() { buf_.clear(); }
  // Appends TimeSeries{labels, samples: [{value, timestamp_ms}]}. encoded_labels is the output
  // of EncodeLabels. Zero value (0.0 and -0.0) and zero timestamp are omitted, as proto3 does;
  // any NaN, the stale marker included, is written bit-exact.
  void AddSample(std::string_view encoded_labels, int64_t timestamp_ms, double value);
  // Appends TimeSeries{labels, histograms: [h with timestamp]}.
  void AddHistogram(std::string_view encoded_labels, int64_t timestamp_ms,
                    const EncodedHistogram& h);
  // Appends TimeSeries{labels, exemplars: [{exemplar_labels, value, timestamp}]} (Prometheus
  // sends each exemplar as a TimeSeries of its own, without samples).
  void AddExemplar(std::string_view encoded_labels, int64_t timestamp_ms, double value,
                   const Labels& exemplar_labels);
  // The same for labels interned in a LabelPairTable (SeriesCache): the same bytes.
  void AddSample(const PairedLabels& labels, int64_t timestamp_ms, double value);
  void AddHistogram(const PairedLabels& labels, int64_t timestamp_ms, const EncodedHistogram& h);
  void AddExemplar(const PairedLabels& labels, int64_t timestamp_ms, double value,
                   const Labels& exemplar_labels);
  // Appends one WriteRequest.metadata entry (field 3). Prometheus never mixes metadata and
  // samples in one request; neither does the queue.
  void AddMetadata(const MetricMetadata& metadata);
  // The uncompressed WriteRequest so far.
  std::string_view bytes() const { return buf_; }

 private:
  template <typename L>
  void AddSampleOf(const L& labels, int64_t timestamp_ms, double value);
  template <typename L>
  void AddHistogramOf(const L& labels, int64_t timestamp_ms, const EncodedHistogram& h);
  template <typename L>
  void AddExemplarOf(const L& labels, int64_t timestamp_ms, double value,
                     const Labels& exemplar_labels);

  std::string buf_;
  std::string scratch_;  // one exemplar
};

// Builds one RW 2.0 io.prometheus.write.v2.Request (shared/reference/remote-write.md §8): every
// string (label names and values, exemplar labels, help, unit) goes once into the request's
// symbols table ("" first) and is referred to by index. Each item becomes a TimeSeries of its
// own, as Prometheus sends them, with the series' metadata (type, help, unit) when known.
// The series labels and metadata strings passed must stay alive and unchanged until bytes() was
// used: the symbols table refers to them (exemplar labels are copied). Buffers and the table keep
// their capacity across Reset.
class V2RequestEncoder {
 public:
  V2RequestEncoder() { Reset(); }
  void Reset();
  // metadata may be null (unknown: METRIC_TYPE_UNSPECIFIED, no help or unit).
  void AddSample(std::string_view encoded_labels, const MetricMetadata* metadata,
                 int64_t timestamp_ms, double value);
  void AddHistogram(std::string_view encoded_labels, const MetricMetadata* metadata,
                    int64_t timestamp_ms, const EncodedHistogram& h);
  // The same for labels interned in a LabelPairTable (SeriesCache), which must not change
  // until bytes() was used; all of one request from one table. Each pair's symbols are looked
  // up once per request.
  void AddSample(const PairedLabels& labels, const MetricMetadata* metadata, int64_t timestamp_ms,
                 double value);
  void AddHistogram(const PairedLabels& labels, const MetricMetadata* metadata,
                    int64_t timestamp_ms, const EncodedHistogram& h);
  // Adds an exemplar to the TimeSeries of the last AddSample/AddHistogram: a RW 2.0 TimeSeries
  // must carry a sample or a histogram (receivers refuse one holding only exemplars), so an
  // exemplar always rides with one of its series. False (nothing added) when no series is open
  // (nothing added since Reset or bytes()).
  bool AttachExemplar(int64_t timestamp_ms, double value, const Labels& exemplar_labels);
  // The Request so far: symbols (field 4), then timeseries (field 5).
  std::string_view bytes();
  size_t symbols() const { return symbols_.size(); }

 private:
  uint32_t Symbol(std::string_view s);
  // Closes the open series, then starts ts_ with labels_refs (field 1) of the series.
  void BeginSeries(std::string_view encoded_labels);
  void BeginSeries(const PairedLabels& labels);
  // Closes the open series, then starts ts_ with refs_ as its labels_refs.
  void BeginSeriesWithRefs();
  template <typename L>
  void AddSampleOf(const L& labels, const MetricMetadata* metadata, int64_t timestamp_ms,
                   double value);
  template <typename L>
  void AddHistogramOf(const L& labels, const MetricMetadata* metadata, int64_t timestamp_ms,
                      const EncodedHistogram& h);
  // Leaves ts_ open for AttachExemplar; Close writes it out with this metadata.
  void EndSeries(const MetricMetadata* metadata) {
    open_ = true;
    open_metadata_ = metadata;
  }
  // Appends metadata (field 5) to the open ts_, then ts_ as one Request.timeseries to series_.
  void Close();

  // absl::string_view keys: absl's own string hash (std::string_view keys would go through
  // std::hash, twice as slow here).
  absl::flat_hash_map<absl::string_view, uint32_t> index_;
  std::vector<std::string_view> symbols_;
  std::vector<uint32_t> refs_;  // scratch: one series' label refs
  // Per pair id of the PairedLabels' table: its name and value symbols, valid when gen is
  // generation_ (bumped by Reset, so the vector is not cleared per request).
  struct PairSymbols {
    uint32_t gen = 0;
    uint32_t name = 0;
    uint32_t value = 0;
  };
  std::vector<PairSymbols> pair_symbols_;
  uint32_t generation_ = 0;
  std::string ts_;                 // scratch: one TimeSeries
  std::string series_;             // every TimeSeries so far
  std::string out_;                // symbols + series_, built by bytes()
  std::deque<std::string> owned_;  // copies of exemplar label strings (stable addresses)
  bool open_ = false;              // ts_ holds a series not yet in series_
  const MetricMetadata* open_metadata_ = nullptr;
};

// Snappy block format (not the framed/stream format) of input, written at the start of *buf;
// returns the compressed bytes (a view into *buf). *buf only grows, and keeps its size: bytes
// past the returned view are left over from earlier calls. Growing once instead of resizing up
// and down on every call saves zero-filling the whole bound each time (a memset of about the
// uncompressed size per request, 1.2% of petrel's CPU in a 200k-series profile).
std::string_view SnappyCompress(std::string_view input, std::string* buf);

template <typename Fn>
bool ForEachEncodedLabel(std::string_view in, Fn fn) {
  // Each label: 0x0a <len> { 0x0a <len> name 0x12 <len> value }, lengths as varints.
  auto varint = [](std::string_view* s, uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && !s->empty(); shift += 7) {
      const auto b = static_cast<uint8_t>(s->front());
      s->remove_prefix(1);
      *v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return true;
    }
    return false;
  };
  auto field = [&](std::string_view* s, char tag, std::string_view* out) {
    uint64_t n = 0;
    if (s->empty() || s->front() != tag) return false;
    s->remove_prefix(1);
    if (!varint(s, &n) || n > s->size()) return false;
    *out = s->substr(0, n);
    s->remove_prefix(n);
    return true;
  };
  while (!in.empty()) {
    std::string_view label, name, value;
    if (!field(&in, 0x0a, &label) || !field(&label, 0x0a, &name) || !field(&label, 0x12, &value) ||
        !label.empty()) {
      return false;
    }
    if constexpr (std::is_same_v<decltype(fn(name, value)), bool>) {
      if (!fn(name, value)) return true;
    } else {
      fn(name, value);
    }
  }
  return true;
}

}  // namespace petrel::remotewrite
