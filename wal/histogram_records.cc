// HistogramSamples (7), FloatHistogramSamples (8) and their custom-buckets twins (9, 10), as
// Prometheus's tsdb/record encodes them (wal-format.md §5.8). Declared in records.h.
#include <fmt/format.h>

#include <limits>

#include "wal/encoding.h"
#include "wal/records.h"

namespace petrel::wal {
namespace {

// Exponential schemas a reader accepts (Prometheus's IsKnownSchema): -9..52, or custom buckets.
// Schemas above kMaxSchema are reduced to it on read, as newer writers may use them.
constexpr int32_t kMinKnownSchema = -9;
constexpr int32_t kMaxKnownSchema = 52;
constexpr int32_t kMaxSchema = 8;

bool KnownSchema(int32_t schema) {
  return schema == kCustomBucketsSchema || (schema >= kMinKnownSchema && schema <= kMaxKnownSchema);
}

Status Corrupt(const char* what, std::string_view detail) {
  return Status::Corruption(fmt::format("{} record: {}", what, detail));
}

void PutSpans(const std::vector<HistogramSpan>& spans, std::string* out) {
  PutUvarint(spans.size(), out);
  for (const auto& s : spans) {
    PutVarint(s.offset, out);
    PutUvarint(s.length, out);
  }
}

// The fields both bodies share, in record order: hint, schema, zero threshold.
template <typename H>
void PutHead(const H& h, std::string* out) {
  out->push_back(static_cast<char>(h.hint));
  PutVarint(h.schema, out);
  PutF64(h.zero_threshold, out);
}

template <typename H>
void PutCustomValues(const H& h, std::string* out) {
  if (h.schema != kCustomBucketsSchema) return;
  PutUvarint(h.custom_values.size(), out);
  for (double v : h.custom_values) PutF64(v, out);
}

void PutBody(const Histogram& h, std::string* out) {
  PutHead(h, out);
  PutUvarint(h.zero_count, out);
  PutUvarint(h.count, out);
  PutF64(h.sum, out);
  PutSpans(h.positive_spans, out);
  PutSpans(h.negative_spans, out);
  for (const auto* buckets : {&h.positive_buckets, &h.negative_buckets}) {
    PutUvarint(buckets->size(), out);
    for (int64_t b : *buckets) PutVarint(b, out);
  }
  PutCustomValues(h, out);
}

void PutBody(const FloatHistogram& h, std::string* out) {
  PutHead(h, out);
  PutF64(h.zero_count, out);
  PutF64(h.count, out);
  PutF64(h.sum, out);
  PutSpans(h.positive_spans, out);
  PutSpans(h.negative_spans, out);
  for (const auto* buckets : {&h.positive_buckets, &h.negative_buckets}) {
    PutUvarint(buckets->size(), out);
    for (double b : *buckets) PutF64(b, out);
  }
  PutCustomValues(h, out);
}

// Reads one body from the front of *in. Every length is checked against the bytes left before
// anything is allocated (a span takes at least 2 bytes, an integer bucket 1, a float 8), so a
// corrupt length fails instead of allocating. On failure *why says which field.
class BodyReader {
 public:
  explicit BodyReader(std::string_view* in) : in_(in) {}

  bool Read(Histogram* h) {
    return Head(h) && Uvarint(&h->zero_count, "zero count") && Uvarint(&h->count, "count") &&
           F64(&h->sum, "sum") && Spans(&h->positive_spans, "positive spans") &&
           Spans(&h->negative_spans, "negative spans") &&
           IntBuckets(&h->positive_buckets, "positive buckets") &&
           IntBuckets(&h->negative_buckets, "negative buckets") && CustomValues(h);
  }

  bool Read(FloatHistogram* h) {
    return Head(h) && F64(&h->zero_count, "zero count") && F64(&h->count, "count") &&
           F64(&h->sum, "sum") && Spans(&h->positive_spans, "positive spans") &&
           Spans(&h->negative_spans, "negative spans") &&
           Floats(&h->positive_buckets, "positive buckets") &&
           Floats(&h->negative_buckets, "negative buckets") && CustomValues(h);
  }

  const char* why = "";

 private:
  template <typename H>
  bool Head(H* h) {
    if (in_->empty()) return Fail("counter reset hint");
    // Any byte is kept, as Prometheus does; only 0-3 are defined.
    h->hint = static_cast<CounterResetHint>(static_cast<uint8_t>((*in_)[0]));
    in_->remove_prefix(1);
    int64_t schema;
    if (!GetVarint(in_, &schema)) return Fail("schema");
    h->schema = static_cast<int32_t>(schema);  // truncated to int32 like Prometheus
    return F64(&h->zero_threshold, "zero threshold");
  }

