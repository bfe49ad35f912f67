#include "common/metrics.h"

#include <catch2/catch.hpp>

namespace petrel {
namespace {

TEST_CASE("Registry renders counters, gauges and histograms in text format", "[common]") {
  Registry r;
  r.GetCounter("c_total", "A counter.", {"remote_name", "url"}, {"r1", "http://x"})->Inc(3);
  r.GetGauge("g", "A gauge.")->Set(-1.5);
  auto* h = r.GetHistogram("h_seconds", "A histogram.", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  r.AddGaugeFunc("f", "Computed.", [] { return 42.0; });

  std::string out = r.Render();
  CHECK(out.find("# TYPE c_total counter\nc_total{remote_name=\"r1\",url=\"http://x\"} 3\n") !=
        std::string::npos);
  CHECK(out.find("# TYPE g gauge\ng -1.5\n") != std::string::npos);
  CHECK(out.find("h_seconds_bucket{le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(out.find("h_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(out.find("h_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(out.find("h_seconds_count 3\n") != std::string::npos);
  CHECK(out.find("f 42\n") != std::string::npos);
}

TEST_CASE("Registry returns the same child for the same labels", "[common]") {
  Registry r;
  Counter* a = r.GetCounter("x_total", "h", {"k"}, {"v"});
  Counter* b = r.GetCounter("x_total", "h", {"k"}, {"v"});
  Counter* c = r.GetCounter("x_total", "h", {"k"}, {"w"});
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("FormatFloat matches the exposition format", "[common]") {
  CHECK(FormatFloat(1.0 / 0.0) == "+Inf");
  CHECK(FormatFloat(-1.0 / 0.0) == "-Inf");
  CHECK(FormatFloat(0.1) == "0.1");
  CHECK(FormatFloat(1e21) == "1e+21");
}

}  // namespace
}  // namespace petrel
