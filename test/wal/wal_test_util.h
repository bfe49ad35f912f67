// Helpers shared by the WAL tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "wal/reader.h"

namespace petrel::wal::testing {

inline std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out.push_back(' ');
    auto b = static_cast<unsigned char>(bytes[i]);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

inline std::string Unhex(std::string_view hex) {
  std::string out;
  int nibbles = 0;
  unsigned cur = 0;
  for (char c : hex) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    cur = cur << 4 | static_cast<unsigned>(v);
    if (++nibbles == 2) {
      out.push_back(static_cast<char>(cur));
      nibbles = 0;
      cur = 0;
    }
  }
  return out;
}

// A record of n bytes whose content depends on seed (incompressible enough for snappy to lose).
inline std::string Pseudo(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

struct ReadResult {
  std::vector<std::string> records;
  Status status;
};

// Reads every record of every segment in wal_dir with the strict reader, stopping at an error.
inline ReadResult ReadAll(Fs& fs, const std::string& wal_dir) {
  ReadResult out;
  auto segments = ListSegments(fs, wal_dir);
  if (!segments.ok()) {
    out.status = segments.status();
    return out;
  }
  for (uint32_t index : *segments) {
    auto reader = SegmentReader::Open(fs, wal_dir, index, SegmentReader::Mode::kStrict);
    if (!reader.ok()) {
      out.status = reader.status();
      return out;
    }
    std::string rec;
    for (int guard = 0; guard < 1000000; ++guard) {
      auto more = (*reader)->Next(&rec);
      if (!more.ok()) {
        out.status = more.status();
        return out;
      }
      if (!*more) break;
      out.records.push_back(rec);
    }
  }
  return out;
}

}  // namespace petrel::wal::testing
