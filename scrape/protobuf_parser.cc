// The delimited protobuf exposition format, decoded by hand from the wire format: a family is
// split into its fields in one pass, each Metric is decoded when its turn comes, and the
// entries follow Prometheus's protobufparse.go (order, suffixes, le/quantile labels, when a
// histogram is native, which exemplars a native histogram keeps).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "scrape/native_histogram.h"
#include "scrape/parse_util.h"
#include "scrape/parser.h"

namespace petrel::scrape {
namespace {

enum Wire : uint32_t { kVarint = 0, kI64 = 1, kLen = 2, kI32 = 5 };

// io.prometheus.client.MetricType.
enum ProtoType : uint64_t {
  kCounter = 0,
  kGauge = 1,
  kSummary = 2,
  kUntyped = 3,
  kHistogram = 4,
  kGaugeHistogram = 5,
};

// The bytes of one message still to decode.
struct Cursor {
  const uint8_t* p = nullptr;
  const uint8_t* end = nullptr;
  bool done() const { return p >= end; }
};

struct LabelPair {
  std::string_view name;
  std::string_view value;
};

struct ExemplarData {
  size_t label_begin = 0;  // in exemplar_labels_
  size_t label_end = 0;
  double value = 0;
  std::optional<int64_t> timestamp;
};

struct BucketData {
  uint64_t cumulative = 0;
  double cumulative_float = 0;
  double upper_bound = 0;
  int exemplar = -1;  // in exemplars_
};

int64_t TimestampMs(int64_t seconds, int32_t nanos) {
  return seconds * 1000 + static_cast<int64_t>(nanos / 1000000);
}

int64_t ZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

class ProtobufParser final : public Parser {
 public:
  ProtobufParser(std::string_view body, ProtobufOptions options)
      : base_(reinterpret_cast<const uint8_t*>(body.data())),
        rest_{base_, base_ + body.size()},
        options_(options) {}

  Result<EntryType> Next() override;
  std::string_view Series() const override { return key_; }
  void AddLabels(LabelsBuilder& b) const override;
  // Any NaN the target sent (a stale marker's bits included) is the canonical one (parser.h).
  double Value() const override { return std::isnan(value_) ? parse::NormalNaN() : value_; }
  std::optional<int64_t> Timestamp() const override {
    return timestamp_ms_ != 0 ? std::optional<int64_t>(timestamp_ms_) : std::nullopt;
  }
  std::string_view Family() const override { return name_; }
  MetricType Type() const override;
  std::string_view Text() const override { return phase_ == kAfterUnit ? unit_ : help_; }
  int Line() const override { return 0; }
  bool GetExemplar(Exemplar* e) const override { return GetExemplarAt(0, e); }
  bool GetExemplarAt(size_t i, Exemplar* e) const override;
  const Histogram* IntHistogram() const override { return is_float_ ? nullptr : &hist_; }
  const FloatHistogram* FloatHistogramValue() const override {
    return is_float_ ? &float_hist_ : nullptr;
  }
  std::optional<int64_t> CreatedTimestamp() const override;

 private:
  enum Phase { kFamily, kAfterHelp, kAfterUnit, kAfterType, kInMetric, kDone };

  // Decoding primitives: false after recording the first error (with its offset).
  bool Fail(const uint8_t* at, std::string_view problem);
  // The one-byte forms (field numbers < 16, small values, short lengths) inline.
  bool Varint(Cursor& c, uint64_t* v) {
    if (c.p < c.end && *c.p < 0x80) {
      *v = *c.p++;
      return true;
    }
    return VarintSlow(c, v);
  }
  bool VarintSlow(Cursor& c, uint64_t* v);
  bool Tag(Cursor& c, uint32_t* field, uint32_t* wire, const uint8_t** at) {
    *at = c.p;
    if (c.p < c.end && *c.p < 0x80 && *c.p >= 8) {
      *field = *c.p >> 3;
      *wire = *c.p++ & 7;
      return true;
    }
    return TagSlow(c, field, wire, at);
  }
  bool TagSlow(Cursor& c, uint32_t* field, uint32_t* wire, const uint8_t** at);
  bool Expect(uint32_t field, uint32_t wire, uint32_t want, const uint8_t* at) {
    return wire == want || WrongWire(field, wire, want, at);
  }
  bool WrongWire(uint32_t field, uint32_t wire, uint32_t want, const uint8_t* at);
  bool Sub(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at, Cursor* sub);
  bool String(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at, std::string_view* s);
  bool Double(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at, double* d);
  bool Uint(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at, uint64_t* v);
  bool Skip(Cursor& c, uint32_t wire, const uint8_t* at);
  // repeated sint64 / double, packed or not.
  bool Sint64s(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
               std::vector<int64_t>* out);
  bool Doubles(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
               std::vector<double>* out);