  template <typename H>
  bool CustomValues(H* h) {
    if (h->schema != kCustomBucketsSchema) return true;
    return Floats(&h->custom_values, "custom values");
  }

  bool Spans(std::vector<HistogramSpan>* spans, const char* what) {
    uint64_t n;
    if (!Count(&n, 2, what)) return false;
    spans->resize(n);
    for (auto& s : *spans) {
      int64_t offset;
      uint64_t length;
      if (!GetVarint(in_, &offset) || !GetUvarint(in_, &length)) return Fail(what);
      if (length > std::numeric_limits<uint32_t>::max()) return Fail(what);
      s.offset = static_cast<int32_t>(offset);
      s.length = static_cast<uint32_t>(length);
    }
    return true;
  }

  bool IntBuckets(std::vector<int64_t>* buckets, const char* what) {
    uint64_t n;
    if (!Count(&n, 1, what)) return false;
    buckets->resize(n);
    for (auto& b : *buckets) {
      if (!GetVarint(in_, &b)) return Fail(what);
    }
    return true;
  }

  bool Floats(std::vector<double>* values, const char* what) {
    uint64_t n;
    if (!Count(&n, 8, what)) return false;
    values->resize(n);
    for (auto& v : *values) {
      if (!GetF64(in_, &v)) return Fail(what);
    }
    return true;
  }

  bool Count(uint64_t* n, size_t min_bytes_each, const char* what) {
    if (!GetUvarint(in_, n) || *n > in_->size() / min_bytes_each) return Fail(what);
    return true;
  }
  bool Uvarint(uint64_t* v, const char* what) { return GetUvarint(in_, v) || Fail(what); }
  bool F64(double* v, const char* what) { return GetF64(in_, v) || Fail(what); }
  bool Fail(const char* what) {
    why = what;
    return false;
  }

