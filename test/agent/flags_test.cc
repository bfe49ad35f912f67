#include "agent/flags.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace petrel::agent {
namespace {

TEST_CASE("flags default to Prometheus agent mode's", "[agent]") {
  auto f = ParseFlags({});
  REQUIRE(f.ok());
  CHECK(f->config_file == "prometheus.yml");
  CHECK(f->storage_path == "data-agent/");
  CHECK(f->listen_address == "0.0.0.0:9090");
  CHECK(f->log_level == "info");
  CHECK(f->wal_compression);
  CHECK(f->wal_segment_bytes == 128ull << 20);
}

TEST_CASE("flags take --name=value and --name value forms", "[agent]") {
  auto f =
      ParseFlags({"--config.file=/etc/p.yml", "--storage.agent.path", "/var/lib/petrel",
                  "--web.listen-address=127.0.0.1:9999", "--log.level=debug",
                  "--no-storage.agent.wal-compression", "--storage.agent.wal-segment-size=16MB",
                  "--storage.remote.flush-deadline=10s", "--enable-feature=agent"});
  REQUIRE(f.ok());
  CHECK(f->config_file == "/etc/p.yml");
  CHECK(f->storage_path == "/var/lib/petrel");
  CHECK(f->listen_address == "127.0.0.1:9999");
  CHECK(f->log_level == "debug");
  CHECK_FALSE(f->wal_compression);
  CHECK(f->wal_segment_bytes == 16ull << 20);
  CHECK(f->flush_deadline == std::chrono::seconds(10));
}

TEST_CASE("bad flags are usage errors naming the flag", "[agent]") {
  auto check = [](std::vector<std::string> args, const std::string& needle) {
    auto f = ParseFlags(args);
    REQUIRE_FALSE(f.ok());
    CHECK(f.status().code() == Code::kInvalidArgument);
    CHECK_THAT(f.status().message(), Catch::Contains(needle));
  };
  check({"--no-such-flag"}, "--no-such-flag");
  check({"--config.file"}, "--config.file");
  check({"--log.level=loud"}, "--log.level");
  check({"--storage.agent.wal-segment-size=1MB"}, "between 10MB and 256MB");
  check({"--storage.agent.wal-compression=maybe"}, "storage.agent.wal-compression");
  check({"--enable-feature=exemplar-storage"}, "exemplar-storage");
  check({"--enable-feature=agent,native-histograms,exemplar-storage"}, "exemplar-storage");
  check({"--enable-feature=native-histogram"}, "native-histogram");
  check({"positional"}, "positional");
  check({"--no-config.file"}, "no-config.file");
}

TEST_CASE("enable-feature native-histograms makes scrape_native_histograms default to true",
          "[agent]") {
  const std::string yaml =
      "scrape_configs:\n"
      "  - job_name: unset\n"
      "  - job_name: disabled\n    scrape_native_histograms: false\n"
      "  - job_name: enabled\n    scrape_native_histograms: true\n";
  auto native = [](const config::Config& c) {
    std::vector<bool> out;
    for (const auto& job : c.scrape_configs) out.push_back(job.scrape_native_histograms);
    return out;
  };
  SECTION("without the flag") {
    auto f = ParseFlags({"--enable-feature=agent"});
    REQUIRE(f.ok());
    CHECK(StartupNotices(*f).empty());
    auto c = config::Parse(yaml, "petrel.yml", f->config_load);
    REQUIRE(c.ok());
    CHECK(native(*c) == std::vector<bool>{false, false, true});
  }
  SECTION("with it: on where unset, an explicit false still wins") {
    auto f = ParseFlags({"--enable-feature=agent,native-histograms"});
    REQUIRE(f.ok());
    const auto notices = StartupNotices(*f);
    REQUIRE(notices.size() == 1);
    CHECK_THAT(notices[0], Catch::Contains("scrape_native_histograms defaults to true"));
    auto c = config::Parse(yaml, "petrel.yml", f->config_load);
    REQUIRE(c.ok());
    CHECK(native(*c) == std::vector<bool>{true, false, true});
    // As with the config key set to true, the job asks for protobuf first.
    CHECK(c->scrape_configs[0].scrape_protocols == config::DefaultProtoFirstScrapeProtocols());
    CHECK(c->scrape_configs[1].scrape_protocols == config::DefaultScrapeProtocols());
  }
  SECTION("with it, global false wins for the jobs that do not set it") {
    auto f = ParseFlags({"--enable-feature=native-histograms"});
    REQUIRE(f.ok());
    auto c = config::Parse("global:\n  scrape_native_histograms: false\n" + yaml, "petrel.yml",
                           f->config_load);
    REQUIRE(c.ok());
    CHECK(native(*c) == std::vector<bool>{false, false, true});
  }
}

TEST_CASE("the native-histograms default holds for every load of the file, as on reload",
          "[agent]") {
  auto f = ParseFlags({"--enable-feature=native-histograms"});
  REQUIRE(f.ok());
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("petrel_flags_test_" + std::to_string(::getpid()) + ".yml"))
                               .string();
  auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  write("scrape_configs:\n  - job_name: a\n");
  auto first = config::Load(path, f->config_load);
  write(
      "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_native_histograms: false\n"
      "  - job_name: c\n");
  auto reloaded = config::Load(path, f->config_load);
  std::remove(path.c_str());
  REQUIRE(first.ok());
  REQUIRE(reloaded.ok());
  CHECK(first->scrape_configs[0].scrape_native_histograms);
  REQUIRE(reloaded->scrape_configs.size() == 3);
  CHECK(reloaded->scrape_configs[0].scrape_native_histograms);
  CHECK_FALSE(reloaded->scrape_configs[1].scrape_native_histograms);
  CHECK(reloaded->scrape_configs[2].scrape_native_histograms);
}

TEST_CASE("ParseBytes uses base-2 units like Prometheus", "[agent]") {
  CHECK(*ParseBytes("128MB") == 128ull << 20);
  CHECK(*ParseBytes("1GiB") == 1ull << 30);
  CHECK(*ParseBytes("512") == 512);
  CHECK_FALSE(ParseBytes("12XB").ok());
  CHECK_FALSE(ParseBytes("MB").ok());
}

TEST_CASE("help and version are recognised", "[agent]") {
  CHECK(ParseFlags({"--help"})->show_help);
  CHECK(ParseFlags({"-h"})->show_help);
  CHECK(ParseFlags({"--version"})->show_version);
  CHECK_THAT(Usage(), Catch::Contains("--config.file"));
}

}  // namespace
}  // namespace petrel::agent
