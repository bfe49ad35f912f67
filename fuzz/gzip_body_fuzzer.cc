// Scrape body decoding (scrape/gzip_body.h), on bodies a target controls. The first byte picks
// the coding (bit 0: gzip or deflate) and body_size_limit (bits 1-2: none, 64 B, 4 KiB, 1 MiB);
// the rest is the body. One decoder serves every input, so the recycled buffers of earlier
// inputs are in play, as on a parse worker. Oracles: a decoded body is under the limit; bad
// bodies fail with a message; over-limit only with a limit; and a decoded body, compressed
// again by zlib (an independent encoder), decodes back to itself.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "scrape/gzip_body.h"

namespace {

using petrel::Code;
using petrel::scrape::BodyDecoder;
using petrel::scrape::ContentEncoding;
using petrel::scrape::ParseContentEncoding;

std::string ZlibCompress(const std::string& in, int window_bits) {
  z_stream zs{};
  FUZZ_CHECK(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) ==
             Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static BodyDecoder decoder;
  const bool gzip = (data[0] & 1) == 0;
  constexpr size_t kLimits[] = {0, 64, 4096, 1 << 20};
  const size_t limit = kLimits[(data[0] >> 1) & 3];
  const ContentEncoding encoding = ParseContentEncoding(gzip ? "gzip" : "deflate");
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  const petrel::Status s = decoder.Decode(encoding, limit, &body);
  if (!s.ok()) {
    FUZZ_CHECK(!s.message().empty());
    FUZZ_CHECK(s.code() == Code::kCorruption || s.code() == Code::kUnavailable ||
               s.code() == Code::kInvalidArgument);
    if (s.code() == Code::kUnavailable) FUZZ_CHECK(limit > 0);
    return 0;
  }
  if (limit > 0) FUZZ_CHECK(body.size() < limit);

  std::string again = ZlibCompress(body, gzip ? 31 : 15);
  FUZZ_CHECK(decoder.Decode(encoding, 0, &again).ok());
  FUZZ_CHECK(again == body);
  decoder.Recycle(std::move(again));
  decoder.Recycle(std::move(body));
  return 0;
}