  bool DecodeFamily(Cursor c);
  bool CheckFamily(const uint8_t* at);
  bool DecodeMetric(Cursor c);
  bool DecodeLabelPair(Cursor c, LabelPair* l);
  bool DecodeTimestamp(Cursor c, int64_t* ms);
  bool DecodeExemplar(Cursor c, int* index);
  bool DecodeValueMessage(Cursor c, double* value);  // Gauge, Untyped
  bool DecodeCounter(Cursor c);
  bool DecodeSummary(Cursor c);
  bool DecodeHistogram(Cursor c);
  bool DecodeBucket(Cursor c);
  bool DecodeSpan(Cursor c, std::vector<HistogramSpan>* spans);

  bool StartMetric();  // decodes metrics_[metric_] and sets up its first entry
  bool Advance();      // the metric's next entry; false when the metric is done
  bool IsNative() const;
  bool BuildNative();
  bool BuildClassic();  // the entry for field_ of a summary / classic histogram / simple type
  void BuildKey(std::string_view suffix);
  Status Error() const { return Status::InvalidArgument(error_); }

  const uint8_t* base_;
  Cursor rest_;  // families not read yet
  ProtobufOptions options_;
  std::string error_;
  Phase phase_ = kFamily;

  // The current family.
  std::string_view name_, help_, unit_;
  uint64_t type_ = kCounter;
  std::vector<Cursor> metrics_;
  size_t metric_ = 0;

  // The current metric.
  const uint8_t* metric_at_ = nullptr;
  std::vector<LabelPair> labels_;  // sorted by name
  double gauge_ = 0, counter_ = 0, untyped_ = 0;
  int counter_exemplar_ = -1;
  int64_t timestamp_ms_ = 0;
  std::optional<int64_t> created_;
  uint64_t summary_count_ = 0;
  double summary_sum_ = 0;
  std::vector<std::pair<double, double>> quantiles_;
  bool has_histogram_ = false;
  const uint8_t* histogram_at_ = nullptr;
  uint64_t h_count_ = 0, h_zero_count_ = 0;
  double h_count_float_ = 0, h_sum_ = 0, h_zero_threshold_ = 0, h_zero_count_float_ = 0;
  int32_t h_schema_ = 0;
  std::vector<BucketData> buckets_;
  std::vector<HistogramSpan> pos_spans_, neg_spans_;
  std::vector<int64_t> pos_deltas_, neg_deltas_;
  std::vector<double> pos_counts_, neg_counts_;
  std::vector<int> h_exemplars_;
  std::vector<ExemplarData> exemplars_;
  std::vector<LabelPair> exemplar_labels_;

  // The current entry.
  bool native_ = false;  // a kHistogram entry
  int field_ = 0;        // -2 _count, -1 _sum, >= 0 quantile / bucket index (classic)
  bool fields_done_ = false;
  std::string metric_name_;  // name_ plus suffix
  std::string_view magic_name_;
  std::string magic_value_;
  std::string key_;
  double value_ = 0;
  bool is_float_ = false;
  Histogram hist_;
  FloatHistogram float_hist_;
  std::vector<int> native_exemplars_;  // exemplars with a timestamp, for kHistogram
};

bool ProtobufParser::Fail(const uint8_t* at, std::string_view problem) {
  if (error_.empty()) error_ = fmt::format("protobuf: offset {}: {}", at - base_, problem);
  return false;
}

bool ProtobufParser::VarintSlow(Cursor& c, uint64_t* v) {
  const uint8_t* start = c.p;
  uint64_t out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (c.p >= c.end) return Fail(start, "truncated varint");
    const uint8_t b = *c.p++;
    if (shift == 63 && b > 1) return Fail(start, "varint overflows 64 bits");
    out |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) {
      *v = out;
      return true;
    }
  }
  return Fail(start, "varint longer than 10 bytes");
}

