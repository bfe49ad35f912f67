// A protobuf encoder for tests, written from the wire-format spec (varints, zigzag, fixed64,
// length-delimited fields) and the io.prometheus.client field numbers, independent of petrel's
// decoder. Builds delimited exposition payloads.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::scrape::testing::pb {

// A protobuf message under construction.
struct Pb {
  std::string bytes;
  Pb& Raw(uint64_t v) {
    while (v >= 0x80) {
      bytes.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    bytes.push_back(static_cast<char>(v));
    return *this;
  }
  Pb& Tag(int field, int wire) { return Raw(static_cast<uint64_t>(field) << 3 | wire); }
  Pb& U(int field, uint64_t v) { return Tag(field, 0).Raw(v); }
  Pb& S(int field, int64_t v) {
    return Tag(field, 0).Raw((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  Pb& D(int field, double v) {
    Tag(field, 1);
    uint64_t bits = std::bit_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(bits >> (8 * i)));
    return *this;
  }
  Pb& Str(int field, std::string_view s) {
    Tag(field, 2).Raw(s.size());
    bytes.append(s);
    return *this;
  }
  Pb& Msg(int field, const Pb& m) { return Str(field, m.bytes); }
};

inline Pb LabelPair(std::string_view name, std::string_view value) {
  return Pb().Str(1, name).Str(2, value);
}
inline Pb Timestamp(int64_t seconds, int32_t nanos) {
  return Pb().U(1, static_cast<uint64_t>(seconds)).U(2, static_cast<uint64_t>(nanos));
}
inline Pb Span(int32_t offset, uint32_t length) { return Pb().S(1, offset).U(2, length); }
inline Pb ExemplarMsg(std::string_view trace, double value, std::optional<Pb> ts = std::nullopt) {
  Pb e;
  e.Msg(1, LabelPair("trace_id", trace)).D(2, value);
  if (ts) e.Msg(3, *ts);
  return e;
}

// MetricFamily: name, help, type, metrics.
inline Pb Family(std::string_view name, int type, const std::vector<Pb>& metrics,
                 std::string_view help = "", std::string_view unit = "") {
  Pb f;
  f.Str(1, name);
  if (!help.empty()) f.Str(2, help);
  f.U(3, static_cast<uint64_t>(type));
  for (const Pb& m : metrics) f.Msg(4, m);
  if (!unit.empty()) f.Str(5, unit);
  return f;
}

inline std::string Body(const std::vector<Pb>& families) {
  Pb out;
  for (const Pb& f : families) {
    out.Raw(f.bytes.size());
    out.bytes.append(f.bytes);
  }
  return out.bytes;
}

}  // namespace petrel::scrape::testing::pb
