#include "agent/flags.h"

#include <catch2/catch.hpp>

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
  check({"--enable-feature=agent,native-histograms"}, "scrape_native_histograms: true");
  check({"positional"}, "positional");
  check({"--no-config.file"}, "no-config.file");
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
