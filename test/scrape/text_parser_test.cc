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
  std::string series;  // kSample
  std::string labels;  // kSample: Labels::ToString()
  double value = 0;
  std::optional<int64_t> timestamp;
  std::string family;  // kType/kHelp
  MetricType mtype = MetricType::kUnknown;
  std::string text;  // kHelp/kComment
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

Parsed ParseAll(std::string_view body, KnownSeries* known = nullptr) {
  auto p = NewTextParser(body);
  p->SetKnownSeries(known);
  Parsed out;
  for (;;) {
    auto r = p->Next();
    if (!r.ok()) {
      out.status = r.status();
      // The parser stays failed.
      auto again = p->Next();
      REQUIRE_FALSE(again.ok());
      CHECK(again.status().message() == out.status.message());
      return out;
    }
    if (*r == EntryType::kEof) return out;
    Entry e;
    e.type = *r;
    e.line = p->Line();
    switch (*r) {
      case EntryType::kSample: {
        e.series = std::string(p->Series());
        LabelsBuilder b;
        p->AddLabels(b);
        e.labels = b.Build().ToString();
        e.value = p->Value();
        e.timestamp = p->Timestamp();
        break;
      }
      case EntryType::kType:
        e.family = std::string(p->Family());
        e.mtype = p->Type();
        break;
      case EntryType::kHelp:
      case EntryType::kUnit:
        e.family = std::string(p->Family());
        e.text = std::string(p->Text());
        break;
      case EntryType::kComment:
        e.text = std::string(p->Text());
        break;
      case EntryType::kEof:
      case EntryType::kHistogram:  // protobuf only
        break;
    }
    out.entries.push_back(e);
  }
}

// The single sample of `line`, which must parse.
Entry One(std::string_view body) {
  Parsed p = ParseAll(body);
  INFO(body << " -> " << p.status.ToString());
  REQUIRE(p.status.ok());
  auto s = p.Samples();
  REQUIRE(s.size() == 1);
  return s[0];
}

// The error of `body`, which must fail.
std::string Error(std::string_view body) {
  Parsed p = ParseAll(body);
  INFO(body);
  REQUIRE_FALSE(p.status.ok());
  CHECK(p.status.code() == Code::kInvalidArgument);
  return p.status.message();
}

