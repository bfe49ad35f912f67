// Runs the OpenMetrics project's 211 parser conformance cases
// (shared/conformance/openmetrics/parsers/*/{metrics,test.json}) through the OpenMetrics parser.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scrape/parser.h"

namespace petrel::scrape {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The verdict of test.json: its "shouldParse" boolean.
bool ShouldParse(const std::string& json) {
  size_t k = json.find("\"shouldParse\"");
  REQUIRE(k != std::string::npos);
  size_t colon = json.find(':', k);
  size_t v = json.find_first_not_of(" \t\r\n", colon + 1);
  REQUIRE(v != std::string::npos);
  if (json.compare(v, 4, "true") == 0) return true;
  REQUIRE(json.compare(v, 5, "false") == 0);
  return false;
}

// Parses the whole body; the error, or an ok Status.
Status ParseBody(std::string_view body) {
  auto p = NewOpenMetricsParser(body);
  for (;;) {
    auto r = p->Next();
    if (!r.ok()) return r.status();
    if (*r == EntryType::kEof) return Status::Ok();
    if (*r == EntryType::kSample) {
      LabelsBuilder b;
      p->AddLabels(b);
      Exemplar e;
      p->GetExemplar(&e);
    }
  }
}

TEST_CASE("openmetrics: conformance suite verdicts", "[parser][openmetrics]") {
  const fs::path root = fs::path(PETREL_SHARED_DIR) / "conformance/openmetrics/parsers";
  REQUIRE(fs::is_directory(root));
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() == 211);

  std::vector<std::string> mismatches;
  int good = 0;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    const bool want = ShouldParse(ReadFile(dir / "test.json"));
    good += want;
    const std::string body = ReadFile(dir / "metrics");
    const Status got = ParseBody(body);
    if (got.ok() != want) {
      mismatches.push_back(name + (want ? " (rejected: " + got.message() + ")" : " (accepted)"));
    }
  }
  CHECK(good > 30);  // both kinds of verdict are exercised
  for (const std::string& m : mismatches) UNSCOPED_INFO(m);
  CHECK(mismatches.empty());
}

}  // namespace
}  // namespace petrel::scrape
