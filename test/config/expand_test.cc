#include "config/expand.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

namespace petrel::config {
namespace {

Result<std::string> Try(std::string_view text) {
  static const std::map<std::string, std::string, std::less<>> env = {
      {"HOME", "/root"}, {"REGION", "eu-west-1"}, {"A_1", "x"},
      {"1", "one"},      {"A B", "spaced"},       {"EMPTY", ""}};
  return ExpandEnv(text, [](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

std::string Expand(std::string_view text) {
  auto out = Try(text);
  REQUIRE(out.ok());
  return *out;
}

TEST_CASE("ExpandEnv follows Go's os.Expand for set variables", "[config][expand]") {
  CHECK(Expand("plain") == "plain");
  CHECK(Expand("$REGION") == "eu-west-1");
  CHECK(Expand("${REGION}") == "eu-west-1");
  CHECK(Expand("${REGION}-a") == "eu-west-1-a");
  CHECK(Expand("$REGION-a") == "eu-west-1-a");  // '-' ends a name
  CHECK(Expand("$A_1") == "x");
  CHECK(Expand("${A B}") == "spaced");  // braces take anything up to '}'
  CHECK(Expand("a${EMPTY}b") == "ab");  // set but empty is fine
}

TEST_CASE("ExpandEnv: an unset variable is an error naming it", "[config][expand]") {
  CHECK(Try("$UNSET").status().message() == "environment variable \"UNSET\" is not set");
  CHECK(Try("a${NODE_NAME}.b").status().message() ==
        "environment variable \"NODE_NAME\" is not set");
  // The name is everything name-like: "$REGIONx" asks for REGIONx.
  CHECK(Try("$REGIONx").status().message() == "environment variable \"REGIONx\" is not set");
  CHECK(Try("$$UNSET").ok());  // escaped: no lookup
}

TEST_CASE("ExpandEnv dollar escapes and malformed references", "[config][expand]") {
  CHECK(Expand("$$") == "$");
  CHECK(Expand("$$REGION") == "$REGION");
  CHECK(Expand("cost: 5$") == "cost: 5$");  // a trailing $ stays
  CHECK(Expand("$ x") == "$ x");            // no name after $: kept
  CHECK(Expand("$1") == "one");             // shell special names are one character
  CHECK(Expand("$12") == "one2");
  CHECK(Expand("${}x") == "x");             // "${}" is dropped
  CHECK(Expand("a${REGION") == "aREGION");  // unterminated "${" is dropped
  CHECK(Expand("${$}") == "$");
}

}  // namespace
}  // namespace petrel::config
