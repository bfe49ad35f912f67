// Prometheus's model.Duration: parse and format.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>

#include "config/config.h"
#include "fmt/format.h"

namespace petrel::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t ms;
};

// Largest first; a duration names them in this order, each at most once.
constexpr std::array<Unit, 7> kUnits = {{
    {"y", 365ull * 24 * 60 * 60 * 1000},
    {"w", 7ull * 24 * 60 * 60 * 1000},
    {"d", 24ull * 60 * 60 * 1000},
    {"h", 60ull * 60 * 1000},
    {"m", 60ull * 1000},
    {"s", 1000},
    {"ms", 1},
}};

// Prometheus keeps durations as int64 nanoseconds, so that is the range we accept too, even
// though we store milliseconds: a file valid for one is valid for the other.
constexpr uint64_t kMaxNanos = std::numeric_limits<int64_t>::max();
constexpr uint64_t kNanosPerMs = 1000000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Status Invalid(std::string_view text) {
  return Status::InvalidArgument(fmt::format("not a valid duration \"{}\"", text));
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  if (text == "0") return Duration(0);

  std::string_view rest = text;
  uint64_t total_nanos = 0;
  size_t next_unit = 0;  // index into kUnits of the first unit still allowed
  while (!rest.empty()) {
    if (!IsDigit(rest[0])) return Invalid(text);
    uint64_t value = 0;
    size_t i = 0;
    for (; i < rest.size() && IsDigit(rest[i]); ++i) {
      const uint64_t digit = static_cast<uint64_t>(rest[i] - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return Invalid(text);
      value = value * 10 + digit;
    }
    rest.remove_prefix(i);
    // The unit is every non-digit up to the next number, as in Prometheus: "1.5h" has unit ".".
    size_t j = 0;
    while (j < rest.size() && !IsDigit(rest[j])) ++j;
    if (j == 0) return Invalid(text);
    const std::string_view unit_name = rest.substr(0, j);
    rest.remove_prefix(j);

    size_t u = 0;
    while (u < kUnits.size() && kUnits[u].name != unit_name) ++u;
    if (u == kUnits.size()) return Invalid(text);  // unknown unit
    if (u < next_unit) return Invalid(text);       // out of order or repeated
    next_unit = u + 1;

    const uint64_t unit_nanos = kUnits[u].ms * kNanosPerMs;
    if (value > (uint64_t{1} << 63) / unit_nanos) {
      return Status::InvalidArgument(fmt::format("duration out of range \"{}\"", text));
    }
    total_nanos += value * unit_nanos;  // <= 2^63-1 + 2^63: cannot wrap
    if (total_nanos > kMaxNanos) {
      return Status::InvalidArgument(fmt::format("duration out of range \"{}\"", text));
    }
  }
  return Duration(static_cast<int64_t>(total_nanos / kNanosPerMs));
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  // -INT64_MIN overflows; go through unsigned.
  uint64_t rest = ms < 0 ? uint64_t{0} - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  if (ms < 0) out.push_back('-');
  for (const Unit& unit : kUnits) {
    // Years and weeks only when exact: "90d" reads better than "12w6d".
    const bool exact_only = unit.name == "y" || unit.name == "w";
    if (exact_only && rest % unit.ms != 0) continue;
    if (const uint64_t n = rest / unit.ms; n > 0) {
      out += fmt::format("{}{}", n, unit.name);
      rest -= n * unit.ms;
    }
  }
  return out;
}

}  // namespace petrel::config

// Prometheus's units.Base2Bytes (alecthomas/units): parse and format.
namespace petrel::config {
namespace {

using UnitTable = std::array<std::pair<std::string_view, uint64_t>, 7>;
constexpr UnitTable kIecUnits = {{{"B", 1},
                                  {"KiB", 1ull << 10},
                                  {"MiB", 1ull << 20},
                                  {"GiB", 1ull << 30},
                                  {"TiB", 1ull << 40},
                                  {"PiB", 1ull << 50},
                                  {"EiB", 1ull << 60}}};
constexpr UnitTable kOldUnits = {{{"B", 1},
                                  {"KB", 1ull << 10},
                                  {"MB", 1ull << 20},
                                  {"GB", 1ull << 30},
                                  {"TB", 1ull << 40},
                                  {"PB", 1ull << 50},
                                  {"EB", 1ull << 60}}};

// units.ParseUnit: a sequence of <decimal><unit>, e.g. "1.5GB" or "1GB512MB".
Result<uint64_t> ParseWithUnits(std::string_view text, const UnitTable& units) {
  auto invalid = [&] {
    return Status::InvalidArgument(fmt::format("invalid byte size \"{}\"", text));
  };
  std::string_view s = text;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s == "0") return uint64_t{0};
  if (s.empty()) return invalid();
  long double total = 0;
  while (!s.empty()) {
    long double value = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) value = value * 10 + (s[i] - '0');
    bool digits = i > 0;
    if (i < s.size() && s[i] == '.') {
      long double scale = 1;
      for (++i; i < s.size() && IsDigit(s[i]); ++i) {
        scale /= 10;
        value += (s[i] - '0') * scale;
        digits = true;
      }
    }
    if (!digits) return invalid();
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && s[j] != '.' && !IsDigit(s[j])) ++j;
    const std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    const auto it =
        std::find_if(units.begin(), units.end(), [&](const auto& u) { return u.first == unit; });
    if (it == units.end()) {
      return Status::InvalidArgument(
          fmt::format("unknown unit \"{}\" in byte size \"{}\"", unit, text));
    }
    total += value * static_cast<long double>(it->second);
  }
  if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument(fmt::format("byte size out of range \"{}\"", text));
  }
  return static_cast<uint64_t>(total);
}

}  // namespace

Result<uint64_t> ParseBytes(std::string_view text) {
  // KiB-style first, then KB-style, as ParseBase2Bytes; the second one's error is reported.
  auto iec = ParseWithUnits(text, kIecUnits);
  if (iec.ok()) return iec;
  return ParseWithUnits(text, kOldUnits);
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes == 0) return "0B";
  std::string out;
  for (auto it = kIecUnits.rbegin(); it != kIecUnits.rend(); ++it) {
    if (bytes >= it->second) {
      out += fmt::format("{}{}", bytes / it->second, it->first);
      bytes %= it->second;
    }
  }
  return out;
}

}  // namespace petrel::config