TEST_CASE("text: samples with and without labels", "[parser][text]") {
  Parsed p = ParseAll(
      "up 1\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "empty_braces{} 3\n");
  REQUIRE(p.status.ok());
  auto s = p.Samples();
  REQUIRE(s.size() == 4);
  CHECK(s[0].series == "up");
  CHECK(s[0].labels == "up{}");
  CHECK(s[0].value == 1);
  CHECK_FALSE(s[0].timestamp.has_value());
  CHECK(s[0].line == 1);
  CHECK(s[1].series == "http_requests_total{method=\"post\",code=\"200\"}");
  CHECK(s[1].labels == "http_requests_total{code=\"200\", method=\"post\"}");
  CHECK(s[1].value == 1027);
  CHECK(s[1].timestamp == 1395066363000);
  CHECK(s[1].line == 2);
  CHECK(s[2].value == 12.47);
  CHECK(s[3].series == "empty_braces{}");
  CHECK(s[3].labels == "empty_braces{}");
}

TEST_CASE("text: Series bytes are the name and label block as written", "[parser][text]") {
  CHECK(One("a{x=\"1\"} 1").series == "a{x=\"1\"}");
  CHECK(One("  a{x=\"1\"}   1  ").series == "a{x=\"1\"}");
  CHECK(One("a {x=\"1\"} 1").series == "a {x=\"1\"}");
  CHECK(One("a 1 5").series == "a");
  // Same label set written the same way -> same bytes; differently written -> different.
  CHECK(One("a{x=\"1\",y=\"2\"} 1").series == One("a{x=\"1\",y=\"2\"} 7 9").series);
  CHECK(One("a{x=\"1\",y=\"2\"} 1").series != One("a{y=\"2\",x=\"1\"} 1").series);
  CHECK(One("a{y=\"2\",x=\"1\"} 1").labels == One("a{x=\"1\",y=\"2\"} 1").labels);
}

TEST_CASE("text: whitespace and separators", "[parser][text]") {
  SECTION("blanks around every token") {
    Entry e = One(" \t foo { a = \"1\" , b=\"2\" , } \t 2 \t 100 \t");
    CHECK(e.labels == "foo{a=\"1\", b=\"2\"}");
    CHECK(e.value == 2);
    CHECK(e.timestamp == 100);
  }
  SECTION("trailing comma") { CHECK(One("foo{a=\"1\",} 2").labels == "foo{a=\"1\"}"); }
  SECTION("no comma between pairs (promparse accepts it)") {
    CHECK(One("foo{a=\"1\" b=\"2\"} 2").labels == "foo{a=\"1\", b=\"2\"}");
  }
  SECTION("value right after the name or label block") {
    CHECK(One("foo{a=\"1\"}2").value == 2);
    Entry e = One("foo-1 5");  // name "foo", value "-1", timestamp 5
    CHECK(e.labels == "foo{}");
    CHECK(e.value == -1);
    CHECK(e.timestamp == 5);
  }
  SECTION("last line without LF") { CHECK(One("foo 3").value == 3); }
  SECTION("colons in metric names") { CHECK(One("a:b:c_d 1").series == "a:b:c_d"); }
}

TEST_CASE("text: label value escapes", "[parser][text]") {
  Entry e = One(R"(m{a="q\"uote",b="back\\slash",c="new\nline",d="keep\tthis",e="\\n"} 1)");
  CHECK(e.series == R"(m{a="q\"uote",b="back\\slash",c="new\nline",d="keep\tthis",e="\\n"})");
  LabelsBuilder b;
  auto p =
      NewTextParser(R"(m{a="q\"uote",b="back\\slash",c="new\nline",d="keep\tthis",e="\\n"} 1)");
  REQUIRE(p->Next().ok());
  p->AddLabels(b);
  Labels l = b.Build();
  CHECK(l.Get("a") == "q\"uote");
  CHECK(l.Get("b") == "back\\slash");
  CHECK(l.Get("c") == "new\nline");
  CHECK(l.Get("d") == "keep\\tthis");  // unknown escapes are kept as written
  CHECK(l.Get("e") == "\\n");          // an escaped backslash followed by n
}

TEST_CASE("text: raw LF inside a label value is accepted and counted", "[parser][text]") {
  Parsed p = ParseAll("a{x=\"1\n2\"} 1\nb 2\nc{ 3\n");
  REQUIRE_FALSE(p.status.ok());
  REQUIRE(p.entries.size() == 2);
  CHECK(p.entries[1].line == 3);
  CHECK(p.status.message().rfind("line 4: ", 0) == 0);
}

TEST_CASE("text: empty label values mean absent labels", "[parser][text]") {
  CHECK(One("m{a=\"\",b=\"x\"} 1").labels == "m{b=\"x\"}");
  // A duplicate where one value is empty is not a conflict (Prometheus drops empty labels).
  CHECK(One("m{a=\"\",a=\"x\"} 1").labels == "m{a=\"x\"}");
  CHECK(One("m{a=\"x\",a=\"\"} 1").labels == "m{a=\"x\"}");
}

TEST_CASE("text: UTF-8 quoted metric and label names", "[parser][text]") {
  Entry e = One(R"({"my.metric", "label.with spaces"="v", plain="p"} 4)");
  CHECK(e.labels == R"(my.metric{label.with spaces="v", plain="p"})");
  CHECK(One(R"({"only.name"} 4)").series == R"({"only.name"})");
  CHECK(One(R"(m{"quoted"="v"} 4)").labels == R"(m{quoted="v"})");
  auto p = NewTextParser(R"({"a\"b"} 1)");
  REQUIRE(p->Next().ok());
  LabelsBuilder b;
  p->AddLabels(b);
  CHECK(b.Get("__name__") == "a\"b");
  CHECK_THAT(Error(R"({"x"="v"} 1)"), Catch::Contains("metric name not set"));
  CHECK_THAT(Error(R"(m{"x"} 1)"), Catch::Contains("metric name already set"));
  CHECK_THAT(Error(R"({"x","y"} 1)"), Catch::Contains("metric name already set"));
}

