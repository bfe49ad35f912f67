#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "config/config.h"

namespace petrel::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

TEST_CASE("ParseDuration accepts Prometheus's duration syntax", "[config][duration]") {
  struct Case {
    std::string text;
    Duration want;
  };
  const Case cases[] = {
      {"0", Duration(0)},
      {"0s", Duration(0)},
      {"00s", Duration(0)},
      {"15s", seconds(15)},
      {"500ms", milliseconds(500)},
      {"1m", minutes(1)},
      {"1m30s", seconds(90)},
      {"1h30m", minutes(90)},
      {"2d", Duration(2 * kDayMs)},
      {"1w", Duration(7 * kDayMs)},
      {"1y", Duration(365 * kDayMs)},
      {"1y2w3d4h5m6s7ms",
       Duration(365 * kDayMs + 14 * kDayMs + 3 * kDayMs + 4 * 3600000LL + 5 * 60000 + 6000 + 7)},
      {"90m", minutes(90)},  // no carrying rule: units need not be "normalized"
      {"1000ms", seconds(1)},
      {"5m1ms", Duration(300001)},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto got = ParseDuration(c.text);
    REQUIRE(got.ok());
    CHECK(*got == c.want);
  }
}

TEST_CASE("ParseDuration rejects what Prometheus rejects", "[config][duration]") {
  const std::string bad[] = {
      "",      // empty
      "5",     // a number without unit (only "0" may omit it)
      "5x",    // unknown unit
      "s",     // unit without number
      "-1s",   // negative
      "+1s",   // sign
      "1.5h",  // fractions
      "1h1h",  // repeated unit
      "1s1m",  // out of order
      "1d1w",  // out of order
      "1ms1s",
      "1 s",
      " 1s",
      "1s ",
      "1S",
      "1sec",
      "1hm",
      "1h 30m",
      "0x10s",
      "1mss",                      // "mss" is no unit
      "99999999999999999999999s",  // does not fit in 64 bits
      "293y",                      // beyond int64 nanoseconds (~292y)
  };
  for (const std::string& text : bad) {
    INFO('"' << text << '"');
    auto got = ParseDuration(text);
    CHECK_FALSE(got.ok());
    if (!got.ok()) CHECK(got.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("ParseDuration range ends at int64 nanoseconds", "[config][duration]") {
  // 2^63-1 ns = 106751d 23h 47m 16s 854ms 775807ns.
  auto max = ParseDuration("106751d23h47m16s854ms");
  REQUIRE(max.ok());
  CHECK(max->count() == 9223372036854LL);
  CHECK_FALSE(ParseDuration("106751d23h47m16s855ms").ok());
  CHECK_FALSE(ParseDuration("106752d").ok());
  CHECK(ParseDuration("292y").ok());
  CHECK_FALSE(ParseDuration("293y").ok());
  CHECK(ParseDuration("293y").status().message() == "duration out of range \"293y\"");
}

TEST_CASE("ParseDuration messages name the input", "[config][duration]") {
  CHECK(ParseDuration("5x").status().message() == "not a valid duration \"5x\"");
  CHECK(ParseDuration("1s1m").status().message() == "not a valid duration \"1s1m\"");
  CHECK(ParseDuration("").status().message() == "empty duration");
}

TEST_CASE("FormatDuration renders the canonical form", "[config][duration]") {
  CHECK(FormatDuration(Duration(0)) == "0s");
  CHECK(FormatDuration(milliseconds(90000)) == "1m30s");
  CHECK(FormatDuration(milliseconds(1)) == "1ms");
  CHECK(FormatDuration(milliseconds(1500)) == "1s500ms");
  CHECK(FormatDuration(hours(1) + minutes(30)) == "1h30m");
  CHECK(FormatDuration(Duration(14 * kDayMs)) == "2w");
  CHECK(FormatDuration(Duration(8 * kDayMs)) == "8d");    // weeks only when exact
  CHECK(FormatDuration(Duration(90 * kDayMs)) == "90d");  // not "12w6d"
  CHECK(FormatDuration(Duration(365 * kDayMs)) == "1y");
  CHECK(FormatDuration(Duration(366 * kDayMs)) == "366d");
  CHECK(FormatDuration(Duration(730 * kDayMs)) == "2y");
  CHECK(FormatDuration(Duration(kDayMs + 1)) == "1d1ms");
  CHECK(FormatDuration(milliseconds(-1500)) == "-1s500ms");
}

TEST_CASE("FormatDuration output parses back to the same value", "[config][duration]") {
  const int64_t values[] = {0,
                            1,
                            999,
                            1000,
                            59999,
                            60000,
                            3599999,
                            3600000,
                            kDayMs,
                            7 * kDayMs,
                            8 * kDayMs,
                            365 * kDayMs,
                            365 * kDayMs + 1,
                            9223372036854LL,
                            123456789012LL};
  for (int64_t ms : values) {
    INFO(ms);
    const std::string text = FormatDuration(Duration(ms));
    auto back = ParseDuration(text);
    REQUIRE(back.ok());
    CHECK(back->count() == ms);
  }
  const std::string texts[] = {"1m30s", "2w", "90d", "1y", "1d1ms", "5m", "10s", "30ms"};
  for (const std::string& text : texts) {
    auto d = ParseDuration(text);
    REQUIRE(d.ok());
    CHECK(FormatDuration(*d) == text);
  }
}

}  // namespace
}  // namespace petrel::config
