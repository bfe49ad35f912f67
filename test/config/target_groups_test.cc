#include "config/target_groups.h"

#include <catch2/catch.hpp>

namespace petrel::config {
namespace {

std::string ErrorOf(std::string_view content, const std::string& path) {
  auto groups = ParseTargetGroups(content, path);
  REQUIRE_FALSE(groups.ok());
  return groups.status().message();
}

TEST_CASE("file_sd JSON files", "[config][target_groups]") {
  auto groups = ParseTargetGroups(
      R"([{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}, "comment": "ignored"},
          {"targets": []}, {"labels": {"only": "labels"}}])",
      "/sd/t.JSON");
  REQUIRE(groups.ok());
  REQUIRE(groups->size() == 3);
  CHECK((*groups)[0].targets == std::vector<std::string>{"a:1", "b:2"});
  CHECK((*groups)[0].labels == Labels{{"env", "prod"}});
  CHECK((*groups)[1].targets.empty());
  CHECK((*groups)[2].labels.Get("only") == "labels");
  CHECK(ParseTargetGroups("null", "t.json")->empty());
  CHECK(ParseTargetGroups("[]", "t.json")->empty());

  CHECK(ErrorOf("[{\"targets\": [\"a:1\",", "t.json").find("t.json: invalid JSON: ") == 0);
  CHECK(ErrorOf("", "t.json").find("t.json: invalid JSON: ") == 0);
  CHECK(ErrorOf("{}", "t.json") == "t.json: expected an array of target groups");
  CHECK(ErrorOf(R"([{"targets": "a:1"}])", "t.json") ==
        "t.json: [0]: targets: expected an array of strings");
  CHECK(ErrorOf(R"([{}, {"labels": {"a-b": "x"}}])", "t.json") ==
        "t.json: [1]: labels: \"a-b\" is not a valid label name");
  CHECK(ErrorOf(R"([{"labels": {"port": 80}}])", "t.json") ==
        "t.json: [0]: labels: value of \"port\" is not a string");
}

TEST_CASE("file_sd YAML files are strict", "[config][target_groups]") {
  auto groups = ParseTargetGroups("- targets: [a:1]\n  labels: {port: 80}\n", "t.yaml");
  REQUIRE(groups.ok());
  CHECK((*groups)[0].targets == std::vector<std::string>{"a:1"});
  CHECK((*groups)[0].labels.Get("port") == "80");  // YAML scalars read as strings
  CHECK(ParseTargetGroups("", "t.yml")->empty());

  CHECK(ErrorOf("- targets: [a:1]\n  lables: {}\n", "t.yml") ==
        "t.yml:2: [0]: unknown key \"lables\"");
  CHECK(ErrorOf("- labels: {1a: x}\n", "t.yml") ==
        "t.yml:1: [0].labels: \"1a\" is not a valid label name");
  CHECK(ErrorOf("targets: [a]\n", "t.yml") == "t.yml:1: expected a sequence, got a mapping");
  CHECK(ErrorOf("- [a\n", "t.yml").find("t.yml:") == 0);
  CHECK(ErrorOf("[]", "t.txt") == "t.txt: unknown file extension (want .json, .yml or .yaml)");
}

}  // namespace
}  // namespace petrel::config