TEST_CASE("text: special and Go-syntax float values", "[parser][text]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(One("m +Inf").value == inf);
  CHECK(One("m -Inf").value == -inf);
  CHECK(One("m Inf").value == inf);
  CHECK(One("m inf").value == inf);
  CHECK(One("m +infinity").value == inf);
  CHECK(One("m -INFINITY").value == -inf);
  CHECK(One("m 1e3").value == 1000);
  CHECK(One("m 1E-3").value == 0.001);
  CHECK(One("m +5").value == 5);
  CHECK(One("m -0.5").value == -0.5);
  CHECK(One("m .5").value == 0.5);
  CHECK(One("m 5.").value == 5);
  CHECK(One("m 007").value == 7);
  CHECK(One("m 1.5e+2").value == 150);
  CHECK(One("m 1e-400").value == 0);  // underflow rounds to zero, as in Go
  CHECK(One("m 4.9e-324").value > 0);
  CHECK(One("m 1.7976931348623157e308").value == std::numeric_limits<double>::max());
  CHECK(One("m 9007199254740993").value == 9007199254740992.0);
  for (const char* nan : {"m NaN", "m nan", "m NAN"}) {
    Entry e = One(nan);
    CHECK(std::isnan(e.value));
    CHECK(std::bit_cast<uint64_t>(e.value) == 0x7ff8000000000001ULL);
  }
  for (const char* bad :
       {"m 0x1p3", "m 0x10", "m 1_000", "m 1e", "m .", "m +nan", "m -NaN", "m infin", "m 1e400",
        "m -1e400", "m 1.2.3", "m e5", "m 1,5", "m --1", "m 1e+", "m Infinityx", "m 1P2"}) {
    CHECK_THAT(Error(bad), Catch::Contains("invalid value"));
  }
}

TEST_CASE("text: timestamps", "[parser][text]") {
  CHECK(One("m 1 0").timestamp == 0);
  CHECK(One("m 1 9223372036854775807").timestamp == std::numeric_limits<int64_t>::max());
  CHECK(One("m 1 1395066363000 ").timestamp == 1395066363000);
  CHECK_THAT(Error("m 1 9223372036854775808"), Catch::Contains("timestamp out of range"));
  // The Prometheus lexer takes digits only: no sign, no fraction, nothing after.
  CHECK_THAT(Error("m 1 -1"), Catch::Contains("expected timestamp"));
  CHECK_THAT(Error("m 1 +1"), Catch::Contains("expected timestamp"));
  CHECK_THAT(Error("m 1 1.5"), Catch::Contains("after timestamp"));
  CHECK_THAT(Error("m 1 15 16"), Catch::Contains("after timestamp"));
  CHECK_THAT(Error("m 1 15x"), Catch::Contains("after timestamp"));
  CHECK_THAT(Error("m 1 abc"), Catch::Contains("expected timestamp"));
}

TEST_CASE("text: HELP lines", "[parser][text]") {
  Parsed p = ParseAll(
      "# HELP a Plain help.\n"
      "# HELP b Escaped \\\\ backslash, \\n newline, \\\" kept, \\t kept.\n"
      "# HELP\n"  // no blank after HELP: a comment
      "# HELP d \n"
      "#\tHELP\te \t two leading blanks kept\n"
      "# HELP f ünïcödé\n"
      "# HELP \"g.utf8\" quoted\n");
  REQUIRE(p.status.ok());
  REQUIRE(p.entries.size() == 7);
  CHECK(p.entries[0].type == EntryType::kHelp);
  CHECK(p.entries[0].family == "a");
  CHECK(p.entries[0].text == "Plain help.");
  CHECK(p.entries[1].text == "Escaped \\ backslash, \n newline, \\\" kept, \\t kept.");
  CHECK(p.entries[2].type == EntryType::kComment);
  CHECK(p.entries[2].text == "# HELP");
  CHECK(p.entries[3].type == EntryType::kHelp);
  CHECK(p.entries[3].text == "");
  CHECK(p.entries[4].family == "e");
  CHECK(p.entries[4].text == "\t two leading blanks kept");
  CHECK(p.entries[5].text == "ünïcödé");
  CHECK(p.entries[6].family == "g.utf8");
  CHECK(p.entries[6].text == "quoted");
  CHECK(p.entries[6].line == 7);

  CHECK_THAT(Error("# HELP \xff bad\n"), Catch::Contains("expected metric name after HELP"));
  CHECK_THAT(Error("# HELP m bad \xc3\x28\n"), Catch::Contains("not valid UTF-8"));
  CHECK_THAT(Error("# HELP \n"), Catch::Contains("expected metric name after HELP"));
}

