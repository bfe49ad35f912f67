#include "scrape/parse_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/ascii.h"

namespace petrel::scrape::parse {
namespace {

// The decimal syntax Go's ParseFloat accepts once underscores and hex are out:
// [+-]digits[.digits][(e|E)[+-]digits] with at least one mantissa digit. Also collects up to
// 19 significant digits and the decimal exponent, for the exact fast path.
struct Decimal {
  uint64_t mantissa = 0;
  int significant = 0;
  bool truncated = false;  // more than 19 significant digits
  int64_t exp10 = 0;
};

bool ScanDecimal(std::string_view s, Decimal* d) {
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = 0;
  if (i < n && (p[i] == '+' || p[i] == '-')) ++i;
  const size_t int_start = i;
  while (i < n && IsDigit(p[i])) ++i;
  const size_t int_end = i;
  size_t frac_start = i, frac_end = i;
  if (i < n && p[i] == '.') {
    frac_start = ++i;
    while (i < n && IsDigit(p[i])) ++i;
    frac_end = i;
  }
  if (int_end == int_start && frac_end == frac_start) return false;
  int64_t e = 0;
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    const size_t exp_start = i;
    for (; i < n && IsDigit(p[i]); ++i) {
      if (e < 100000) e = e * 10 + (p[i] - '0');
    }
    if (i == exp_start) return false;
    if (neg) e = -e;
  }
  if (i != n) return false;
  // Significant digits: the integer and fraction digits after leading zeros.
  uint64_t m = 0;
  int sig = 0;
  auto take = [&](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) {
      const int v = p[k] - '0';
      if (m == 0 && v == 0) continue;
      if (++sig > 19) {
        d->truncated = true;
        return;
      }
      m = m * 10 + static_cast<uint64_t>(v);
    }
  };
  take(int_start, int_end);
  if (!d->truncated) take(frac_start, frac_end);
  d->mantissa = m;
  d->significant = sig;
  d->exp10 = e - static_cast<int64_t>(frac_end - frac_start);
  return true;
}

}  // namespace

double NormalNaN() { return std::bit_cast<double>(kNormalNaNBits); }

bool ParseGoFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  const bool has_sign = s[0] == '+' || s[0] == '-';
  const std::string_view rest = has_sign ? s.substr(1) : s;
  if (!rest.empty() && !IsDigit(rest[0]) && rest[0] != '.') {
    if (EqualFold(rest, "inf") || EqualFold(rest, "infinity")) {
      *out = s[0] == '-' ? -std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::infinity();
      return true;
    }
    if (!has_sign && EqualFold(rest, "nan")) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    return false;
  }
  Decimal d;
  if (!ScanDecimal(s, &d)) return false;
  // Clinger's fast path: a mantissa and a power of ten both exact in a double give a correctly
  // rounded result with one multiplication or division.
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (!d.truncated && d.mantissa <= (uint64_t{1} << 53) && d.exp10 >= -22 && d.exp10 <= 22) {
    double v = static_cast<double>(d.mantissa);
    v = d.exp10 < 0 ? v / kPow10[-d.exp10] : v * kPow10[d.exp10];
    *out = s[0] == '-' ? -v : v;
    return true;
  }
  // from_chars takes no leading '+'.
  const std::string_view num = s[0] == '+' ? s.substr(1) : s;
  double v = 0;
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec == std::errc() && end == num.data() + num.size()) {
    *out = v;
    return true;
  }
  if (ec != std::errc::result_out_of_range) return false;
  // Out of range is either overflow (an error in Go) or underflow (Go rounds to zero or a
  // subnormal without complaint); strtod tells them apart. Rare, so the copy is fine.
  std::string copy(num);
  errno = 0;
  v = std::strtod(copy.c_str(), nullptr);
  if (std::isinf(v)) return false;
  *out = v;
  return true;
}

