#include "wal/records.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "wal/encoding.h"

namespace petrel::wal {
namespace {

constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;

void PutString(std::string_view s, std::string* out) {
  PutUvarint(s.size(), out);
  out->append(s);
}

bool GetString(std::string_view* in, std::string* s) {
  uint64_t n;
  if (!GetUvarint(in, &n) || n > in->size()) return false;
  s->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

Status Corrupt(const char* what, std::string_view detail) {
  return Status::Corruption(fmt::format("{} record: {}", what, detail));
}

// Label sets on disk are normally sorted and unique; anything else is normalized rather than
// rejected, as Prometheus reads them as-is.
Labels MakeLabels(std::vector<Label> labels) {
  bool canonical = true;
  for (size_t i = 0; i < labels.size() && canonical; ++i) {
    if (labels[i].value.empty() || (i > 0 && !(labels[i - 1].name < labels[i].name))) {
      canonical = false;
    }
  }
  return canonical ? Labels::FromSorted(std::move(labels))
                   : Labels::FromUnsorted(std::move(labels));
}

void PutLabels(const Labels& labels, std::string* out) {
  PutUvarint(labels.size(), out);
  for (const auto& l : labels) {
    PutString(l.name, out);
    PutString(l.value, out);
  }
}

// A label set in the record encoding; false on truncation. The count is checked against the
// bytes left (each label takes at least two), so a corrupt count cannot allocate much.
bool GetLabels(std::string_view* in, std::vector<Label>* scratch, Labels* out) {
  uint64_t n;
  if (!GetUvarint(in, &n) || n > in->size() / 2) return false;
  scratch->clear();
  scratch->resize(n);
  for (auto& l : *scratch) {
    if (!GetString(in, &l.name) || !GetString(in, &l.value)) return false;
  }
  *out = MakeLabels(std::move(*scratch));
  *scratch = {};
  return true;
}

}  // namespace

double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

RecordType TypeOf(std::string_view record) {
  if (record.empty()) return RecordType::kUnknown;
  auto t = static_cast<uint8_t>(record[0]);
  if (t >= 1 && t <= 13) return static_cast<RecordType>(t);
  return RecordType::kUnknown;
}

const char* TypeName(RecordType type) {
  switch (type) {
    case RecordType::kSeries:
      return "series";
    case RecordType::kSamples:
      return "samples";
    case RecordType::kTombstones:
      return "tombstones";
    case RecordType::kExemplars:
      return "exemplars";
    case RecordType::kMmapMarkers:
      return "mmapmarkers";
    case RecordType::kMetadata:
      return "metadata";
    case RecordType::kHistogramSamples:
      return "histogram_samples";
    case RecordType::kFloatHistogramSamples:
      return "float_histogram_samples";
    case RecordType::kCustomBucketsHistogramSamples:
      return "custom_buckets_histogram_samples";
    case RecordType::kCustomBucketsFloatHistogramSamples:
      return "custom_buckets_float_histogram_samples";
    case RecordType::kSamplesV2:
      return "samples_v2";
    case RecordType::kHistogramSamplesV2:
      return "histogram_samples_v2";
    case RecordType::kFloatHistogramSamplesV2:
      return "float_histogram_samples_v2";
    case RecordType::kUnknown:
      break;
  }
  return "unknown";
}

void PutUvarint(uint64_t v, std::string* out) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  out->append(b, n);
}

void PutVarint(int64_t v, std::string* out) {
  // Zig-zag: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...; computed unsigned to avoid signed overflow.
  auto u = static_cast<uint64_t>(v);
  PutUvarint((u << 1) ^ (v < 0 ? ~uint64_t{0} : 0), out);
}

bool GetUvarint(std::string_view* in, uint64_t* v) {
  uint64_t x = 0;
  unsigned shift = 0;
  for (size_t i = 0; i < in->size(); ++i) {
    auto b = static_cast<unsigned char>((*in)[i]);
    if (i == 9 && b > 1) return false;  // overflows 64 bits (Go: binary.Uvarint < 0)
    if (b < 0x80) {
      *v = x | uint64_t{b} << shift;
      in->remove_prefix(i + 1);
      return true;
    }
    if (i == 9) return false;
    x |= uint64_t{b & 0x7fu} << shift;
    shift += 7;
  }
  return false;
}

bool GetVarint(std::string_view* in, int64_t* v) {
  uint64_t u;
  if (!GetUvarint(in, &u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

void EncodeSeriesEntry(SeriesRef ref, const Labels& labels, std::string* out) {
  PutBe64(ref, out);
  PutLabels(labels, out);
}

void EncodeSeriesEntry(SeriesRef ref, std::string_view encoded_labels, std::string* out) {
  PutBe64(ref, out);
  out->append(encoded_labels);
}

void EncodeSeries(std::span<const RefSeries> series, std::string* out) {
  out->push_back(static_cast<char>(RecordType::kSeries));
  for (const auto& s : series) EncodeSeriesEntry(s.ref, s.labels, out);
}

void EncodeSamples(std::span<const RefSample> samples, std::string* out) {
  out->push_back(static_cast<char>(RecordType::kSamples));
  if (samples.empty()) return;
  // The per-scrape hot path: write into a presized buffer instead of appending field by field.
  constexpr size_t kMaxSampleBytes = 10 + 10 + 8;
  const size_t start = out->size();
  out->resize(start + 16 + samples.size() * kMaxSampleBytes);
  char* p = out->data() + start;
  auto be64 = [&p](uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
    p += 8;
  };
  auto varint = [&p](int64_t v) {
    uint64_t u = (static_cast<uint64_t>(v) << 1) ^ (v < 0 ? ~uint64_t{0} : 0);
    while (u >= 0x80) {
      *p++ = static_cast<char>((u & 0x7f) | 0x80);
      u >>= 7;
    }
    *p++ = static_cast<char>(u);
  };
  const uint64_t base_ref = samples[0].ref;
  const auto base_t = static_cast<uint64_t>(samples[0].t);
  be64(base_ref);
  be64(base_t);
  for (const auto& s : samples) {
    // Deltas wrap like Go's int64 arithmetic; the decoder adds them back the same way.
    varint(static_cast<int64_t>(s.ref - base_ref));
    varint(static_cast<int64_t>(static_cast<uint64_t>(s.t) - base_t));
    be64(std::bit_cast<uint64_t>(s.v));
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

Status DecodeSeries(std::string_view record, std::vector<RefSeries>* out) {
  if (TypeOf(record) != RecordType::kSeries) return Corrupt("series", "invalid record type");
  std::string_view in = record.substr(1);
  std::vector<Label> labels;
  while (!in.empty()) {
    RefSeries s;
    uint64_t n;
    if (!GetBe64(&in, &s.ref)) return Corrupt("series", "truncated ref");
    if (!GetUvarint(&in, &n)) return Corrupt("series", "truncated label count");
    if (n > in.size() / 2) return Corrupt("series", fmt::format("label count {} too large", n));
    labels.clear();
    labels.resize(n);
    for (auto& l : labels) {
      if (!GetString(&in, &l.name) || !GetString(&in, &l.value)) {
        return Corrupt("series", fmt::format("truncated label of series {}", s.ref));
      }
    }
    s.labels = MakeLabels(std::move(labels));
    labels = {};
    out->push_back(std::move(s));
  }
  return Status::Ok();
}

namespace {
// GetVarint with the one-byte case (nearly every delta in a samples record) inline.
inline bool FastVarint(std::string_view* in, int64_t* v) {
  if (!in->empty() && static_cast<uint8_t>((*in)[0]) < 0x80) {
    const uint64_t u = static_cast<uint8_t>((*in)[0]);
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    in->remove_prefix(1);
    return true;
  }
  return GetVarint(in, v);
}
}  // namespace

Status DecodeSamples(std::string_view record, std::vector<RefSample>* out) {
  if (TypeOf(record) != RecordType::kSamples) return Corrupt("samples", "invalid record type");
  std::string_view in = record.substr(1);
  if (in.empty()) return Status::Ok();
  uint64_t base_ref, base_t;
  if (!GetBe64(&in, &base_ref) || !GetBe64(&in, &base_t)) {
    return Corrupt("samples", "truncated header");
  }
  size_t count = 0;
  while (!in.empty()) {
    int64_t dref, dt;
    uint64_t bits;
    if (!FastVarint(&in, &dref) || !FastVarint(&in, &dt) || !GetBe64(&in, &bits)) {
      return Corrupt("samples", fmt::format("decode error after {} samples", count));
    }
    out->push_back(RefSample{base_ref + static_cast<uint64_t>(dref),
                             static_cast<int64_t>(base_t + static_cast<uint64_t>(dt)),
                             std::bit_cast<double>(bits)});
    ++count;
  }
  return Status::Ok();
}

void EncodeExemplars(std::span<const RefExemplar> exemplars, std::string* out) {
  out->push_back(static_cast<char>(RecordType::kExemplars));
  if (exemplars.empty()) return;
  const SeriesRef base_ref = exemplars[0].ref;
  const auto base_t = static_cast<uint64_t>(exemplars[0].t);
  PutBe64(base_ref, out);
  PutBe64(base_t, out);
  for (const auto& e : exemplars) {
    PutVarint(static_cast<int64_t>(e.ref - base_ref), out);
    PutVarint(static_cast<int64_t>(static_cast<uint64_t>(e.t) - base_t), out);
    PutF64(e.v, out);
    PutLabels(e.labels, out);
  }
}

Status DecodeExemplars(std::string_view record, std::vector<RefExemplar>* out) {
  if (TypeOf(record) != RecordType::kExemplars) {
    return Corrupt("exemplars", "invalid record type");
  }
  std::string_view in = record.substr(1);
  if (in.empty()) return Status::Ok();
  uint64_t base_ref, base_t;
  if (!GetBe64(&in, &base_ref) || !GetBe64(&in, &base_t)) {
    return Corrupt("exemplars", "truncated header");
  }
  std::vector<Label> scratch;
  size_t count = 0;
  while (!in.empty()) {
    int64_t dref, dt;
    RefExemplar e;
    if (!GetVarint(&in, &dref) || !GetVarint(&in, &dt) || !GetF64(&in, &e.v) ||
        !GetLabels(&in, &scratch, &e.labels)) {
      return Corrupt("exemplars", fmt::format("decode error after {} exemplars", count));
    }
    e.ref = base_ref + static_cast<uint64_t>(dref);
    e.t = static_cast<int64_t>(base_t + static_cast<uint64_t>(dt));
    out->push_back(std::move(e));
    ++count;
  }
  return Status::Ok();
}

}  // namespace petrel::wal
