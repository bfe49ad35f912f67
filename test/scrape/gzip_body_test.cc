#include "scrape/gzip_body.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "test/scrape/zlib_compress.h"

namespace petrel::scrape {
namespace {

using testing::ZlibCompress;

// A node_exporter-like exposition of about `bytes` bytes.
std::string Exposition(size_t bytes) {
  std::string out = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n";
  for (int i = 0; out.size() < bytes; ++i) {
    out += "node_cpu_seconds_total{cpu=\"" + std::to_string(i % 64) + "\",mode=\"idle\",i=\"" +
           std::to_string(i) + "\"} " + std::to_string(i * 1.25) + "\n";
  }
  return out;
}

ContentEncoding Gzip() { return ParseContentEncoding("gzip"); }

void SetIsize(std::string* gz, uint32_t isize) {
  for (int i = 0; i < 4; ++i) (*gz)[gz->size() - 4 + i] = static_cast<char>(isize >> (8 * i));
}

TEST_CASE("Content-Encoding values parse to the codings applied, in order", "[scrape][gzip]") {
  CHECK(ParseContentEncoding("").identity());
  CHECK(ParseContentEncoding("identity").identity());
  CHECK(ParseContentEncoding(" Identity , ").identity());
  auto gz = ParseContentEncoding("GZip");
  REQUIRE(gz.supported);
  REQUIRE(gz.count == 1);
  CHECK(gz.codings[0] == Coding::kGzip);
  CHECK(ParseContentEncoding("x-gzip").codings[0] == Coding::kGzip);
  auto stacked = ParseContentEncoding("deflate, gzip");
  REQUIRE(stacked.count == 2);
  CHECK(stacked.codings[0] == Coding::kDeflate);
  CHECK(stacked.codings[1] == Coding::kGzip);
  CHECK_FALSE(ParseContentEncoding("br").supported);
  CHECK_FALSE(ParseContentEncoding("gzip, zstd").supported);
  CHECK_FALSE(ParseContentEncoding("gzip, gzip, gzip, gzip, gzip").supported);
}

TEST_CASE("a gzip body decodes whole, into a recycled buffer when there is one", "[scrape][gzip]") {
  const std::string text = Exposition(200 << 10);
  BodyDecoder decoder;
  std::string body = ZlibCompress(text);
  REQUIRE(body.size() < text.size() / 4);
  REQUIRE(decoder.Decode(Gzip(), 0, &body).ok());
  CHECK(body == text);

  SECTION("the next body reuses the last one's memory") {
    const char* memory = body.data();
    decoder.Recycle(std::move(body));
    std::string next = ZlibCompress(text);
    REQUIRE(decoder.Decode(Gzip(), 0, &next).ok());
    CHECK(next == text);
    CHECK(static_cast<const void*>(next.data()) == static_cast<const void*>(memory));
  }
  SECTION("a buffer past kMaxSpareBytes is not kept") {
    decoder.Recycle(std::string(BodyDecoder::kMaxSpareBytes + 1, 'x'));
    std::string next = ZlibCompress(text);
    REQUIRE(decoder.Decode(Gzip(), 0, &next).ok());
    CHECK(next.capacity() <= BodyDecoder::kMaxSpareBytes);
  }
  SECTION("an empty body is an error, as in Prometheus (EOF before the gzip header)") {
    std::string empty;
    const Status s = decoder.Decode(Gzip(), 0, &empty);
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message() == "gzip Content-Encoding: empty body");
  }
}

TEST_CASE("a multi-member gzip body decodes every member in order", "[scrape][gzip]") {
  const std::string a = Exposition(100 << 10), b = "last_member 1\n";
  BodyDecoder decoder;
  SECTION("a small last member: its ISIZE undersizes the buffer, which grows") {
    std::string body = ZlibCompress(a) + ZlibCompress("") + ZlibCompress(b);
    REQUIRE(decoder.Decode(Gzip(), 0, &body).ok());
    CHECK(body == a + b);
  }
  SECTION("a big last member") {
    std::string body = ZlibCompress(b) + ZlibCompress(a);
    REQUIRE(decoder.Decode(Gzip(), 0, &body).ok());
    CHECK(body == b + a);
  }
  SECTION("many members") {
    std::string body, want;
    for (int i = 0; i < 50; ++i) {
      std::string line = "m" + std::to_string(i) + " " + std::to_string(i) + "\n";
      body += ZlibCompress(line);
      want += line;
    }
    REQUIRE(decoder.Decode(Gzip(), 0, &body).ok());
    CHECK(body == want);
  }
}

TEST_CASE("a gzip trailer lying about the size fails the body without a big allocation",
          "[scrape][gzip]") {
  const std::string text = Exposition(64 << 10);
  BodyDecoder decoder;
  std::string body = ZlibCompress(text);
  SECTION("smaller than real") { SetIsize(&body, 100); }
  SECTION("larger than real") { SetIsize(&body, static_cast<uint32_t>(text.size() + 1)); }
  SECTION("4 GiB for a few bytes") {
    body = ZlibCompress("x 1\n");
    SetIsize(&body, 0xffffffff);
  }
  Status s = decoder.Decode(Gzip(), 0, &body);
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(), Catch::StartsWith("gzip Content-Encoding: member 0 at byte 0"));
  CHECK_THAT(s.message(), Catch::Contains("checksum mismatch"));
}

