// Internal to wal/: the fixed-width big-endian fields of Prometheus's record encodings
// (tsdb/encoding). Varints are in records.h. Pure functions; thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace petrel::wal {

inline void PutBe64(uint64_t v, std::string* out) {
  char b[8];
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  out->append(b, 8);
}

inline bool GetBe64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = (x << 8) | static_cast<unsigned char>((*in)[i]);
  in->remove_prefix(8);
  *v = x;
  return true;
}

// float64 as the big-endian bits of its IEEE-754 pattern (not a varint, not little-endian).
inline void PutF64(double v, std::string* out) { PutBe64(std::bit_cast<uint64_t>(v), out); }

inline bool GetF64(std::string_view* in, double* v) {
  uint64_t bits;
  if (!GetBe64(in, &bits)) return false;
  *v = std::bit_cast<double>(bits);
  return true;
}

}  // namespace petrel::wal
