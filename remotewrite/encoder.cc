#include "remotewrite/encoder.h"

#include <snappy.h>

#include <bit>
#include <cassert>
#include <cstring>

namespace petrel::remotewrite {
namespace {

// Protobuf tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
constexpr char kTagTimeSeries = (1 << 3) | 2;  // WriteRequest.timeseries
constexpr char kTagLabels = (1 << 3) | 2;      // TimeSeries.labels
constexpr char kTagSamples = (2 << 3) | 2;     // TimeSeries.samples
constexpr char kTagLabelName = (1 << 3) | 2;   // Label.name
constexpr char kTagLabelValue = (2 << 3) | 2;  // Label.value
constexpr char kTagValue = (1 << 3) | 1;       // Sample.value (double)
constexpr char kTagTimestamp = (2 << 3) | 0;   // Sample.timestamp (int64, plain varint)
constexpr char kTagMetadata = (3 << 3) | 2;    // WriteRequest.metadata
constexpr char kTagMetaType = (1 << 3) | 0;    // MetricMetadata.type (enum)
constexpr char kTagMetaFamily = (2 << 3) | 2;  // MetricMetadata.metric_family_name
constexpr char kTagMetaHelp = (4 << 3) | 2;    // MetricMetadata.help (there is no field 3)
constexpr char kTagMetaUnit = (5 << 3) | 2;    // MetricMetadata.unit

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutVarint(uint64_t v, std::string* out) {
  if (v < 0x80) {  // most tags, lengths and symbol refs below 128
    out->push_back(static_cast<char>(v));
    return;
  }
  char tmp[10];
  size_t n = 0;
  while (v >= 0x80) {
    tmp[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  tmp[n++] = static_cast<char>(v);
  out->append(tmp, n);
}

void PutBytesField(char tag, std::string_view s, std::string* out) {
  out->push_back(tag);
  PutVarint(s.size(), out);
  out->append(s);
}

// Tag of field `field` with wire type `wire`: one byte, for fields below 16.
constexpr char Tag(int field, int wire) { return static_cast<char>((field << 3) | wire); }
constexpr int kVarint = 0, kFixed64 = 1, kLen = 2;

void PutDouble(double v, std::string* out) {
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  out->append(le, 8);
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// proto3 scalars: a zero value is not written.
void PutDoubleField(int field, double v, std::string* out) {
  if (v == 0) return;  // NaN != 0: written
  out->push_back(Tag(field, kFixed64));
  PutDouble(v, out);
}
void PutVarintField(int field, uint64_t v, std::string* out) {
  if (v == 0) return;
  out->push_back(Tag(field, kVarint));
  PutVarint(v, out);
}

void PutSpans(int field, const std::vector<HistogramSpan>& spans, std::string* out) {
  for (const HistogramSpan& s : spans) {
    const uint64_t off = ZigZag(s.offset);  // sint32
    const size_t len =
        (off != 0 ? 1 + VarintSize(off) : 0) + (s.length != 0 ? 1 + VarintSize(s.length) : 0);
    out->push_back(Tag(field, kLen));
    PutVarint(len, out);
    PutVarintField(1, off, out);
    PutVarintField(2, s.length, out);
  }
}

// Packed repeated sint64 (zig-zag varints).
void PutPackedSint64(int field, const std::vector<int64_t>& v, std::string* out) {
  if (v.empty()) return;
  size_t len = 0;
  for (int64_t x : v) len += VarintSize(ZigZag(x));
  out->push_back(Tag(field, kLen));
  PutVarint(len, out);
  for (int64_t x : v) PutVarint(ZigZag(x), out);
}

// Packed repeated double. Field numbers from 16 on take a two-byte tag.
void PutPackedDouble(int field, const std::vector<double>& v, std::string* out) {
  if (v.empty()) return;
  PutVarint(static_cast<uint64_t>((field << 3) | kLen), out);
  PutVarint(8 * v.size(), out);
  for (double x : v) PutDouble(x, out);
}

// The fields both histogram kinds share after the count: sum, schema, zero_threshold.
template <typename H>
void PutHistogramHead(const H& h, std::string* out) {
  PutDoubleField(3, h.sum, out);
  PutVarintField(4, ZigZag(h.schema), out);  // sint32
  PutDoubleField(5, h.zero_threshold, out);
}

size_t HistogramSize(const EncodedHistogram& h, uint64_t ts) {
  return h.body.size() + (ts != 0 ? 1 + VarintSize(ts) : 0) + h.tail.size();
}

void PutHistogram(const EncodedHistogram& h, uint64_t ts, std::string* out) {
  out->append(h.body);
  PutVarintField(15, ts, out);
  out->append(h.tail);
}

// A series' labels as the encoded Label fields: one blob (EncodeLabels output) or interned
// pairs, each already one encoded field.
size_t LabelsSize(std::string_view encoded) { return encoded.size(); }
size_t LabelsSize(const PairedLabels& labels) { return labels.encoded_size; }
void AppendLabels(std::string_view encoded, std::string* out) { out->append(encoded); }
void AppendLabels(const PairedLabels& labels, std::string* out) {
  // Grown once (with a block of slack), then each pair in whole fixed-size blocks: a pair is
  // short (most below 48 bytes), and fixed-size copies beat a memcpy call per pair. A block
  // may run past the pair into the next pair's place or the slack; those bytes are overwritten
  // or cut.
  constexpr size_t kBlock = LabelPairTable::kCopyBlock;
  const size_t at = out->size();
  out->resize(at + labels.encoded_size + kBlock);
  char* p = out->data() + at;
  labels.ForEach([&p, &labels](uint32_t id) {
    const std::string_view e = labels.table->encoded(id);
    for (size_t off = 0; off < e.size(); off += kBlock) {
      std::memcpy(p + off, e.data() + off, kBlock);
    }
    p += e.size();
  });
  out->resize(at + labels.encoded_size);
  assert(p == out->data() + out->size());
}

}  // namespace

void EncodeLabels(const Labels& labels, std::string* out) {
  for (const Label& l : labels) {
    size_t msg = 1 + VarintSize(l.name.size()) + l.name.size() + 1 + VarintSize(l.value.size()) +
                 l.value.size();
    out->push_back(kTagLabels);
    PutVarint(msg, out);
    PutBytesField(kTagLabelName, l.name, out);
    PutBytesField(kTagLabelValue, l.value, out);
  }
}

template <typename L>
void RequestEncoder::AddSampleOf(const L& encoded_labels, int64_t timestamp_ms, double value) {
  // proto3 omits a zero scalar; -0.0 == 0 too, as in gogo's generated marshaler.
  const bool has_value = value != 0;  // NaN compares unequal, so it is always written
  const uint64_t ts = static_cast<uint64_t>(timestamp_ms);  // int64: negatives take 10 bytes
  const size_t sample_len = (has_value ? 9 : 0) + (ts != 0 ? 1 + VarintSize(ts) : 0);
  const size_t series_len = LabelsSize(encoded_labels) + 1 + VarintSize(sample_len) + sample_len;

  buf_.push_back(kTagTimeSeries);
  PutVarint(series_len, &buf_);
  AppendLabels(encoded_labels, &buf_);
  buf_.push_back(kTagSamples);
  PutVarint(sample_len, &buf_);
  if (has_value) {
    uint64_t bits = std::bit_cast<uint64_t>(value);
    char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
    buf_.push_back(kTagValue);
    buf_.append(le, 8);
  }
  if (ts != 0) {
    buf_.push_back(kTagTimestamp);
    PutVarint(ts, &buf_);
  }
}

void RequestEncoder::AddMetadata(const MetricMetadata& m) {
  // proto3 omits zero scalars and empty strings.
  const auto type = static_cast<uint64_t>(m.type);
  auto field_len = [](std::string_view v) {
    return v.empty() ? 0 : 1 + VarintSize(v.size()) + v.size();
  };
  const size_t len =
      (type != 0 ? 2 : 0) + field_len(m.family_name) + field_len(m.help) + field_len(m.unit);
  buf_.push_back(kTagMetadata);
  PutVarint(len, &buf_);
  if (type != 0) {
    buf_.push_back(kTagMetaType);
    PutVarint(type, &buf_);
  }
  if (!m.family_name.empty()) PutBytesField(kTagMetaFamily, m.family_name, &buf_);
  if (!m.help.empty()) PutBytesField(kTagMetaHelp, m.help, &buf_);
  if (!m.unit.empty()) PutBytesField(kTagMetaUnit, m.unit, &buf_);
}

void EncodeHistogram(const Histogram& h, EncodedHistogram* out) {
  std::string& b = out->body;
  b.clear();
  out->tail.clear();
  // count and zero_count are oneofs: set, so written even when 0 (as gogo does).
  b.push_back(Tag(1, kVarint));  // count_int
  PutVarint(h.count, &b);
  PutHistogramHead(h, &b);
  b.push_back(Tag(6, kVarint));  // zero_count_int
  PutVarint(h.zero_count, &b);
  PutSpans(8, h.negative_spans, &b);
  PutPackedSint64(9, h.negative_buckets, &b);  // negative_deltas
  PutSpans(11, h.positive_spans, &b);
  PutPackedSint64(12, h.positive_buckets, &b);  // positive_deltas
  PutVarintField(14, static_cast<uint64_t>(h.hint), &b);
  PutPackedDouble(16, h.custom_values, &out->tail);
}

void EncodeHistogram(const FloatHistogram& h, EncodedHistogram* out) {
  std::string& b = out->body;
  b.clear();
  out->tail.clear();
  b.push_back(Tag(2, kFixed64));  // count_float
  PutDouble(h.count, &b);
  PutHistogramHead(h, &b);
  b.push_back(Tag(7, kFixed64));  // zero_count_float
  PutDouble(h.zero_count, &b);
  PutSpans(8, h.negative_spans, &b);
  PutPackedDouble(10, h.negative_buckets, &b);  // negative_counts
  PutSpans(11, h.positive_spans, &b);
  PutPackedDouble(13, h.positive_buckets, &b);  // positive_counts
  PutVarintField(14, static_cast<uint64_t>(h.hint), &b);
  PutPackedDouble(16, h.custom_values, &out->tail);
}

template <typename L>
void RequestEncoder::AddHistogramOf(const L& encoded_labels, int64_t timestamp_ms,
                                    const EncodedHistogram& h) {
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  const size_t hist_len = HistogramSize(h, ts);
  const size_t series_len = LabelsSize(encoded_labels) + 1 + VarintSize(hist_len) + hist_len;
  buf_.push_back(kTagTimeSeries);
  PutVarint(series_len, &buf_);
  AppendLabels(encoded_labels, &buf_);
  buf_.push_back(Tag(4, kLen));  // TimeSeries.histograms
  PutVarint(hist_len, &buf_);
  PutHistogram(h, ts, &buf_);
}

template <typename L>
void RequestEncoder::AddExemplarOf(const L& encoded_labels, int64_t timestamp_ms, double value,
                                   const Labels& exemplar_labels) {
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  scratch_.clear();
  EncodeLabels(exemplar_labels, &scratch_);  // Exemplar.labels is field 1 too
  PutDoubleField(2, value, &scratch_);
  PutVarintField(3, ts, &scratch_);
  const size_t series_len =
      LabelsSize(encoded_labels) + 1 + VarintSize(scratch_.size()) + scratch_.size();
  buf_.push_back(kTagTimeSeries);
  PutVarint(series_len, &buf_);
  AppendLabels(encoded_labels, &buf_);
  PutBytesField(Tag(3, kLen), scratch_, &buf_);  // TimeSeries.exemplars
}

void RequestEncoder::AddSample(std::string_view encoded_labels, int64_t timestamp_ms,
                               double value) {
  AddSampleOf(encoded_labels, timestamp_ms, value);
}
void RequestEncoder::AddSample(const PairedLabels& labels, int64_t timestamp_ms, double value) {
  AddSampleOf(labels, timestamp_ms, value);
}
void RequestEncoder::AddHistogram(std::string_view encoded_labels, int64_t timestamp_ms,
                                  const EncodedHistogram& h) {
  AddHistogramOf(encoded_labels, timestamp_ms, h);
}
void RequestEncoder::AddHistogram(const PairedLabels& labels, int64_t timestamp_ms,
                                  const EncodedHistogram& h) {
  AddHistogramOf(labels, timestamp_ms, h);
}
void RequestEncoder::AddExemplar(std::string_view encoded_labels, int64_t timestamp_ms,
                                 double value, const Labels& exemplar_labels) {
  AddExemplarOf(encoded_labels, timestamp_ms, value, exemplar_labels);
}
void RequestEncoder::AddExemplar(const PairedLabels& labels, int64_t timestamp_ms, double value,
                                 const Labels& exemplar_labels) {
  AddExemplarOf(labels, timestamp_ms, value, exemplar_labels);
}

void V2RequestEncoder::Reset() {
  // absl's clear() frees a table of more than 127 slots; sized for the last request up front,
  // the next one is one allocation instead of a chain of rehashes as it grows.
  const size_t last = symbols_.size();
  index_.clear();
  index_.reserve(last);
  symbols_.clear();
  series_.clear();
  owned_.clear();
  open_ = false;
  if (++generation_ == 0) {  // wrapped: stale entries could look current
    pair_symbols_.assign(pair_symbols_.size(), PairSymbols{});
    generation_ = 1;
  }
  Symbol("");  // symbols[0] is always the empty string
}

uint32_t V2RequestEncoder::Symbol(std::string_view s) {
  auto [it, fresh] = index_.try_emplace(absl::string_view(s.data(), s.size()),
                                        static_cast<uint32_t>(symbols_.size()));
  if (fresh) symbols_.push_back(s);
  return it->second;
}

void V2RequestEncoder::BeginSeries(std::string_view encoded_labels) {
  Close();
  refs_.clear();
  const bool ok =
      ForEachEncodedLabel(encoded_labels, [this](std::string_view n, std::string_view v) {
        refs_.push_back(Symbol(n));
        refs_.push_back(Symbol(v));
      });
  assert(ok);
  (void)ok;
  BeginSeriesWithRefs();
}

void V2RequestEncoder::BeginSeries(const PairedLabels& labels) {
  Close();
  refs_.clear();
  if (pair_symbols_.size() < labels.table->id_bound()) {
    pair_symbols_.resize(labels.table->id_bound());
  }
  labels.ForEach([this, &labels](uint32_t id) {
    PairSymbols& ps = pair_symbols_[id];
    if (ps.gen != generation_) {
      ps.gen = generation_;
      ps.name = Symbol(labels.table->name(id));
      ps.value = Symbol(labels.table->value(id));
    }
    refs_.push_back(ps.name);
    refs_.push_back(ps.value);
  });
  BeginSeriesWithRefs();
}

void V2RequestEncoder::BeginSeriesWithRefs() {
  ts_.clear();
  size_t len = 0;
  for (uint32_t r : refs_) len += VarintSize(r);
  ts_.push_back(Tag(1, kLen));  // labels_refs, packed uint32
  PutVarint(len, &ts_);
  for (uint32_t r : refs_) PutVarint(r, &ts_);
}

void V2RequestEncoder::Close() {
  if (!open_) return;
  open_ = false;
  const MetricMetadata* m = open_metadata_;
  if (m != nullptr) {
    const auto type = static_cast<uint64_t>(m->type);
    const uint32_t help = Symbol(m->help), unit = Symbol(m->unit);
    const size_t len = (type != 0 ? 1 + VarintSize(type) : 0) +
                       (help != 0 ? 1 + VarintSize(help) : 0) +
                       (unit != 0 ? 1 + VarintSize(unit) : 0);
    ts_.push_back(Tag(5, kLen));  // TimeSeries.metadata, written even when empty
    PutVarint(len, &ts_);
    PutVarintField(1, type, &ts_);
    PutVarintField(3, help, &ts_);  // there is no field 2
    PutVarintField(4, unit, &ts_);
  }
  PutBytesField(Tag(5, kLen), ts_, &series_);  // Request.timeseries
}

template <typename L>
void V2RequestEncoder::AddSampleOf(const L& encoded_labels, const MetricMetadata* metadata,
                                   int64_t timestamp_ms, double value) {
  BeginSeries(encoded_labels);
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  const size_t len = (value != 0 ? 9 : 0) + (ts != 0 ? 1 + VarintSize(ts) : 0);
  ts_.push_back(Tag(2, kLen));  // samples
  PutVarint(len, &ts_);
  PutDoubleField(1, value, &ts_);
  PutVarintField(2, ts, &ts_);
  EndSeries(metadata);
}

template <typename L>
void V2RequestEncoder::AddHistogramOf(const L& encoded_labels, const MetricMetadata* metadata,
                                      int64_t timestamp_ms, const EncodedHistogram& h) {
  BeginSeries(encoded_labels);
  const auto ts = static_cast<uint64_t>(timestamp_ms);
  ts_.push_back(Tag(3, kLen));  // histograms
  PutVarint(HistogramSize(h, ts), &ts_);
  PutHistogram(h, ts, &ts_);
  EndSeries(metadata);
}

void V2RequestEncoder::AddSample(std::string_view encoded_labels, const MetricMetadata* metadata,
                                 int64_t timestamp_ms, double value) {
  AddSampleOf(encoded_labels, metadata, timestamp_ms, value);
}
void V2RequestEncoder::AddSample(const PairedLabels& labels, const MetricMetadata* metadata,
                                 int64_t timestamp_ms, double value) {
  AddSampleOf(labels, metadata, timestamp_ms, value);
}
void V2RequestEncoder::AddHistogram(std::string_view encoded_labels, const MetricMetadata* metadata,
                                    int64_t timestamp_ms, const EncodedHistogram& h) {
  AddHistogramOf(encoded_labels, metadata, timestamp_ms, h);
}
void V2RequestEncoder::AddHistogram(const PairedLabels& labels, const MetricMetadata* metadata,
                                    int64_t timestamp_ms, const EncodedHistogram& h) {
  AddHistogramOf(labels, metadata, timestamp_ms, h);
}

bool V2RequestEncoder::AttachExemplar(int64_t timestamp_ms, double value,
                                      const Labels& exemplar_labels) {
  if (!open_) return false;
  refs_.clear();
  for (const Label& l : exemplar_labels) {
    // Copied: exemplar labels need not outlive the call (the rare case; series labels and
    // metadata are referred to in place).
    refs_.push_back(Symbol(owned_.emplace_back(l.name)));
    refs_.push_back(Symbol(owned_.emplace_back(l.value)));
  }
  std::string exemplar;
  size_t refs_len = 0;
  for (uint32_t r : refs_) refs_len += VarintSize(r);
  if (!refs_.empty()) {
    exemplar.push_back(Tag(1, kLen));  // Exemplar.labels_refs, packed
    PutVarint(refs_len, &exemplar);
    for (uint32_t r : refs_) PutVarint(r, &exemplar);
  }
  PutDoubleField(2, value, &exemplar);
  PutVarintField(3, static_cast<uint64_t>(timestamp_ms), &exemplar);
  PutBytesField(Tag(4, kLen), exemplar, &ts_);  // TimeSeries.exemplars
  return true;
}

std::string_view V2RequestEncoder::bytes() {
  Close();
  out_.clear();
  for (std::string_view s : symbols_) PutBytesField(Tag(4, kLen), s, &out_);  // symbols
  out_.append(series_);
  return out_;
}

std::string_view SnappyCompress(std::string_view input, std::string* buf) {
  const size_t bound = snappy::MaxCompressedLength(input.size());
  if (buf->size() < bound) buf->resize(bound);
  size_t n = 0;
  snappy::RawCompress(input.data(), input.size(), buf->data(), &n);
  return std::string_view(*buf).substr(0, n);
}

}  // namespace petrel::remotewrite
