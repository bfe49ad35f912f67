// scrape_native_histograms, always_scrape_classic_histograms, native_histogram_bucket_limit,
// native_histogram_min_bucket_factor and the protocol defaults that depend on them.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"

namespace petrel::config {
namespace {

Config MustParse(const std::string& text) {
  auto cfg = Parse(text, "petrel.yml");
  INFO(cfg.status().message());
  REQUIRE(cfg.ok());
  return *cfg;
}

std::string ErrorOf(const std::string& text) {
  auto cfg = Parse(text, "petrel.yml");
  REQUIRE_FALSE(cfg.ok());
  return cfg.status().message();
}

TEST_CASE("native histograms are off by default and the protocols are text-first",
          "[config][histogram]") {
  const Config c = MustParse("scrape_configs:\n  - job_name: a\n");
  const ScrapeConfig& sc = c.scrape_configs[0];
  CHECK_FALSE(sc.scrape_native_histograms);
  CHECK_FALSE(sc.always_scrape_classic_histograms);
  CHECK(sc.native_histogram_bucket_limit == 0);
  CHECK(sc.native_histogram_min_bucket_factor == 0);
  CHECK(sc.scrape_protocols == DefaultScrapeProtocols());
  CHECK(c.global.scrape_protocols.empty());
}

TEST_CASE("LoadOptions' native-histogram default applies where no key sets it, and renders",
          "[config][histogram]") {
  const LoadOptions on{.scrape_native_histograms_default = true};
  const std::string text =
      "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_native_histograms: false\n";
  auto c = Parse(text, "petrel.yml", on);
  REQUIRE(c.ok());
  CHECK(c->global.scrape_native_histograms);
  CHECK(c->scrape_configs[0].scrape_native_histograms);
  CHECK(c->scrape_configs[0].scrape_protocols == DefaultProtoFirstScrapeProtocols());
  CHECK_FALSE(c->scrape_configs[1].scrape_native_histograms);
  // The rendered config spells the default out, so it reads back the same without the option.
  auto again = Parse(Render(*c), "rendered");
  REQUIRE(again.ok());
  CHECK(*again == *c);
  CHECK_FALSE(MustParse(text).scrape_configs[0].scrape_native_histograms);
}

TEST_CASE("scrape_native_histograms makes PrometheusProto the first protocol",
          "[config][histogram]") {
  SECTION("set on the job") {
    const Config c = MustParse(
        "scrape_configs:\n  - job_name: a\n    scrape_native_histograms: true\n"
        "  - job_name: b\n");
    CHECK(c.scrape_configs[0].scrape_native_histograms);
    CHECK(c.scrape_configs[0].scrape_protocols == DefaultProtoFirstScrapeProtocols());
    CHECK(c.scrape_configs[0].scrape_protocols[0] == ScrapeProtocol::kPrometheusProto);
    CHECK_FALSE(c.scrape_configs[1].scrape_native_histograms);
    CHECK(c.scrape_configs[1].scrape_protocols == DefaultScrapeProtocols());
  }
  SECTION("inherited from global, and switched off per job") {
    const Config c = MustParse(
        "global:\n  scrape_native_histograms: true\n  always_scrape_classic_histograms: true\n"
        "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_native_histograms: false\n"
        "    always_scrape_classic_histograms: false\n");
    CHECK(c.scrape_configs[0].scrape_native_histograms);
    CHECK(c.scrape_configs[0].always_scrape_classic_histograms);
    CHECK(c.scrape_configs[0].scrape_protocols[0] == ScrapeProtocol::kPrometheusProto);
    CHECK_FALSE(c.scrape_configs[1].scrape_native_histograms);
    CHECK_FALSE(c.scrape_configs[1].always_scrape_classic_histograms);
    CHECK(c.scrape_configs[1].scrape_protocols == DefaultScrapeProtocols());
  }
  SECTION("global scrape_protocols win over the native-histogram default") {
    const Config c = MustParse(
        "global:\n  scrape_protocols: [PrometheusText0.0.4]\n"
        "scrape_configs:\n  - job_name: a\n    scrape_native_histograms: true\n");
    CHECK(c.scrape_configs[0].scrape_protocols ==
          std::vector<ScrapeProtocol>{ScrapeProtocol::kPrometheusText0_0_4});
  }
  SECTION("PrometheusProto may be listed and used as the fallback") {
    const Config c = MustParse(
        "scrape_configs:\n  - job_name: a\n    scrape_protocols: [PrometheusProto]\n"
        "    fallback_scrape_protocol: PrometheusProto\n");
    CHECK(c.scrape_configs[0].scrape_protocols ==
          std::vector<ScrapeProtocol>{ScrapeProtocol::kPrometheusProto});
    CHECK(c.scrape_configs[0].fallback_scrape_protocol == ScrapeProtocol::kPrometheusProto);
  }
}

TEST_CASE("native histogram limits are parsed and checked", "[config][histogram]") {
  const std::string job = "scrape_configs:\n  - job_name: a\n";
  const Config c = MustParse(job +
                             "    native_histogram_bucket_limit: 160\n"
                             "    native_histogram_min_bucket_factor: 1.1\n");
  CHECK(c.scrape_configs[0].native_histogram_bucket_limit == 160);
  CHECK(c.scrape_configs[0].native_histogram_min_bucket_factor == 1.1);
  CHECK(ErrorOf(job + "    native_histogram_min_bucket_factor: fast\n") ==
        "petrel.yml:3: scrape_configs[0].native_histogram_min_bucket_factor: not a valid number "
        "\"fast\"");
  CHECK(ErrorOf(job + "    native_histogram_min_bucket_factor: -2\n") ==
        "petrel.yml:3: scrape_configs[0].native_histogram_min_bucket_factor: must not be "
        "negative, got -2");
  CHECK(ErrorOf(job + "    native_histogram_bucket_limit: -1\n")
            .find("scrape_configs[0].native_histogram_bucket_limit") != std::string::npos);
  CHECK(ErrorOf(job + "    scrape_native_histograms: maybe\n")
            .find("scrape_configs[0].scrape_native_histograms") != std::string::npos);
  CHECK(ErrorOf(job + "    convert_classic_histograms_to_nhcb: true\n") ==
        "petrel.yml:3: scrape_configs[0]: \"convert_classic_histograms_to_nhcb\" is not "
        "supported by petrel yet");
}

TEST_CASE("Render keeps the native histogram settings", "[config][histogram][render]") {
  const Config c = MustParse(
      "global:\n  scrape_native_histograms: true\n"
      "scrape_configs:\n  - job_name: a\n    always_scrape_classic_histograms: true\n"
      "    native_histogram_bucket_limit: 10\n    native_histogram_min_bucket_factor: 1.25\n");
  auto again = Parse(Render(c), "petrel.yml");
  INFO(Render(c));
  REQUIRE(again.ok());
  CHECK(again->global.scrape_native_histograms);
  CHECK(again->scrape_configs == c.scrape_configs);
}

}  // namespace
}  // namespace petrel::config
