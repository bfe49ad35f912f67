#include "common/status.h"

#include <catch2/catch.hpp>
#include <memory>

namespace petrel {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::InvalidArgument(std::to_string(n) + " is odd");
  return n / 2;
}

TEST_CASE("Result carries a value or the error that replaced it", "[common]") {
  auto ok = Half(8);
  REQUIRE(ok.ok());
  CHECK(*ok == 4);
  CHECK(ok.status().ok());

  auto bad = Half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().ToString() == "invalid argument: 3 is odd");
}

TEST_CASE("Result holds move-only values", "[common]") {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  REQUIRE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 7);
}

TEST_CASE("Status::Prefixed keeps the code and adds where", "[common]") {
  Status s = Status::Corruption("checksum mismatch").Prefixed("segment 00000012 offset 40960");
  CHECK(s.code() == Code::kCorruption);
  CHECK(s.message() == "segment 00000012 offset 40960: checksum mismatch");
  CHECK(Status::Ok().Prefixed("x").ok());
}

}  // namespace
}  // namespace petrel
