#include "common/labels.h"

#include <catch2/catch.hpp>

namespace petrel {
namespace {

TEST_CASE("Labels are sorted, unique and drop empty values", "[common]") {
  Labels l = Labels::FromUnsorted({{"job", "a"}, {"__name__", "up"}, {"empty", ""}, {"job", "b"}});
  REQUIRE(l.size() == 2);
  CHECK(l.items()[0].name == "__name__");
  CHECK(l.Get("job") == "b");
  CHECK_FALSE(l.Has("empty"));
  CHECK(l.ToString() == R"(up{job="b"})");
}

TEST_CASE("Labels hash and compare by content", "[common]") {
  Labels a{{"a", "1"}, {"b", "2"}};
  Labels b = Labels::FromUnsorted({{"b", "2"}, {"a", "1"}});
  Labels c{{"a", "12"}};
  CHECK(a == b);
  CHECK(a.Hash() == b.Hash());
  // name/value boundaries matter: {a="12"} must differ from {a="1", "2"...}
  CHECK(a.Hash() != c.Hash());
}

TEST_CASE("LabelsBuilder sets, overrides and deletes", "[common]") {
  LabelsBuilder b(Labels{{"job", "x"}, {"instance", "h:1"}});
  b.Set("job", "y");
  b.Set("env", "prod");
  b.Set("instance", "");
  Labels l = b.Build();
  CHECK(l == Labels{{"env", "prod"}, {"job", "y"}});
}

TEST_CASE("ToString escapes label values", "[common]") {
  Labels l{{"__name__", "m"}, {"v", "a\"b\\c\nd"}};
  CHECK(l.ToString() == R"(m{v="a\"b\\c\nd"})");
}

}  // namespace
}  // namespace petrel