TEST_CASE("text: TYPE lines", "[parser][text]") {
  Parsed p = ParseAll(
      "# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n"
      "# TYPE e untyped\n# TYPE a gauge\n# TYPEx f counter\n");
  REQUIRE(p.status.ok());
  REQUIRE(p.entries.size() == 7);
  const MetricType want[] = {MetricType::kCounter, MetricType::kGauge,   MetricType::kHistogram,
                             MetricType::kSummary, MetricType::kUnknown, MetricType::kGauge};
  for (int i = 0; i < 6; ++i) {
    CHECK(p.entries[i].type == EntryType::kType);
    CHECK(p.entries[i].mtype == want[i]);
  }
  CHECK(p.entries[5].family == "a");  // a second TYPE for a family is accepted, as upstream
  CHECK(p.entries[6].type == EntryType::kComment);

  CHECK_THAT(Error("# TYPE m info\n"), Catch::Contains("invalid metric type \"info\""));
  CHECK_THAT(Error("# TYPE m Counter\n"), Catch::Contains("invalid metric type"));
  CHECK_THAT(Error("# TYPE m  counter\n"), Catch::Contains("invalid metric type"));
  CHECK_THAT(Error("# TYPE m counter \n"), Catch::Contains("invalid metric type"));
  CHECK_THAT(Error("# TYPE m\n"), Catch::Contains("invalid metric type"));
  CHECK_THAT(Error("# TYPE 1m counter\n"), Catch::Contains("expected metric name after TYPE"));
}

TEST_CASE("text: comments, blank lines and the end of input", "[parser][text]") {
  Parsed p = ParseAll("\n\n# just a comment\n   \n#no space\n\t\nm 1\n\n");
  REQUIRE(p.status.ok());
  REQUIRE(p.entries.size() == 3);
  CHECK(p.entries[0].type == EntryType::kComment);
  CHECK(p.entries[0].text == "# just a comment");
  CHECK(p.entries[0].line == 3);
  CHECK(p.entries[1].text == "#no space");
  CHECK(p.entries[2].type == EntryType::kSample);
  CHECK(p.entries[2].line == 7);

  CHECK(ParseAll("").entries.empty());
  CHECK(ParseAll("").status.ok());
  // promlex ends the input at a NUL byte where a line starts.
  Parsed nul = ParseAll(std::string_view("a 1\n\0garbage{\n", 14));
  CHECK(nul.status.ok());
  CHECK(nul.Samples().size() == 1);
}