void AppendOpenMetricsFloat(double f, std::string* out) {
  if (f == 1) return out->append("1.0"), void();
  if (f == 0) return out->append("0.0"), void();
  if (f == -1) return out->append("-1.0"), void();
  if (std::isnan(f)) return out->append("NaN"), void();
  if (std::isinf(f)) return out->append(f > 0 ? "+Inf" : "-Inf"), void();

  // Shortest round-trip digits, in the form [-]d[.ddd]e(+|-)dd.
  char buf[40];
  auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e_pos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exp);
  // Go's %g with shortest precision: exponent form when exp < -4 || exp >= 6; its exponent
  // layout (at least two digits, explicit sign) is the one to_chars produced.
  if (exp < -4 || exp >= 6) {
    out->append(sci);
    return;
  }
  std::string_view mant = sci.substr(0, e_pos);
  if (!mant.empty() && mant[0] == '-') {
    out->push_back('-');
    mant.remove_prefix(1);
  }
  char digits[24];
  int nd = 0;
  for (char c : mant) {
    if (c != '.') digits[nd++] = c;
  }
  const int dp = exp + 1;  // digits before the decimal point
  size_t start = out->size();
  if (dp <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-dp), '0');
    out->append(digits, static_cast<size_t>(nd));
  } else if (dp >= nd) {
    out->append(digits, static_cast<size_t>(nd));
    out->append(static_cast<size_t>(dp - nd), '0');
  } else {
    out->append(digits, static_cast<size_t>(dp));
    out->push_back('.');
    out->append(digits + dp, static_cast<size_t>(nd - dp));
  }
  if (out->find('.', start) == std::string::npos) out->append(".0");
}

bool NormalizeFloatLabel(MetricType type, std::string_view name, std::string_view value,
                         std::string* out) {
  if (!((type == MetricType::kHistogram && name == "le") ||
        (type == MetricType::kSummary && name == "quantile"))) {
    return false;
  }
  double f = 0;
  if (!ParseGoFloat(value, &f)) return false;
  out->clear();
  AppendOpenMetricsFloat(f, out);
  return true;
}

std::string_view UnescapeLabelValue(std::string_view s, std::string* scratch) {
  size_t i = s.find('\\');
  if (i == std::string_view::npos) return s;
  scratch->assign(s.data(), i);
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == '\\' || n == '"' || n == 'n') {
        scratch->push_back(n == 'n' ? '\n' : n);
        ++i;
        continue;
      }
    }
    scratch->push_back(c);
  }
  return *scratch;
}

std::string_view UnescapeHelp(std::string_view s, std::string* scratch) {
  size_t i = s.find('\\');
  if (i == std::string_view::npos) return s;
  scratch->assign(s.data(), i);
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == '\\' || n == 'n') {
        scratch->push_back(n == 'n' ? '\n' : n);
        ++i;
        continue;
      }
    }
    scratch->push_back(c);
  }
  return *scratch;
}

bool FindDuplicate(std::vector<std::string_view>* names, std::string_view* dup) {
  std::vector<std::string_view>& v = *names;
  if (v.size() <= 16) {
    for (size_t i = 0; i < v.size(); ++i) {
      for (size_t j = i + 1; j < v.size(); ++j) {
        if (v[i] == v[j]) {
          *dup = v[i];
          return true;
        }
      }
    }
    return false;
  }
  std::sort(v.begin(), v.end());
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] == v[i - 1]) {
      *dup = v[i];
      return true;
    }
  }
  return false;
}

bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Label values are nearly always ASCII: skip eight such bytes at a time.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlong forms
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (end - p < len) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k < len; ++k) {
      if (p[k] < 0x80 || p[k] > 0xBF) return false;
    }
    p += len;
  }
  return true;
}

Status LineError(int line, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("line {}: {}", line, problem));
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string q = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    char c = s[i];
    if (c == '\n') {
      q += "\\n";
    } else if (c == '"' || c == '\\') {
      q += '\\';
      q += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      q += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      q += c;
    }
  }
  if (s.size() > kMax) q += "...";
  q += '"';
  return q;
}

}  // namespace petrel::scrape::parse
