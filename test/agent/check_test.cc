// `petrel check metrics` and `petrel check config` on in-memory input, and the OpenMetrics
// conformance cases (shared/conformance/openmetrics/parsers) through check metrics.
#include "agent/check.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace petrel::agent {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome Run(std::vector<std::string> args, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  int code = RunCheck(args, in, out, err);
  return {code, out.str(), err.str()};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool ShouldParse(const std::string& json) {
  size_t k = json.find("\"shouldParse\"");
  REQUIRE(k != std::string::npos);
  size_t v = json.find_first_not_of(" \t\r\n", json.find(':', k) + 1);
  REQUIRE(v != std::string::npos);
  return json.compare(v, 4, "true") == 0;
}

// The N of the first "error: line N: " in text, or -1.
int ErrorLine(const std::string& text) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("^error: line ([0-9]+): "))) return -1;
  return std::stoi(m[1]);
}

int LineCount(const std::string& body) {
  return static_cast<int>(std::count(body.begin(), body.end(), '\n')) + 1;
}

TEST_CASE("check metrics: a valid text body exits 0 and prints no error", "[check]") {
  Outcome o =
      Run({"metrics"}, "# HELP up_total Ups.\n# TYPE up_total counter\nup_total{job=\"a\"} 1\n");
  CHECK(o.code == kCheckOk);
  CHECK(o.err.empty());
}

TEST_CASE("check metrics: a malformed line is reported with its number", "[check]") {
  SECTION("text") {
    Outcome o = Run({"metrics"}, "# HELP a_total A.\n# TYPE a_total counter\na_total 1\nb{ 2\n");
    CHECK(o.code == kCheckFailed);
    CHECK(ErrorLine(o.err) == 4);
  }
  SECTION("openmetrics, bad timestamp") {
    Outcome o = Run({"metrics", "--format=openmetrics"}, "a 1\nb 1 -1x\n# EOF\n");
    CHECK(o.code == kCheckFailed);
    CHECK(ErrorLine(o.err) == 2);
  }
}

TEST_CASE("check metrics: format detection follows the # EOF line", "[check]") {
  CHECK(DetectFormat("a 1\n# EOF\n") == CheckFormat::kOpenMetrics);
  CHECK(DetectFormat("a 1\n# EOF") == CheckFormat::kOpenMetrics);
  CHECK(DetectFormat("# EOF\na 1\n") == CheckFormat::kOpenMetrics);
  CHECK(DetectFormat("a 1\n") == CheckFormat::kPrometheusText);
  CHECK(DetectFormat("a 1\n# EOFX\n") == CheckFormat::kPrometheusText);
  CHECK(DetectFormat("") == CheckFormat::kPrometheusText);

  // Text after # EOF is valid text 0.0.4 (a comment) but not OpenMetrics.
  const std::string body = "a 1\n# EOF\nb 2\n";
  CHECK(Run({"metrics"}, body).code == kCheckFailed);
  CHECK(Run({"metrics", "--format=openmetrics"}, body).code == kCheckFailed);
  CHECK(Run({"metrics", "--format=prometheus"}, body).code == kCheckOk);
  // Without # EOF, OpenMetrics fails only when forced.
  CHECK(Run({"metrics"}, "a 1\n").code == kCheckOk);
  CHECK(Run({"metrics", "--format=openmetrics"}, "a 1\n").code == kCheckFailed);
}

TEST_CASE("check metrics: promlint-style warnings do not change the verdict", "[check]") {
  const std::string body =
      "# TYPE http_requests counter\nhttp_requests 1\n"
      "# HELP req_duration_milliseconds D.\n# TYPE req_duration_milliseconds gauge\n"
      "req_duration_milliseconds 2\n"
      "# HELP fooBar F.\n# TYPE fooBar gauge\nfooBar{podName=\"x\"} 3\n"
      "# HELP g_total G.\n# TYPE g_total gauge\ng_total 4\n"
      "# HELP ok_seconds Fine.\n# TYPE ok_seconds gauge\nok_seconds 5\n";
  Outcome o = Run({"metrics"}, body);
  CHECK(o.code == kCheckOk);
  CHECK(o.err.find("line 1: http_requests no help text\n") != std::string::npos);
  CHECK(o.err.find("line 1: http_requests counter metrics should have \"_total\" suffix") !=
        std::string::npos);
  CHECK(o.err.find("line 3: req_duration_milliseconds use base unit \"seconds\" instead of "
                   "\"milliseconds\"") != std::string::npos);
  CHECK(o.err.find("line 6: fooBar metric names should be written in 'snake_case'") !=
        std::string::npos);
  CHECK(o.err.find("line 8: fooBar label names should be written in 'snake_case'") !=
        std::string::npos);
  CHECK(o.err.find("line 9: g_total non-counter metrics should not have \"_total\" suffix") !=
        std::string::npos);
  CHECK(o.err.find("ok_seconds") == std::string::npos);
  CHECK(o.err.find("error:") == std::string::npos);
}

