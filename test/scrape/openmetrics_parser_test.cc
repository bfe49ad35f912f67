#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "scrape/parser.h"

namespace petrel::scrape {
namespace {

struct Entry {
  EntryType type = EntryType::kEof;
  std::string series;
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp;
  bool has_exemplar = false;
  Exemplar exemplar;
  std::string family;
  MetricType mtype = MetricType::kUnknown;
  std::string text;
  int line = 0;
};

struct Parsed {
  std::vector<Entry> entries;
  Status status;
  std::vector<Entry> Samples() const {
    std::vector<Entry> out;
    for (const Entry& e : entries) {
      if (e.type == EntryType::kSample) out.push_back(e);
    }
    return out;
  }
};

Parsed ParseAll(std::string_view body, bool strict = true, KnownSeries* known = nullptr) {
  auto p = NewOpenMetricsParser(body, strict);
  p->SetKnownSeries(known);
  Parsed out;
  for (;;) {
    auto r = p->Next();
    if (!r.ok()) {
      out.status = r.status();
      CHECK_FALSE(p->Next().ok());  // stays failed
      return out;
    }
    if (*r == EntryType::kEof) {
      CHECK(p->Next().value() == EntryType::kEof);
      return out;
    }
    Entry e;
    e.type = *r;
    e.line = p->Line();
    if (*r == EntryType::kSample) {
      e.series = std::string(p->Series());
      LabelsBuilder b;
      p->AddLabels(b);
      e.labels = b.Build();
      e.value = p->Value();
      e.timestamp = p->Timestamp();
      e.has_exemplar = p->GetExemplar(&e.exemplar);
    } else {
      e.family = std::string(p->Family());
      e.mtype = p->Type();
      e.text = std::string(p->Text());
    }
    out.entries.push_back(e);
  }
}

Parsed MustParse(std::string_view body) {
  Parsed p = ParseAll(body);
  INFO(body << " -> " << p.status.ToString());
  REQUIRE(p.status.ok());
  return p;
}

std::string Error(std::string_view body) {
  Parsed p = ParseAll(body);
  INFO(body);
  REQUIRE_FALSE(p.status.ok());
  CHECK(p.status.code() == Code::kInvalidArgument);
  return p.status.message();
}

TEST_CASE("openmetrics: metadata and samples of every type", "[parser][openmetrics]") {
  Parsed p = MustParse(
      "# TYPE rpc_seconds summary\n"
      "# UNIT rpc_seconds seconds\n"
      "# HELP rpc_seconds RPC \\\"latency\\\"\\nin seconds\\\\.\n"
      "rpc_seconds{quantile=\"0.5\"} 0.25\n"
      "rpc_seconds_sum 12.5\n"
      "rpc_seconds_count 50\n"
      "rpc_seconds_created 1700000000.5\n"
      "# TYPE build info\n"
      "build_info{version=\"1.2\"} 1\n"
      "# TYPE state stateset\n"
      "state{state=\"up\"} 1\n"
      "state{state=\"down\"} 0\n"
      "# TYPE temp gauge\n"
      "temp -3.5\n"
      "# TYPE q gaugehistogram\n"
      "q_bucket{le=\"1.0\"} 2\n"
      "q_bucket{le=\"+Inf\"} 3\n"
      "q_gcount 3\n"
      "q_gsum 4\n"
      "# TYPE other unknown\n"
      "other 7\n"
      "# EOF\n");
  const auto& e = p.entries;
  REQUIRE(e.size() == 21);
  CHECK(e[0].type == EntryType::kType);
  CHECK(e[0].family == "rpc_seconds");
  CHECK(e[0].mtype == MetricType::kSummary);
  CHECK(e[1].type == EntryType::kUnit);
  CHECK(e[1].text == "seconds");
  CHECK(e[2].type == EntryType::kHelp);
  CHECK(e[2].text == "RPC \"latency\"\nin seconds\\.");
  CHECK(e[3].labels == Labels{{"__name__", "rpc_seconds"}, {"quantile", "0.5"}});
  CHECK(e[3].line == 4);
  CHECK(e[6].labels.Get("__name__") == "rpc_seconds_created");  // an ordinary series
  CHECK(e[6].value == 1700000000.5);
  CHECK(e[7].mtype == MetricType::kInfo);
  CHECK(e[8].labels.Get("version") == "1.2");
  CHECK(e[9].mtype == MetricType::kStateset);
  CHECK(e[11].value == 0);
  CHECK(e[12].mtype == MetricType::kGauge);
  CHECK(e[13].value == -3.5);
  CHECK(e[14].mtype == MetricType::kGaugeHistogram);
  CHECK(e[15].labels.Get("le") == "1.0");
  CHECK(e[19].mtype == MetricType::kUnknown);
  CHECK(e[20].value == 7);
  CHECK(e[20].line == 21);
}

// Shaped like client_golang's OpenMetrics output (EnableOpenMetrics, created timestamps on).
constexpr std::string_view kGoClient =
    R"om(# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.0"} 2.1e-05
go_gc_duration_seconds{quantile="0.25"} 3.5e-05
go_gc_duration_seconds{quantile="1.0"} 0.000172
go_gc_duration_seconds_sum 0.001337
go_gc_duration_seconds_count 24
go_gc_duration_seconds_created 1.7e+09
# HELP go_info Information about the Go environment.
# TYPE go_info gauge
go_info{version="go1.22.1"} 1.0
# HELP http_requests Total requests.
# TYPE http_requests counter
http_requests_total{code="200",method="get"} 1027.0 # {trace_id="4bf92f3577b34da6"} 1.0 1.7000000123e+09
http_requests_created{code="200",method="get"} 1.6999e+09
http_requests_total{code="500",method="get"} 3.0
http_requests_created{code="500",method="get"} 1.6999e+09
# HELP request_seconds Request latency.
# TYPE request_seconds histogram
# UNIT request_seconds seconds
request_seconds_bucket{handler="/",le="0.005"} 24.0
request_seconds_bucket{handler="/",le="0.5"} 120.0 # {trace_id="a"} 0.31
request_seconds_bucket{handler="/",le="+Inf"} 144.0
request_seconds_sum{handler="/"} 34.5
request_seconds_count{handler="/"} 144.0
request_seconds_created{handler="/"} 1.6999e+09
request_seconds_bucket{handler="/x",le="0.005"} 0.0
request_seconds_bucket{handler="/x",le="0.5"} 0.0
request_seconds_bucket{handler="/x",le="+Inf"} 0.0
request_seconds_sum{handler="/x"} 0.0
request_seconds_count{handler="/x"} 0.0
# HELP build Build information.
# TYPE build info
build_info{branch="main",version="1.0"} 1
# TYPE feature stateset
feature{feature="a"} 1
feature{feature="b"} 0
# EOF
)om";

