// `petrel check ...`: offline validation subcommands, shaped like promtool's.
//
//   petrel check metrics [--format=prometheus|openmetrics] < body
//   petrel check config FILE...
//
// check metrics parses the whole exposition body with the strict parser (OpenMetrics with
// strict=true, or the text 0.0.4 parser). Without --format the body is OpenMetrics when one of
// its lines is exactly "# EOF" (the format's terminator; a text body has no reason to carry it),
// text otherwise. The parser stops at the first syntax error, so at most one error is reported,
// as "error: line N: <problem>". Lint warnings in the spirit of promtool's promlint (missing
// HELP, counter names without "_total", non-base units, camelCase names, ':' in names) are
// printed as "line N: <metric> <problem>" and do not change the verdict.
//
// Exit codes, as promtool: 0 valid, 1 invalid input (or a config that fails to load), 2 usage
// error. Pure functions over streams; thread-safe.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::agent {

inline constexpr int kCheckOk = 0;
inline constexpr int kCheckFailed = 1;
inline constexpr int kCheckUsage = 2;

enum class CheckFormat { kDetect, kPrometheusText, kOpenMetrics };

// The format auto-detection picks for body (never kDetect).
CheckFormat DetectFormat(std::string_view body);

// Checks one exposition body. Writes the error (if any), or else the lint warnings, to err (as
// promtool does; out is for --help); the returned code is kCheckOk or kCheckFailed.
int CheckMetrics(std::string_view body, CheckFormat format, std::ostream& out, std::ostream& err);

// Loads each file with config::Load, printing "Checking FILE" and "  SUCCESS: ..." to out, or
// "  FAILED: <error>" to err. kCheckFailed if any fails.
int CheckConfig(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);

// The subcommand dispatcher: args are the words after "check" ({"metrics", "--format=..."} or
// {"config", "a.yml", ...}). Reads the metrics body from in.
int RunCheck(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err);

}  // namespace petrel::agent
