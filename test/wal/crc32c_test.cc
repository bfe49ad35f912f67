#include "wal/crc32c.h"

#include <catch2/catch.hpp>

#include "test/wal/wal_test_util.h"

namespace petrel::wal {
namespace {

TEST_CASE("crc32c matches the Castagnoli check values", "[wal]") {
  CHECK(Crc32c("") == 0);
  CHECK(Crc32c("123456789") == 0xe3069283u);
  CHECK(Crc32cExtendPortable(0, "123456789") == 0xe3069283u);
  CHECK(Crc32c(std::string(32, '\0')) == 0x8a9136aau);
  CHECK(Crc32c(std::string(32, '\xff')) == 0x62a8ab43u);
}

TEST_CASE("crc32c hardware and portable paths agree at every length and split", "[wal]") {
  const std::string data = testing::Pseudo(300, 7);
  for (size_t n = 0; n <= data.size(); ++n) {
    std::string_view v(data.data(), n);
    INFO("length " << n);
    REQUIRE(Crc32c(v) == Crc32cExtendPortable(0, v));
    const size_t half = n / 3;
    REQUIRE(Crc32cExtend(Crc32c(v.substr(0, half)), v.substr(half)) == Crc32c(v));
  }
}

}  // namespace
}  // namespace petrel::wal