TEST_CASE("text: malformed samples report the line", "[parser][text]") {
  struct Case {
    std::string body;
    std::string want;
  };
  const Case cases[] = {
      {"ok 1\nm{a=\"1\"\n", "line 2: expected label name"},
      {"ok 1\nok 2\nm{a=\"1} 1\n", "line 3: unterminated label value"},
      {"m{a=\"x\\\ny\"} 1\n", "line 1: unterminated label value or invalid escape"},
      {"m{a=1} 1\n", "line 1: expected quoted label value"},
      {"m{a} 1\n", "line 1: expected '=' after label name"},
      {"m{1a=\"1\"} 1\n", "line 1: expected label name"},
      {"m{a:b=\"1\"} 1\n", "line 1: expected '=' after label name"},
      {"m{,a=\"1\"} 1\n", "line 1: expected label name"},
      {"m{a=\"1\",,b=\"2\"} 1\n", "line 1: expected label name"},
      {"\n\nm\n", "line 3: expected value after metric"},
      {"m \n", "line 1: expected value after metric"},
      {"m{a=\"1\"}\n", "line 1: expected value after metric"},
      {"m{a=\"1\"} {b=\"2\"} 1\n", "line 1: expected value after metric"},
      {"m 1{\n", "line 1: expected timestamp or end of line"},
      {"1m 1\n", "line 1: expected a metric name"},
      {"m.x 1\n", "line 1: invalid value"},
      {"m{a=\"1\",a=\"2\"} 1\n", "line 1: duplicate label name \"a\""},
      {"m{a=\"1\",\"a\"=\"2\"} 1\n", "line 1: duplicate label name \"a\""},
      {"m{__name__=\"x\"} 1\n", "line 1: duplicate label name \"__name__\""},
      {"m{a=\"\xff\"} 1\n", "line 1: invalid UTF-8"},
      {"m{\"\"=\"1\"} 1\n", "line 1: empty quoted name"},
      {"{\"\"} 1\n", "line 1: empty quoted name"},
      {"m{\"\xc3\x28\"=\"1\"} 1\n", "line 1: quoted name is not valid UTF-8"},
      {"m 1\r\n", "line 1: invalid value"},
      {"# HELP m ok\nm{a=\"1\" 1\n", "line 2: expected label name"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    CHECK_THAT(Error(c.body), Catch::StartsWith(c.want));
  }
}

TEST_CASE("text: duplicate labels are found in long label sets too", "[parser][text]") {
  std::string line = "m{";
  for (int i = 0; i < 40; ++i) line += "l" + std::to_string(i) + "=\"v\",";
  CHECK(One(line + "} 1").series.size() == line.size() + 1);
  CHECK_THAT(Error(line + "l7=\"w\"} 1"), Catch::StartsWith("line 1: duplicate label name \"l7\""));
  CHECK_THAT(Error(line + "__name__=\"w\"} 1"),
             Catch::StartsWith("line 1: duplicate label name \"__name__\""));
  CHECK_THAT(Error(line + "\"l\\\"q\"=\"1\",\"l\\\"q\"=\"2\"} 1"),
             Catch::StartsWith("line 1: duplicate label name \"l\\\"q\""));
}

TEST_CASE("text: le and quantile values are rewritten in canonical float form", "[parser][text]") {
  Parsed p = ParseAll(
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 1\nh_bucket{le=\"0.005\"} 1\nh_bucket{le=\"1e6\"} 1\n"
      "h_bucket{le=\"100000\"} 1\nh_bucket{le=\"+inf\"} 1\nh_bucket{le=\"foo\"} 1\n"
      "h_bucket{le=\"0.0001\"} 1\nh_bucket{le=\"0.00001\"} 1\nh_bucket{le=\"123456.7\"} 1\n"
      "h_bucket{le=\"-1\"} 1\nh_bucket{le=\"0\"} 1\nh_bucket{le=\"2.5e-3\"} 1\n"
      "# TYPE s summary\n"
      "s{quantile=\"0.50\"} 1\ns{le=\"1\"} 1\n"
      "# TYPE g gauge\n"
      "g{le=\"1\",quantile=\"1\"} 1\n");
  REQUIRE(p.status.ok());
  auto s = p.Samples();
  REQUIRE(s.size() == 15);
  const char* want[] = {"h_bucket{le=\"1.0\"}",       "h_bucket{le=\"0.005\"}",
                        "h_bucket{le=\"1e+06\"}",     "h_bucket{le=\"100000.0\"}",
                        "h_bucket{le=\"+Inf\"}",      "h_bucket{le=\"foo\"}",
                        "h_bucket{le=\"0.0001\"}",    "h_bucket{le=\"1e-05\"}",
                        "h_bucket{le=\"123456.7\"}",  "h_bucket{le=\"-1.0\"}",
                        "h_bucket{le=\"0.0\"}",       "h_bucket{le=\"0.0025\"}",
                        "s{quantile=\"0.5\"}",        "s{le=\"1\"}",
                        "g{le=\"1\", quantile=\"1\"}"};
  for (size_t i = 0; i < s.size(); ++i) CHECK(s[i].labels == want[i]);
  CHECK(s[0].series == "h_bucket{le=\"1\"}");  // the cache key stays the raw bytes
}

// A trimmed capture of prometheus-node-exporter 1.5 (Debian) output, plus a histogram.
constexpr std::string_view kNodeExporter =
    R"body(# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds{quantile="0.25"} 3.5e-05
go_gc_duration_seconds{quantile="0.5"} 4.4e-05
go_gc_duration_seconds{quantile="0.75"} 6.1e-05
go_gc_duration_seconds{quantile="1"} 0.000172
go_gc_duration_seconds_sum 0.001337
go_gc_duration_seconds_count 24
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 7
# HELP go_info Information about the Go environment.
# TYPE go_info gauge
go_info{version="go1.19.8"} 1
# HELP go_memstats_buck_hash_sys_bytes Number of bytes used by the profiling bucket hash table.
# TYPE go_memstats_buck_hash_sys_bytes gauge
go_memstats_buck_hash_sys_bytes 1.445417e+06
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 376.95
node_cpu_seconds_total{cpu="0",mode="iowait"} 2.27
node_cpu_seconds_total{cpu="0",mode="irq"} 0
node_cpu_seconds_total{cpu="0",mode="user"} 164.79
node_cpu_seconds_total{cpu="1",mode="idle"} 373.68
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 8.4975075328e+10
# HELP node_network_receive_bytes_total Network device statistic receive_bytes.
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="eth0"} 1.23456789e+08
node_network_receive_bytes_total{device="lo"} 4096
# HELP node_scrape_collector_success node_exporter: Whether a collector succeeded.
# TYPE node_scrape_collector_success gauge
node_scrape_collector_success{collector="arp"} 1
node_scrape_collector_success{collector="bonding"} 0
# HELP node_uname_info Labeled system information as provided by the uname system call.
# TYPE node_uname_info gauge
node_uname_info{domainname="(none)",machine="x86_64",nodename="vm",release="6.18.44-fc-v669",sysname="Linux",version="#1 SMP PREEMPT_DYNAMIC @0"} 1
# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise
# TYPE node_textfile_scrape_error gauge
node_textfile_scrape_error 0
# HELP promhttp_metric_handler_requests_total Total number of scrapes by HTTP status code.
# TYPE promhttp_metric_handler_requests_total counter
promhttp_metric_handler_requests_total{code="200"} 3
promhttp_metric_handler_requests_total{code="500"} 0
# HELP http_request_duration_seconds A histogram of request latencies.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/metrics",le="0.1"} 3
http_request_duration_seconds_bucket{handler="/metrics",le="1"} 4
http_request_duration_seconds_bucket{handler="/metrics",le="+Inf"} 4
http_request_duration_seconds_sum{handler="/metrics"} 1.25
http_request_duration_seconds_count{handler="/metrics"} 4
)body";