bool ProtobufParser::TagSlow(Cursor& c, uint32_t* field, uint32_t* wire, const uint8_t** at) {
  uint64_t tag = 0;
  if (!Varint(c, &tag)) return false;
  *field = static_cast<uint32_t>(tag >> 3);
  *wire = static_cast<uint32_t>(tag & 7);
  if (*field == 0 || tag >> 3 > 0x1fffffff) {
    return Fail(*at, fmt::format("invalid field number {}", tag >> 3));
  }
  return true;
}

bool ProtobufParser::WrongWire(uint32_t field, uint32_t wire, uint32_t want, const uint8_t* at) {
  return Fail(at, fmt::format("field {} has wire type {}, want {}", field, wire, want));
}

bool ProtobufParser::Sub(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at, Cursor* sub) {
  if (!Expect(field, wire, kLen, at)) return false;
  uint64_t n = 0;
  const uint8_t* len_at = c.p;
  if (!Varint(c, &n)) return false;
  if (n > static_cast<uint64_t>(c.end - c.p)) {
    return Fail(len_at, fmt::format("field {}: length {} past the end of its message ({} bytes "
                                    "left)",
                                    field, n, c.end - c.p));
  }
  *sub = Cursor{c.p, c.p + n};
  c.p += n;
  return true;
}

bool ProtobufParser::String(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
                            std::string_view* s) {
  Cursor sub;
  if (!Sub(c, field, wire, at, &sub)) return false;
  *s = std::string_view(reinterpret_cast<const char*>(sub.p), sub.end - sub.p);
  return true;
}

bool ProtobufParser::Double(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
                            double* d) {
  if (!Expect(field, wire, kI64, at)) return false;
  if (c.end - c.p < 8) return Fail(at, fmt::format("field {}: truncated double", field));
  std::memcpy(d, c.p, 8);  // little-endian on the wire and on the hosts we build for
  c.p += 8;
  return true;
}

bool ProtobufParser::Uint(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
                          uint64_t* v) {
  return Expect(field, wire, kVarint, at) && Varint(c, v);
}

bool ProtobufParser::Skip(Cursor& c, uint32_t wire, const uint8_t* at) {
  switch (wire) {
    case kVarint: {
      uint64_t v;
      return Varint(c, &v);
    }
    case kI64:
    case kI32: {
      const ptrdiff_t n = wire == kI64 ? 8 : 4;
      if (c.end - c.p < n) return Fail(at, "truncated fixed-width field");
      c.p += n;
      return true;
    }
    case kLen: {
      Cursor sub;
      return Sub(c, 0, wire, at, &sub);
    }
    default:
      return Fail(at, fmt::format("unsupported wire type {}", wire));
  }
}

bool ProtobufParser::Sint64s(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
                             std::vector<int64_t>* out) {
  uint64_t v = 0;
  if (wire == kVarint) {
    if (!Varint(c, &v)) return false;
    out->push_back(ZigZag(v));
    return true;
  }
  Cursor packed;
  if (!Sub(c, field, wire, at, &packed)) return false;
  while (!packed.done()) {
    if (!Varint(packed, &v)) return false;
    out->push_back(ZigZag(v));
  }
  return true;
}

bool ProtobufParser::Doubles(Cursor& c, uint32_t field, uint32_t wire, const uint8_t* at,
                             std::vector<double>* out) {
  if (wire == kI64) return Double(c, field, wire, at, &out->emplace_back());
  Cursor packed;
  if (!Sub(c, field, wire, at, &packed)) return false;
  if ((packed.end - packed.p) % 8 != 0) {
    return Fail(at,
                fmt::format("field {}: packed doubles of {} bytes", field, packed.end - packed.p));
  }
  for (; !packed.done(); packed.p += 8) std::memcpy(&out->emplace_back(), packed.p, 8);
  return true;
}

