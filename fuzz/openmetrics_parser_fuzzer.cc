// The OpenMetrics parser, strict (check tools, conformance) and lenient (scrapes). Strict mode
// only adds rules, so a body strict accepts must be accepted leniently, with the same samples.
#include <cstddef>
#include <cstdint>

#include "fuzz/parser_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto strict = petrel::scrape::NewOpenMetricsParser(body, true);
  petrel::fuzz::ParseOutcome s = petrel::fuzz::DriveParser(*strict);
  auto lenient = petrel::scrape::NewOpenMetricsParser(body, false);
  petrel::fuzz::ParseOutcome l = petrel::fuzz::DriveParser(*lenient);
  if (s.ok) {
    FUZZ_CHECK(l.ok);
    FUZZ_CHECK(l.samples == s.samples);
    FUZZ_CHECK(l.entries == s.entries);
  }
  return 0;
}
