// BodyDecoder: decodes a scrape body the target compressed (its Content-Encoding), with
// libdeflate. curl fetches the raw bytes; the parse worker decodes them before parsing.
//
// One caller at a time: each parse worker keeps its own (thread_local) decoder.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

struct libdeflate_decompressor;

namespace petrel::scrape {

enum class Coding : uint8_t { kGzip, kDeflate };

// A reply's Content-Encoding: the codings the target applied, in that order.
struct ContentEncoding {
  static constexpr size_t kMaxCodings = 4;
  std::array<Coding, kMaxCodings> codings{};
  size_t count = 0;
  bool supported = true;  // false: a coding we cannot undo, or too many

  bool identity() const { return supported && count == 0; }
};

// Reads a Content-Encoding header value (a list), case-insensitively: "gzip" and "x-gzip" are
// Coding::kGzip, "deflate" Coding::kDeflate, "identity" and empty entries are skipped. Any
// other coding, or more than kMaxCodings, makes the result unsupported.
ContentEncoding ParseContentEncoding(std::string_view value);

// "body size limit exceeded (<limit> bytes)": the error of a scrape over body_size_limit,
// whether it is found while downloading or while decoding.
std::string BodyLimitMessage(size_t limit);

class BodyDecoder {
 public:
  BodyDecoder();
  ~BodyDecoder();
  BodyDecoder(const BodyDecoder&) = delete;
  BodyDecoder& operator=(const BodyDecoder&) = delete;

  // Replaces *body, compressed as `encoding` (supported, not identity), by its decoded bytes,
  // undoing the codings last to first. gzip may hold several members, decoded one after
  // another; "deflate" is a zlib stream, or raw DEFLATE when it has no zlib header (as curl
  // accepts). An empty body decodes to empty. limit > 0 is body_size_limit: a decoded body of
  // `limit` bytes or more is an error.
  // Returns Ok; kUnavailable, only with BodyLimitMessage(limit), over the limit; kCorruption
  // naming the coding and the byte offset when the data is bad, truncated, fails its checksum
  // or has trailing bytes; kInvalidArgument when the decoded body does not fit in memory. On
  // error *body holds no useful bytes.
  Status Decode(const ContentEncoding& encoding, size_t limit, std::string* body);

  // Hands back a decoded body once parsed, so the next Decode writes into its memory instead
  // of allocating. Buffers over kMaxSpareBytes are freed instead of kept: between scrapes a
  // decoder holds at most that much.
  void Recycle(std::string buffer);

  static constexpr size_t kMaxSpareBytes = 4 << 20;

 private:
  Status DecodeOne(Coding coding, size_t limit, std::string* body);

  libdeflate_decompressor* d_;  // owned
  std::string spare_;           // output buffer of the next Decode
};

}  // namespace petrel::scrape