TEST_CASE("openmetrics: a client_golang-shaped body", "[parser][openmetrics]") {
  Parsed p = MustParse(kGoClient);
  auto s = p.Samples();
  REQUIRE(s.size() == 25);
  CHECK(s[0].labels.Get("quantile") == "0.0");
  CHECK(s[5].labels.Get("__name__") == "go_gc_duration_seconds_created");
  CHECK(s[5].value == 1.7e9);
  REQUIRE(s[7].has_exemplar);
  CHECK(s[7].exemplar.timestamp == 1700000012300);
  CHECK(s[7].exemplar.labels.Get("trace_id") == "4bf92f3577b34da6");
  CHECK(s[12].labels.Get("le") == "0.5");
  CHECK(s[12].has_exemplar);
  CHECK_FALSE(s[12].exemplar.timestamp.has_value());
  CHECK(s[22].labels.Get("branch") == "main");
  CHECK(s.back().line == 37);
  int units = 0;
  for (const Entry& e : p.entries) units += e.type == EntryType::kUnit;
  CHECK(units == 1);
}

TEST_CASE("openmetrics: Series bytes and label escapes", "[parser][openmetrics]") {
  Parsed p = MustParse(
      "a{x=\"q\\\"uote\",y=\"back\\\\slash\",z=\"new\\nline\",w=\"keep\\tthis\"} 1\n"
      "b 2\n"
      "{\"c.utf8\",\"lbl with space\"=\"v\"} 3\n"
      "# EOF");
  auto s = p.Samples();
  REQUIRE(s.size() == 3);
  CHECK(s[0].series == "a{x=\"q\\\"uote\",y=\"back\\\\slash\",z=\"new\\nline\",w=\"keep\\tthis\"}");
  CHECK(s[0].labels.Get("x") == "q\"uote");
  CHECK(s[0].labels.Get("y") == "back\\slash");
  CHECK(s[0].labels.Get("z") == "new\nline");
  CHECK(s[0].labels.Get("w") == "keep\\tthis");
  CHECK(s[1].series == "b");
  CHECK(s[2].series == "{\"c.utf8\",\"lbl with space\"=\"v\"}");
  CHECK(s[2].labels.Get("__name__") == "c.utf8");
  CHECK(s[2].labels.Get("lbl with space") == "v");
}