  std::string_view* in_;
};

// Buckets the spans describe; more than UINT32_MAX spans of UINT32_MAX cannot overflow 64 bits.
uint64_t SpanBuckets(const std::vector<HistogramSpan>& spans) {
  uint64_t n = 0;
  for (const auto& s : spans) n += s.length;
  return n;
}

template <typename H>
bool BucketsMatchSpans(const H& h) {
  return SpanBuckets(h.positive_spans) == h.positive_buckets.size() &&
         SpanBuckets(h.negative_spans) == h.negative_buckets.size();
}

// Merges the buckets of one sign into schema `target` (< from), as Prometheus's
// ReduceResolution does: bucket i goes to ((i - 1) >> (from - target)) + 1; merged buckets
// add up; spans are rebuilt, a new one wherever target indexes leave a gap. `counts` are
// absolute here; spans and buckets must match (checked by the caller).
template <typename C>
void ReduceBuckets(int32_t from, int32_t target, std::vector<HistogramSpan>* spans,
                   std::vector<C>* counts) {
  std::vector<HistogramSpan> out_spans;
  std::vector<C> out_counts;
  int64_t index = 0;
  int64_t last = 0;
  size_t at = 0;
  for (const auto& span : *spans) {
    index += span.offset;
    for (uint32_t j = 0; j < span.length; ++j, ++index, ++at) {
      const int64_t t = ((index - 1) >> (from - target)) + 1;
      if (out_spans.empty()) {
        out_spans.push_back({static_cast<int32_t>(t), 1});
        out_counts.push_back((*counts)[at]);
      } else if (t == last) {
        out_counts.back() += (*counts)[at];
      } else {
        if (t == last + 1) {
          ++out_spans.back().length;
        } else {
          out_spans.push_back({static_cast<int32_t>(t - last - 1), 1});
        }
        out_counts.push_back((*counts)[at]);
      }
      last = t;
    }
  }
  *spans = std::move(out_spans);
  *counts = std::move(out_counts);
}

void ReduceResolution(FloatHistogram* h) {
  ReduceBuckets(h->schema, kMaxSchema, &h->positive_spans, &h->positive_buckets);
  ReduceBuckets(h->schema, kMaxSchema, &h->negative_spans, &h->negative_buckets);
  h->schema = kMaxSchema;
}

void ReduceResolution(Histogram* h) {
  // Integer buckets are deltas: made absolute to merge, then deltas again (wrapping, like Go).
  for (auto* buckets : {&h->positive_buckets, &h->negative_buckets}) {
    uint64_t abs = 0;
    for (auto& b : *buckets) b = static_cast<int64_t>(abs += static_cast<uint64_t>(b));
  }
  ReduceBuckets(h->schema, kMaxSchema, &h->positive_spans, &h->positive_buckets);
  ReduceBuckets(h->schema, kMaxSchema, &h->negative_spans, &h->negative_buckets);
  for (auto* buckets : {&h->positive_buckets, &h->negative_buckets}) {
    uint64_t prev = 0;
    for (auto& b : *buckets) {
      const auto abs = static_cast<uint64_t>(b);
      b = static_cast<int64_t>(abs - prev);
      prev = abs;
    }
  }
  h->schema = kMaxSchema;
}

template <typename Sample, typename GetH>
void EncodeHistogramRecord(std::span<const Sample> samples, RecordType plain, RecordType custom,
                           GetH get_h, std::string* out) {
  if (samples.empty()) {
    out->push_back(static_cast<char>(plain));
    return;
  }
  const bool is_custom = get_h(samples[0]).schema == kCustomBucketsSchema;
  out->push_back(static_cast<char>(is_custom ? custom : plain));
  const SeriesRef base_ref = samples[0].ref;
  const auto base_t = static_cast<uint64_t>(samples[0].t);
  PutBe64(base_ref, out);
  PutBe64(base_t, out);
  for (const auto& s : samples) {
    // Deltas wrap like Go's int64 arithmetic; the decoder adds them back the same way.
    PutVarint(static_cast<int64_t>(s.ref - base_ref), out);
    PutVarint(static_cast<int64_t>(static_cast<uint64_t>(s.t) - base_t), out);
    PutBody(get_h(s), out);
  }
}

template <typename Sample, typename GetH>
Status DecodeHistogramRecord(std::string_view record, RecordType plain, RecordType custom,
                             const char* what, GetH get_h, std::vector<Sample>* out) {
  const RecordType type = TypeOf(record);
  if (type != plain && type != custom) {
    return Corrupt(what, fmt::format("invalid record type {}", TypeName(type)));
  }
  std::string_view in = record.substr(1);
  if (in.empty()) return Status::Ok();
  uint64_t base_ref, base_t;
  if (!GetBe64(&in, &base_ref) || !GetBe64(&in, &base_t)) return Corrupt(what, "truncated header");
  size_t n = 0;  // histograms read, skipped ones included
  while (!in.empty()) {
    ++n;
    int64_t dref, dt;
    Sample s;
    BodyReader body(&in);
    if (!GetVarint(&in, &dref) || !GetVarint(&in, &dt)) {
      return Corrupt(what, fmt::format("histogram {}: truncated ref or timestamp", n));
    }
    if (!body.Read(&get_h(s))) {
      return Corrupt(what, fmt::format("histogram {}: truncated or invalid {}", n, body.why));
    }
    auto& h = get_h(s);
    if (!BucketsMatchSpans(h)) {
      return Corrupt(what,
                     fmt::format("histogram {}: spans cover {}+{} buckets, record has {}+{}", n,
                                 SpanBuckets(h.positive_spans), SpanBuckets(h.negative_spans),
                                 h.positive_buckets.size(), h.negative_buckets.size()));
    }
    // Unknown schemas are skipped, as Prometheus does (from a newer writer, or a bug).
    if (!KnownSchema(h.schema)) continue;
    if (h.schema > kMaxSchema && h.schema != kCustomBucketsSchema) ReduceResolution(&h);
    s.ref = base_ref + static_cast<uint64_t>(dref);
    s.t = static_cast<int64_t>(base_t + static_cast<uint64_t>(dt));
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace

void EncodeHistogramSamples(std::span<const RefHistogramSample> samples, std::string* out) {
  EncodeHistogramRecord(
      samples, RecordType::kHistogramSamples, RecordType::kCustomBucketsHistogramSamples,
      [](const RefHistogramSample& s) -> const Histogram& { return s.h; }, out);
}

void EncodeFloatHistogramSamples(std::span<const RefFloatHistogramSample> samples,
                                 std::string* out) {
  EncodeHistogramRecord(
      samples, RecordType::kFloatHistogramSamples, RecordType::kCustomBucketsFloatHistogramSamples,
      [](const RefFloatHistogramSample& s) -> const FloatHistogram& { return s.fh; }, out);
}

Status DecodeHistogramSamples(std::string_view record, std::vector<RefHistogramSample>* out) {
  return DecodeHistogramRecord(
      record, RecordType::kHistogramSamples, RecordType::kCustomBucketsHistogramSamples,
      "histogram samples", [](RefHistogramSample& s) -> Histogram& { return s.h; }, out);
}

Status DecodeFloatHistogramSamples(std::string_view record,
                                   std::vector<RefFloatHistogramSample>* out) {
  return DecodeHistogramRecord(
      record, RecordType::kFloatHistogramSamples, RecordType::kCustomBucketsFloatHistogramSamples,
      "float histogram samples", [](RefFloatHistogramSample& s) -> FloatHistogram& { return s.fh; },
      out);
}

}  // namespace petrel::wal