TEST_CASE("text: a node_exporter body", "[parser][text]") {
  Parsed p = ParseAll(kNodeExporter);
  REQUIRE(p.status.ok());
  auto s = p.Samples();
  REQUIRE(s.size() == 29);
  int helps = 0, types = 0;
  for (const Entry& e : p.entries) {
    helps += e.type == EntryType::kHelp;
    types += e.type == EntryType::kType;
  }
  CHECK(helps == 12);
  CHECK(types == 12);
  CHECK(s[0].labels == "go_gc_duration_seconds{quantile=\"0.0\"}");
  CHECK(s[0].value == 2.1e-05);
  CHECK(s[4].labels == "go_gc_duration_seconds{quantile=\"1.0\"}");
  CHECK(s[15].labels ==
        "node_filesystem_avail_bytes{device=\"/dev/vda\", fstype=\"ext4\", mountpoint=\"/\"}");
  CHECK(s[15].value == 8.4975075328e+10);
  CHECK(s[20].labels ==
        "node_uname_info{domainname=\"(none)\", machine=\"x86_64\", nodename=\"vm\", "
        "release=\"6.18.44-fc-v669\", sysname=\"Linux\", version=\"#1 SMP PREEMPT_DYNAMIC @0\"}");
  CHECK(s[24].labels == "http_request_duration_seconds_bucket{handler=\"/metrics\", le=\"0.1\"}");
  CHECK(s[25].labels == "http_request_duration_seconds_bucket{handler=\"/metrics\", le=\"1.0\"}");
  CHECK(s[26].labels == "http_request_duration_seconds_bucket{handler=\"/metrics\", le=\"+Inf\"}");
  CHECK(s.back().line == 53);
  CHECK(s.back().value == 4);
}