TEST_CASE("a corrupt or truncated gzip body fails with an error naming the coding",
          "[scrape][gzip]") {
  const std::string text = Exposition(32 << 10);
  const std::string good = ZlibCompress(text);
  BodyDecoder decoder;
  std::string body = good;
  std::string want = "gzip Content-Encoding: member 0 at byte 0 of";
  SECTION("not gzip") { body = "plain 1\nthis is not gzip"; }
  SECTION("a flipped byte mid-stream") { body[body.size() / 2] ^= 0x55; }
  SECTION("a flipped CRC") { body[body.size() - 6] ^= 1; }
  SECTION("cut short") { body.resize(body.size() - 5); }
  SECTION("cut to the header") { body.resize(10); }
  SECTION("garbage after a good member") {
    body += "trailing junk that is no gzip header";
    want = fmt::format("gzip Content-Encoding: member 1 at byte {} of", good.size());
  }
  Status s = decoder.Decode(Gzip(), 0, &body);
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(), Catch::StartsWith(want));

  // The decoder is left usable.
  std::string again = good;
  REQUIRE(decoder.Decode(Gzip(), 0, &again).ok());
  CHECK(again == text);
}

TEST_CASE("damaged gzip bodies fail cleanly or decode, never overrunning", "[scrape][gzip]") {
  // Deterministic damage to a two-member body, decoded with and without a limit: run under
  // ASan this checks the grow-and-retry loop, whatever libdeflate reports.
  const std::string text = Exposition(16 << 10);
  const std::string good = ZlibCompress(text.substr(0, 5000)) + ZlibCompress(text.substr(5000));
  BodyDecoder decoder;
  uint32_t x = 12345;
  auto next = [&x] { return x = x * 1103515245 + 12345; };
  for (int i = 0; i < 400; ++i) {
    std::string body = good;
    switch (i % 4) {
      case 0:
        body[next() % body.size()] ^= static_cast<char>(1 + next() % 255);
        break;
      case 1:
        body.resize(next() % body.size());
        break;
      case 2:
        body.insert(next() % body.size(), 1, static_cast<char>(next()));
        break;
      default:
        for (int k = 0; k < 4; ++k) body[body.size() - 1 - k] = static_cast<char>(next());
        break;
    }
    const size_t limit = i % 3 == 0 ? 0 : 1 + next() % (2 * text.size());
    Status s = decoder.Decode(Gzip(), limit, &body);
    if (s.ok()) {
      CHECK(body.size() < (limit > 0 ? limit : SIZE_MAX));
      decoder.Recycle(std::move(body));
    } else {
      CHECK((s.code() == Code::kCorruption || s.code() == Code::kUnavailable));
    }
  }
}

TEST_CASE("body_size_limit counts decoded bytes", "[scrape][gzip]") {
  const std::string text = Exposition(256 << 10);
  BodyDecoder decoder;
  std::string body = ZlibCompress(text);
  REQUIRE(body.size() < (64 << 10));  // the compressed body is well under every limit below
  SECTION("under the limit") {
    REQUIRE(decoder.Decode(Gzip(), text.size() + 1, &body).ok());
    CHECK(body == text);
  }
  SECTION("exactly at the limit fails, as in Prometheus") {
    Status s = decoder.Decode(Gzip(), text.size(), &body);
    CHECK(s.code() == Code::kUnavailable);
    CHECK(s.message() == fmt::format("body size limit exceeded ({} bytes)", text.size()));
  }
  SECTION("over it") {
    Status s = decoder.Decode(Gzip(), 64 << 10, &body);
    CHECK(s.code() == Code::kUnavailable);
    CHECK(s.message() == "body size limit exceeded (65536 bytes)");
  }
  SECTION("over it in a later member") {
    body = ZlibCompress(text.substr(0, 1000)) + ZlibCompress(text);
    Status s = decoder.Decode(Gzip(), text.size(), &body);
    CHECK(s.message() == BodyLimitMessage(text.size()));
  }
}

TEST_CASE("a deflate body decodes from a zlib stream or raw DEFLATE", "[scrape][gzip]") {
  const std::string text = Exposition(50 << 10);
  const auto deflate = ParseContentEncoding("deflate");
  BodyDecoder decoder;
  SECTION("zlib") {
    std::string body = ZlibCompress(text, 15);
    REQUIRE(decoder.Decode(deflate, 0, &body).ok());
    CHECK(body == text);
  }
  SECTION("raw") {
    std::string body = ZlibCompress(text, -15);
    REQUIRE(decoder.Decode(deflate, 0, &body).ok());
    CHECK(body == text);
  }
  SECTION("trailing bytes") {
    std::string body = ZlibCompress(text, 15) + "junk";
    Status s = decoder.Decode(deflate, 0, &body);
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message() == "deflate Content-Encoding: 4 bytes after the stream");
  }
  SECTION("corrupt") {
    std::string body = ZlibCompress(text, 15);
    body[body.size() / 2] ^= 0x55;
    Status s = decoder.Decode(deflate, 0, &body);
    CHECK(s.code() == Code::kCorruption);
    CHECK_THAT(s.message(), Catch::StartsWith("deflate Content-Encoding: stream at byte 0"));
  }
}

TEST_CASE("stacked codings are undone last first", "[scrape][gzip]") {
  const std::string text = Exposition(20 << 10);
  std::string body = ZlibCompress(ZlibCompress(text, 15));
  BodyDecoder decoder;
  REQUIRE(decoder.Decode(ParseContentEncoding("deflate, gzip"), 0, &body).ok());
  CHECK(body == text);
}

}  // namespace
}  // namespace petrel::scrape
