#include "config/expand.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

namespace petrel::config {
namespace {

std::string Expand(std::string_view text) {
  static const std::map<std::string, std::string, std::less<>> env = {
      {"HOME", "/root"}, {"REGION", "eu-west-1"}, {"A_1", "x"}, {"1", "one"}, {"A B", "spaced"}};
  return ExpandEnv(text, [](std::string_view name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  });
}

TEST_CASE("ExpandEnv follows Go's os.Expand", "[config][expand]") {
  CHECK(Expand("plain") == "plain");
  CHECK(Expand("$REGION") == "eu-west-1");
  CHECK(Expand("${REGION}") == "eu-west-1");
  CHECK(Expand("${REGION}-a") == "eu-west-1-a");
  CHECK(Expand("$REGION-a") == "eu-west-1-a");  // '-' ends a name
  CHECK(Expand("$REGIONx") == "");              // name is "REGIONx": unset
  CHECK(Expand("$A_1") == "x");
  CHECK(Expand("${A B}") == "spaced");  // braces take anything up to '}'
  CHECK(Expand("$UNSET") == "");
  CHECK(Expand("a$UNSET.b") == "a.b");
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
