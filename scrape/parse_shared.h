// Internals shared by the text and OpenMetrics parsers (scrape/ only): vectorised scans and
// turning a sample's label spans into labels. Stateless; thread-safe.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "scrape/parse_util.h"
#include "scrape/parser.h"

namespace petrel::scrape::parse {

// The scans below return the index of the first byte at or after i (and before n) that stops
// them, or n. With SSE2 they test 16 bytes a step while 16 remain, then byte by byte.

// ParseGoFloat, with a shortcut for the most common values: "123" or "12.5" with at most 15
// digits. The digits make an integer exact in a double and 10^k is exact too, so one division
// rounds correctly, as Go's ParseFloat does (Clinger's fast path); leading zeros are fine.
inline bool ParseFloat(std::string_view s, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  if (!s.empty() && s.size() <= 16) {
    uint64_t v = 0;
    size_t k = 0, dot = s.size();
    for (; k < s.size(); ++k) {
      const unsigned d = static_cast<unsigned char>(s[k]) - '0';
      if (d <= 9) {
        v = v * 10 + d;
      } else if (s[k] == '.' && dot == s.size() && k > 0 && k + 1 < s.size()) {
        dot = k;
      } else {
        break;
      }
    }
    const size_t digits = s.size() - (dot < s.size() ? 1 : 0);
    if (k == s.size() && digits <= 15) {
      const size_t frac = dot < s.size() ? s.size() - dot - 1 : 0;
      *out = static_cast<double>(v) / kPow10[frac];
      return true;
    }
  }
  return ParseGoFloat(s, out);
}

// Stops at a byte of class kQuoteStop: '"', '\\', LF, NUL or >= 0x80.
inline size_t FindQuoteStop(const char* b, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  const __m128i lf = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, zero)));
    // OR-ing v in sets the sign bit of bytes >= 0x80.
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(stop, v)));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
  }
#endif
  while (i < n && !Is(b[i], kQuoteStop)) ++i;
  return i;
}

#if defined(__SSE2__)
// Lanes of v in [lo, hi] (signed compares: bytes >= 0x80 are never in an ASCII range).
inline __m128i InRange(__m128i v, char lo, char hi) {
  return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(hi + 1))));
}
#endif

// Stops at a byte not in [a-zA-Z0-9_] (kLabelChar), or also not ':' when metric is set
// (kMetricChar).
inline size_t FindNotNameChar(const char* b, size_t i, size_t n, bool metric) {
#if defined(__SSE2__)
  const __m128i extra = _mm_set1_epi8(metric ? ':' : '_');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m128i ok = _mm_or_si128(
        _mm_or_si128(InRange(v, 'a', 'z'), InRange(v, 'A', 'Z')),
        _mm_or_si128(InRange(v, '0', '9'), _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')),
                                                        _mm_cmpeq_epi8(v, extra))));
    const unsigned mask = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xFFFFu;
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
  }
#endif
  const uint8_t cls = metric ? kMetricChar : kLabelChar;
  while (i < n && Is(b[i], cls)) ++i;
  return i;
}

// Reusable buffers for AddSpanLabels.
struct LabelScratch {
  std::string name;
  std::string value;
  std::string norm;
};

// Adds "__name__" (the metric name, unescaped) and each span with a non-empty value to b,
// unescaped, with "le"/"quantile" values of histograms/summaries in canonical float form
// (type: the last TYPE line's). The parsers reject duplicate names, so into an empty builder
// the labels are added without looking for earlier ones.
template <typename Span>
void AddSpanLabels(MetricType type, std::string_view metric_name, bool name_escaped,
                   const std::vector<Span>& spans, LabelsBuilder& b, LabelScratch* scratch) {
  const bool fresh = b.empty();
  auto add = [&](std::string_view name, std::string_view value) {
    if (fresh) {
      b.Add(name, value);
    } else {
      b.Set(name, value);
    }
  };
  add(kMetricName, name_escaped ? UnescapeLabelValue(metric_name, &scratch->name) : metric_name);
  for (const Span& l : spans) {
    if (l.value.empty()) continue;  // an empty value is an absent label
    std::string_view name = l.name_escaped ? UnescapeLabelValue(l.name, &scratch->name) : l.name;
    std::string_view value =
        l.value_escaped ? UnescapeLabelValue(l.value, &scratch->value) : l.value;
    if ((type == MetricType::kHistogram || type == MetricType::kSummary) &&
        NormalizeFloatLabel(type, name, value, &scratch->norm)) {
      value = scratch->norm;
    }
    add(name, value);
  }
}

}  // namespace petrel::scrape::parse