TEST_CASE("openmetrics: timestamps are seconds, exposed in ms", "[parser][openmetrics]") {
  Parsed p = MustParse(
      "a{i=\"1\"} 1 1520879607.789\n"
      "a{i=\"2\"} 1 0\n"
      "a{i=\"3\"} 1 -1.5\n"
      "a{i=\"4\"} 1 1.5e3\n"
      "a{i=\"5\"} 1 0.0009\n"
      "a{i=\"6\"} 1 12345678901234567890.5\n"
      "a{i=\"7\"} 1\n"
      "# EOF\n");
  auto s = p.Samples();
  REQUIRE(s.size() == 7);
  CHECK(s[0].timestamp == 1520879607789);
  CHECK(s[1].timestamp == 0);
  CHECK(s[2].timestamp == -1500);
  CHECK(s[3].timestamp == 1500000);
  CHECK(s[4].timestamp == 0);  // truncated toward zero, as int64(ts*1000)
  CHECK(s[5].timestamp == std::numeric_limits<int64_t>::max());  // saturated
  CHECK_FALSE(s[6].timestamp.has_value());
}

TEST_CASE("openmetrics: exemplars", "[parser][openmetrics]") {
  Parsed p = MustParse(
      "# TYPE foo histogram\n"
      "foo_bucket{le=\"0.1\"} 8 # {trace_id=\"abc\\\"1\",span=\"x\"} 0.05 1520879607.789\n"
      "foo_bucket{le=\"+Inf\"} 9 # {} 2\n"
      "foo_count 9\n"
      "foo_sum 3.5\n"
      "# TYPE bar counter\n"
      "bar_total 17 1520879600 # {trace_id=\"t\"} 1\n"
      "bar_created 1520870000 1520879600\n"
      "# EOF\n");
  auto s = p.Samples();
  REQUIRE(s.size() == 6);
  REQUIRE(s[0].has_exemplar);
  CHECK(s[0].exemplar.labels == Labels{{"span", "x"}, {"trace_id", "abc\"1"}});
  CHECK(s[0].exemplar.value == 0.05);
  CHECK(s[0].exemplar.timestamp == 1520879607789);
  CHECK(s[0].series == "foo_bucket{le=\"0.1\"}");
  CHECK_FALSE(s[0].timestamp.has_value());
  REQUIRE(s[1].has_exemplar);
  CHECK(s[1].exemplar.labels.empty());
  CHECK(s[1].exemplar.value == 2);
  CHECK_FALSE(s[1].exemplar.timestamp.has_value());
  CHECK_FALSE(s[2].has_exemplar);
  REQUIRE(s[4].has_exemplar);
  CHECK(s[4].timestamp == 1520879600000);
  CHECK(s[4].exemplar.labels == Labels{{"trace_id", "t"}});
  CHECK_FALSE(s[5].has_exemplar);

  CHECK_THAT(Error("# TYPE a counter\na_total 1 # {\"n\"} 1\n# EOF\n"),
             Catch::Contains("expected label name in exemplar"));
  CHECK_THAT(Error("# TYPE a counter\na_total 1 # {a=\"1\"} x\n# EOF\n"),
             Catch::Contains("invalid exemplar value"));
  CHECK_THAT(Error("# TYPE a gauge\na 1 # {a=\"1\"} 1\n# EOF\n"),
             Catch::Contains("exemplars are allowed only"));
  CHECK_THAT(Error("# TYPE a counter\na_total 1 # {a=\"1\",a=\"2\"} 1\n# EOF\n"),
             Catch::Contains("duplicate exemplar label name"));
  // 128 code points of names and values are fine, 129 are not.
  const std::string v127(127, 'x');
  CHECK(MustParse("# TYPE a counter\na_total 1 # {a=\"" + v127 + "\"} 1\n# EOF\n")
            .Samples()[0]
            .has_exemplar);
  CHECK_THAT(Error("# TYPE a counter\na_total 1 # {a=\"" + v127 + "x\"} 1\n# EOF\n"),
             Catch::Contains("longer than 128"));
}

