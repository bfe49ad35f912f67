// Helpers shared by the exposition parsers (text_parser.cc, openmetrics_parser.cc): character
// classes, Go-compatible float parsing and formatting, escapes, UTF-8 validation.
// Stateless; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "scrape/parser.h"

namespace petrel::scrape::parse {

// The value every parsed NaN is rewritten to, so a target cannot inject a stale marker.
inline constexpr uint64_t kNormalNaNBits = 0x7ff8000000000001ULL;
double NormalNaN();

// Character classes, one table lookup each.
enum CharClass : uint8_t {
  kMetricStart = 1,  // [a-zA-Z_:]
  kMetricChar = 2,   // [a-zA-Z0-9_:]
  kLabelStart = 4,   // [a-zA-Z_]
  kLabelChar = 8,    // [a-zA-Z0-9_]
  kDigitChar = 16,   // [0-9]
  kValueEnd = 32,    // ends a text-format value token: blank, LF, '{', NUL
  kQuoteStop = 64,   // interrupts a quoted-string scan: '"', '\\', LF, NUL, bytes >= 0x80
};
inline constexpr auto kCharClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    uint8_t v = 0;
    if (alpha || c == ':') v |= kMetricStart | kMetricChar;
    if (digit) v |= kMetricChar | kLabelChar | kDigitChar;
    if (alpha) v |= kLabelStart | kLabelChar;
    if (c == ' ' || c == '\t' || c == '\n' || c == '{' || c == 0) v |= kValueEnd;
    if (c == '"' || c == '\\' || c == '\n' || c == 0 || c >= 0x80) v |= kQuoteStop;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}();
inline bool Is(char c, uint8_t cls) { return kCharClass[static_cast<unsigned char>(c)] & cls; }
inline bool IsMetricNameStart(char c) { return Is(c, kMetricStart); }
inline bool IsMetricNameChar(char c) { return Is(c, kMetricChar); }
inline bool IsLabelNameStart(char c) { return Is(c, kLabelStart); }
inline bool IsLabelNameChar(char c) { return Is(c, kLabelChar); }
inline bool IsDigit(char c) { return Is(c, kDigitChar); }

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

// Whether some name occurs twice in *names (reordered); the name in *dup. Quadratic for short
// lists, sorting for long ones, so a hostile line with many labels stays cheap.
bool FindDuplicate(std::vector<std::string_view>* names, std::string_view* dup);

// Whether s is valid UTF-8 (as Go's utf8.Valid: no surrogates, no overlong forms).
bool ValidUtf8(std::string_view s);

// kInvalidArgument "line N: <problem>".
Status LineError(int line, std::string_view problem);

// `s` quoted for an error message, truncated to a readable length.
std::string Quote(std::string_view s);

}  // namespace petrel::scrape::parse