TEST_CASE("check metrics: OpenMetrics counters are named without _total", "[check]") {
  Outcome o = Run({"metrics"},
                  "# TYPE a counter\n# HELP a A.\na_total 1\na_created 0\n# TYPE h histogram\n"
                  "# HELP h H.\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n# EOF\n");
  CHECK(o.code == kCheckOk);
  CHECK(o.err.empty());
}

TEST_CASE("check: usage errors exit 2", "[check]") {
  CHECK(Run({}).code == kCheckUsage);
  CHECK(Run({"nope"}).code == kCheckUsage);
  CHECK(Run({"metrics", "--format=json"}).code == kCheckUsage);
  CHECK(Run({"config"}).code == kCheckUsage);
  Outcome help = Run({"--help"});
  CHECK(help.code == kCheckOk);
  CHECK(help.out.find("usage: petrel check metrics") != std::string::npos);
}

TEST_CASE("check config: each file is loaded, any failure fails the run", "[check]") {
  const fs::path dir =
      fs::temp_directory_path() / ("petrel_check_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string good = (dir / "good.yml").string();
  const std::string bad = (dir / "bad.yml").string();
  std::ofstream(good) << "global:\n  scrape_interval: 15s\nscrape_configs:\n"
                         "  - job_name: node\n    static_configs:\n"
                         "      - targets: ['127.0.0.1:9100']\n";
  std::ofstream(bad) << "global:\n  scrape_interval: 5x\n";

  SECTION("valid") {
    Outcome o = Run({"config", good});
    CHECK(o.code == kCheckOk);
    CHECK(o.out == "Checking " + good + "\n  SUCCESS: " + good +
                       " is valid prometheus config file syntax\n\n");
    CHECK(o.err.empty());
  }
  SECTION("one bad of two, and a missing file") {
    Outcome o = Run({"config", good, bad, (dir / "missing.yml").string()});
    CHECK(o.code == kCheckFailed);
    CHECK(o.out.find("Checking " + bad) != std::string::npos);
    CHECK(o.out.find("SUCCESS: " + good) != std::string::npos);
    CHECK(o.out.find("SUCCESS: " + bad) == std::string::npos);
    CHECK(o.err.find("  FAILED: " + bad + ":2:") != std::string::npos);
    CHECK(o.err.find("5x") != std::string::npos);
    CHECK(o.err.find("missing.yml") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("check metrics: OpenMetrics conformance verdicts and error lines", "[check]") {
  const fs::path root = fs::path(PETREL_SHARED_DIR) / "conformance/openmetrics/parsers";
  REQUIRE(fs::is_directory(root));
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() == 211);

  int valid = 0, invalid = 0, detected = 0;
  std::vector<std::string> problems;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    const bool want = ShouldParse(ReadFile(dir / "test.json"));
    const std::string body = ReadFile(dir / "metrics");
    Outcome o = Run({"metrics", "--format=openmetrics"}, body);
    (want ? valid : invalid) += 1;
    if ((o.code == kCheckOk) != want) {
      problems.push_back(name + ": exit " + std::to_string(o.code) + " " + o.err);
    } else if (!want) {
      int line = ErrorLine(o.err);
      if (line < 1 || line > LineCount(body)) problems.push_back(name + ": no line in " + o.err);
    }
    // Detection sees OpenMetrics whenever the body carries a # EOF line; the verdict is then
    // the forced one.
    if (DetectFormat(body) == CheckFormat::kOpenMetrics) {
      ++detected;
      if (Run({"metrics"}, body).code != o.code) problems.push_back(name + ": detected differs");
    }
  }
  INFO(valid << " valid, " << invalid << " invalid, " << detected << " detected as OpenMetrics");
  for (const std::string& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  CHECK(valid > 30);
  CHECK(invalid > 100);
  CHECK(detected > 200);
}

}  // namespace
}  // namespace petrel::agent