bool ProtobufParser::DecodeFamily(Cursor c) {
  name_ = help_ = unit_ = {};
  type_ = kCounter;
  metrics_.clear();
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    switch (field) {
      case 1:
        ok = String(c, field, wire, at, &name_);
        break;
      case 2:
        ok = String(c, field, wire, at, &help_);
        break;
      case 3:
        ok = Uint(c, field, wire, at, &type_);
        break;
      case 4:
        ok = Sub(c, field, wire, at, &metrics_.emplace_back());
        break;
      case 5:
        ok = String(c, field, wire, at, &unit_);
        break;
      default:
        ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::CheckFamily(const uint8_t* at) {
  if (name_.empty() || !parse::ValidUtf8(name_)) {
    return Fail(at, fmt::format("invalid metric name {}", parse::Quote(name_)));
  }
  if (!parse::ValidUtf8(help_)) {
    return Fail(at, fmt::format("invalid help for metric {}", parse::Quote(name_)));
  }
  if (type_ > kGaugeHistogram) {
    return Fail(at,
                fmt::format("unknown metric type {} for metric {}", type_, parse::Quote(name_)));
  }
  if (unit_.empty()) return true;
  // The unit must be the last underscore-separated part of the name (before _total).
  std::string_view base = name_;
  const bool counter_total = type_ == kCounter && base.ends_with("_total");
  if (counter_total) base.remove_suffix(6);
  if (!base.ends_with(unit_) || base.size() < unit_.size() + 1 ||
      base[base.size() - unit_.size() - 1] != '_') {
    return Fail(at, fmt::format("unit {} not a suffix of {} {}", parse::Quote(unit_),
                                counter_total ? "counter" : "metric", parse::Quote(name_)));
  }
  return true;
}

bool ProtobufParser::DecodeLabelPair(Cursor c, LabelPair* l) {
  *l = {};
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = field == 1   ? String(c, field, wire, at, &l->name)
              : field == 2 ? String(c, field, wire, at, &l->value)
                           : Skip(c, wire, at);
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::DecodeTimestamp(Cursor c, int64_t* ms) {
  uint64_t seconds = 0, nanos = 0;
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = field == 1   ? Uint(c, field, wire, at, &seconds)
              : field == 2 ? Uint(c, field, wire, at, &nanos)
                           : Skip(c, wire, at);
    if (!ok) return false;
  }
  *ms = TimestampMs(static_cast<int64_t>(seconds), static_cast<int32_t>(nanos));
  return true;
}

bool ProtobufParser::DecodeExemplar(Cursor c, int* index) {
  ExemplarData e;
  e.label_begin = exemplar_labels_.size();
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    if (field == 1) {
      Cursor sub;
      ok = Sub(c, field, wire, at, &sub) && DecodeLabelPair(sub, &exemplar_labels_.emplace_back());
      if (ok && (!parse::ValidUtf8(exemplar_labels_.back().name) ||
                 !parse::ValidUtf8(exemplar_labels_.back().value))) {
        ok = Fail(at, "exemplar label is not valid UTF-8");
      }
    } else if (field == 2) {
      ok = Double(c, field, wire, at, &e.value);
    } else if (field == 3) {
      Cursor sub;
      int64_t ms = 0;
      ok = Sub(c, field, wire, at, &sub) && DecodeTimestamp(sub, &ms);
      e.timestamp = ms;
    } else {
      ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  e.label_end = exemplar_labels_.size();
  *index = static_cast<int>(exemplars_.size());
  exemplars_.push_back(e);
  return true;
}

bool ProtobufParser::DecodeValueMessage(Cursor c, double* value) {
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    if (!(field == 1 ? Double(c, field, wire, at, value) : Skip(c, wire, at))) return false;
  }
  return true;
}

bool ProtobufParser::DecodeCounter(Cursor c) {
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    Cursor sub;
    if (field == 1) {
      ok = Double(c, field, wire, at, &counter_);
    } else if (field == 2) {
      ok = Sub(c, field, wire, at, &sub) && DecodeExemplar(sub, &counter_exemplar_);
    } else if (field == 3) {
      int64_t ms = 0;
      ok = Sub(c, field, wire, at, &sub) && DecodeTimestamp(sub, &ms);
      created_ = ms;
    } else {
      ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::DecodeSummary(Cursor c) {
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    Cursor sub;
    if (field == 1) {
      ok = Uint(c, field, wire, at, &summary_count_);
    } else if (field == 2) {
      ok = Double(c, field, wire, at, &summary_sum_);
    } else if (field == 3) {
      ok = Sub(c, field, wire, at, &sub);
      auto& [q, v] = quantiles_.emplace_back(0.0, 0.0);
      while (ok && !sub.done()) {
        uint32_t f2, w2;
        const uint8_t* at2;
        ok = Tag(sub, &f2, &w2, &at2);
        if (ok) {
          ok = f2 == 1   ? Double(sub, f2, w2, at2, &q)
               : f2 == 2 ? Double(sub, f2, w2, at2, &v)
                         : Skip(sub, w2, at2);
        }
      }
    } else if (field == 4) {
      int64_t ms = 0;
      ok = Sub(c, field, wire, at, &sub) && DecodeTimestamp(sub, &ms);
      created_ = ms;
    } else {
      ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::DecodeBucket(Cursor c) {
  BucketData& b = buckets_.emplace_back();
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    Cursor sub;
    switch (field) {
      case 1:
        ok = Uint(c, field, wire, at, &b.cumulative);
        break;
      case 2:
        ok = Double(c, field, wire, at, &b.upper_bound);
        break;
      case 3: {
        int index = -1;
        ok = Sub(c, field, wire, at, &sub) && DecodeExemplar(sub, &index);
        b.exemplar = index;
        break;
      }
      case 4:
        ok = Double(c, field, wire, at, &b.cumulative_float);
        break;
      default:
        ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::DecodeSpan(Cursor c, std::vector<HistogramSpan>* spans) {
  HistogramSpan& s = spans->emplace_back();
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    uint64_t v = 0;
    bool ok = true;
    if (field == 1 || field == 2) {
      ok = Uint(c, field, wire, at, &v);
      // sint32 offset (zigzag), uint32 length; as Go, the upper bits are dropped.
      if (field == 1) s.offset = static_cast<int32_t>(ZigZag(static_cast<uint32_t>(v)));
      if (field == 2) s.length = static_cast<uint32_t>(v);
    } else {
      ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::DecodeHistogram(Cursor c) {
  has_histogram_ = true;
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    Cursor sub;
    uint64_t v = 0;
    switch (field) {
      case 1:
        ok = Uint(c, field, wire, at, &h_count_);
        break;
      case 2:
        ok = Double(c, field, wire, at, &h_sum_);
        break;
      case 3:
        ok = Sub(c, field, wire, at, &sub) && DecodeBucket(sub);
        break;
      case 4:
        ok = Double(c, field, wire, at, &h_count_float_);
        break;
      case 5:
        ok = Uint(c, field, wire, at, &v);
        h_schema_ = static_cast<int32_t>(ZigZag(static_cast<uint32_t>(v)));
        break;
      case 6:
        ok = Double(c, field, wire, at, &h_zero_threshold_);
        break;
      case 7:
        ok = Uint(c, field, wire, at, &h_zero_count_);
        break;
      case 8:
        ok = Double(c, field, wire, at, &h_zero_count_float_);
        break;
      case 9:
        ok = Sub(c, field, wire, at, &sub) && DecodeSpan(sub, &neg_spans_);
        break;
      case 10:
        ok = Sint64s(c, field, wire, at, &neg_deltas_);
        break;
      case 11:
        ok = Doubles(c, field, wire, at, &neg_counts_);
        break;
      case 12:
        ok = Sub(c, field, wire, at, &sub) && DecodeSpan(sub, &pos_spans_);
        break;
      case 13:
        ok = Sint64s(c, field, wire, at, &pos_deltas_);
        break;
      case 14:
        ok = Doubles(c, field, wire, at, &pos_counts_);
        break;
      case 15: {
        int64_t ms = 0;
        ok = Sub(c, field, wire, at, &sub) && DecodeTimestamp(sub, &ms);
        created_ = ms;
        break;
      }
      case 16: {
        int index = -1;
        ok = Sub(c, field, wire, at, &sub) && DecodeExemplar(sub, &index);
        h_exemplars_.push_back(index);
        break;
      }
      default:
        ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  return true;
}

bool ProtobufParser::DecodeMetric(Cursor c) {
  metric_at_ = c.p;
  labels_.clear();
  gauge_ = counter_ = untyped_ = 0;
  counter_exemplar_ = -1;
  timestamp_ms_ = 0;
  created_.reset();
  summary_count_ = 0;
  summary_sum_ = 0;
  quantiles_.clear();
  has_histogram_ = false;
  histogram_at_ = nullptr;
  h_count_ = h_zero_count_ = 0;
  h_count_float_ = h_sum_ = h_zero_threshold_ = h_zero_count_float_ = 0;
  h_schema_ = 0;
  buckets_.clear();
  pos_spans_.clear();
  neg_spans_.clear();
  pos_deltas_.clear();
  neg_deltas_.clear();
  pos_counts_.clear();
  neg_counts_.clear();
  h_exemplars_.clear();
  exemplars_.clear();
  exemplar_labels_.clear();
  while (!c.done()) {
    uint32_t field, wire;
    const uint8_t* at;
    if (!Tag(c, &field, &wire, &at)) return false;
    bool ok = true;
    Cursor sub;
    uint64_t v = 0;
    switch (field) {
      case 1: {
        LabelPair l;
        ok = Sub(c, field, wire, at, &sub) && DecodeLabelPair(sub, &l);
        if (ok && (l.name.empty() || !parse::ValidUtf8(l.name))) {
          ok = Fail(at, fmt::format("invalid label name {}", parse::Quote(l.name)));
        } else if (ok && !parse::ValidUtf8(l.value)) {
          ok = Fail(at, fmt::format("invalid UTF-8 in the value of label {}", l.name));
        }
        labels_.push_back(l);
        break;
      }
      case 2:
        ok = Sub(c, field, wire, at, &sub) && DecodeValueMessage(sub, &gauge_);
        break;
      case 3:
        ok = Sub(c, field, wire, at, &sub) && DecodeCounter(sub);
        break;
      case 4:
        ok = Sub(c, field, wire, at, &sub) && DecodeSummary(sub);
        break;
      case 5:
        ok = Sub(c, field, wire, at, &sub) && DecodeValueMessage(sub, &untyped_);
        break;
      case 6:
        ok = Uint(c, field, wire, at, &v);
        timestamp_ms_ = static_cast<int64_t>(v);
        break;
      case 7:
        histogram_at_ = at;
        ok = Sub(c, field, wire, at, &sub) && DecodeHistogram(sub);
        break;
      default:
        ok = Skip(c, wire, at);
    }
    if (!ok) return false;
  }
  std::sort(labels_.begin(), labels_.end(),
            [](const LabelPair& a, const LabelPair& b) { return a.name < b.name; });
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (labels_[i].name == kMetricName || (i > 0 && labels_[i].name == labels_[i - 1].name)) {
      return Fail(metric_at_, fmt::format("metric {}: duplicate label name {}", name_,
                                          parse::Quote(labels_[i].name)));
    }
  }
  return true;
}

// As Prometheus: native when it has spans, a zero bucket width or zero-bucket observations (an
// empty span {0, 0} marks a native histogram without observations yet).
bool ProtobufParser::IsNative() const {
  return (type_ == kHistogram || type_ == kGaugeHistogram) &&
         (!pos_spans_.empty() || !neg_spans_.empty() || h_zero_threshold_ > 0 || h_zero_count_ > 0);
}

void ProtobufParser::BuildKey(std::string_view suffix) {
  metric_name_.assign(name_);
  metric_name_.append(suffix);
  key_.assign(metric_name_);
  for (const LabelPair& l : labels_) {
    key_.push_back('\xff');
    key_.append(l.name);
    key_.push_back('\xff');
    key_.append(l.value);
  }
  if (!magic_name_.empty()) {
    key_.push_back('\xfe');  // le / quantile: a fixed name per family type
    key_.append(magic_value_);
  }
}

bool ProtobufParser::BuildNative() {
  native_ = true;
  magic_name_ = {};
  BuildKey("");
  const CounterResetHint hint =
      type_ == kGaugeHistogram ? CounterResetHint::kGauge : CounterResetHint::kUnknown;
  is_float_ = h_count_float_ > 0 || h_zero_count_float_ > 0;
  std::string problem;
  if (is_float_) {
    FloatHistogram& h = float_hist_;
    h.hint = hint;
    h.schema = h_schema_;
    h.zero_threshold = h_zero_threshold_;
    h.zero_count = h_zero_count_float_;
    h.count = h_count_float_;
    h.sum = h_sum_;
    h.positive_spans = pos_spans_;
    h.negative_spans = neg_spans_;
    h.positive_buckets = pos_counts_;
    h.negative_buckets = neg_counts_;
    h.custom_values.clear();
    problem = ValidateHistogram(h);
    if (problem.empty()) Compact(h);
  } else {
    Histogram& h = hist_;
    h.hint = hint;
    h.schema = h_schema_;
    h.zero_threshold = h_zero_threshold_;
    h.zero_count = h_zero_count_;
    h.count = h_count_;
    h.sum = h_sum_;
    h.positive_spans = pos_spans_;
    h.negative_spans = neg_spans_;
    h.positive_buckets = pos_deltas_;
    h.negative_buckets = neg_deltas_;
    h.custom_values.clear();
    problem = ValidateHistogram(h);
    if (problem.empty()) Compact(h);
  }
  if (!problem.empty()) {
    return Fail(histogram_at_, fmt::format("histogram {}: {}", name_, problem));
  }
  // Exemplars: the histogram's own list, else those of the classic buckets; only with a
  // timestamp.
  native_exemplars_.clear();
  if (!h_exemplars_.empty()) {
    for (int i : h_exemplars_) {
      if (exemplars_[i].timestamp) native_exemplars_.push_back(i);
    }
  } else {
    for (const BucketData& b : buckets_) {
      if (b.exemplar >= 0 && exemplars_[b.exemplar].timestamp)
        native_exemplars_.push_back(b.exemplar);
    }
  }
  return true;
}

bool ProtobufParser::BuildClassic() {
  native_ = false;
  magic_name_ = {};
  magic_value_.clear();
  fields_done_ = true;
  std::string_view suffix;
  switch (type_) {
    case kCounter:
      value_ = counter_;
      break;
    case kGauge:
      value_ = gauge_;
      break;
    case kUntyped:
      value_ = untyped_;
      break;
    case kSummary:
      if (field_ == -2) {
        suffix = "_count";
        value_ = static_cast<double>(summary_count_);
        fields_done_ = false;
      } else if (field_ == -1) {
        suffix = "_sum";
        value_ = summary_sum_;
        fields_done_ = quantiles_.empty();
      } else {
        magic_name_ = "quantile";
        parse::AppendOpenMetricsFloat(quantiles_[field_].first, &magic_value_);
        value_ = quantiles_[field_].second;
        fields_done_ = static_cast<size_t>(field_) + 1 == quantiles_.size();
      }
      break;
    default: {  // classic histogram
      const double count = h_count_float_ != 0 ? h_count_float_ : static_cast<double>(h_count_);
      fields_done_ = false;
      if (field_ == -2) {
        suffix = "_count";
        value_ = count;
      } else if (field_ == -1) {
        suffix = "_sum";
        value_ = h_sum_;
      } else {
        suffix = "_bucket";
        magic_name_ = "le";
        if (static_cast<size_t>(field_) >= buckets_.size()) {
          magic_value_ = "+Inf";
          value_ = count;
          fields_done_ = true;
        } else {
          const BucketData& b = buckets_[field_];
          parse::AppendOpenMetricsFloat(b.upper_bound, &magic_value_);
          value_ = b.cumulative_float != 0 ? b.cumulative_float : static_cast<double>(b.cumulative);
          fields_done_ = std::isinf(b.upper_bound) && b.upper_bound > 0;
        }
      }
    }
  }
  if (!magic_name_.empty()) {
    for (const LabelPair& l : labels_) {
      if (l.name == magic_name_) {
        return Fail(metric_at_,
                    fmt::format("metric {}: duplicate label name {}", name_, parse::Quote(l.name)));
      }
    }
  }
  BuildKey(suffix);
  return true;
}

bool ProtobufParser::StartMetric() {
  if (!DecodeMetric(metrics_[metric_])) return false;
  if (IsNative() && options_.native_histograms) return BuildNative();
  field_ = -2;
  return BuildClassic();
}

bool ProtobufParser::Advance() {
  if (native_) {
    if (!options_.keep_classic || buckets_.empty()) return false;
    field_ = -2;
    return BuildClassic();
  }
  if (fields_done_) return false;
  ++field_;
  return BuildClassic();
}

Result<EntryType> ProtobufParser::Next() {
  if (!error_.empty()) return Error();
  switch (phase_) {
    case kDone:
      return EntryType::kEof;
    case kFamily:
      for (;;) {
        if (rest_.done()) {
          phase_ = kDone;
          return EntryType::kEof;
        }
        const uint8_t* at = rest_.p;
        uint64_t n = 0;
        if (!Varint(rest_, &n)) return Error();
        if (n > static_cast<uint64_t>(rest_.end - rest_.p)) {
          Fail(at, fmt::format("MetricFamily length {} past the end of the body ({} bytes left)", n,
                               rest_.end - rest_.p));
          return Error();
        }
        Cursor family{rest_.p, rest_.p + n};
        rest_.p += n;
        if (!DecodeFamily(family)) return Error();
        if (metrics_.empty()) continue;  // as Prometheus: empty families yield nothing
        if (!CheckFamily(at)) return Error();
        break;
      }
      phase_ = kAfterHelp;
      return EntryType::kHelp;
    case kAfterHelp:
      if (!unit_.empty()) {
        phase_ = kAfterUnit;
        return EntryType::kUnit;
      }
      [[fallthrough]];
    case kAfterUnit:
      phase_ = kAfterType;
      return EntryType::kType;
    case kAfterType:
      metric_ = 0;
      phase_ = kInMetric;
      if (!StartMetric()) return Error();
      return native_ ? EntryType::kHistogram : EntryType::kSample;
    case kInMetric:
      if (!Advance()) {
        if (!error_.empty()) return Error();
        if (++metric_ == metrics_.size()) {
          phase_ = kFamily;
          return Next();
        }
        if (!StartMetric()) return Error();
      }
      if (!error_.empty()) return Error();
      return native_ ? EntryType::kHistogram : EntryType::kSample;
  }
  return EntryType::kEof;
}

void ProtobufParser::AddLabels(LabelsBuilder& b) const {
  b.Add(kMetricName, metric_name_);
  for (const LabelPair& l : labels_) {
    if (!l.value.empty()) b.Add(l.name, l.value);
  }
  if (!magic_name_.empty()) b.Add(magic_name_, magic_value_);
}

MetricType ProtobufParser::Type() const {
  switch (type_) {
    case kCounter:
      return MetricType::kCounter;
    case kGauge:
      return MetricType::kGauge;
    case kSummary:
      return MetricType::kSummary;
    case kHistogram:
      return MetricType::kHistogram;
    case kGaugeHistogram:
      return MetricType::kGaugeHistogram;
    default:
      return MetricType::kUnknown;
  }
}

bool ProtobufParser::GetExemplarAt(size_t i, Exemplar* e) const {
  int index = -1;
  if (native_) {
    if (i < native_exemplars_.size()) index = native_exemplars_[i];
  } else if (i == 0 && type_ == kCounter) {
    index = counter_exemplar_;
  } else if (i == 0 && (type_ == kHistogram || type_ == kGaugeHistogram) && field_ >= 0 &&
             static_cast<size_t>(field_) < buckets_.size()) {
    index = buckets_[field_].exemplar;
  }
  if (index < 0) return false;
  const ExemplarData& x = exemplars_[index];
  std::vector<Label> labels;
  labels.reserve(x.label_end - x.label_begin);
  for (size_t k = x.label_begin; k < x.label_end; ++k) {
    labels.push_back(
        Label{std::string(exemplar_labels_[k].name), std::string(exemplar_labels_[k].value)});
  }
  e->labels = Labels::FromUnsorted(std::move(labels));
  e->value = x.value;
  e->timestamp = x.timestamp;
  return true;
}

std::optional<int64_t> ProtobufParser::CreatedTimestamp() const {
  if (type_ == kCounter || type_ == kSummary || type_ == kHistogram || type_ == kGaugeHistogram) {
    return created_;
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Parser> NewProtobufParser(std::string_view body, ProtobufOptions options) {
  return std::make_unique<ProtobufParser>(body, options);
}

}  // namespace petrel::scrape