TEST_CASE("openmetrics: special values", "[parser][openmetrics]") {
  Parsed p = MustParse("a{i=\"1\"} NaN\na{i=\"2\"} +Inf\na{i=\"3\"} -Inf\na{i=\"4\"} 1e-3\n# EOF");
  auto s = p.Samples();
  REQUIRE(s.size() == 4);
  CHECK(std::bit_cast<uint64_t>(s[0].value) == 0x7ff8000000000001ULL);
  CHECK(s[1].value == std::numeric_limits<double>::infinity());
  CHECK(s[2].value == -std::numeric_limits<double>::infinity());
  CHECK(s[3].value == 0.001);
}

TEST_CASE("openmetrics: le and quantile are canonicalised like Prometheus",
          "[parser][openmetrics]") {
  Parsed p = MustParse(
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 0\nh_bucket{le=\"1e+05\"} 1\nh_bucket{le=\"10000000000\"} 1\n"
      "h_bucket{le=\"+Inf\"} 1\n"
      "# TYPE s summary\ns{quantile=\"0.50\"} 1\ns{quantile=\"1\"} 2\n# EOF\n");
  auto s = p.Samples();
  REQUIRE(s.size() == 6);
  CHECK(s[0].labels.Get("le") == "1.0");
  CHECK(s[1].labels.Get("le") == "100000.0");
  CHECK(s[2].labels.Get("le") == "1e+10");
  CHECK(s[3].labels.Get("le") == "+Inf");
  CHECK(s[4].labels.Get("quantile") == "0.5");
  CHECK(s[5].labels.Get("quantile") == "1.0");
  CHECK(s[0].series == "h_bucket{le=\"1\"}");
}

TEST_CASE("openmetrics: the end of the exposition", "[parser][openmetrics]") {
  CHECK(MustParse("# EOF").entries.empty());
  CHECK(MustParse("# EOF\n").entries.empty());
  CHECK(MustParse("a 1\n# EOF").Samples().size() == 1);
  CHECK(Error("") == "line 1: missing # EOF at the end");
  CHECK(Error("a 1\n") == "line 2: missing # EOF at the end");
  CHECK(Error("a 1") == "line 2: missing # EOF at the end");
  CHECK(Error("# EOF\n\n") == "line 1: data after # EOF");
  CHECK(Error("# EOF\na 1\n") == "line 1: data after # EOF");
  CHECK_THAT(Error("# EOF \n"), Catch::StartsWith("line 1: expected # HELP"));
}

TEST_CASE("openmetrics: errors name the line", "[parser][openmetrics]") {
  struct Case {
    std::string body;
    std::string want;
  };
  const Case cases[] = {
      {"a 1\n\nb 1\n# EOF\n", "line 2: blank line"},
      {"a 1\n# comment\n# EOF\n", "line 2: expected # HELP"},
      {"a 1\nb{x=\"1\",} 1\n# EOF\n", "line 2: trailing comma"},
      {"a 1\nb{x=\"1\", y=\"2\"} 1\n# EOF\n", "line 2: expected label name"},
      {"a 1\nb  1\n# EOF\n", "line 2: expected value"},
      {"a 1\nb 1 \n# EOF\n", "line 2: trailing space"},
      {"a 1\nb 1 1 \n# EOF\n", "line 2: trailing space"},
      {"a 1\nb 1\tx\n# EOF\n", "line 2: invalid value"},
      {"a 1\nb 1 -Inf\n# EOF\n", "line 2: invalid timestamp"},
      {"a 1\nb{x=\"1\",x=\"2\"} 1\n# EOF\n", "line 2: duplicate label name \"x\""},
      {"a 1\nb{__name__=\"c\"} 1\n# EOF\n", "line 2: label __name__ besides"},
      {"a{x=\"\xc3\x28\"} 1\n# EOF\n", "line 1: label value is not valid UTF-8"},
      {"a{\"\"=\"1\"} 1\n# EOF\n", "line 1: empty quoted name"},
      {"{\"\xff\"} 1\n# EOF\n", "line 1: quoted name is not valid UTF-8"},
      {"# HELP a \xff\n# EOF\n", "line 1: HELP text is not valid UTF-8"},
      {"# TYPE a counter\na_total 1\na 2\n# EOF\n", "line 3: clashing metric family name \"a\""},
      {"# TYPE a gauge\na 1\nb 1\na 2\n# EOF\n", "line 4: clashing metric family name \"a\""},
      {"# TYPE a gauge\na 1 2\na 1 1\n# EOF\n", "line 3: timestamps went backwards"},
      {"# TYPE a histogram\na_bucket{le=\"1\"} 1\n# EOF\n", "line 3: histogram \"a\" has no +Inf"},
      {"# UNIT a_bytes seconds\n# EOF\n", "line 1: unit \"seconds\" is not a suffix"},
      {"# TYPE a counter\na_total 1\n# HELP a x\n# EOF\n", "line 3: metadata for \"a\" after"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    CHECK_THAT(Error(c.body), Catch::StartsWith(c.want));
  }
}

TEST_CASE("openmetrics: duplicate labels are found in long label sets too",
          "[parser][openmetrics]") {
  std::string line = "m{";
  for (int i = 0; i < 40; ++i) line += "l" + std::to_string(i) + "=\"v\",";
  CHECK(MustParse(line + "x=\"1\"} 1\n# EOF\n").Samples().size() == 1);
  CHECK_THAT(Error(line + "l39=\"w\"} 1\n# EOF\n"),
             Catch::StartsWith("line 1: duplicate label name \"l39\""));
  CHECK_THAT(Error(line + "\"l3\"=\"w\"} 1\n# EOF\n"),
             Catch::StartsWith("line 1: duplicate label name \"l3\""));
}

TEST_CASE("openmetrics: interleaved families with repeated names are rejected",
          "[parser][openmetrics]") {
  // Same series twice within its family, equal timestamps: allowed.
  CHECK(MustParse("a 1 5\na 2 5\n# EOF\n").Samples().size() == 2);
  // Different label sets of one family must not interleave.
  CHECK_THAT(Error("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n"),
             Catch::Contains("not together"));
}

TEST_CASE("openmetrics: grouping is tracked across many metrics of a family",
          "[parser][openmetrics]") {
  std::string body = "# TYPE g gauge\n";
  for (int i = 0; i < 5000; ++i) body += "g{i=\"" + std::to_string(i) + "\"} 1\n";
  CHECK(MustParse(body + "# EOF\n").Samples().size() == 5000);
  CHECK_THAT(Error(body + "g{i=\"17\"} 2\n# EOF\n"),
             Catch::StartsWith("line 5002: samples of one metric"));
  // The same label sets in the next family are new metrics.
  std::string two = body;
  two += "# TYPE h gauge\n";
  for (int i = 0; i < 5000; ++i) two += "h{i=\"" + std::to_string(i) + "\"} 1\n";
  CHECK(MustParse(two + "# EOF\n").Samples().size() == 10000);
}

TEST_CASE("openmetrics: non-strict mode checks only what Prometheus checks",
          "[parser][openmetrics]") {
  auto parse = [](std::string_view body, bool strict) {
    auto p = NewOpenMetricsParser(body, strict);
    for (;;) {
      auto r = p->Next();
      if (!r.ok()) return r.status();
      if (*r == EntryType::kEof) return Status::Ok();
    }
  };
  for (const char* body : {
           "# TYPE a histogram\na_sum 1\n# EOF\n",          // no +Inf bucket
           "# TYPE a counter\na_total -1\n# EOF\n",         // negative counter
           "# TYPE a gauge\na 1 # {x=\"y\"} 1\n# EOF\n",    // exemplar on a gauge
           "# TYPE a gauge\na 1\n# TYPE a gauge\n# EOF\n",  // repeated metadata
           "a{x=\"1\",} 1\n# EOF\n",                        // trailing comma
       }) {
    INFO(body);
    CHECK_FALSE(parse(body, true).ok());
    CHECK(parse(body, false).ok());
  }
  // Syntax and the EOF marker are still required.
  CHECK_FALSE(parse("a 1\n", false).ok());
  CHECK_FALSE(parse("a  1\n# EOF\n", false).ok());
  CHECK_FALSE(parse("a 1 # {x} 1\n# EOF\n", false).ok());
}

TEST_CASE("NewParser picks the format from Content-Type", "[parser]") {
  CHECK(ContentTypeIsOpenMetrics("application/openmetrics-text"));
  CHECK(ContentTypeIsOpenMetrics("application/openmetrics-text; version=1.0.0; charset=utf-8"));
  CHECK(ContentTypeIsOpenMetrics("  Application/OpenMetrics-Text ;version=0.0.1"));
  CHECK_FALSE(ContentTypeIsOpenMetrics("text/plain; version=0.0.4"));
  CHECK_FALSE(ContentTypeIsOpenMetrics(""));
  CHECK_FALSE(ContentTypeIsOpenMetrics("application/openmetrics-textx"));

  using F = ExpositionFormat;
  CHECK(FormatFromContentType("text/plain; version=0.0.4; charset=utf-8") == F::kPrometheusText);
  CHECK(FormatFromContentType("text/plain;version=1.0.0;escaping=allow-utf-8") ==
        F::kPrometheusText);
  CHECK(FormatFromContentType("TEXT/Plain") == F::kPrometheusText);
  CHECK(FormatFromContentType("text/plain;") == F::kPrometheusText);
  CHECK(FormatFromContentType("text/plain; charset=\"utf-8\"") == F::kPrometheusText);
  CHECK(FormatFromContentType("application/openmetrics-text; version=1.0.0") == F::kOpenMetrics);
  CHECK(FormatFromContentType(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
            "encoding=delimited") == F::kProtobuf);
  CHECK_FALSE(FormatFromContentType("").has_value());
  CHECK_FALSE(FormatFromContentType("text/html").has_value());
  CHECK_FALSE(FormatFromContentType("text").has_value());
  CHECK_FALSE(FormatFromContentType("text/plain; version").has_value());
  CHECK_FALSE(FormatFromContentType("text/plain; charset=\"utf-8").has_value());
  CHECK_FALSE(FormatFromContentType("text/plain garbage").has_value());

  // A body valid only as OpenMetrics (seconds timestamp) and one valid only as text (comment).
  const std::string om = "a 1 1.5\n# EOF\n";
  const std::string text = "# a comment\na 1 1500\n";
  auto p1 = NewParser("application/openmetrics-text; version=1.0.0", om);
  REQUIRE(p1->Next().value() == EntryType::kSample);
  CHECK(p1->Timestamp() == 1500);
  CHECK(p1->Next().value() == EntryType::kEof);
  for (const char* ct : {"text/plain; version=0.0.4", "", "application/json"}) {
    auto p2 = NewParser(ct, text);
    REQUIRE(p2->Next().value() == EntryType::kComment);
    REQUIRE(p2->Next().value() == EntryType::kSample);
    CHECK(p2->Timestamp() == 1500);
  }
}

struct KnownSet final : KnownSeries {
  void* Find(std::string_view series) override {
    auto it = keys.find(series);
    return it == keys.end() ? nullptr : const_cast<std::string*>(&*it);
  }
  std::set<std::string, std::less<>> keys;
};

TEST_CASE("openmetrics: known series skip label parsing with the same entries and errors",
          "[parser][openmetrics]") {
  const std::string primer =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n"
      "# TYPE a gauge\na{x=\"1\",y=\"q\\\"\"} 1\na{x=\"2\",} 2 1.5\n{\"d\",z=\"\"} 4\n# EOF\n";
  KnownSet known;
  for (const Entry& e : ParseAll(primer, false).entries) {
    if (e.type == EntryType::kSample) known.keys.insert(e.series);
  }
  REQUIRE(known.keys.size() == 6);
  const std::vector<std::string> bodies = {
      primer,
      "a{x=\"1\",y=\"q\\\"\"} 7 123\na{x=\"2\",} 1\na{x=\"2\",}  1\n# EOF\n",
      "a{x=\"2\",} 1 \n# EOF\n",
      "a{x=\"2\",} x\n# EOF\n",
      "a{x=\"2\",} 1 NaN\n# EOF\n",
      "a{x=\"2\",} 1 # {t=\"1\"} 2\n# EOF\n",
      "a{x=\"2\",} 1 1 # {t=\"1\"} 2 3\n# EOF\n",
      "h_bucket{le=\"1\"} 5\n# EOF\n",
  };
  for (const std::string& body : bodies) {
    INFO(body);
    Parsed plain = ParseAll(body, false);
    Parsed warm = ParseAll(body, false, &known);
    CHECK(warm.status.message() == plain.status.message());
    REQUIRE(warm.entries.size() == plain.entries.size());
    for (size_t i = 0; i < plain.entries.size(); ++i) {
      const Entry& a = plain.entries[i];
      const Entry& b = warm.entries[i];
      CHECK(a.type == b.type);
      CHECK(a.series == b.series);
      CHECK(a.labels == b.labels);
      CHECK(std::bit_cast<uint64_t>(a.value) == std::bit_cast<uint64_t>(b.value));
      CHECK(a.timestamp == b.timestamp);
      CHECK(a.has_exemplar == b.has_exemplar);
      CHECK(a.line == b.line);
    }
  }
  // Strict parsing applies the family rules to every sample, so it takes no shortcut.
  auto p = NewOpenMetricsParser(primer, /*strict=*/true);
  p->SetKnownSeries(&known);
  for (auto e = p->Next(); e.ok() && *e != EntryType::kEof; e = p->Next()) {
    CHECK(p->KnownEntry() == nullptr);
  }
}

}  // namespace
}  // namespace petrel::scrape
