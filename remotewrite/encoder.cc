#include "remotewrite/encoder.h"

#include <snappy.h>

#include <bit>
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

void RequestEncoder::AddSample(std::string_view encoded_labels, int64_t timestamp_ms,
                               double value) {
  // proto3 omits a zero scalar; -0.0 == 0 too, as in gogo's generated marshaler.
  const bool has_value = value != 0;  // NaN compares unequal, so it is always written
  const uint64_t ts = static_cast<uint64_t>(timestamp_ms);  // int64: negatives take 10 bytes
  const size_t sample_len = (has_value ? 9 : 0) + (ts != 0 ? 1 + VarintSize(ts) : 0);
  const size_t series_len = encoded_labels.size() + 1 + VarintSize(sample_len) + sample_len;

  buf_.push_back(kTagTimeSeries);
  PutVarint(series_len, &buf_);
  buf_.append(encoded_labels);
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

void SnappyCompress(std::string_view input, std::string* out) {
  out->resize(snappy::MaxCompressedLength(input.size()));
  size_t n = 0;
  snappy::RawCompress(input.data(), input.size(), out->data(), &n);
  out->resize(n);
}

}  // namespace petrel::remotewrite