TEST_CASE("text: the one-pass and general sample paths agree", "[parser][text]") {
  // A doubled blank before the value sends a line down the general path without changing
  // what it means; every sample must come out the same either way.
  std::string body(kNodeExporter);
  body += "e{} 1\nt{a=\"1\",} 2 3\nn NaN\nd{a=\"\",a=\"x\"} 4\nz{a=\"\",b=\"x\"} -0\n";
  std::string doubled;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    std::string line = body.substr(start, end - start);
    if (!line.empty() && line[0] != '#') {
      size_t close = line.rfind('}');
      size_t sp = line.find(' ', close == std::string::npos ? 0 : close);
      line.insert(sp, " ");
    }
    doubled += line + "\n";
    start = end + 1;
  }
  Parsed a = ParseAll(body), b = ParseAll(doubled);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  auto sa = a.Samples(), sb = b.Samples();
  REQUIRE(sa.size() == 34);
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].series);
    CHECK(sa[i].series == sb[i].series);
    CHECK(sa[i].labels == sb[i].labels);
    CHECK(std::bit_cast<uint64_t>(sa[i].value) == std::bit_cast<uint64_t>(sb[i].value));
    CHECK(sa[i].timestamp == sb[i].timestamp);
    CHECK(sa[i].line == sb[i].line);
  }
}

// The scrape cache's view: series bytes seen before.
struct KnownSet final : KnownSeries {
  void* Find(std::string_view series) override {
    auto it = keys.find(series);
    return it == keys.end() ? nullptr : const_cast<std::string*>(&*it);
  }
  std::set<std::string, std::less<>> keys;
};

TEST_CASE("known series skip label parsing with the same entries and errors", "[parser]") {
  const std::string primer =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
      "a{x=\"1\",y=\"q\\\"\"} 1\nb 2 1000\nc { x = \"1\" } 3\n{\"d\", z=\"\"} 4\n"
      "e{x=\"a\nb\"} 5\n";
  KnownSet known;
  for (const Entry& e : ParseAll(primer).Samples()) known.keys.insert(e.series);
  REQUIRE(known.keys.size() == 7);
  const std::vector<std::string> bodies = {
      primer,
      "a{x=\"1\",y=\"q\\\"\"} 7 123\nb 2\nb  2\nb 2 \nb\t2\n",
      "b 1e3\nb NaN\nb -Inf 5\n",
      "b 2 1000\nb x\n",
      "b 2\nb 2 -1\n",
      "b 1 99999999999999999999\n",
      "b 1 2 3\n",
      "b 1\x00\n",
      "b {x=\"1\"} 1\n",
      "h_bucket{le=\"1\"} 3\n",
      "h_bucket{le=\"1\"} 3 # {a=\"b\"} 1\n",
  };
  for (const std::string& body : bodies) {
    INFO(body);
    Parsed plain = ParseAll(body);
    Parsed warm = ParseAll(body, &known);
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
      CHECK(a.line == b.line);
    }
  }
}

TEST_CASE("KnownEntry is the known series' entry", "[parser]") {
  KnownSet known;
  known.keys.insert("a{x=\"1\"}");
  const std::string body = "a{x=\"1\"} 1\nb 2\na{x=\"1\"} 3 100\n";
  auto p = NewTextParser(body);
  p->SetKnownSeries(&known);
  std::vector<const void*> entries;
  for (auto e = p->Next(); e.ok() && *e != EntryType::kEof; e = p->Next()) {
    entries.push_back(p->KnownEntry());
  }
  const void* a = &*known.keys.begin();
  CHECK(entries == std::vector<const void*>{a, nullptr, a});
}

}  // namespace
}  // namespace petrel::scrape
