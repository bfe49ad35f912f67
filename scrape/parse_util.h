// Helpers shared by the exposition parsers (text_parser.cc, openmetrics_parser.cc): character
// classes, Go-compatible float parsing and formatting, escapes, UTF-8 validation.
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "scrape/parser.h"

namespace petrel::scrape::parse {

// The value every parsed NaN is rewritten to, so a target cannot inject a stale marker.
inline constexpr uint64_t kNormalNaNBits = 0x7ff8000000000001ULL;
double NormalNaN();

// [a-zA-Z_:] starts a metric name, [a-zA-Z0-9_:] continues it.
inline bool IsMetricNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
inline bool IsMetricNameChar(char c) { return IsMetricNameStart(c) || (c >= '0' && c <= '9'); }
// [a-zA-Z_] starts a label name, [a-zA-Z0-9_] continues it.
inline bool IsLabelNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool IsLabelNameChar(char c) { return IsLabelNameStart(c) || (c >= '0' && c <= '9'); }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses s like Prometheus's parseFloat: Go's strconv.ParseFloat(s, 64) with 'p', 'P' and '_'
// refused (so no hex floats and no digit separators). Accepts [+-]digits[.digits][e[+-]digits],
// [+-]Inf/Infinity and NaN (case-insensitive; NaN without sign). Overflow to +-Inf is an error,
// underflow rounds to zero. Returns false on any other input.
bool ParseGoFloat(std::string_view s, double* out);

// Appends f as Prometheus's FormatOpenMetricsFloat does: Go's 'g' shortest form, with ".0"
// appended when it has neither '.' nor 'e'; "+Inf", "-Inf", "NaN".
void AppendOpenMetricsFloat(double f, std::string* out);

// If the label is a histogram's "le" or a summary's "quantile" and value parses as a float,
// writes its canonical form to *out and returns true; otherwise returns false.
bool NormalizeFloatLabel(MetricType type, std::string_view name, std::string_view value,
                         std::string* out);

// Replaces \\ \" and \n by backslash, quote and LF; any other backslash is kept as written.
// Returns s itself when it has no backslash, else the unescaped text written into *scratch.
std::string_view UnescapeLabelValue(std::string_view s, std::string* scratch);
// Replaces \\ and \n only (Prometheus text format HELP).
std::string_view UnescapeHelp(std::string_view s, std::string* scratch);

// Whether s is valid UTF-8 (as Go's utf8.Valid: no surrogates, no overlong forms).
bool ValidUtf8(std::string_view s);

// kInvalidArgument "line N: <problem>".
Status LineError(int line, std::string_view problem);

// `s` quoted for an error message, truncated to a readable length.
std::string Quote(std::string_view s);

}  // namespace petrel::scrape::parse
