// ZlibCompress: test bodies compressed with zlib, an encoder independent of the libdeflate
// decoder under test (scrape/gzip_body.h).
#pragma once

#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>

namespace petrel::scrape::testing {

// window_bits: 31 for gzip (the default), 15 for a zlib stream, -15 for raw DEFLATE.
inline std::string ZlibCompress(const std::string& in, int window_bits = 31) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8,
                       Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace petrel::scrape::testing
