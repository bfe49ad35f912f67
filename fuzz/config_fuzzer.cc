// config::Parse on arbitrary YAML, and the duration syntax on its own. Parse never throws (a
// yaml-cpp exception escaping would abort here) and every error names the source.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "fuzz/fuzz_util.h"

using namespace petrel;  // NOLINT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = config::Parse(text, "fuzz.yml");
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == Code::kInvalidArgument);
    FUZZ_CHECK(c.status().message().rfind("fuzz.yml", 0) == 0);
  } else {
    // A valid config is self-consistent: the validator's invariants hold.
    for (const auto& sc : c->scrape_configs) {
      FUZZ_CHECK(!sc.job_name.empty());
      FUZZ_CHECK(sc.scrape_interval.count() > 0);
      FUZZ_CHECK(sc.scrape_timeout <= sc.scrape_interval);
    }
    for (const auto& rw : c->remote_write) {
      FUZZ_CHECK(!rw.name.empty());
      FUZZ_CHECK(rw.queue_config.min_shards <= rw.queue_config.max_shards);
      (void)config::CanonicalRemoteWrite(rw);
    }
  }

  // Durations: what parses formats back to the same value.
  if (size <= 64) {
    auto d = config::ParseDuration(text);
    if (d.ok()) {
      std::string s = config::FormatDuration(*d);
      auto again = config::ParseDuration(s);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(*again == *d);
    }
  }
  return 0;
}
