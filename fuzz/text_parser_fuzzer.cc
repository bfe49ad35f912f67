// The Prometheus text 0.0.4 parser, and `petrel check metrics` (which picks OpenMetrics for a
// body with a "# EOF" line) on the same body.
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <streambuf>

#include "agent/check.h"
#include "fuzz/parser_fuzz_common.h"

namespace {

class NullBuf : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parser = petrel::scrape::NewTextParser(body);
  petrel::fuzz::ParseOutcome text = petrel::fuzz::DriveParser(*parser);

  NullBuf null_buf;
  std::ostream null(&null_buf);
  int code = petrel::agent::CheckMetrics(body, petrel::agent::CheckFormat::kDetect, null, null);
  FUZZ_CHECK(code == petrel::agent::kCheckOk || code == petrel::agent::kCheckFailed);
  // Detected as text, check metrics runs the same parser and must agree with it.
  if (petrel::agent::DetectFormat(body) == petrel::agent::CheckFormat::kPrometheusText) {
    FUZZ_CHECK((code == petrel::agent::kCheckOk) == text.ok);
  }
  return 0;
}
